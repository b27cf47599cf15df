"""Fetching a URL: polite, conditional, bounded, and never to a private address.

A descriptive User-Agent, conditional GET (ETag / Last-Modified), redirects
followed by hand so that every hop passes the SSRF guard, one deadline for the
whole request, and the size cap of ``limits.py``.

Credentials (the source's bearer token) go only to the origin they are for: a
redirect to another scheme, host or port drops them, and a redirect from https
to plain http is refused outright. Harvesters that follow links get the token
only for links on the source's own origin.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlsplit

import requests

from aggregator.errors import FetchError, FetchFailure
from aggregator.fetch.files import content_hash
from aggregator.fetch.guard import PRIVATE_ADDRESS, GuardedAdapter, check_host_allowed, host_of
from aggregator.fetch.limits import (
    CRAWL_TIME_FACTOR,
    MAX_REDIRECTS,
    TOTAL_TIME_FACTOR,
    Deadline,
    read_capped,
    too_slow,
)
from aggregator.model import FetchResult, FetchState, PageFetcher, Settings, Source
from aggregator.normalize.text import human_seconds
from aggregator.normalize.urls import join_url
from aggregator.redaction import redact, remember_secret

log = logging.getLogger(__name__)

ACCEPT = (
    "text/calendar, application/rss+xml, application/atom+xml, application/xml;q=0.9, "
    "text/html;q=0.8, application/json;q=0.8, */*;q=0.5"
)
_CREDENTIALS = {"authorization", "cookie", "proxy-authorization"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


# the proxy and CA settings requests reads from the environment, by origin and options
EnvironmentCache = dict[tuple[object, ...], Any]


class _Session(requests.Session):
    """A session that reads the environment's proxy settings once per origin.

    requests works out the proxies (``*_proxy``, ``no_proxy``) and a CA bundle from the
    environment on every request, scanning ``os.environ`` twice: about 0.12 ms, a
    quarter of the CPU a 304 costs us. The environment does not change under a harvest
    thread, so each origin's answer is kept for the session's life, and shared by the
    sessions of one harvest pool (``environment``: one session per harvest thread, four
    threads over twenty hosts asked 80 times where 20 would do).
    """

    def __init__(self, environment: EnvironmentCache | None = None) -> None:
        super().__init__()
        self._environment = environment if environment is not None else {}

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if proxies or not isinstance(url, str):  # a request's own proxies: as requests does
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        key = (origin(url) or url, stream, verify, cert)
        settings = self._environment.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment[key] = settings
        return {name: dict(v) if isinstance(v, dict) else v for name, v in settings.items()}


def new_session(
    settings: Settings, environment: EnvironmentCache | None = None
) -> requests.Session:
    """A session with our guard, headers and redirect limit; ``environment``: proxy
    settings already read by other sessions of the same process (see ``_Session``)."""
    session = _Session(environment)
    adapter = GuardedAdapter(
        public_only=not settings.allow_private_hosts, trusted=settings.trusted_hosts
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = settings.user_agent
    session.headers["Accept"] = ACCEPT
    session.headers["Accept-Language"] = "sv-SE, sv;q=0.9, en;q=0.5"
    session.max_redirects = MAX_REDIRECTS
    return session


def page_fetcher(settings: Settings, session: requests.Session, source: Source) -> PageFetcher:
    """What harvesters that follow links get: the same limits and SSRF guard, one
    deadline for all the pages of this harvest, and the source's token only on the
    source's own origin."""
    headers = auth_headers(source)
    home = origin(source.url or "")
    crawl = Deadline(settings.timeout * CRAWL_TIME_FACTOR)

    def fetch_page(url: str) -> bytes:
        own = headers if home is not None and origin(url) == home else {}
        return fetch_url(
            url, settings, source_id=source.id, session=session, headers=own, within=crawl
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


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


def fetch_url(
    url: str,
    settings: Settings,
    *,
    state: FetchState | None = None,
    source_id: str = "",
    session: requests.Session | None = None,
    headers: dict[str, str] | None = None,
    within: Deadline | None = None,
    truncate: bool = False,
) -> FetchResult:
    """One request (and its redirects) within one deadline, and ``within``'s if given;
    ``truncate``: a body past ``settings.max_bytes`` is cut there, not refused."""
    state = state or FetchState()
    own_session = session is None
    session = session or new_session(settings)
    headers = dict(headers or {})
    shown = redact(url)
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    deadline = Deadline(settings.timeout * TOTAL_TIME_FACTOR, parent=within)
    if deadline.remaining() <= 0:
        raise too_slow(deadline, source_id, url)
    try:
        with deadline.watching():
            response = _get_following_redirects(
                session, url, headers, settings, source_id, deadline
            )
            try:
                if response.status_code == 304:
                    # no body (http.client reads none after a 304): handing the connection
                    # back keeps it open for the host's next source; close() would drop it
                    response.raw.drain_conn()
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
                    raise _http_error(response, shown, source_id)
                content = read_capped(
                    response, settings.max_bytes, source_id, url, deadline, truncate=truncate
                )
            finally:
                response.close()
    except requests.exceptions.RequestException as exc:
        timed_out = isinstance(exc, requests.exceptions.Timeout)
        if deadline.expired.is_set() or (timed_out and deadline.governs):
            raise too_slow(deadline, source_id, url) from None
        raise _request_error(exc, url, settings, source_id) from None
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


def _http_error(response: requests.Response, shown: str, source_id: str) -> FetchError:
    log.debug(
        "%s: HTTP %s %s for %s", source_id, response.status_code, response.reason or "", shown
    )
    error = FetchError(
        http_status_message(response.status_code, shown),
        kind=FetchFailure.HTTP_STATUS,
        source_id=source_id,
        url=shown,
    )
    error.body = next(response.iter_content(chunk_size=65536), b"")
    error.status = response.status_code
    error.retry_after = response.headers.get("Retry-After")
    return error


def http_status_message(status: int, shown: str) -> str:
    """What an error answer means for the organizer, in Swedish: what happened, what to do.
    (A Retry-After is reported by the pipeline beside it, with the time we come back.)"""
    code = f"HTTP {status}"
    if status in (404, 410):
        return (
            f"Servern säger att adressen {shown} inte finns ({code}). Kontrollera att adressen "
            "är rätt; har kalendern flyttat, registrera den nya adressen."
        )
    if status in (401, 403):
        return (
            f"Servern nekade oss att läsa {shown} ({code}). Se till att kalendern är delad "
            "offentligt (utan inloggning), eller registrera dess offentliga adress."
        )
    if status in (429, 503):
        what = "bad oss vänta" if status == 429 else "är tillfälligt otillgänglig"
        return (
            f"Servern {what} ({code}). Vi försöker igen senare; du behöver "
            "inte göra något om det inte håller i sig."
        )
    if status >= 500:
        return (
            f"Servern fick ett fel när vi hämtade {shown} ({code}). Vi försöker igen senare; "
            "håller det i sig, kontakta den som driver servern."
        )
    return (
        f"Servern svarade med ett fel för {shown} ({code}). Kontrollera att adressen är rätt "
        "och att den går att öppna i en webbläsare."
    )


def _request_error(
    exc: requests.exceptions.RequestException, url: str, settings: Settings, source_id: str
) -> FetchError:
    shown = redact(url)
    kind = FetchFailure.OTHER
    if isinstance(exc, requests.exceptions.Timeout):
        kind = FetchFailure.NO_ANSWER
        message = (
            f"Servern svarade inte inom {human_seconds(settings.timeout)}. Vi försöker igen vid "
            "nästa hämtning; håller det i sig, be den som driver servern se över den."
        )
    elif isinstance(exc, requests.exceptions.SSLError):
        kind = FetchFailure.TLS
        message = (
            f"Den säkra anslutningen till {host_of(url)} gick inte att lita på (fel i "
            "certifikatet, TLS). Be den som driver webbplatsen förnya eller rätta certifikatet."
        )
    elif isinstance(exc, requests.exceptions.ConnectionError):
        if PRIVATE_ADDRESS in str(exc):
            kind = FetchFailure.PRIVATE_ADDRESS
            message = (
                f"{host_of(url)} pekar på en privat eller lokal adress, som vi inte hämtar "
                "från. Registrera kalenderns offentliga adress."
            )
        else:
            kind = FetchFailure.UNREACHABLE
            message = (
                f"Vi kunde inte ansluta till {host_of(url)}. Kontrollera att adressen är rätt "
                "och att webbplatsen är uppe; vi försöker igen vid nästa hämtning."
            )
    else:
        message = (
            f"Hämtningen från {host_of(url)} misslyckades. Kontrollera att adressen går att "
            "öppna i en webbläsare; vi försöker igen vid nästa hämtning."
        )
    log.debug("%s: request to %s failed: %s", source_id, shown, redact(str(exc)))
    return FetchError(message, kind=kind, source_id=source_id, url=shown)


def _get_following_redirects(
    session: requests.Session,
    url: str,
    headers: dict[str, str],
    settings: Settings,
    source_id: str,
    deadline: Deadline,
) -> requests.Response:
    first = origin(url)
    for _ in range(MAX_REDIRECTS + 1):
        check_host_allowed(url, settings, source_id)
        remaining = deadline.remaining()
        if remaining <= 0:
            raise too_slow(deadline, source_id, url)
        deadline.governs = remaining < settings.timeout  # a timeout now is the deadline's
        try:
            response = session.get(
                url,
                headers=headers,
                timeout=(min(10.0, settings.timeout, remaining), min(settings.timeout, remaining)),
                stream=True,
                allow_redirects=False,
            )
        except ValueError as exc:
            # requests parses a redirect's Location even when not following it
            raise FetchError(
                "Adressen skickade oss vidare till något som inte är en webbadress, och det "
                "kan vi inte läsa. Registrera kalenderns direkta http(s)-adress.",
                kind=FetchFailure.REDIRECT_NOT_WEB,
                source_id=source_id,
                url=redact(url),
            ) from exc
        if not (response.is_redirect and "Location" in response.headers):
            return response
        target = join_url(url, response.headers["Location"])
        response.close()
        _check_redirect(url, target, source_id)
        if origin(target) != first:
            # requests drops credentials on a host change; we drop them on any change
            # of scheme, host or port, and for the rest of the chain
            headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
        url = target
    raise FetchError(
        f"Adressen skickade oss vidare mer än {MAX_REDIRECTS} gånger i rad, så vi gav upp. "
        "Registrera kalenderns slutliga adress (den som syns i webbläsaren).",
        kind=FetchFailure.REDIRECT_LOOP,
        source_id=source_id,
        url=redact(url),
    )


def _check_redirect(url: str, target: str, source_id: str) -> None:
    if not target.startswith(("http://", "https://")):
        raise FetchError(
            f"Adressen skickade oss vidare till {redact(target)}, som inte är en webbadress "
            "vi kan läsa. Registrera kalenderns direkta http(s)-adress.",
            kind=FetchFailure.REDIRECT_NOT_WEB,
            source_id=source_id,
            url=redact(url),
        )
    if url.startswith("https://") and target.startswith("http://"):
        raise FetchError(
            f"Servern skickade oss från en säker (https) till en osäker (http) adress "
            f"({host_of(target)}); det vägrar vi, eftersom svaret kan läsas eller ändras på "
            "vägen. Finns kalendern bara på http, registrera dess http-adress.",
            kind=FetchFailure.INSECURE_REDIRECT,
            source_id=source_id,
            url=redact(url),
        )
