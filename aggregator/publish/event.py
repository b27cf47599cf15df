"""The merged event as the renderers see it, and the Swedish/local-time formatting they share."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aggregator.dedupe.merge import EventChange
from aggregator.model import Event, EventStatus, Place, Settings
from aggregator.store import Revision, StoredEvent, parse_iso

RENDERER_VERSION = "1"  # bump when a renderer's output changes, so stored fragments are redone


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
    revision = Revision(row.created_at, row.modified_at, row.sequence)
    return _published(row.id, row.event, row.sources, revision)


def published_from_change(change: EventChange) -> PublishedEvent:
    """The same as ``published_event`` but from the merged Event still in memory."""
    assert change.event is not None, "a removed event is not rendered"
    return _published(change.record.id, change.event, change.sources, change.record.revision)


def _published(
    event_id: str, event: Event, sources: tuple[tuple[str, str], ...], revision: Revision
) -> PublishedEvent:
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
        sources=sources,
        created_at=parse_iso(revision.created_at),
        modified_at=parse_iso(revision.modified_at),
        sequence=revision.sequence,
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
