"""The vocabulary every stage speaks: frozen dataclasses handed from stage to stage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from aggregator.redaction import redact


class EventStatus(StrEnum):
    """An event's STATUS as published (lower case, as stored and in the JSON feed)."""

    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


# the names harvesters and renderers use for the statuses
CONFIRMED = EventStatus.CONFIRMED
TENTATIVE = EventStatus.TENTATIVE
CANCELLED = EventStatus.CANCELLED


class Outcome(StrEnum):
    """What one harvest attempt of a source came to (``fetch_log.outcome``, reports)."""

    OK = "ok"  # stored: events added, changed or removed as the source says
    UNCHANGED = "unchanged"  # 304, or the same bytes as last time: nothing parsed
    FAILED = "failed"  # fetch or parse failed: nothing stored changed
    HELD = "held"  # most upcoming events vanished at once: kept them, held for review
    RETIRED = "retired"  # the source left sources.yaml: its events were tombstoned
    SKIPPED = "skipped"  # paused, or its server asked us to wait: not fetched this time
    PAUSED = "paused"  # failing for settings.pause_after, or paused by the operator
    RESUMED = "resumed"  # ``aggregator sources resume``: harvested again


class SourceStatus(StrEnum):
    """A source's health as ``sources list`` shows it (``sources.status``)."""

    NEVER = "never"  # configured, never harvested yet
    OK = "ok"
    FAILED = "failed"
    HELD = "held"
    PAUSED = "paused"  # not harvested until ``aggregator sources resume``; see PauseReason


class PauseReason(StrEnum):
    """Why a source is paused (``sources.pause_reason``); one status, two causes.

    FAILING: it failed for ``settings.pause_after``; its events stay in the feeds (the
    last good copy: nothing is lost when a source breaks), and a harvest that works
    again (``harvest --source ID``) resumes it. MODERATOR: a person paused it
    (``aggregator sources pause ID`` or /admin); its events leave the feeds at once and
    come back with the first harvest after ``aggregator sources resume ID``, which lifts
    either kind and says which.
    """

    FAILING = "failing"
    MODERATOR = "moderator"


# how every page says it (/kallor, the organizer's status page; the API gives the reason)
PAUSE_TEXT = {
    PauseReason.FAILING: "Pausad: kalendern har inte gått att hämta på länge; "
    "evenemangen vi redan har visas tills vidare",
    PauseReason.MODERATOR: "Pausad av en moderator; evenemangen visas inte förrän källan "
    "återupptas",
}


class MatchDecision(StrEnum):
    """What the matcher decided about a pair of source events (``match_pairs.decision``)."""

    MERGED = "merged"  # one event
    REVIEW = "review"  # unsure: a moderator decides
    DIFFERENT = "different"  # two events (not stored)


class OverrideKind(StrEnum):
    """A moderator's decision about two source events (``overrides.kind``)."""

    MERGE = "merge"
    APART = "apart"


KINDS = ("ical", "feed", "html", "facebook")

# The window of what is harvested and published: events that ended more than
# WINDOW_BACK ago are not imported, recurring series are expanded up to WINDOW_AHEAD.
WINDOW_BACK = timedelta(days=30)
WINDOW_AHEAD = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class Settings:
    database: str = "aggregator.db"
    feeds_dir: str = "feeds"
    timezone: str = "Europe/Stockholm"
    base_url: str = "http://127.0.0.1:8080"
    calendar_name: str = "Allt som sker"
    allow_private_hosts: bool = False
    # "host:port" pairs that may be private even where private addresses are refused
    # (a local test calendar for the registration preview); never needed in production
    trusted_hosts: tuple[str, ...] = ()
    # addresses or networks (10.0.0.0/8) of the TLS proxies in front of the web server:
    # only from them are X-Forwarded-For / X-Forwarded-Proto believed; none by default
    trusted_proxies: tuple[str, ...] = ()
    municipalities: tuple[str, ...] = (
        "Nässjö",
        "Eksjö",
        "Vimmerby",
        "Hultsfred",
        "Högsby",
        "Oskarshamn",
    )
    user_agent: str = "AlltSomSker-Aggregator/0.1 (+https://alltsomsker.nu)"
    max_bytes: int = 20 * 1024 * 1024
    timeout: float = 20.0
    max_events: int = 20_000  # events one source may bring into the window
    parse_timeout: float = 180.0  # seconds one source's parse may take, page fetches included
    parse_memory: int = 1024  # MB one source's parse may use (enforced in worker processes)
    workers: int = 4  # harvests in parallel (`aggregator run`, `run --once`, `harvest`)
    # seconds between two requests to one host; None: 1 s, but 0 for loopback and
    # private hosts (tests, a local dev server), which only allow_private_hosts reaches
    per_host_delay: float | None = None
    pause_after: int = 14 * 86400  # seconds a source may fail before it is paused


@dataclass(frozen=True, slots=True)
class Recipe:
    """CSS selectors for a website with no structured data (``recipe:`` in sources.yaml).

    ``event`` selects each event block; the others are relative to that block.
    """

    event: str
    title: str
    date: str
    time: str = ""
    place: str = ""
    link: str = ""
    description: str = ""
    image: str = ""


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    name: str
    url: str | None = None
    path: str | None = None
    kind: str | None = None
    municipality: str | None = None
    categories: tuple[str, ...] = ()
    interval: int = 3600  # seconds
    priority: int = 50
    token_env: str | None = None
    recipe: Recipe | None = None
    max_pages: int = 50  # detail pages a website/feed harvest may follow
    max_events: int | None = None  # overrides settings.max_events for this source

    @property
    def location(self) -> str:
        """What is fetched, for messages, health and pages: the URL (secrets in it
        blanked: it is stored and shown) or the path."""
        return redact(self.url) if self.url else self.path or ""


@dataclass(frozen=True, slots=True)
class Place:
    name: str = ""
    street: str = ""
    locality: str = ""
    municipality: str = ""
    latitude: float | None = None
    longitude: float | None = None

    @property
    def text(self) -> str:
        """The place as one line, the way LOCATION and ev:location want it."""
        parts = [p for p in (self.name, self.street, self.locality) if p]
        return ", ".join(dict.fromkeys(parts))


@dataclass(frozen=True, slots=True)
class Event:
    """One event as harvested from one source.

    ``start``/``end`` are UTC-aware datetimes, or dates for all-day events
    (``end`` exclusive). ``timezone`` is the IANA zone the source gave.
    """

    source_id: str
    key: str
    title: str
    start: datetime | date
    end: datetime | date | None = None
    all_day: bool = False
    timezone: str = "Europe/Stockholm"
    status: EventStatus = EventStatus.CONFIRMED
    description: str = ""
    description_html: str = ""
    url: str = ""
    place: Place = field(default_factory=Place)
    location_text: str = ""
    categories: tuple[str, ...] = ()
    organizer_name: str = ""
    organizer_url: str = ""
    image: str = ""
    uid: str = ""  # the publisher's own id (iCal UID, Facebook id …) for identity


@dataclass(frozen=True, slots=True)
class HarvestWarning:
    """Input we tolerated but could not use fully; reaches the source's health."""

    source_id: str
    message: str


@dataclass(frozen=True, slots=True)
class HarvestResult:
    events: tuple[Event, ...]
    warnings: tuple[HarvestWarning, ...] = ()
    kind: str = "ical"


@dataclass(frozen=True, slots=True)
class FetchState:
    """What we remember between fetches of a source, for conditional GET."""

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None


@dataclass(frozen=True, slots=True)
class ExportFolder:
    """The export files fetch read from a ``path:`` folder (name relative to the folder,
    bytes), newest first, and a sentence for each file it passed by."""

    files: tuple[tuple[str, bytes], ...]
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What fetch hands the harvester: the bytes (or a folder's files) and the
    validators for the next conditional GET."""

    source_id: str
    url: str
    not_modified: bool
    content: bytes = b""
    content_type: str = ""
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    folder: ExportFolder | None = None


# Harvesters that follow links (an RSS item's page, a listing's detail pages) get
# one of these from the pipeline: URL in, body bytes out, FetchError on failure.
# It applies the same limits and SSRF guard as every other fetch.
PageFetcher = Callable[[str], bytes]


class RobotsStatus(StrEnum):
    """What asking a host for its robots.txt gave (RFC 9309 2.3.1)."""

    READ = "read"  # 2xx: its rules apply
    MISSING = "missing"  # 4xx: no rules, no delay
    UNREACHABLE = "unreachable"  # 5xx, timeout, refused, too many redirects: asked again sooner


@dataclass(frozen=True, slots=True)
class RobotsFile:
    """A host's robots.txt as we last read it, kept per host (in memory and in the
    database) so that one run, or one day of runs, asks for it once."""

    host: str  # as ``fetch.polite.host_of`` counts hosts
    status: RobotsStatus
    fetched_at: datetime
    body: str = ""  # the text (at most the first 64 kB); '' unless READ
    http_status: int | None = None
