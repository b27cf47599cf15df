"""Politeness towards the sites we harvest, shared by ``run``, ``run --once`` and ``harvest``.

Small organizers run their calendars on small servers. We send at most one request at a
time to a host, wait ``settings.per_host_delay`` (or the host's robots.txt
``Crawl-delay``) between two requests to it, stay away as long as a ``Retry-After``
asks, and back off exponentially from a source that keeps failing.

Every host is asked for its robots.txt before the first request to it (then once a
day, the answer kept in the gate's ``RobotsCache`` and, through the pool, the database):
its ``Crawl-delay``/``Request-rate`` set the host's delay, and the robots request itself
is a request to the host like any other (one in flight, the delay after it). See
``fetch.robots`` for what is read and why a ``Disallow`` never skips a registered feed.

Pure functions take ``now``; the gate takes a monotonic clock, so tests can drive both.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

from aggregator.errors import FetchError, FetchFailure
from aggregator.fetch.robots import RobotsRules, expires_at, fetch_robots
from aggregator.model import PageFetcher, RobotsFile, RobotsStatus, Settings, Source
from aggregator.redaction import redact

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


RobotsReader = Callable[[str], RobotsFile]  # a URL on the host → its robots.txt, never raises


class RobotsCache:
    """The robots.txt of each host, kept until it expires (a day; an unreachable one an
    hour). ``load``/``save`` keep it beyond the process (the pool gives the database's),
    so hourly ``run --once`` from cron asks each host once a day too. A failing
    ``load``/``save`` only costs a request: robots.txt never fails a harvest."""

    def __init__(
        self,
        load: Callable[[str], RobotsFile | None] | None = None,
        save: Callable[[RobotsFile], None] | None = None,
    ) -> None:
        self.load = load
        self.save = save
        self._rules: dict[str, RobotsRules] = {}
        self._lock = threading.Lock()

    def fresh(self, host: str, now: datetime, user_agent: str) -> RobotsRules | None:
        """The host's rules while they are fresh, else None (time to ask the host)."""
        with self._lock:
            rules = self._rules.get(host)
        if rules is None and self.load is not None:
            try:
                file = self.load(host)
            except Exception:
                log.warning("robots.txt of %s could not be read from the database", host)
                file = None
            if file is not None:
                rules = self._keep(file, user_agent)
        if rules is None or expires_at(rules.file) <= now or rules.file.fetched_at > now:
            return None
        if rules.user_agent != user_agent:  # a reloaded configuration names us otherwise
            rules = self._keep(rules.file, user_agent)
        return rules

    def put(self, file: RobotsFile, user_agent: str) -> RobotsRules:
        rules = self._keep(file, user_agent)
        if self.save is not None:
            try:
                self.save(file)
            except Exception:
                log.warning("robots.txt of %s could not be kept in the database", file.host)
        return rules

    def _keep(self, file: RobotsFile, user_agent: str) -> RobotsRules:
        rules = RobotsRules(file, user_agent)
        with self._lock:
            self._rules[file.host] = rules
        return rules


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
        robots: RobotsCache | None = None,
    ) -> None:
        self.settings = settings
        self.robots = robots or RobotsCache()
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
        """The delay the host's robots.txt asks for (capped); 0 takes an old one back."""
        if not host:
            return
        seconds = seconds if math.isfinite(seconds) and seconds > 0 else 0.0
        capped = min(seconds, MAX_CRAWL_DELAY)
        with self.cond:
            before = self._crawl_delay.get(host, 0.0)
            if capped:
                self._crawl_delay[host] = capped
            else:
                self._crawl_delay.pop(host, None)
        if seconds > MAX_CRAWL_DELAY and before != capped:  # said once, not every harvest
            log.warning(
                "robots.txt of %s asks for a Crawl-delay of %g s; using %g s",
                host,
                seconds,
                MAX_CRAWL_DELAY,
            )


def mind_robots(
    gate: HostGate, host: str, url: str, read: RobotsReader, now: datetime
) -> RobotsRules | None:
    """Before a request to ``host`` (which the caller holds): its robots.txt rules, read
    from the host first when none are fresh. That read is a request to the host: it
    waits the host's delay and the next request waits the delay after it. Sets the
    host's delay from the rules."""
    if not host:
        return None
    user_agent = gate.settings.user_agent
    rules = gate.robots.fresh(host, now, user_agent)
    if rules is None:
        gate.wait_turn(host)
        try:
            file = read(url)
        finally:
            gate.note_request(host)
        rules = gate.robots.put(file, user_agent)
    gate.set_crawl_delay(host, rules.delay())
    return rules


def robots_reader(
    settings: Settings, now: datetime, session: requests.Session | None, source_id: str
) -> RobotsReader:
    """How a harvest reads a host's robots.txt (``mind_robots`` decides when): through its
    own session, in its name (``source_id``, for the log)."""

    def read(url: str) -> RobotsFile:
        return fetch_robots(url, host_of(url), settings, now, session=session, source_id=source_id)

    return read


def robots_before_harvest(
    gate: HostGate,
    source: Source,
    host: str,
    now: datetime,
    session: requests.Session | None = None,
) -> None:
    """A harvest holds its source's host: read the host's robots.txt if due, then wait
    the host's delay. A ``Disallow`` covering the feed is said (info), never obeyed: the
    organizer registered the feed for us to read, and that is not crawling."""
    if not host or not source.url:
        return
    read = robots_reader(gate.settings, now, session, source.id)
    rules = mind_robots(gate, host, source.url, read, now)
    if rules is not None and rules.disallows(source.url):
        log.info(
            "%s: robots.txt of %s disallows %s for crawlers; harvested anyway, since the "
            "organizer registered this feed (its Crawl-delay is honoured)",
            source.id,
            host,
            redact(source.url),
        )
    gate.wait_turn(host)


def paced_fetcher(
    fetch_page: PageFetcher,
    gate: HostGate,
    own_host: str,
    timeout: float,
    *,
    robots: RobotsReader,
    now: datetime,
) -> PageFetcher:
    """The page fetcher a harvester gets, made polite: each request waits its host's delay;
    a page on another host first takes that host (at most ``timeout`` s, so two harvests
    that link to each other's sites cannot wait for each other forever). Every host's
    robots.txt is minded before its first page (``mind_robots``), and a harvester's own
    read of /robots.txt is answered from what was read there."""

    def fetch(url: str) -> bytes:
        host = host_of(url)
        foreign = bool(host) and host != own_host
        if foreign and not gate.take(host, timeout):
            raise FetchError(
                f"Servern {host} var upptagen med en annan hämtning, så sidan hoppades över "
                "den här gången. Vi försöker igen vid nästa hämtning; du behöver inte göra "
                "något.",
                kind=FetchFailure.HOST_BUSY,
                url=url,
            )
        try:
            rules = mind_robots(gate, host, url, robots, now)
            if rules is not None and urlsplit(url).path == "/robots.txt":
                return _robots_body(rules.file, url)
            gate.wait_turn(host)
            try:
                return fetch_page(url)
            finally:
                gate.note_request(host)
        finally:
            if foreign:
                gate.release(host)

    return fetch


def _robots_body(file: RobotsFile, url: str) -> bytes:
    """A harvester's read of robots.txt, answered from what the gate already read."""
    if file.status is RobotsStatus.READ:
        return file.body.encode("utf-8")
    status = f"HTTP {file.http_status}" if file.http_status else "servern svarade inte"
    raise FetchError(
        f"Webbplatsens robots.txt gick inte att läsa ({status}), så vi hämtar sidorna utan "
        f"dess regler. Ska den styra vad vi hämtar, se till att {url} går att öppna.",
        kind=FetchFailure.ROBOTS_UNAVAILABLE,
        url=url,
    )
