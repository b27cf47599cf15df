"""The only place that does network (and file) I/O for harvesting.

Polite and defensive: a descriptive User-Agent, timeouts, a size cap applied to
the *decoded* body (so a gzip bomb stops at the cap too), conditional GET, a
bounded number of redirects, and a refusal to touch private or loopback
addresses unless the operator allowed it (each redirect hop is checked again).

    http.py    fetch_url, sessions, the page fetcher harvesters follow links with
    guard.py   the SSRF guard
    limits.py  bytes, redirects and time
    files.py   ``path:`` sources: files and Facebook export folders
"""

from __future__ import annotations

import logging
from pathlib import Path

import requests

from aggregator.errors import FetchError
from aggregator.fetch.files import read_path
from aggregator.fetch.guard import check_host_allowed
from aggregator.fetch.http import (
    EnvironmentCache,
    auth_headers,
    fetch_url,
    new_session,
    page_fetcher,
)
from aggregator.model import FetchResult, FetchState, Settings, Source

log = logging.getLogger(__name__)

__all__ = [
    "EnvironmentCache",
    "FetchResult",
    "auth_headers",
    "check_host_allowed",
    "fetch_source",
    "fetch_url",
    "new_session",
    "page_fetcher",
]


def fetch_source(
    source: Source,
    state: FetchState,
    settings: Settings,
    *,
    base_dir: Path,
    session: requests.Session | None = None,
) -> FetchResult:
    """Fetch a source's bytes; ``not_modified`` when it has not changed since ``state``.

    Raises ``FetchError`` only: anything else a library raises on a strange address or
    answer fails this source with a sentence (and a traceback in the log), not the run.
    """
    try:
        if source.path:
            return read_path(source, settings, base_dir)
        assert source.url is not None
        return fetch_url(
            source.url,
            settings,
            state=state,
            source_id=source.id,
            session=session,
            headers=auth_headers(source),
        )
    except FetchError:
        raise
    except Exception as exc:
        log.exception("%s: unexpected %s while fetching", source.id, type(exc).__name__)
        raise FetchError(
            "Hämtningen misslyckades på ett sätt vi inte väntade oss; felet finns i vår logg. "
            "Vi försöker igen vid nästa hämtning.",
            source_id=source.id,
            url=source.location,
        ) from exc
