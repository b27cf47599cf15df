"""A host's robots.txt: read once per host and day, before the first request to it.

Every host we send requests to is asked for ``/robots.txt`` first (``polite.mind_robots``
decides when), through the same guarded fetch as everything else: the SSRF guard on
every redirect hop (at most five, as RFC 9309 2.3.1.2 asks us to follow), a short
timeout, and only the first 64 kB read (RFC 9309 2.5 lets a crawler stop parsing at a
limit of its own). ``Crawl-delay`` and ``Request-rate`` for our user agent (or ``*``)
become the host's pause between requests (``polite.HostGate``, capped there).

What robots.txt does *not* do here: keep us from a feed. RFC 9309 is about crawling;
a calendar an organizer registered with us is fetched because they asked for it, so a
``Disallow`` covering it is logged (info, with the source id) and the feed harvested
anyway, at the pace the file asks for. A missing (4xx), broken (5xx, timeout,
refused, garbage) robots.txt means no rules and no delay of its own, and never fails
a harvest. (The pages an HTML harvest follows are crawling: ``harvest.html.crawl``
honours ``Disallow`` for them.)

Parsing is Protego's (the rules of RFC 9309 and Google's: fractional ``Crawl-delay``,
``Request-rate: 1/5s``, the most specific user-agent group wins); the stdlib's
``urllib.robotparser`` reads neither ``Crawl-delay: 2.5`` nor ``Request-rate: 1/5s``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import requests
from protego import Protego

from aggregator.errors import FetchError
from aggregator.fetch.http import fetch_url
from aggregator.model import RobotsFile, RobotsStatus, Settings

log = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 64 * 1024  # a robots.txt is a few hundred bytes; more is read no further
ROBOTS_TIMEOUT = 5.0  # seconds: the host's harvest waits behind this request
ROBOTS_TTL = timedelta(days=1)  # a read (or missing) robots.txt is asked for again after this
ROBOTS_RETRY = timedelta(hours=1)  # an unreachable one (5xx, timeout) sooner
ROBOTS_ACCEPT = "text/plain, */*;q=0.5"


def robots_url(url: str | None) -> str | None:
    """``scheme://host[:port]/robots.txt`` of an http(s) URL, None for anything else."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here, not later)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    netloc = parts.netloc.rpartition("@")[2]  # never send a URL's credentials along
    return urlunsplit((parts.scheme, netloc, "/robots.txt", "", ""))


def expires_at(file: RobotsFile) -> datetime:
    """When a host's robots.txt is to be asked for again."""
    ttl = ROBOTS_RETRY if file.status is RobotsStatus.UNREACHABLE else ROBOTS_TTL
    return file.fetched_at + ttl


def fetch_robots(
    url: str,
    host: str,
    settings: Settings,
    now: datetime,
    *,
    session: requests.Session | None = None,
    source_id: str = "",
) -> RobotsFile:
    """Ask ``url``'s host for its robots.txt. Never raises: whatever goes wrong is an
    answer (MISSING or UNREACHABLE) that asks nothing of us."""
    target = robots_url(url)
    if target is None:
        return RobotsFile(host, RobotsStatus.MISSING, now)
    limits = replace(
        settings, max_bytes=ROBOTS_MAX_BYTES, timeout=min(settings.timeout, ROBOTS_TIMEOUT)
    )
    try:
        result = fetch_url(
            target,
            limits,
            source_id=source_id,
            session=session,
            headers={"Accept": ROBOTS_ACCEPT},
            truncate=True,
        )
    except FetchError as exc:
        status = exc.status
        if status is not None and 400 <= status < 500:
            return RobotsFile(host, RobotsStatus.MISSING, now, http_status=status)
        log.info("%s: robots.txt of %s not read (%s); no delay of its own", source_id, host, exc)
        return RobotsFile(host, RobotsStatus.UNREACHABLE, now, http_status=status)
    except Exception:  # a library's surprise on a hostile answer must not fail a harvest
        log.exception("%s: reading the robots.txt of %s failed unexpectedly", source_id, host)
        return RobotsFile(host, RobotsStatus.UNREACHABLE, now)
    text = robots_text(result.content)
    if text is None:
        return RobotsFile(host, RobotsStatus.MISSING, now, http_status=result.http_status)
    return RobotsFile(host, RobotsStatus.READ, now, body=text, http_status=result.http_status)


def robots_text(content: bytes) -> str | None:
    """The file as text (UTF-8, RFC 9309 2.3), its last line dropped when the size limit
    cut it; None for a web page (a "soft 404") or binary data."""
    if len(content) >= ROBOTS_MAX_BYTES:
        content = content[: content.rfind(b"\n") + 1]
    text = content.decode("utf-8", errors="replace").lstrip("\ufeff")
    head = text[:1000].lower()
    if "<html" in head or "<!doctype" in head or "\x00" in text:
        return None
    return text


class RobotsRules:
    """What a robots.txt asks of our user agent: a pause between requests, and which
    paths it would rather we did not crawl."""

    def __init__(self, file: RobotsFile, user_agent: str) -> None:
        self.file = file
        self.user_agent = user_agent
        self._rules: Protego | None = None
        if file.status is RobotsStatus.READ and file.body:
            try:
                self._rules = Protego.parse(file.body)
            except Exception:  # garbage must never fail a harvest: no rules
                log.warning("robots.txt of %s could not be parsed; ignored", file.host)

    def delay(self) -> float:
        """Seconds between two requests: the larger of ``Crawl-delay`` and what
        ``Request-rate`` (n requests per m seconds) allows; 0 when neither is given.
        Uncapped: the gate caps it."""
        if self._rules is None:
            return 0.0
        seconds = 0.0
        try:
            crawl_delay = self._rules.crawl_delay(self.user_agent)
            rate = self._rules.request_rate(self.user_agent)
        except Exception:
            return 0.0
        if crawl_delay is not None:
            seconds = max(seconds, float(crawl_delay))
        if rate is not None and rate.requests > 0:
            seconds = max(seconds, rate.seconds / rate.requests)
        return seconds if seconds == seconds else 0.0  # NaN: no delay

    def disallows(self, url: str) -> bool:
        """Whether the file asks crawlers like us to stay away from ``url``."""
        if self._rules is None:
            return False
        try:
            return not self._rules.can_fetch(url, self.user_agent)
        except Exception:
            return False
