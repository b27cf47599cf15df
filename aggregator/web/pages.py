"""The public pages, in Swedish: ``/``, ``/evenemang/{id}``, ``/prenumerera``, ``/kallor``.

Server-rendered with Jinja2 (autoescape on), no JavaScript needed, one narrow column
that works on a phone. Everything a source wrote is escaped; the description HTML
that ``normalize`` sanitised is cleaned once more with nh3 before it is shown, and
links from sources are only shown when they are http(s).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import nh3
import segno
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from aggregator import clock
from aggregator.model import CANCELLED, CONFIRMED, PAUSE_TEXT, Settings
from aggregator.normalize import slugify
from aggregator.publish import (
    SV_MONTHS,
    SV_WEEKDAYS,
    PublishedEvent,
    iso_local,
    local_time,
    published_event,
    swedish_when,
)
from aggregator.publish import ical as ical_out
from aggregator.publish.write import FeedHead
from aggregator.store import RemovedEvent, iso
from aggregator.store.web_queries import Fragment
from aggregator.web.context import WebContext
from aggregator.web.errors import ApiError
from aggregator.web.params import EVENT_ID, EventFilter, encode_cursor, store_query
from aggregator.web.responses import conditional_response

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=False,
)
PAGE_SIZE = 20
PAGE_CACHE = "public, max-age=60, stale-while-revalidate=300"
# No page needs a script: should escaping ever fail, nothing injected could run.
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
STATUS_TEXT = {
    "ok": "Fungerar",
    "unchanged": "Fungerar",
    "failed": "Fel vid senaste hämtningen",
    "held": "Pausad för granskning",
    "never": "Inte hämtad än",
}

router = APIRouter(include_in_schema=False)


def web(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context


Web = Annotated[WebContext, Depends(web)]


def render(request: Request, template: str, status: int = 200, **values: Any) -> Response:
    ctx: WebContext = request.app.state.web
    html = TEMPLATES.get_template(template).render(
        calendar_name=ctx.config.settings.calendar_name, **values
    )
    headers = {"Content-Language": "sv", "Content-Security-Policy": PAGE_POLICY}
    if status != 200:
        return HTMLResponse(html, status_code=status, headers=headers)
    response = conditional_response(request, html.encode(), "text/html; charset=utf-8", PAGE_CACHE)
    response.headers.update(headers)
    return response


def message_response(request: Request, status: int, message: str) -> Response:
    titles = {404: "Sidan finns inte", 410: "Borttaget", 422: "Det gick inte", 400: "Det gick inte"}
    return render(request, "message.html", status, title=titles.get(status, "Fel"), message=message)


def error_page() -> str:
    return TEMPLATES.get_template("message.html").render(
        calendar_name="Allt som sker",
        title="Något gick fel",
        message="Ett internt fel uppstod. Försök igen om en stund.",
    )


def safe_url(url: str | None) -> str | None:
    """A link from a source, only when it is http(s): never ``javascript:``."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


# -- dates ---------------------------------------------------------------------


def _clock(value: datetime | date | None, settings: Settings) -> str:
    if isinstance(value, datetime):
        return local_time(value, settings).strftime("%H:%M")
    return ""


def when_text(event: PublishedEvent, settings: Settings) -> str:
    """ "lör 12 dec 2026 19:00–21:00", or the dates of an all-day event."""
    text = swedish_when(event, settings)
    if isinstance(event.end, datetime) and isinstance(event.start, datetime):
        same_day = (
            local_time(event.end, settings).date() == local_time(event.start, settings).date()
        )
        if same_day:
            return f"{text}–{_clock(event.end, settings)}"
        return f"{text} – {swedish_when(_moved(event, event.end), settings)}"
    if isinstance(event.end, date) and not isinstance(event.end, datetime):
        last_day = event.end - timedelta(days=1)
        if last_day > event.start:
            return f"{text} – {swedish_when(_moved(event, last_day), settings)}"
    return text


def _moved(event: PublishedEvent, start: datetime | date) -> PublishedEvent:
    fields = {name: getattr(event, name) for name in PublishedEvent.__slots__}
    return PublishedEvent(**{**fields, "start": start})


def item_when(start: str) -> str:
    """The Swedish date of a JSON Feed item's ``_event.start`` (already local)."""
    if len(start) == 10:
        day = date.fromisoformat(start)
        return f"{SV_WEEKDAYS[day.weekday()]} {day.day} {SV_MONTHS[day.month - 1]} {day.year}"
    moment = datetime.fromisoformat(start)
    return (
        f"{SV_WEEKDAYS[moment.weekday()]} {moment.day} {SV_MONTHS[moment.month - 1]} "
        f"{moment.year} {moment:%H:%M}"
    )


# -- schema.org ----------------------------------------------------------------


def schema_org(event: PublishedEvent, settings: Settings, page_url: str) -> dict[str, object]:
    """What Google's event rich results read: name, startDate, location, status …

    Only what we know: a tentative event gets no eventStatus (schema.org has no
    "tentative", and EventScheduled would claim more than the source did), an event with
    no place gets no location and no attendance mode."""
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "@id": page_url,
        "name": event.title,
        "startDate": iso_local(event.start, settings),
        "url": safe_url(event.url) or page_url,
    }
    end = schema_end(event)
    if end is not None:
        data["endDate"] = iso_local(end, settings)
    status = SCHEMA_STATUS.get(event.status)
    if status is not None:
        data["eventStatus"] = status
    if event.description:
        data["description"] = event.description
    if event.location:
        data["eventAttendanceMode"] = "https://schema.org/OfflineEventAttendanceMode"
        data["location"] = schema_place(event)
    if event.organizer_name:
        organizer: dict[str, object] = {"@type": "Organization", "name": event.organizer_name}
        if safe_url(event.organizer_url):
            organizer["url"] = event.organizer_url
        data["organizer"] = organizer
    if safe_url(event.image):
        data["image"] = [event.image]
    return data


SCHEMA_STATUS = {
    CONFIRMED: "https://schema.org/EventScheduled",
    CANCELLED: "https://schema.org/EventCancelled",
}


def schema_end(event: PublishedEvent) -> datetime | date | None:
    """schema.org's endDate, which is inclusive: an all-day event ends on its last day,
    where iCalendar's DTEND (and ours) is the exclusive day after. An all-day event
    without an end lasts its one day (RFC 5545 §3.6.1)."""
    if isinstance(event.start, datetime):
        return event.end
    if isinstance(event.end, date) and not isinstance(event.end, datetime):
        return max(event.start, event.end - timedelta(days=1))
    return event.start if event.end is None else event.end


def schema_place(event: PublishedEvent) -> dict[str, object]:
    """The Place with its PostalAddress (Google requires an address). A municipality is
    not a region (a county is): it stands as the locality when the place names none."""
    place: dict[str, object] = {"@type": "Place", "name": event.place.name or event.location}
    address = {
        "@type": "PostalAddress",
        "streetAddress": event.place.street,
        "addressLocality": event.place.locality or event.place.municipality,
        "addressCountry": "SE",
    }
    place["address"] = {k: v for k, v in address.items() if v}
    if event.place.latitude is not None:
        place["geo"] = {
            "@type": "GeoCoordinates",
            "latitude": event.place.latitude,
            "longitude": event.place.longitude,
        }
    return place


def script_json(value: object) -> str:
    """JSON safe inside ``<script>``: ``<``, ``>`` and ``&`` as \\u escapes, so a title
    like ``</script><script>…`` stays a string."""
    text = json.dumps(value, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# -- pages ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    slug: str
    name: str


def _municipality_choices(ctx: WebContext) -> list[Choice]:
    return [Choice(slugify(m), m) for m in ctx.config.settings.municipalities]


def _category_choices(ctx: WebContext, now: datetime) -> list[Choice]:
    counts = ctx.category_counts(iso(now))
    return [Choice(feed.split("/", 1)[1], label) for feed, label, _ in counts]


@router.get("/", response_class=HTMLResponse)
def index(
    request: Request,
    ctx: Web,
    q: str = "",  # its length is checked by the search, as everywhere
    kommun: Annotated[str, Query(max_length=80)] = "",
    kategori: Annotated[str, Query(max_length=80)] = "",
    datum: Annotated[str, Query(max_length=20)] = "",
    efter: Annotated[str, Query(max_length=400)] = "",
) -> Response:
    store = ctx.stores.get()
    now = clock.now()
    chosen = {"q": q.strip(), "kommun": kommun, "kategori": kategori, "datum": datum}
    given = EventFilter(
        date_from=datum or None,
        municipality=(kommun,) if kommun else (),
        category=(kategori,) if kategori else (),
        q=q.strip() or None,
        limit=PAGE_SIZE,
        cursor=efter or None,
    )
    problem, events, next_url = "", [], ""
    try:
        query = store_query(given, ctx.config, now, categories=ctx.known_categories())
        rows = store.list_events(replace(query, limit=PAGE_SIZE + 1), Fragment.JSON)
    except ApiError as exc:
        problem, rows = exc.message, []
    for row in rows[:PAGE_SIZE]:
        item = json.loads(row.fragment)
        details = item["_event"]
        location = details["location"]
        place = ", ".join(p for p in (location["name"], location["municipality"]) if p)
        events.append(
            {
                "id": row.id,
                "title": item["title"],
                "start": details["start"],
                "when": item_when(details["start"]),
                "place": place,
                "cancelled": details["status"] == CANCELLED,
            }
        )
    keep = {k: v for k, v in chosen.items() if v}
    if len(rows) > PAGE_SIZE:
        last = rows[PAGE_SIZE - 1]
        next_url = "/?" + urlencode({**keep, "efter": encode_cursor(last.start_utc, last.id)})
    subscribe = {"kommun": kommun, "kategori": kategori}
    return render(
        request,
        "index.html",
        events=events,
        chosen=chosen,
        problem=problem,
        municipalities=_municipality_choices(ctx),
        categories=_category_choices(ctx, now),
        next_url=next_url,
        first_page_url=("/?" + urlencode(keep)) if efter else "",
        subscribe_url="/prenumerera"
        + (
            "?" + urlencode({k: v for k, v in subscribe.items() if v}) if kommun or kategori else ""
        ),
    )


def _event_or_redirect(ctx: WebContext, event_id: str) -> PublishedEvent | Response:
    store = ctx.stores.get()
    if not EVENT_ID.match(event_id):
        raise ApiError(404, "Det finns inget evenemang med den adressen.")
    record = store.event_record(event_id)
    if record is None:
        raise ApiError(404, "Det finns inget evenemang med den adressen.")
    if isinstance(record, RemovedEvent):
        successor = store.successor(event_id)
        if successor is not None:
            return RedirectResponse(f"/evenemang/{successor}", status_code=301)
        raise ApiError(410, "Arrangören har tagit bort evenemanget.")
    return published_event(record)


@router.get("/evenemang/{event_id}.ics")
def event_ics(request: Request, ctx: Web, event_id: str) -> Response:
    """ "Lägg till i kalendern": a calendar with this one event."""
    found = _event_or_redirect(ctx, event_id)
    if isinstance(found, Response):
        return RedirectResponse(f"{found.headers['location']}.ics", status_code=301)
    store = ctx.stores.get()
    fragment = store.event_fragment(event_id, Fragment.ICS)
    settings = ctx.config.settings
    frame = ical_out.calendar_frame(FeedHead(found.title, "", clock.now()), settings)
    response = conditional_response(
        request, frame.assemble([fragment]).encode(), "text/calendar; charset=utf-8", PAGE_CACHE
    )
    response.headers["Content-Disposition"] = f'attachment; filename="evenemang-{event_id}.ics"'
    return response


@router.get("/evenemang/{event_id}", response_class=HTMLResponse)
def event_page(request: Request, ctx: Web, event_id: str) -> Response:
    found = _event_or_redirect(ctx, event_id)
    if isinstance(found, Response):
        return found
    event = found
    settings = ctx.config.settings
    page_url = f"{settings.base_url}/evenemang/{event.id}"
    sources = [
        {"name": ctx.source_names.get(source_id, source_id), "url": safe_url(url)}
        for source_id, url in event.sources
    ]
    paragraphs = [p.split("\n") for p in event.description.split("\n\n") if p]
    return render(
        request,
        "event.html",
        event=event,
        cancelled=event.status == CANCELLED,
        when=when_text(event, settings),
        start=iso_local(event.start, settings),
        description_html=nh3.clean(event.description_html) if event.description_html else "",
        paragraphs=paragraphs,
        organizer_url=safe_url(event.organizer_url),
        more_url=safe_url(event.url),
        sources=sources,
        page_url=page_url,
        jsonld=script_json(schema_org(event, settings, page_url)),
    )


@router.get("/events/{event_id}")
def old_event_link(event_id: str) -> Response:
    """Links already published in feeds: moved for good to the Swedish path."""
    if not EVENT_ID.match(event_id):
        raise ApiError(404, "Det finns inget evenemang med den adressen.")
    return RedirectResponse(f"/evenemang/{event_id}", status_code=301)


# -- subscribe -----------------------------------------------------------------


def webcal(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"webcal://{rest}" if scheme in ("http", "https") else url


def google_add(url: str) -> str:
    """Google Calendar's add-by-URL link (it takes the webcal:// form in ``cid``)."""
    return "https://calendar.google.com/calendar/r?cid=" + quote(webcal(url), safe="")


def qr_svg(url: str) -> str:
    return str(segno.make(url, error="m").svg_inline(scale=4, dark="#1d1d1b", light="#fff"))


@dataclass(frozen=True, slots=True)
class FeedChoice:
    feed: str  # "all", "municipality/vimmerby" …
    name: str
    upcoming: int | None = None

    @property
    def page(self) -> str:
        return "/prenumerera?" + urlencode({"kalender": self.feed})


@dataclass(frozen=True, slots=True)
class Subscription:
    """One calendar to subscribe to, in every form a phone may need."""

    title: str
    url: str
    page: str
    horizon: str = ""

    @property
    def webcal(self) -> str:
        return webcal(self.url)

    @property
    def google(self) -> str:
        return google_add(self.url)

    @property
    def qr(self) -> str:
        return qr_svg(self.page)


def feed_choices(ctx: WebContext, now: datetime) -> list[tuple[str, list[FeedChoice]]]:
    """Every published feed a person may subscribe to, grouped for the page."""
    settings = ctx.config.settings
    after = iso(now)
    municipalities = [
        FeedChoice(feed, m, ctx.upcoming(feed, after))
        for m in settings.municipalities
        for feed in (f"municipality/{slugify(m)}",)
    ]
    categories = [FeedChoice(feed, label, n) for feed, label, n in ctx.category_counts(after)]
    organizers = [FeedChoice(f"organizer/{s.id}", s.name) for s in ctx.config.sources]
    return [
        ("Allt", [FeedChoice("all", settings.calendar_name)]),
        ("Kommuner", municipalities),
        ("Kategorier", categories),
        ("Arrangörer", organizers),
    ]


def filtered_subscription(
    ctx: WebContext, now: datetime, kommun: list[str], kategori: list[str], arrangor: list[str]
) -> Subscription:
    """A combination ("jazz in Vimmerby and Hultsfred") as a filtered API feed."""
    settings = ctx.config.settings
    store_query(
        EventFilter(
            municipality=tuple(kommun), category=tuple(kategori), organizer=tuple(arrangor)
        ),
        ctx.config,
        now,
        categories=ctx.known_categories(),
    )  # raises ApiError for an unknown municipality, category or organizer
    params = [("municipality", v) for v in kommun]
    params += [("category", v) for v in kategori]
    params += [("organizer", v) for v in arrangor]
    page = [("kommun", v) for v in kommun] + [("kategori", v) for v in kategori]
    page += [("arrangor", v) for v in arrangor]
    names = [*kommun, *kategori, *(ctx.source_names.get(a, a) for a in arrangor)]
    return Subscription(
        title=f"{settings.calendar_name} – {', '.join(names)}",
        url=f"{settings.base_url}/api/events.ics?{urlencode(params)}",
        page=f"{settings.base_url}/prenumerera?{urlencode(page)}",
    )


@router.get("/prenumerera", response_class=HTMLResponse)
def subscribe(
    request: Request,
    ctx: Web,
    kalender: Annotated[str, Query(max_length=120)] = "all",
    kommun: Annotated[list[str] | None, Query()] = None,
    kategori: Annotated[list[str] | None, Query()] = None,
    arrangor: Annotated[list[str] | None, Query()] = None,
) -> Response:
    settings = ctx.config.settings
    now = clock.now()
    groups = feed_choices(ctx, now)
    if kommun or kategori or arrangor:
        try:
            chosen = filtered_subscription(ctx, now, kommun or [], kategori or [], arrangor or [])
        except ApiError as exc:
            return message_response(request, 422, exc.message)
    else:
        known = {c.feed: c.name for _, choices in groups for c in choices}
        if kalender not in known:
            return message_response(request, 404, "Den kalendern finns inte.")
        name = known[kalender]
        chosen = Subscription(
            title=name if kalender == "all" else f"{settings.calendar_name} – {name}",
            url=f"{settings.base_url}/feeds/{kalender}.ics",
            page=f"{settings.base_url}/prenumerera?" + urlencode({"kalender": kalender}),
            horizon=feed_horizon(ctx, kalender),
        )
    return render(request, "subscribe.html", chosen=chosen, groups=groups)


def feed_horizon(ctx: WebContext, feed: str) -> str:
    """How far a size-capped subscription reaches, as the publisher states it in
    ``index.json`` (an entry's ``ics_horizon``, ISO date); "" when it holds everything."""
    try:
        index = json.loads((ctx.feeds_dir / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    for entry in index.get("feeds", []):
        if isinstance(entry, dict) and entry.get("id") == feed:
            horizon = entry.get("ics_horizon")
            if isinstance(horizon, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", horizon):
                day = date.fromisoformat(horizon)
                return f"{day.day} {SV_MONTHS[day.month - 1]} {day.year}"
    return ""


# -- sources -------------------------------------------------------------------


@router.get("/kallor", response_class=HTMLResponse)
def sources_page(request: Request, ctx: Web) -> Response:
    zone = ZoneInfo(ctx.config.settings.timezone)
    intervals = {source.id: source.interval for source in ctx.config.sources}
    rows = []
    store = ctx.stores.get()
    paused = store.pause_reasons()
    for s in store.public_sources():
        if s.id not in intervals:
            continue
        last = None
        if s.last_success_at:
            moment = datetime.fromisoformat(s.last_success_at).astimezone(zone)
            last = f"{moment.day} {SV_MONTHS[moment.month - 1]} {moment.year} {moment:%H:%M}"
        rows.append(
            {
                "name": s.name,
                "status": s.status,
                "status_text": PAUSE_TEXT[paused[s.id]]
                if s.id in paused
                else STATUS_TEXT.get(s.status, s.status),
                "last_success": last,
                "events": s.events,
                "every": "inte nu" if s.id in paused else how_often(intervals[s.id]),
            }
        )
    return render(request, "sources.html", sources=rows)


UNITS = ((86400, "dag"), (3600, "timme"), (60, "minut"), (1, "sekund"))


def how_often(seconds: int) -> str:
    """A source's interval as Swedish says it: "varje timme", "varannan dag",
    "var 6:e timme", "var 15:e minut" (the largest unit that divides it)."""
    size, unit = next((size, unit) for size, unit in UNITS if seconds % size == 0)
    count = seconds // size
    if count == 1:
        return f"varje {unit}"
    if count == 2:
        return f"varannan {unit}"
    suffix = "a" if count % 10 in (1, 2) and count % 100 not in (11, 12) else "e"
    return f"var {count}:{suffix} {unit}"
