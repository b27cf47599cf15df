"""The only place that does network (and file) I/O for harvesting.

Polite and defensive: a descriptive User-Agent, timeouts, a size cap applied to
the *decoded* body (so a gzip bomb stops at the cap too), conditional GET, a
bounded number of redirects, and a refusal to touch private or loopback
addresses unless the operator allowed it (each redirect hop is checked again).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import os
import re
import socket
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from aggregator.errors import FetchError
from aggregator.model import FetchResult, FetchState, PageFetcher, Settings, Source
from aggregator.normalize.urls import join_url

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_SECRET_PARAM_RE = re.compile(
    r"([?&](?:access_token|token|api_key|key|secret)=)[^&#\s]+", re.IGNORECASE
)
ACCEPT = (
    "text/calendar, application/rss+xml, application/atom+xml, application/xml;q=0.9, "
    "text/html;q=0.8, application/json;q=0.8, */*;q=0.5"
)


def _guard_socket(
    sock: socket.socket, host: str, port: int, trusted: frozenset[str]
) -> socket.socket:
    """Refuse a connection that ended up at a private address (DNS rebinding: the name
    resolved to a public address when checked and to a private one when connecting)."""
    peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
    if (not peer.is_global or peer.is_multicast) and _host_port(host, port) not in trusted:
        sock.close()
        raise NewConnectionError(None, f"{host} connected to a private address ({peer}); refused")  # type: ignore[arg-type]
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    trusted: frozenset[str] = frozenset()

    def _new_conn(self) -> socket.socket:
        return _guard_socket(super()._new_conn(), self.host, self.port, self.trusted)


class _GuardedHTTPSConnection(HTTPSConnection):
    trusted: frozenset[str] = frozenset()

    def _new_conn(self) -> socket.socket:
        return _guard_socket(super()._new_conn(), self.host, self.port, self.trusted)


class PublicOnlyAdapter(HTTPAdapter):
    """Checks the address every connection really reached, after the name check;
    ``trusted`` "host:port" pairs (``settings.trusted_hosts``) may be private."""

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self.trusted = frozenset(trusted)
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        trusted = self.trusted
        http = type("_Conn", (_GuardedHTTPConnection,), {"trusted": trusted})
        https = type("_Conn", (_GuardedHTTPSConnection,), {"trusted": trusted})
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("_Pool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("_Pool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }


def new_session(settings: Settings) -> requests.Session:
    session = requests.Session()
    if not settings.allow_private_hosts:
        session.mount("http://", PublicOnlyAdapter(settings.trusted_hosts))
        session.mount("https://", PublicOnlyAdapter(settings.trusted_hosts))
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
    return fetch_url(
        source.url,
        settings,
        state=state,
        source_id=source.id,
        session=session,
        headers=auth_headers(source),
    )


def page_fetcher(settings: Settings, session: requests.Session, source: Source) -> PageFetcher:
    """What harvesters that follow links get: same limits, SSRF guard and token header."""
    headers = auth_headers(source)

    def fetch_page(url: str) -> bytes:
        return fetch_url(
            url, settings, source_id=source.id, session=session, headers=headers
        ).content

    return fetch_page


def auth_headers(source: Source) -> dict[str, str]:
    """A bearer token from the environment variable the source names (Graph API).

    Sent as a header, never in the URL, so it cannot leak into logs, errors or the
    database; without the variable the URL is fetched as given.
    """
    token = os.environ.get(source.token_env, "").strip() if source.token_env else ""
    return {"Authorization": f"Bearer {token}"} if token else {}


def redact_url(url: str) -> str:
    """The URL with secret query parameters (access_token=…) blanked, for messages."""
    return _SECRET_PARAM_RE.sub(r"\1[token]", url)


def fetch_url(
    url: str,
    settings: Settings,
    *,
    state: FetchState | None = None,
    source_id: str = "",
    session: requests.Session | None = None,
    headers: dict[str, str] | None = None,
) -> FetchResult:
    state = state or FetchState()
    own_session = session is None
    session = session or new_session(settings)
    headers = dict(headers or {})
    shown = redact_url(url)
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
                error = FetchError(
                    f"the server answered HTTP {response.status_code} {response.reason or ''}".strip()
                    + f" for {shown}",
                    source_id=source_id,
                    url=shown,
                )
                error.body = next(response.iter_content(chunk_size=65536), b"")
                raise error
            content = _read_capped(
                response, settings.max_bytes, source_id, url, settings.timeout * TOTAL_TIME_FACTOR
            )
        finally:
            response.close()
    except requests.exceptions.Timeout:
        raise FetchError(
            f"the server did not answer within {settings.timeout:g} s",
            source_id=source_id,
            url=shown,
        ) from None
    except requests.exceptions.SSLError:
        raise FetchError(
            f"TLS/certificate error for {_host(url)}", source_id=source_id, url=shown
        ) from None
    except requests.exceptions.ConnectionError as exc:
        if "connected to a private address" in str(exc):
            raise FetchError(
                f"{_host(url)} points at a private or local address; refused",
                source_id=source_id,
                url=shown,
            ) from None
        raise FetchError(
            f"could not connect to {_host(url)}", source_id=source_id, url=shown
        ) from None
    except requests.exceptions.RequestException as exc:
        raise FetchError(
            f"request failed: {redact_url(str(exc))}", source_id=source_id, url=shown
        ) from None
    finally:
        if own_session:
            session.close()
    digest = content_hash(content)
    return FetchResult(
        source_id=source_id,
        url=url,
        not_modified=False,  # 200: the pipeline compares content fingerprints itself
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
        try:
            response = session.get(
                url,
                headers=headers,
                timeout=(min(10.0, settings.timeout), settings.timeout),
                stream=True,
                allow_redirects=False,
            )
        except ValueError as exc:
            # requests parses a redirect's Location even when not following it
            raise FetchError(
                "redirected to a non-HTTP address that cannot be read",
                source_id=source_id,
                url=redact_url(url),
            ) from exc
        if response.is_redirect and "Location" in response.headers:
            target = join_url(url, response.headers["Location"])
            response.close()
            if not target.startswith(("http://", "https://")):
                raise FetchError(
                    f"redirected to a non-HTTP address {redact_url(target)}",
                    source_id=source_id,
                    url=redact_url(url),
                )
            url = target
            continue
        return response
    raise FetchError(
        f"more than {MAX_REDIRECTS} redirects", source_id=source_id, url=redact_url(url)
    )


def check_host_allowed(url: str, settings: Settings, source_id: str = "") -> None:
    """Refuse private, loopback, link-local and reserved addresses (SSRF guard)."""
    host = _host(url)
    if not host:
        raise FetchError(f"'{redact_url(url)}' has no host name", source_id=source_id)
    if settings.allow_private_hosts or _host_port(host, _port(url)) in settings.trusted_hosts:
        return
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"the host name {host} does not resolve", source_id=source_id) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise FetchError(
                f"{host} points at a private or local address ({address}); refused",
                source_id=source_id,
            )


TOTAL_TIME_FACTOR = 3  # a whole download may take this many read timeouts, no more


def _read_capped(
    response: requests.Response, max_bytes: int, source_id: str, url: str, seconds: float
) -> bytes:
    """The body, refused past ``max_bytes`` or past ``seconds`` in total: a server that
    drips a byte at a time never trips the read timeout, so a watchdog cuts the socket."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(_too_big(max_bytes), source_id=source_id, url=redact_url(url))
    expired = threading.Event()
    sock = _socket_of(response)

    def cut() -> None:
        expired.set()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(seconds, cut)
    watchdog.daemon = True
    watchdog.start()
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(_too_big(max_bytes), source_id=source_id, url=redact_url(url))
            chunks.append(chunk)
    except requests.exceptions.RequestException:
        if expired.is_set():
            raise _too_slow(seconds, source_id, url) from None
        raise
    finally:
        watchdog.cancel()
        if sock is not None:
            sock.close()
    if expired.is_set():
        raise _too_slow(seconds, source_id, url)
    return b"".join(chunks)


def _too_slow(seconds: float, source_id: str, url: str) -> FetchError:
    return FetchError(
        f"the server sent the file too slowly (gave up after {seconds:g} s)",
        source_id=source_id,
        url=redact_url(url),
    )


def _socket_of(response: requests.Response) -> socket.socket | None:
    """A duplicate handle on the response's socket (shutting it down wakes a blocked read)."""
    try:
        fileno = response.raw._fp.fp.fileno()  # urllib3 → http.client → the socket's file
        return socket.socket(fileno=os.dup(fileno))
    except (AttributeError, OSError, ValueError):
        return None


def _read_path(
    source: Source, state: FetchState, settings: Settings, base_dir: Path
) -> FetchResult:
    assert source.path is not None
    path = Path(source.path)
    if not path.is_absolute():
        path = base_dir / path
    if path.is_dir():
        # a folder the operator drops Facebook exports into: one deterministic bundle
        from aggregator.harvest.facebook.export import bundle_export_folder, read_export_folder

        content = bundle_export_folder(
            read_export_folder(path, settings.max_bytes, source_id=source.id)
        )
        digest = content_hash(content)
        return FetchResult(source.id, str(path), False, content, content_hash=digest)
    try:
        if path.exists() and not path.is_file():
            # a device or a pipe would never end (/dev/zero) or never start (a FIFO)
            raise FetchError(f"{path} is not a regular file", source_id=source.id, url=str(path))
        if path.stat().st_size > settings.max_bytes:
            raise FetchError(_too_big(settings.max_bytes), source_id=source.id, url=str(path))
        with path.open("rb") as handle:
            content = handle.read(settings.max_bytes + 1)
        if len(content) > settings.max_bytes:  # it grew while we read it
            raise FetchError(_too_big(settings.max_bytes), source_id=source.id, url=str(path))
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
        not_modified=False,
        content=content,
        content_hash=digest,
    )


def _too_big(max_bytes: int) -> str:
    return f"the file is larger than the limit of {max_bytes // (1024 * 1024)} MB"


def _host_port(host: str, port: int) -> str:
    """``host:port`` as written in ``trusted_hosts`` (an IPv6 literal in brackets)."""
    host = host.strip("[]").lower()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _port(url: str) -> int:
    try:
        parts = urlsplit(url)
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return 0


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""
