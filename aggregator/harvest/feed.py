"""RSS and Atom feeds → Events, with feedparser.

A feed item is a blog post about an event; the event's time is not the post's
``pubDate`` (WordPress plugins write the publish time, or the start without an
end). It is looked for, in this order: the RSS 1.0 event module (``ev:``) and
other structured fields in the item (xCal, WP Event Manager's
``event_listing:start_date``, Campus Labs' ``<start>``), hCalendar in the item's
HTML, the item's own web page (same site only, bounded), an iCal UID of The
Events Calendar in the guid, and last a Swedish date written in the text. An
item with no findable time is skipped with a warning that says so.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import feedparser

from aggregator.errors import DeadlineExceeded, ParseError, SourceError
from aggregator.harvest.context import HarvestContext
from aggregator.harvest.html import parse_html
from aggregator.harvest.swedish_dates import SwedishDateError, find_swedish_datetime
from aggregator.model import (
    CANCELLED,
    CONFIRMED,
    Event,
    HarvestResult,
    PageFetcher,
    Settings,
    Source,
)
from aggregator.normalize import clean_title, html_title_to_text, html_to_text, looks_like_html
from aggregator.normalize.timezones import local_to_utc, zone

log = logging.getLogger(__name__)

ITEMS_PER_EVENT = 2.5  # a feed may hold this many times max_events items, past ones included
MAX_PROLOG = 64 * 1024  # a DOCTYPE must come before the root element
_START_KEY_RE = re.compile(r"(?:^|_)(?:dtstart|startdate|start_date|start|event_start|begin)$")
_END_KEY_RE = re.compile(r"(?:^|_)(?:dtend|enddate|end_date|end|event_end)$")
_LOCATION_KEY_RE = re.compile(r"(?:^|_)location$")
_TEC_UID_RE = re.compile(r"^\d+-(\d{9,11})-(\d{9,11})@[\w.-]+$")  # The Events Calendar iCal UID
_CANCELLED = ("cancelled", "canceled")
_CANCELLED_RE = re.compile(r"^\W*(inställt|inställd|avlyst|installt|cancell?ed)\b", re.IGNORECASE)
_HTML_START_RE = re.compile(
    r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_DOCTYPE_RE = re.compile(r"<!DOCTYPE[^\[>]*\[", re.IGNORECASE)
_ENTITY_DECL_RE = re.compile(r"<!ENTITY\b", re.IGNORECASE)
# the only declarations let through: a name for one character, <!ENTITY nbsp "&#160;">
_SAFE_ENTITY_RE = re.compile(
    r"<!ENTITY\s+[\w.:-]+\s+(?:\"(?:&#x?[0-9a-f]+;|[^&%\"])*\"|'(?:&#x?[0-9a-f]+;|[^&%'])*')\s*>",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _When:
    start: datetime | date
    end: datetime | date | None
    all_day: bool
    how: str


@dataclass(kw_only=True)
class _Context(HarvestContext):
    """A feed harvest: which hosts an item's page may be read from, and how many."""

    page_hosts: frozenset[str] = frozenset()
    pages_left: int = 0
    timed: int = 0
    page_reader: Callable[[bytes, str], list[Event]] | None = None


def parse_feed(
    content: bytes,
    source: Source,
    settings: Settings,
    *,
    now: datetime,
    fetch_page: PageFetcher | None = None,
) -> HarvestResult:
    head = _head_text(content)
    _refuse_html(head, source)
    _refuse_entity_declarations(head, source)
    # A BytesIO, never bytes: feedparser opens a bytes argument as a file name if it can.
    parsed = feedparser.parse(io.BytesIO(content), sanitize_html=False)
    entries = parsed.entries
    if not entries:
        if _broken(parsed):
            raise ParseError(
                "Flödet är inte giltig RSS eller Atom och inga inlägg gick att läsa "
                f"({_reason(parsed.get('bozo_exception'), source)}). Kontrollera att adressen "
                "går till flödet (RSS/Atom) och inte till en vanlig sida; öppna den gärna i en "
                "flödesvalidator.",
                source_id=source.id,
            )
        if not parsed.version:
            raise ParseError(
                "Adressen ger inte ett RSS- eller Atom-flöde. Kontrollera att adressen går till "
                "själva flödet (ofta /feed eller /rss) eller registrera kalendern som en annan typ.",
                source_id=source.id,
            )
    ctx = _Context(
        source=source,
        settings=settings,
        now=now,
        fetch_page=fetch_page,
        tz=zone(settings.timezone) or UTC,
        tz_name=settings.timezone,
        max_events=source.max_events or settings.max_events,
        page_hosts=_page_hosts(source.url, parsed.feed.get("link")),
        pages_left=max(0, source.max_pages),
    )
    ctx.page_reader = _page_reader(source, settings, now)
    if not entries:
        ctx.warn(
            "Flödet innehåller inga inlägg just nu, så inga evenemang visas; lägg in kommande "
            "evenemang på webbplatsen."
        )
    if parsed.bozo:
        ctx.warn(
            f"Flödet är inte korrekt XML ({_reason(parsed.get('bozo_exception'), source)}); "
            "de inlägg som gick att läsa visas. Be den som sköter webbplatsen rätta flödet."
        )
    ceiling = int(ctx.max_events * ITEMS_PER_EVENT)
    if len(entries) > ceiling:
        raise ctx.error(
            f"Flödet har {len(entries)} inlägg, fler än de {ceiling} en källa får ha "
            f"(max_events är {ctx.max_events}); inget hämtades. Registrera ett flöde med "
            "färre inlägg (till exempel bara kommande evenemang) eller kontakta oss."
        )
    events = []
    for entry in entries:
        event = _event(entry, ctx)
        if event is not None:
            ctx.take()
            events.append(event)
    if _broken(parsed) and not events and not ctx.skipped_old:
        raise ParseError(
            "Flödet är inte giltig RSS eller Atom och inget evenemang gick att läsa "
            f"({_reason(parsed.get('bozo_exception'), source)}). Be den som sköter "
            "webbplatsen rätta flödet; kontrollera det gärna i en flödesvalidator.",
            source_id=source.id,
        )
    if entries and ctx.timed == 0:
        raise ParseError(
            f"Inget av flödets {len(entries)} inlägg säger när evenemanget äger rum (inget "
            "datum i inlägget, på dess sida eller i texten), så inget hämtades. Skriv datum och "
            "tid i inläggen, eller registrera webbplatsens kalender (iCal) i stället.",
            source_id=source.id,
        )
    return HarvestResult(tuple(_unique_keys(events)), tuple(ctx.warnings), kind="feed")


def _broken(parsed: Any) -> bool:
    """Bozo for a reason other than a mislabelled text encoding (which feedparser repairs)."""
    exc = parsed.get("bozo_exception")
    benign = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
    return bool(parsed.bozo) and not isinstance(exc, benign)


def _head_text(content: bytes) -> str:
    head = content[:MAX_PROLOG]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace")
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


def _refuse_html(head: str, source: Source) -> None:
    if _HTML_START_RE.match(head):
        raise ParseError(
            "Adressen gav en webbsida (HTML) i stället för ett RSS- eller Atom-flöde. "
            "Kontrollera att flödets adress är rätt och att webbplatsen fungerar.",
            source_id=source.id,
        )


def _refuse_entity_declarations(head: str, source: Source) -> None:
    """Refuse entity tricks (billion laughs, external entities) before any parser sees them.

    feedparser 6 already strips the DOCTYPE and keeps only character-reference
    entities, so this is a second wall, and it gives the organizer a clear reason.
    """
    doctype = _DOCTYPE_RE.search(head)
    if doctype is None:
        return
    subset = head[doctype.end() :]
    if "]" not in subset:
        raise ParseError(
            "Flödets DOCTYPE är oavslutad eller för stor för att vara säker, så flödet "
            "lästes inte. Be den som sköter webbplatsen ta bort DOCTYPE ur flödet.",
            source_id=source.id,
        )
    declared = len(_ENTITY_DECL_RE.findall(subset))
    if declared and declared != len(_SAFE_ENTITY_RE.findall(subset)):
        raise ParseError(
            "Flödet deklarerar XML-entiteter som pekar på andra entiteter eller filer, så "
            "det lästes inte av säkerhetsskäl. Be den som sköter webbplatsen ta bort "
            "entitetsdeklarationerna (DOCTYPE) ur flödet.",
            source_id=source.id,
        )


@dataclass(frozen=True, slots=True)
class _Item:
    """What the time finders read of one feed entry."""

    entry: Any
    title: str
    link: str
    guid: str
    body: str  # the fullest text: content:encoded over description
    body_is_html: bool
    summary: str  # the description (an excerpt, or Events Manager's date lines), as text

    @property
    def label(self) -> str:
        return f"”{self.title[:60] or '(utan titel)'}”"

    def prose(self) -> str:
        """Title, description and content as plain text, for a date written in words."""
        body = html_to_text(self.body) if self.body_is_html else self.body
        parts = [self.title, self.summary] + ([body] if body != self.summary else [])
        return "\n".join(parts)


def _item(entry: Any) -> _Item:
    contents = [c for c in entry.get("content", []) if c.get("value")]
    summary = str(entry.get("summary", "")).strip()
    body = str(contents[0].get("value", "")).strip() if contents else summary
    return _Item(
        entry=entry,
        title=_title(entry),
        link=str(entry.get("link", "")).strip(),
        guid=str(entry.get("id", "")).strip(),
        body=body,
        body_is_html=looks_like_html(body),
        summary=html_to_text(summary) if looks_like_html(summary) else summary,
    )


_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _title(entry: Any) -> str:
    """The entry's title as plain text. feedparser has undone the XML escaping and says
    whether the title is HTML (Atom ``type="html"``, or an RSS title that carries tags);
    only then are tags and entities read as markup, otherwise the text is kept as is."""
    raw = str(entry.get("title", ""))
    detail = entry.get("title_detail") or {}
    if str(detail.get("type", "")).lower() in _HTML_TYPES:
        return html_title_to_text(raw)
    return clean_title(raw)


def _event(entry: Any, ctx: _Context) -> Event | None:
    item = _item(entry)
    try:
        found = _when(item, ctx)
    except SwedishDateError as exc:
        log.debug("%s: item %s: %s: %s", ctx.source.id, item.label, exc.verdict, exc)
        ctx.warn(
            f"Inlägget {item.label} visas inte: {exc.verdict}. Skriv ett entydigt datum och "
            "klockslag, till exempel ”5 december kl. 19”."
        )
        return None
    if found is None:
        ctx.warn(
            f"Inlägget {item.label} visas inte: vi hittade ingen tid för evenemanget "
            "(publiceringsdatumet används inte). Skriv datum och klockslag i inlägget."
        )
        return None
    when, page_event = found
    ctx.timed += 1
    if _ended_before_window(when, ctx):
        ctx.skipped_old += 1
        return None
    page = page_event or Event(source_id="", key="", title="", start=when.start)
    location = _first_text(entry.get("ev_location"), _custom_location(entry)) or page.location_text
    if not location and when.how == "text":
        location = _events_manager_location(item.summary, ctx)
    status = page.status
    if _CANCELLED_RE.match(item.title) or str(entry.get("status", "")).lower() in _CANCELLED:
        status = CANCELLED
    key = item.guid or item.link
    return Event(
        source_id=ctx.source.id,
        key=key,
        title=item.title or page.title,
        start=when.start,
        end=when.end,
        all_day=when.all_day,
        timezone=ctx.settings.timezone,
        status=status or CONFIRMED,
        description="" if item.body_is_html else item.body,
        description_html=item.body if item.body_is_html else "",
        url=item.link or page.url,
        place=page.place,
        location_text=location,
        categories=_categories(entry),
        organizer_name=_first_text(entry.get("ev_organizer"), entry.get("host"))
        or page.organizer_name,
        organizer_url=page.organizer_url,
        image=_image(entry) or page.image,
        uid=key,
    )


def _when(item: _Item, ctx: _Context) -> tuple[_When, Event | None] | None:
    """The event time by the first source that has one (see the module docstring)."""
    for finder in (_from_event_module, _from_custom_fields):
        when = finder(item.entry, ctx)
        if when is not None:
            return when, None
    if item.body_is_html:
        when = _from_hcalendar(item.body, ctx)
        if when is not None:
            return when, None
    page_event = _from_page(item.link, ctx, item.label)
    if page_event is not None:
        start, end, all_day = page_event.start, page_event.end, page_event.all_day
        return _When(start, end, all_day, "page"), page_event
    when = _from_tec_uid(item.guid, ctx)
    if when is not None:
        return when, None
    # "på lördag" counts from when the item was published; SwedishDateError: caller
    published = _published(item.entry)
    found = find_swedish_datetime(item.prose(), now=ctx.now, tz=ctx.tz, reference=published)
    if found is None:
        return None
    return _When(found.start, found.end, found.all_day, "text"), None


def _published(entry: Any) -> datetime | None:
    """The item's publication time (feedparser's UTC struct_time), else its last update."""
    # dict.get: feedparser's own get maps a missing updated_parsed with a DeprecationWarning
    stamp = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    if stamp is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in stamp[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _from_event_module(entry: Any, ctx: _Context) -> _When | None:
    return _when_from_values(entry.get("ev_startdate"), entry.get("ev_enddate"), ctx, "ev")


def _from_custom_fields(entry: Any, ctx: _Context) -> _When | None:
    """xCal (``xcal_dtstart``) and plugin namespaces feedparser exposes as ``prefix_start…``."""
    ends: dict[str, str] = {}
    for key in entry:
        end_match = _END_KEY_RE.search(key)
        if end_match:
            ends[key[: end_match.start()]] = key
    for key in list(entry):
        match = _START_KEY_RE.search(key)
        if match is None or key.startswith("ev_"):
            continue
        end_key = ends.get(key[: match.start()])
        when = _when_from_values(entry.get(key), entry.get(end_key) if end_key else None, ctx, key)
        if when is not None:
            return when
    return None


def _when_from_values(start_value: Any, end_value: Any, ctx: _Context, how: str) -> _When | None:
    start = _parse_stamp(start_value, ctx.tz)
    if start is None:
        return None
    end = _parse_stamp(end_value, ctx.tz)
    return _paired(start, end, how, ctx)


def _paired(start: datetime | date, end: datetime | date | None, how: str, ctx: _Context) -> _When:
    all_day = not isinstance(start, datetime)
    if end is not None and isinstance(end, datetime) != (not all_day):
        end = None  # a date paired with a time: keep the start only
    if all_day:
        if end is None or end <= start:
            end = start + timedelta(days=1)
    elif end is not None and end < start:
        log.debug("%s: end before start (%s)", ctx.source.id, how)
        ctx.warn(
            "Ett evenemang slutar innan det börjar, så sluttiden visas inte; rätta sluttiden "
            "på webbplatsen."
        )
        end = None
    return _When(start, end, all_day, how)


def _parse_stamp(value: Any, tz: tzinfo) -> datetime | date | None:
    """ISO 8601 / W3CDTF, xCal basic format, "2026-05-10 19:30:00", or RFC 822."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    basic = re.fullmatch(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(Z)?)?", text)
    try:
        if basic:
            y, mo, d, h, mi, s, z = basic.groups()
            if h is None:
                return _sane(date(int(y), int(mo), int(d)))
            wall = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
            return _sane(wall.replace(tzinfo=UTC) if z else local_to_utc(wall, tz))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return _sane(date.fromisoformat(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            parsed = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        return _sane(local_to_utc(parsed, tz))
    return _sane(parsed.astimezone(UTC))


def _sane(value: datetime | date) -> datetime | date | None:
    return value if 1990 <= value.year <= 2100 else None


class _HCalendarReader(HTMLParser):
    """Collects the first dtstart/dtend (classic or microformats2) of an item's HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self._open: list[tuple[str, int]] = []
        self._texts: dict[str, list[str]] = {}
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._depth += 1
        attributes = {k: v or "" for k, v in attrs}
        classes = set(attributes.get("class", "").split())
        for role, names in (("start", {"dtstart", "dt-start"}), ("end", {"dtend", "dt-end"})):
            if classes & names and role not in self.values and role not in self._texts:
                value = attributes.get("datetime") or attributes.get("title") or ""
                value = value or attributes.get("content", "")
                if value:
                    self.values[role] = value
                else:
                    self._texts[role] = []
                    self._open.append((role, self._depth))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open[-1][1] >= self._depth:
            role, _ = self._open.pop()
            self.values.setdefault(role, "".join(self._texts.get(role, [])).strip())
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        for role, _ in self._open:
            self._texts[role].append(data)


def _from_hcalendar(markup: str, ctx: _Context) -> _When | None:
    if "dtstart" not in markup and "dt-start" not in markup:
        return None
    reader = _HCalendarReader()
    reader.feed(markup)
    reader.close()
    start = _parse_stamp(reader.values.get("start"), ctx.tz)
    if start is None:
        return None
    return _paired(start, _parse_stamp(reader.values.get("end"), ctx.tz), "hcalendar", ctx)


def _page_hosts(*urls: str | None) -> frozenset[str]:
    return frozenset(h for h in (_host(u) for u in urls if u) if h)


def _host(url: str) -> str:
    try:
        host = (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""
    return host.removeprefix("www.")


def _page_reader(
    source: Source, settings: Settings, now: datetime
) -> Callable[[bytes, str], list[Event]]:
    """The website harvester, reading an item's page as one ``html`` source."""

    def read(content: bytes, url: str) -> list[Event]:
        page_source = replace(source, url=url, path=None, kind="html", recipe=None)
        try:
            result = parse_html(content, page_source, settings, now=now, fetch_page=None)
        except ParseError:
            return []
        return list(result.events)

    return read


def _from_page(link: str, ctx: _Context, label: str) -> Event | None:
    if ctx.fetch_page is None or not link.startswith(("http://", "https://")):
        return None
    if _host(link) not in ctx.page_hosts:
        return None
    if ctx.pages_left <= 0:
        ctx.warn(
            f"Sidan för inlägget {label} lästes inte (vi läser högst "
            f"{ctx.source.max_pages} sidor per hämtning); skriv datum och tid i själva "
            "inlägget så behövs inte sidan."
        )
        return None
    ctx.pages_left -= 1
    try:
        content = ctx.fetch_page(link)
    except DeadlineExceeded:
        raise  # the harvest's time for fetching is up: the whole source fails
    except SourceError as exc:
        ctx.warn(f"Sidan för inlägget {label} ({link}) gick inte att hämta: {exc.message}")
        return None
    events = ctx.page_reader(content, link) if ctx.page_reader else []
    if not events:
        return None
    same = [e for e in events if e.url.rstrip("/") == link.rstrip("/")]
    return (same or events)[0]


def _from_tec_uid(guid: str, ctx: _Context) -> _When | None:
    """The Events Calendar's iCal UID ``post-start-end@host`` holds wall times as fake UTC epochs.

    Aggregators that re-publish TEC calendars keep it as the guid (corpus
    ``community_calendar__davis_latest.rss``: 10:00 local is ``…T10:00Z``).
    """
    match = _TEC_UID_RE.match(guid)
    if match is None:
        return None
    try:
        start_wall = datetime.fromtimestamp(int(match.group(1)), UTC).replace(tzinfo=None)
        end_wall = datetime.fromtimestamp(int(match.group(2)), UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None
    if _sane(start_wall) is None or end_wall < start_wall:
        return None
    if start_wall.time() == datetime.min.time() and end_wall.time().hour == 23:
        first, last = start_wall.date(), end_wall.date()  # TEC all-day: 00:00–23:59:59
        return _When(first, last + timedelta(days=1), True, "tec-uid")
    start, end = local_to_utc(start_wall, ctx.tz), local_to_utc(end_wall, ctx.tz)
    return _When(start, end if end > start else None, False, "tec-uid")


def _ended_before_window(when: _When, ctx: _Context) -> bool:
    last = when.end or when.start
    if isinstance(last, datetime):
        return last < ctx.window_start
    return last < ctx.window_start.date()


def _events_manager_location(text: str, ctx: _Context) -> str:
    """Events Manager's default item: "#_EVENTDATES - #_EVENTTIMES<br/>place<br/>address<br/>town"."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not 2 <= len(lines) <= 5 or any(len(line) > 100 for line in lines):
        return ""
    try:
        dated = find_swedish_datetime(lines[0], now=ctx.now, tz=ctx.tz) is not None
    except SwedishDateError:
        dated = False
    return ", ".join(lines[1:]) if dated else ""


def _custom_location(entry: Any) -> str:
    for key in entry:
        if _LOCATION_KEY_RE.search(key) and key != "ev_location":
            value = str(entry.get(key) or "").strip()
            if value and value not in ("-", "–") and not value.startswith(("http://", "https://")):
                return value
    return ""


def _first_text(*values: Any) -> str:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _categories(entry: Any) -> tuple[str, ...]:
    terms = (str(t.get("term") or t.get("label") or "").strip() for t in entry.get("tags", []))
    return tuple(dict.fromkeys(t for t in terms if t))


def _image(entry: Any) -> str:
    candidates: list[tuple[str, str]] = []
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure":
            candidates.append((str(link.get("href", "")), str(link.get("type", "image/"))))
    for media in list(entry.get("media_content", [])) + list(entry.get("media_thumbnail", [])):
        candidates.append((str(media.get("url", "")), str(media.get("type", "image/"))))
    for url, kind in candidates:
        if url.startswith(("http://", "https://")) and kind.lower().startswith("image/"):
            return url
    return ""


def _unique_keys(events: list[Event]) -> Iterator[Event]:
    """Items with no guid and a shared link (corpus girona_agenda) are told apart by start."""
    seen: set[str] = set()
    for event in events:
        key = event.key
        if not key:
            digest = hashlib.sha256(f"{event.title}\x00{event.start.isoformat()}".encode())
            key = f"hash:{digest.hexdigest()[:20]}"
        if key in seen:
            key = f"{key}#{event.start.isoformat()}"
        n = 1
        while key in seen:
            n += 1
            key = f"{event.key or 'hash'}#{event.start.isoformat()}#{n}"
        seen.add(key)
        yield event if key == event.key else replace(event, key=key, uid=key)


def _reason(exc: BaseException | None, source: Source) -> str:
    """Where the XML breaks, for the organizer; the parser's own English text goes to the
    debug log with the source id."""
    log.debug("%s: feed parse problem: %s: %s", source.id, type(exc).__name__, str(exc)[:500])
    line = getattr(exc, "getLineNumber", None)
    number = line() if callable(line) else None
    if isinstance(number, int) and number > 0:
        return f"första felet på rad {number}"
    return "felet gick inte att lokalisera"
