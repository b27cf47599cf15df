"""The only place that does network (and file) I/O for harvesting.

Polite and defensive: a descriptive User-Agent, timeouts, a size cap applied to
the *decoded* body (so a gzip bomb stops at the cap too), conditional GET, a
bounded number of redirects, and a refusal to touch private or loopback
addresses unless the operator allowed it (each redirect hop is checked again).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import socket
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from aggregator.errors import FetchError
from aggregator.model import FetchResult, FetchState, Settings, Source

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
ACCEPT = (
    "text/calendar, application/rss+xml, application/atom+xml, application/xml;q=0.9, "
    "text/html;q=0.8, application/json;q=0.8, */*;q=0.5"
)


def new_session(settings: Settings) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = settings.user_agent
    session.headers["Accept"] = ACCEPT
    session.headers["Accept-Language"] = "sv-SE, sv;q=0.9, en;q=0.5"
    session.max_redirects = MAX_REDIRECTS
    return session


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def fetch_source(
    source: Source,
    state: FetchState,
    settings: Settings,
    *,
    base_dir: Path,
    session: requests.Session | None = None,
) -> FetchResult:
    """Fetch a source's bytes; ``not_modified`` when it has not changed since ``state``."""
    if source.path:
        return _read_path(source, state, settings, base_dir)
    assert source.url is not None
    return fetch_url(source.url, settings, state=state, source_id=source.id, session=session)


def fetch_url(
    url: str,
    settings: Settings,
    *,
    state: FetchState | None = None,
    source_id: str = "",
    session: requests.Session | None = None,
) -> FetchResult:
    state = state or FetchState()
    own_session = session is None
    session = session or new_session(settings)
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    try:
        response = _get_following_redirects(session, url, headers, settings, source_id)
        try:
            if response.status_code == 304:
                return FetchResult(
                    source_id=source_id,
                    url=url,
                    not_modified=True,
                    http_status=304,
                    etag=state.etag,
                    last_modified=state.last_modified,
                    content_hash=state.content_hash,
                )
            if response.status_code >= 400:
                raise FetchError(
                    f"the server answered HTTP {response.status_code} {response.reason or ''}".strip()
                    + f" for {url}",
                    source_id=source_id,
                    url=url,
                )
            content = _read_capped(response, settings.max_bytes, source_id, url)
        finally:
            response.close()
    except requests.exceptions.Timeout as exc:
        raise FetchError(
            f"the server did not answer within {settings.timeout:g} s", source_id=source_id, url=url
        ) from exc
    except requests.exceptions.SSLError as exc:
        raise FetchError(f"TLS/certificate error: {exc}", source_id=source_id, url=url) from exc
    except requests.exceptions.ConnectionError as exc:
        raise FetchError(
            f"could not connect to {_host(url)}", source_id=source_id, url=url
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"request failed: {exc}", source_id=source_id, url=url) from exc
    finally:
        if own_session:
            session.close()
    digest = content_hash(content)
    return FetchResult(
        source_id=source_id,
        url=url,
        not_modified=digest == state.content_hash,
        content=content,
        content_type=response.headers.get("Content-Type", ""),
        http_status=response.status_code,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        content_hash=digest,
    )


def _get_following_redirects(
    session: requests.Session,
    url: str,
    headers: dict[str, str],
    settings: Settings,
    source_id: str,
) -> requests.Response:
    for _ in range(MAX_REDIRECTS + 1):
        check_host_allowed(url, settings, source_id)
        response = session.get(
            url,
            headers=headers,
            timeout=(min(10.0, settings.timeout), settings.timeout),
            stream=True,
            allow_redirects=False,
        )
        if response.is_redirect and "Location" in response.headers:
            target = urljoin(url, response.headers["Location"])
            response.close()
            if urlsplit(target).scheme not in ("http", "https"):
                raise FetchError(
                    f"redirected to a non-HTTP address {target}", source_id=source_id, url=url
                )
            url = target
            continue
        return response
    raise FetchError(f"more than {MAX_REDIRECTS} redirects", source_id=source_id, url=url)


def check_host_allowed(url: str, settings: Settings, source_id: str = "") -> None:
    """Refuse private, loopback, link-local and reserved addresses (SSRF guard)."""
    host = _host(url)
    if not host:
        raise FetchError(f"'{url}' has no host name", source_id=source_id, url=url)
    if settings.allow_private_hosts:
        return
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(
            f"the host name {host} does not resolve", source_id=source_id, url=url
        ) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise FetchError(
                f"{host} points at a private or local address ({address}); refused",
                source_id=source_id,
                url=url,
            )


def _read_capped(response: requests.Response, max_bytes: int, source_id: str, url: str) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(_too_big(max_bytes), source_id=source_id, url=url)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(_too_big(max_bytes), source_id=source_id, url=url)
        chunks.append(chunk)
    return b"".join(chunks)


def _read_path(
    source: Source, state: FetchState, settings: Settings, base_dir: Path
) -> FetchResult:
    assert source.path is not None
    path = Path(source.path)
    if not path.is_absolute():
        path = base_dir / path
    try:
        if path.stat().st_size > settings.max_bytes:
            raise FetchError(_too_big(settings.max_bytes), source_id=source.id, url=str(path))
        content = path.read_bytes()
    except FileNotFoundError as exc:
        raise FetchError(f"file not found: {path}", source_id=source.id, url=str(path)) from exc
    except IsADirectoryError as exc:
        raise FetchError(
            f"{path} is a folder, not a file", source_id=source.id, url=str(path)
        ) from exc
    except OSError as exc:
        raise FetchError(
            f"cannot read {path}: {exc.strerror}", source_id=source.id, url=str(path)
        ) from exc
    digest = content_hash(content)
    return FetchResult(
        source_id=source.id,
        url=str(path),
        not_modified=digest == state.content_hash,
        content=content,
        content_hash=digest,
    )


def _too_big(max_bytes: int) -> str:
    return f"the file is larger than the limit of {max_bytes // (1024 * 1024)} MB"


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""
