"""Publishers: render each event once per content change, assemble feeds from the pieces.

Which feeds exist: ``all`` plus one per municipality, category and organizer
(``municipality/eksjo``), each as .ics, .rss and .json, and ``index.json``.
Renderers are keyed by extension; every function here is pure.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aggregator.model import Event, EventStatus, Place, Settings
from aggregator.store import StoredEvent, parse_iso

RENDERER_VERSION = "1"
FORMATS = ("ics", "rss", "json")
MAX_SUBSCRIPTION_BYTES = 1_000_000  # Google Calendar stops reading subscriptions larger than this


@dataclass(frozen=True, slots=True)
class FeedFrame:
    """What surrounds a feed's event fragments: ``head + separator.join(items) + tail``.

    Feeds are streamed to disk piece by piece, so a 100k-event feed never sits in
    memory whole.
    """

    head: str
    separator: str
    tail: str

    def assemble(self, fragments: Sequence[str]) -> str:
        return self.head + self.separator.join(fragments) + self.tail


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    """A merged event as the renderers see it."""

    id: str
    title: str
    start: datetime | date
    end: datetime | date | None
    all_day: bool
    timezone: str
    status: EventStatus
    description: str
    description_html: str
    url: str
    place: Place
    location_text: str
    categories: tuple[str, ...]
    organizer_name: str
    organizer_url: str
    image: str
    sources: tuple[tuple[str, str], ...]
    created_at: datetime
    modified_at: datetime
    sequence: int

    @property
    def location(self) -> str:
        return self.location_text or self.place.text


def published_event(row: StoredEvent) -> PublishedEvent:
    """A merged event as stored (``Store.published_events``, ``event_record``) for the renderers."""
    return published_from_event(
        row.id, row.event, row.sources, row.created_at, row.modified_at, row.sequence
    )


def published_from_event(
    event_id: str,
    event: Event,
    sources: Sequence[tuple[str, str]],
    created_at: str,
    modified_at: str,
    sequence: int,
) -> PublishedEvent:
    """The same as ``published_event`` but from the merged Event still in memory."""
    return PublishedEvent(
        id=event_id,
        title=event.title,
        start=event.start,
        end=event.end,
        all_day=event.all_day,
        timezone=event.timezone,
        status=event.status,
        description=event.description,
        description_html=event.description_html,
        url=event.url,
        place=event.place,
        location_text=event.location_text,
        categories=event.categories,
        organizer_name=event.organizer_name,
        organizer_url=event.organizer_url,
        image=event.image,
        sources=tuple(sources),
        created_at=parse_iso(created_at),
        modified_at=parse_iso(modified_at),
        sequence=sequence,
    )


def render_key(settings: Settings) -> str:
    """Fragments are valid while these settings and the renderers stay the same."""
    return f"{RENDERER_VERSION}|{settings.base_url}|{settings.timezone}|{settings.calendar_name}"


def uid_domain(settings: Settings) -> str:
    return urlsplit(settings.base_url).hostname or "alltsomsker.local"


def event_page_url(event: PublishedEvent, settings: Settings) -> str:
    return f"{settings.base_url}/events/{event.id}"


@functools.lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(value: datetime, settings: Settings) -> datetime:
    return value.astimezone(_zone(settings.timezone))


def iso_local(value: datetime | date, settings: Settings) -> str:
    """ISO 8601 with the offset in force locally, or a plain date for all-day events."""
    if isinstance(value, datetime):
        return local_time(value, settings).isoformat()
    return value.isoformat()


def utc_stamp(value: datetime) -> str:
    v = value.astimezone(UTC)
    return f"{v.year:04d}{v.month:02d}{v.day:02d}T{v.hour:02d}{v.minute:02d}{v.second:02d}Z"


SV_WEEKDAYS = ("mån", "tis", "ons", "tors", "fre", "lör", "sön")
SV_MONTHS = ("jan", "feb", "mars", "apr", "maj", "juni", "juli", "aug", "sep", "okt", "nov", "dec")


def swedish_when(event: PublishedEvent, settings: Settings) -> str:
    """ "lör 12 dec 2026 19:00" — the date as a Swedish reader writes it."""
    if isinstance(event.start, datetime):
        local = local_time(event.start, settings)
        day = local.date()
        clock = local.strftime(" %H:%M")
    else:
        day = event.start
        clock = ""
    return f"{SV_WEEKDAYS[day.weekday()]} {day.day} {SV_MONTHS[day.month - 1]} {day.year}{clock}"


def feed_title(feed: str, label: str, settings: Settings) -> str:
    if feed == "all":
        return settings.calendar_name
    return f"{settings.calendar_name} – {label}"
