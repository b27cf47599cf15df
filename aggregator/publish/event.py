"""The merged event as the renderers see it, and the Swedish/local-time formatting they share."""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import nh3

from aggregator.dedupe.merge import EventChange
from aggregator.model import Event, EventStatus, Place, Settings
from aggregator.store import Revision, StoredEvent, parse_iso

RENDERER_VERSION = "2"  # bump when a renderer's output changes, so stored fragments are redone


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


def published_from_event(
    event_id: str,
    event: Event,
    sources: tuple[tuple[str, str], ...],
    created_at: str,
    modified_at: str,
    sequence: int,
) -> PublishedEvent:
    """An event that is not (yet) stored, as the renderers see it (a registration preview)."""
    return _published(event_id, event, sources, Revision(created_at, modified_at, sequence))


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
    """The event's page in the web app (``/events/<id>`` in older feeds redirects there)."""
    return f"{settings.base_url}/evenemang/{event.id}"


def home_url(settings: Settings) -> str:
    """The web app's front page: what a feed's own link points at."""
    return f"{settings.base_url}/"


_CANCELLED_WORDS = re.compile(
    r"(?<!\w)(?:inst[äa]ll(?:t|d|da|des|s)|avlyst|avlyses|avbokat|avbokad|cancell?ed)(?!\w)"
)
CANCELLED_PREFIX = "INSTÄLLT: "


def marks_cancelled(title: str) -> bool:
    """Whether a title already says the event is off ("Inställt:", "INSTÄLLD", "– avlyst")."""
    return bool(_CANCELLED_WORDS.search(title.casefold()))


def display_title(event: PublishedEvent) -> str:
    """The title a calendar shows: "INSTÄLLT: " in front of a cancelled event, once. Google
    shows a cancelled event as confirmed or drops it; either way a subscriber must see it."""
    if event.status == EventStatus.CANCELLED and not marks_cancelled(event.title):
        return CANCELLED_PREFIX + event.title
    return event.title


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
SV_MONTH_NAMES = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
                  "september", "oktober", "november", "december")  # fmt: skip


def swedish_date(value: date) -> str:
    """ "14 mars 2027" """
    return f"{value.day} {SV_MONTH_NAMES[value.month - 1]} {value.year}"


def cut_note(horizon: date, settings: Settings) -> str:
    """What a feed cut to a count (the web's filtered RSS and JSON) says of itself."""
    return (
        f"Evenemang till och med {swedish_date(horizon)}; senare evenemang kommer med "
        f"allteftersom datumet närmar sig. Alla evenemang: {home_url(settings)}"
    )


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


def _day(value: date) -> str:
    return f"{SV_WEEKDAYS[value.weekday()]} {value.day} {SV_MONTHS[value.month - 1]}"


def swedish_span(event: PublishedEvent, settings: Settings) -> str:
    """ "lör 12 dec 19:00–21:00", "lör 12 dec 19:00 – sön 13 dec 01:00", "lör 12 dec",
    "fre 11 dec – sön 13 dec": when, on the local clock (an all-day end is exclusive)."""
    start, end = event.start, event.end
    if not isinstance(start, datetime):
        last = end - timedelta(days=1) if isinstance(end, date) and end > start else start
        return _day(start) if last <= start else f"{_day(start)} – {_day(last)}"
    begin = local_time(start, settings)
    text = f"{_day(begin.date())} {begin:%H:%M}"
    if not isinstance(end, datetime) or end <= start:
        return text
    finish = local_time(end, settings)
    if finish.date() == begin.date():
        return f"{text}–{finish:%H:%M}"
    return f"{text} – {_day(finish.date())} {finish:%H:%M}"


def where_line(event: PublishedEvent) -> str:
    """ "Folkets hus, Hultsfred": the venue and its town, for readers that show no place."""
    place = event.place
    named = ", ".join(dict.fromkeys(p for p in (place.name, place.locality) if p))
    return named or event.location_text


def summary_line(event: PublishedEvent, settings: Settings) -> str:
    """ "lör 12 dec 19:00–21:00 · Folkets hus, Hultsfred": the first line of a description."""
    where = where_line(event)
    return swedish_span(event, settings) + (f" · {where}" if where else "")


# what a feed reader may render of a source's HTML (it was sanitised when stored; this is
# the narrower set a description needs, applied again because readers trust feeds)
_FEED_TAGS = {"p", "br", "b", "strong", "i", "em", "a", "ul", "ol", "li", "blockquote"}
_BLANK_LINES = re.compile(r"\n\s*\n")


def description_html(event: PublishedEvent, settings: Settings) -> str:
    """The event as safe HTML: the date and place line, then the source's HTML (or its
    plain text in paragraphs, escaped), so line breaks survive and no markup runs."""
    lead = f"<p>{html.escape(summary_line(event, settings), quote=False)}</p>"
    if event.description_html.strip():
        body = nh3.clean(
            event.description_html, tags=_FEED_TAGS, attributes={"a": {"href"}}
        ).strip()
    else:
        body = "".join(
            "<p>" + html.escape(part.strip(), quote=False).replace("\n", "<br>") + "</p>"
            for part in _BLANK_LINES.split(event.description.replace("\r\n", "\n"))
            if part.strip()
        )
    return lead + body
