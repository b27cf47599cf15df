"""Politeness towards the sites we harvest, shared by ``run``, ``run --once`` and ``harvest``.

Small organizers run their calendars on small servers. We send at most one request at a
time to a host, wait ``settings.per_host_delay`` (or the host's robots.txt
``Crawl-delay``) between two requests to it, stay away as long as a ``Retry-After``
asks, and back off exponentially from a source that keeps failing.

Pure functions take ``now``; the gate takes a monotonic clock, so tests can drive both.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import threading
import time
import urllib.robotparser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from aggregator.errors import FetchError
from aggregator.model import PageFetcher, Settings, Source

log = logging.getLogger(__name__)

DEFAULT_DELAY = 1.0  # one request a second: the classic polite crawl rate
MAX_CRAWL_DELAY = 30.0  # a larger Crawl-delay would tie up a worker for hours (50 pages)
MAX_RETRY_AFTER = timedelta(days=7)  # an absurd date must not silently bury a source
MAX_BACKOFF = timedelta(days=1)
COOL_DOWN = 60.0  # a 429/503 without Retry-After keeps every source of the host away this long
SLOW_DOWN_STATUSES = (429, 503)
_SECONDS_RE = re.compile(r"^\d{1,12}(?:\.\d+)?$")


def host_of(url: str | None) -> str:
    """The server a URL talks to, as politeness counts it: the host name (lowercase), with
    the port when it is not the scheme's default (http and https of one site are one
    server; two test servers on one address are two); '' for files and bad URLs."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address, as in a URL
    if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)):
        return host
    return f"{host}:{port}"


def source_host(source: Source) -> str:
    return host_of(source.url)


def default_delay(host: str) -> float:
    """Loopback and private hosts (tests, a dev server; only ``allow_private_hosts`` reaches
    them) get no delay unless the operator sets one; every other host one second."""
    name = host.partition("]")[0].lstrip("[") if host.startswith("[") else host.split(":")[0]
    if name == "localhost" or name.endswith(".localhost"):
        return 0.0
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return DEFAULT_DELAY
    return 0.0 if not address.is_global else DEFAULT_DELAY


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """When a ``Retry-After`` (delay-seconds or an HTTP date, RFC 9110 10.2.3) lets us
    come back, capped at a week; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if _SECONDS_RE.match(value):  # "120"; "120.5" is not RFC 9110 but servers send it
        seconds = min(math.ceil(float(value)), int(MAX_RETRY_AFTER.total_seconds()))
        until = now + timedelta(seconds=seconds)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=UTC)
        until = max(now, when.astimezone(UTC))
    return min(until, now + MAX_RETRY_AFTER)


def backoff_delay(failures: int, interval: int) -> timedelta:
    """How long after its ``failures``-th failure in a row a source waits: its interval,
    then twice that, four times … up to a day (or the interval, if that is longer)."""
    if failures <= 0:
        return timedelta(seconds=interval)
    ceiling = max(MAX_BACKOFF.total_seconds(), interval)
    exponent = min(failures - 1, 32)  # 2**32 intervals is past any ceiling
    return timedelta(seconds=min(interval * 2**exponent, ceiling))


class HostGate:
    """At most one harvest per host at a time, and a pause between requests to a host.

    A worker ``try_take``s the host of its source before it sends anything and
    ``release``s it when the harvest is done (or as soon as no more requests to the host
    can follow). Every request notes when it ended; the host is ready again ``delay``
    later. ``cond`` is shared with the pool that waits for hosts to become ready.
    """

    def __init__(
        self,
        settings: Settings,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.monotonic = monotonic
        self.sleep = sleep
        self.cond = threading.Condition()
        self._busy: set[str] = set()
        self._last: dict[str, float] = {}
        self._crawl_delay: dict[str, float] = {}
        self._held_until: dict[str, float] = {}

    def delay(self, host: str) -> float:
        base = self.settings.per_host_delay
        if base is None:
            base = default_delay(host)
        return max(base, self._crawl_delay.get(host, 0.0))

    def ready_at(self, host: str) -> float:
        """Monotonic time from which the host may be taken (inf while it is busy)."""
        if not host:
            return 0.0
        with self.cond:
            if host in self._busy:
                return math.inf
            after_last = self._last.get(host, -math.inf) + self.delay(host)
            return max(after_last, self._held_until.get(host, -math.inf))

    def try_take(self, host: str) -> bool:
        if not host:
            return True
        with self.cond:
            if self.ready_at(host) > self.monotonic():
                return False
            self._busy.add(host)
            return True

    def take(self, host: str, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) for a host to be ready and take it."""
        deadline = self.monotonic() + timeout
        with self.cond:
            while not self.try_take(host):
                left = min(deadline, self.ready_at(host)) - self.monotonic()
                if self.monotonic() >= deadline:
                    return False
                self.cond.wait(timeout=max(0.01, min(left, 1.0)))
            return True

    @contextmanager
    def turn(self, host: str, wait: float) -> Iterator[bool]:
        """Hold ``host`` for a few requests outside a harvest (a registration's preview),
        waiting at most ``wait`` s for it; yields whether it was taken. The request is
        noted when done, so the next one keeps the host's delay."""
        if not self.take(host, wait):
            yield False
            return
        try:
            yield True
        finally:
            self.note_request(host)
            self.release(host)

    def release(self, host: str) -> None:
        if not host:
            return
        with self.cond:
            self._busy.discard(host)
            self.cond.notify_all()

    def note_request(self, host: str) -> None:
        """A request to ``host`` just ended: the next may start ``delay`` from now."""
        if host:
            with self.cond:
                self._last[host] = self.monotonic()

    def wait_turn(self, host: str) -> None:
        """Sleep until ``delay`` has passed since the last request to a host we hold."""
        if not host:
            return
        with self.cond:
            wait = self._last.get(host, -math.inf) + self.delay(host) - self.monotonic()
        if wait > 0:
            self.sleep(wait)

    def hold(self, host: str, seconds: float) -> None:
        """Keep every source of ``host`` away (Retry-After, 429/503), from now on."""
        if host and seconds > 0:
            with self.cond:
                until = self.monotonic() + seconds
                self._held_until[host] = max(self._held_until.get(host, -math.inf), until)

    def held_for(self, host: str) -> float:
        """Seconds the host is still held by a server's request to wait (0 when not)."""
        with self.cond:
            return max(0.0, self._held_until.get(host, -math.inf) - self.monotonic())

    def set_crawl_delay(self, host: str, seconds: float) -> None:
        if host and seconds > 0:
            if seconds > MAX_CRAWL_DELAY:
                log.warning(
                    "robots.txt of %s asks for a Crawl-delay of %g s; using %g s",
                    host,
                    seconds,
                    MAX_CRAWL_DELAY,
                )
            with self.cond:
                self._crawl_delay[host] = min(seconds, MAX_CRAWL_DELAY)


def crawl_delay_of(body: bytes, user_agent: str) -> float:
    """The Crawl-delay a robots.txt gives our user agent (or every agent), 0 if none."""
    rules = urllib.robotparser.RobotFileParser()
    rules.parse(body[:512_000].decode("utf-8", errors="replace").splitlines())
    delay = rules.crawl_delay(user_agent.split("/")[0])
    try:
        return max(0.0, float(delay)) if delay is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def paced_fetcher(
    fetch_page: PageFetcher, gate: HostGate, own_host: str, timeout: float
) -> PageFetcher:
    """The page fetcher a harvester gets, made polite: each request waits its host's delay;
    a page on another host first takes that host (at most ``timeout`` s, so two harvests
    that link to each other's sites cannot wait for each other forever); a robots.txt
    read on the way sets the host's Crawl-delay."""

    def fetch(url: str) -> bytes:
        host = host_of(url)
        foreign = bool(host) and host != own_host
        if foreign and not gate.take(host, timeout):
            raise FetchError(f"{host} was busy with another harvest; page skipped", url=url)
        try:
            gate.wait_turn(host)
            try:
                body = fetch_page(url)
            finally:
                gate.note_request(host)
            if urlsplit(url).path == "/robots.txt":
                gate.set_crawl_delay(host, crawl_delay_of(body, gate.settings.user_agent))
            return body
        finally:
            if foreign:
                gate.release(host)

    return fetch
