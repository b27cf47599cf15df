"""Fetching a URL: polite, conditional, bounded, and never to a private address.

A descriptive User-Agent, conditional GET (ETag / Last-Modified), redirects
followed by hand so that every hop passes the SSRF guard, and the limits of
``limits.py`` on size and time.
"""

from __future__ import annotations

import os

import requests

from aggregator.errors import FetchError
from aggregator.fetch.files import content_hash
from aggregator.fetch.guard import PRIVATE_ADDRESS, PublicOnlyAdapter, check_host_allowed, host_of
from aggregator.fetch.limits import MAX_REDIRECTS, TOTAL_TIME_FACTOR, read_capped
from aggregator.model import FetchResult, FetchState, PageFetcher, Settings, Source
from aggregator.normalize.urls import join_url
from aggregator.redaction import redact, remember_secret

ACCEPT = (
    "text/calendar, application/rss+xml, application/atom+xml, application/xml;q=0.9, "
    "text/html;q=0.8, application/json;q=0.8, */*;q=0.5"
)


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
    remember_secret(token)
    return {"Authorization": f"Bearer {token}"} if token else {}


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
    shown = redact(url)
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
            content = read_capped(
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
            f"TLS/certificate error for {host_of(url)}", source_id=source_id, url=shown
        ) from None
    except requests.exceptions.ConnectionError as exc:
        if PRIVATE_ADDRESS in str(exc):
            raise FetchError(
                f"{host_of(url)} points at a private or local address; refused",
                source_id=source_id,
                url=shown,
            ) from None
        raise FetchError(
            f"could not connect to {host_of(url)}", source_id=source_id, url=shown
        ) from None
    except requests.exceptions.RequestException as exc:
        raise FetchError(
            f"request failed: {redact(str(exc))}", source_id=source_id, url=shown
        ) from None
    finally:
        if own_session:
            session.close()
    return FetchResult(
        source_id=source_id,
        url=url,
        not_modified=False,  # 200: the pipeline compares content fingerprints itself
        content=content,
        content_type=response.headers.get("Content-Type", ""),
        http_status=response.status_code,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        content_hash=content_hash(content),
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
                url=redact(url),
            ) from exc
        if response.is_redirect and "Location" in response.headers:
            target = join_url(url, response.headers["Location"])
            response.close()
            if not target.startswith(("http://", "https://")):
                raise FetchError(
                    f"redirected to a non-HTTP address {redact(target)}",
                    source_id=source_id,
                    url=redact(url),
                )
            url = target
            continue
        return response
    raise FetchError(f"more than {MAX_REDIRECTS} redirects", source_id=source_id, url=redact(url))
