"""Facebook events → Events: Graph API JSON, "Download your information" exports, .ics.

Facebook gives organizers no feed, so every way event data really leaves it is
read here (see ``corpus/facebook/FACEBOOK_FORMATS.md``):

* Graph API ``/{page-id}/events`` answers, following ``paging.next``;
* DYI exports, as the ``.zip`` or the JSON inside it: UTF-8 text escaped as
  Latin-1, epoch timestamps, no event ids (read in ``facebook_export.py``);
* the ``.ics`` export, handed to the iCal harvester;
* a folder the operator drops any of these into (``facebook_export`` turns it
  into one zip, so the harvester stays bytes-in).

Identity: the Facebook event id is the key and ``facebook:{id}`` the uid, so an
event from the API and from an .ics export is one event. DYI items carry no id:
their key is ``dyi:`` + a hash of the repaired name and ``start_timestamp``
(stable across re-exports of the same event) and their uid stays empty, so
dedupe matches them by title, time and place.

Access tokens never leave this module as text: every URL or message that goes
into an Event, a warning, an error or a log line passes through ``redact``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import quote

from aggregator.errors import FetchError, ParseError
from aggregator.harvest import ical
from aggregator.harvest.facebook.export import (
    _ITEM_ERRORS,
    FACEBOOK_EVENT_URL,
    UNPACK_BUDGET_FACTOR,
    _coordinates,
    _describe,
    _hash_key,
    _id,
    _reason,
    _str,
    dyi_lists,
    finish_dyi,
    parse_zip,
)
from aggregator.model import (
    CANCELLED,
    CONFIRMED,
    WINDOW_BACK,
    Event,
    HarvestResult,
    HarvestWarning,
    PageFetcher,
    Place,
    Settings,
    Source,
)
from aggregator.normalize.timezones import local_to_utc, zone

log = logging.getLogger(__name__)

MAX_EVENTS = 20_000  # per harvest; a page has hundreds, an export a few thousand
MAX_WARNINGS = 50

_TOKEN_PARAM_RE = re.compile(
    r"((?:access_token|appsecret_proof|client_secret|input_token|fb_exchange_token)"
    r"(?:=|%3D|\"?\s*:\s*\"?))[^&\s#\"'<>,}]+",
    re.IGNORECASE,
)
_SECRET_WORDS = ("token", "secret", "proof")
_BARE_TOKEN_RE = re.compile(r"\bEAA[A-Za-z0-9]{20,}")  # the shape of Facebook user/page tokens
_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?)?$"
)
_FB_UID_RE = re.compile(r"^(?:e(\d+)@facebook\.com|facebook:(\d+))$", re.IGNORECASE)
_PACIFIC_OFFSETS = (-7 * 60, -8 * 60)
_AMERICAS = {"us", "ca", "mx", "united states", "canada", "mexico"}
# fmt: off
# Facebook's event categories (Graph ``category``) that name one of ours.
_CATEGORIES = {
    "MUSIC_EVENT": "Musik", "THEATER_EVENT": "Teater", "ART_EVENT": "Konst",
    "COMEDY_EVENT": "Humor", "DANCE_EVENT": "Dans", "FAMILY_EVENT": "Barn & familj",
    "FESTIVAL_EVENT": "Festival", "FOOD_TASTING": "Mat & dryck", "DINING_EVENT": "Mat & dryck",
    "SPORTS_EVENT": "Sport", "FITNESS": "Sport", "LECTURE": "Föreläsning", "WORKSHOP": "Kurs",
    "CLASS_EVENT": "Kurs", "RELIGIOUS_EVENT": "Kyrka", "MOVIE_EVENT": "Film",
    "BOOK_EVENT": "Litteratur",
}
# fmt: on


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with access tokens replaced by ``[token]``: query parameters,
    JSON fields, bare ``EAA…`` tokens and the exact ``secrets`` given."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[token]").replace(quote(secret, safe=""), "[token]")
    if "EAA" in text or any(word in text.lower() for word in _SECRET_WORDS):
        text = _TOKEN_PARAM_RE.sub(r"\1[token]", text)
        return _BARE_TOKEN_RE.sub("[token]", text)
    return text


class RedactingFilter(logging.Filter):
    """Redacts tokens in every record a handler emits (urllib3 logs full URLs at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def token_secrets(source: Source) -> tuple[str, ...]:
    """The source's token value, so ``redact`` also removes it where no pattern would."""
    value = os.environ.get(source.token_env or "", "") if source.token_env else ""
    return (value.strip(),) if len(value.strip()) >= 8 else ()


@dataclass
class _Context:
    source: Source
    settings: Settings
    now: datetime
    tz: tzinfo
    secrets: tuple[str, ...]
    budget: int  # bytes that may still be unpacked from zips
    events: dict[str, Event] = field(default_factory=dict)
    warnings: list[HarvestWarning] = field(default_factory=list)
    dyi_lists: list[tuple[str, str, list[Any]]] = field(default_factory=list)
    found: int = 0
    past: int = 0
    drafts: int = 0
    pacific: int = 0
    full: bool = False

    @property
    def window_start(self) -> datetime:
        return self.now - WINDOW_BACK

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(HarvestWarning(self.source.id, self.redact(message)))
        elif len(self.warnings) == MAX_WARNINGS:
            self.warnings.append(HarvestWarning(self.source.id, "more warnings left out"))

    def error(self, message: str) -> ParseError:
        return ParseError(self.redact(message), source_id=self.source.id)

    def add(self, event: Event) -> None:
        """Keep ``event`` unless it is past, a repeat of a key already seen, or over the cap."""
        self.found += 1
        end = event.end or event.start
        ends_at = (
            end if isinstance(end, datetime) else datetime(end.year, end.month, end.day, tzinfo=UTC)
        )
        if ends_at < self.window_start:
            self.past += 1
            return
        if event.key in self.events:
            return  # first wins: hosted before joined, the newest export first
        if len(self.events) >= MAX_EVENTS:
            if not self.full:
                self.warn(f"more than {MAX_EVENTS} events; the rest were left out")
                self.full = True
            return
        self.events[event.key] = _scrub(event, self.secrets)


def parse_facebook(
    content: bytes,
    source: Source,
    settings: Settings,
    *,
    now: datetime,
    fetch_page: PageFetcher | None = None,
) -> HarvestResult:
    """Events of a Graph API answer, a DYI export (.zip/.json), a .ics export or a bundle."""
    ctx = _Context(
        source=source,
        settings=settings,
        now=now,
        tz=zone(settings.timezone) or UTC,
        secrets=token_secrets(source),
        budget=UNPACK_BUDGET_FACTOR * settings.max_bytes,
    )
    _parse_blob(content, "", ctx, fetch_page, depth=0)
    finish_dyi(ctx)
    if ctx.pacific:
        ctx.warn(
            f"{ctx.pacific} events carried Facebook's old Pacific-time offset; their clock "
            f"times were read as {settings.timezone} time"
        )
    if ctx.drafts:
        log.debug("%s: %d draft events left out", source.id, ctx.drafts)
    if ctx.past and not ctx.events:
        ctx.warn(f"all {ctx.past} events found ended more than 30 days ago; nothing to import")
    elif ctx.past:
        log.debug("%s: %d events ended before the window", source.id, ctx.past)
    return HarvestResult(tuple(ctx.events.values()), tuple(ctx.warnings), kind="facebook")


def _parse_blob(
    content: bytes, name: str, ctx: _Context, fetch_page: PageFetcher | None, depth: int
) -> None:
    head = content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"PK"):
        parse_zip(content, ctx, depth, _parse_blob)
    elif head[:15].upper().startswith((b"BEGIN:VCALENDAR", b"BEGIN:VEVENT")):
        _parse_ics(content, ctx)
    elif head.startswith((b"{", b"[")):
        _parse_json(_load_json(content, name, ctx), name, ctx, fetch_page)
    elif not head:
        raise ctx.error(f"{name or 'the file'} is empty")
    elif head.startswith(b"<"):
        raise ctx.error(
            "this is a web page (HTML), not Facebook event data. If it is a 'Download your "
            "information' export, download it again and choose the format JSON"
        )
    else:
        raise ctx.error(
            "this is not Facebook event data (not a Graph API answer, an export .zip/.json "
            "or an .ics file)"
        )


def _load_json(content: bytes, name: str, ctx: _Context) -> Any:
    what = name or "the file"
    text = ical.decode_calendar_bytes(content)
    try:
        return json.loads(text)
    except RecursionError:
        # raised by the decoder on hostile nesting; no real export nests like this
        raise ctx.error(f"{what} is JSON nested too deeply to be event data; refused") from None
    except ValueError as exc:
        raise ctx.error(f"{what} is not valid JSON ({exc}); it may be cut off") from exc


def _parse_json(data: Any, name: str, ctx: _Context, fetch_page: PageFetcher | None) -> None:
    if isinstance(data, dict) and "error" in data and not data.get("data"):
        raise ctx.error(graph_error_message(data["error"], ctx.source.token_env))
    if _is_graph(data):
        _parse_graph(data, ctx, fetch_page)
        return
    lists = list(dyi_lists(data, name))
    if not lists:
        raise ctx.error(
            f"{name or 'this JSON'} holds no Facebook events (neither a Graph API answer with "
            "'data' nor an export with 'start_timestamp')"
        )
    ctx.dyi_lists.extend(lists)


# --- Graph API -----------------------------------------------------------------------------


def _is_graph(data: Any) -> bool:
    if isinstance(data, dict):
        return isinstance(data.get("data"), list) or "start_time" in data
    if isinstance(data, list):
        return any(isinstance(item, dict) and "start_time" in item for item in data[:50])
    return False


def graph_error_message(error: Any, token_env: str | None = None) -> str:
    """A sentence for the organizer about a Graph API error object, token redacted."""
    if not isinstance(error, dict):
        error = {"message": str(error)}
    code = error.get("code")
    said = redact(str(error.get("message") or "")).strip()[:300]
    where = f" in the environment variable {token_env}" if token_env else ""
    if code == 190 or (error.get("type") == "OAuthException" and code in (102, 463, 467)):
        sentence = (
            "Facebook refused the access token: it has expired or been revoked. Create a new "
            f"page access token and put it{where}"
        )
    elif code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        sentence = (
            "the access token is not allowed to read this page's events (a permission is "
            "missing); ask a page admin for a page access token with access to its events"
        )
    elif code in (4, 17, 32, 613):
        sentence = "Facebook's rate limit was reached; the next harvest will try again"
    elif code == 100:
        sentence = (
            "Facebook does not know this page or event, or it is not public; check the id "
            "in the address"
        )
    else:
        sentence = "Facebook answered with an error instead of events"
    return f"{sentence} (Facebook said: {said})" if said else sentence


def describe_graph_error(content: bytes, source: Source) -> str | None:
    """For fetch: the organizer's sentence when an HTTP 4xx body is a Graph error object."""
    try:
        data = json.loads(content[:65536])
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and "error" in data:
        return redact(graph_error_message(data["error"], source.token_env), token_secrets(source))
    return None


def _parse_graph(data: Any, ctx: _Context, fetch_page: PageFetcher | None) -> None:
    pages = 1
    seen: set[str] = set()
    while True:
        for item in _graph_items(data):
            if ctx.full:
                return
            try:
                for event in _graph_events(item, ctx):
                    ctx.add(event)
            except _ITEM_ERRORS as exc:
                ctx.warn(f"skipped event {_describe(item)}: {_reason(exc)}")
        next_url = _next_url(data)
        if not next_url:
            return
        if fetch_page is None:
            ctx.warn("the answer has more pages of events, but only the first one could be read")
            return
        if pages >= ctx.source.max_pages:
            ctx.warn(f"stopped after {pages} pages of events; the rest were left out")
            return
        if next_url in seen:
            ctx.warn("Facebook's paging pointed back to a page already read; stopped there")
            return
        seen.add(next_url)
        data = _fetch_graph_page(next_url, ctx, fetch_page)
        pages += 1


def _graph_items(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data.get("data"), list):
        return data["data"]
    return [data]  # a single event object (GET /{event-id})


def _next_url(data: Any) -> str:
    paging = data.get("paging") if isinstance(data, dict) else None
    url = paging.get("next") if isinstance(paging, dict) else None
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else ""


def _fetch_graph_page(url: str, ctx: _Context, fetch_page: PageFetcher) -> Any:
    log.debug("%s: next page %s", ctx.source.id, ctx.redact(url))
    try:
        body = fetch_page(url)
    except (FetchError, OSError) as exc:  # OSError: requests' exceptions, if a fetcher leaks one
        message = exc.message if isinstance(exc, FetchError) else str(exc)
        # `from None`: the original carries the URL, token and all
        raise FetchError(
            ctx.redact(f"reading the next page of events failed: {message}"),
            source_id=ctx.source.id,
            url=ctx.redact(url),
        ) from None
    data = _load_json(body, "the next page of events", ctx)
    if isinstance(data, dict) and "error" in data:
        raise ctx.error(graph_error_message(data["error"], ctx.source.token_env))
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ctx.error("the next page of events is not a Graph API answer ('data' is missing)")
    return data


def _graph_events(item: Any, ctx: _Context) -> Iterator[Event]:
    if not isinstance(item, dict):
        raise ValueError("it is not a JSON object")
    if item.get("is_draft") is True:
        ctx.drafts += 1
        return
    event_id = _id(item.get("id"))
    tz_name = _str(item.get("timezone"))
    tz = zone(tz_name) if tz_name else None
    place, location_text = _graph_place(item)
    # Before 2012 Facebook stored wall times as Pacific time; the offset lies (corpus 2016 dump)
    legacy_ok = (
        tz is None and not _in_americas(item) and not ctx.settings.timezone.startswith("America/")
    )
    owner = item.get("owner") if isinstance(item.get("owner"), dict) else {}
    owner_id = _id(owner.get("id"))
    cover = item.get("cover") if isinstance(item.get("cover"), dict) else {}
    description = _str(item.get("description"))
    ticket = _str(item.get("ticket_uri"))
    if ticket.startswith(("https://", "http://")):
        description = f"{description}\n\nBiljetter: {ticket}".strip()
    category = _CATEGORIES.get(_str(item.get("category")).upper())
    base = Event(
        source_id=ctx.source.id,
        key=event_id,
        title=_str(item.get("name")),
        start=datetime.min.replace(tzinfo=UTC),
        timezone=tz_name if tz is not None else ctx.settings.timezone,
        status=CANCELLED if item.get("is_canceled") is True else CONFIRMED,
        description=description,
        url=FACEBOOK_EVENT_URL.format(event_id) if event_id else "",
        place=place,
        location_text=location_text,
        categories=(category,) if category else (),
        organizer_name=_str(owner.get("name")),
        organizer_url=f"https://www.facebook.com/{owner_id}" if owner_id else "",
        image=_str(cover.get("source")),
        uid=f"facebook:{event_id}" if event_id else "",
    )
    times = item.get("event_times")
    if isinstance(times, list) and times:
        for occurrence in times:  # a recurring event: one event per time, keyed by its id
            if not isinstance(occurrence, dict):
                continue
            occ_id = _id(occurrence.get("id"))
            event = _timed(base, occurrence, tz or ctx.tz, legacy_ok, ctx)
            key = occ_id or f"{event_id or 'hash'}/{event.start.isoformat()}"
            yield replace(
                event,
                key=key,
                uid=f"facebook:{occ_id}" if occ_id else "",
                url=FACEBOOK_EVENT_URL.format(occ_id) if occ_id else base.url,
            )
        return
    event = _timed(base, item, tz or ctx.tz, legacy_ok, ctx)
    if not event.key:
        event = replace(event, key=_hash_key(event.title, event.start.isoformat()))
    yield event


def _timed(base: Event, item: dict[str, Any], tz: tzinfo, legacy_ok: bool, ctx: _Context) -> Event:
    """``base`` with the start/end of ``item`` (an event or one of its ``event_times``)."""
    start, start_fixed = _graph_time(item.get("start_time"), tz, legacy_ok)
    if start is None:
        raise ValueError("it has no start time")
    end, _ = _graph_time(item.get("end_time"), tz, legacy_ok)
    all_day = not isinstance(start, datetime)
    if all_day:
        assert isinstance(start, date)
        end_day = end if isinstance(end, date) and not isinstance(end, datetime) else None
        end = end_day + timedelta(days=1) if end_day and end_day >= start else start + timedelta(1)
    elif not isinstance(end, datetime) or end < start:
        if end is not None:
            ctx.warn(f"event {_describe(item)} ends before it starts; end time ignored")
        end = None
    ctx.pacific += start_fixed
    return replace(base, start=start, end=end, all_day=all_day)


def _graph_time(value: Any, tz: tzinfo, legacy_ok: bool) -> tuple[datetime | date | None, int]:
    """A Graph time as a UTC instant (or a date), and 1 if the Pacific repair was applied.

    Accepts ``2026-12-12T19:00:00+0100``, ``…+01:00``, ``…Z``, no offset (local time in
    ``tz``), a bare date (all day) and pre-2012 epoch numbers (Pacific wall time).
    """
    if isinstance(value, bool) or value is None or value == "":
        return None, 0
    if isinstance(value, int | float):
        if not 0 < value < 32_503_680_000:
            raise ValueError(f"the time {value!r} is out of range")
        pacific = zone("America/Los_Angeles") or UTC
        wall = datetime.fromtimestamp(value, pacific).replace(tzinfo=None)
        return local_to_utc(wall, tz), 1
    match = _TIME_RE.match(str(value).strip())
    if not match:
        raise ValueError(f"the time {str(value)[:40]!r} is not ISO 8601")
    year, month, day, hour, minute, second, offset = match.groups()
    if hour is None:
        return date(int(year), int(month), int(day)), 0
    wall = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    if offset is None:
        return local_to_utc(wall, tz), 0
    minutes = 0
    if offset != "Z":
        digits = offset[1:].replace(":", "")
        minutes = (int(digits[:2]) * 60 + int(digits[2:])) * (-1 if offset[0] == "-" else 1)
    if legacy_ok and minutes in _PACIFIC_OFFSETS:
        return local_to_utc(wall, tz), 1
    return (wall - timedelta(minutes=minutes)).replace(tzinfo=UTC), 0


def _graph_place(item: dict[str, Any]) -> tuple[Place, str]:
    """Structured place from ``place{name, location{…}}`` or the old ``venue{…}``/``location``."""
    place, venue, loc_text = item.get("place"), item.get("venue"), _str(item.get("location"))
    if item.get("is_online") is True and not isinstance(place, dict):
        return Place(), "Online"
    if isinstance(place, str):
        return Place(), place
    if isinstance(place, dict):
        name = _str(place.get("name"))
        loc = place.get("location") if isinstance(place.get("location"), dict) else {}
    elif isinstance(venue, dict):
        name = _str(venue.get("name")) or loc_text
        loc = venue
    else:
        return Place(), loc_text
    street, city = _str(loc.get("street")), _str(loc.get("city"))
    lat, lon = _coordinates(loc.get("latitude"), loc.get("longitude"))
    if not street and not city:
        # only a name, maybe "Folkets hus, Storgatan 3, Vimmerby": let normalize split it
        return Place(latitude=lat, longitude=lon), name
    return Place(
        name=name or street or city, street=street, locality=city, latitude=lat, longitude=lon
    ), ""


def _in_americas(item: dict[str, Any]) -> bool:
    for holder in (item.get("place"), item.get("venue")):
        if not isinstance(holder, dict):
            continue
        loc = holder.get("location") if isinstance(holder.get("location"), dict) else holder
        country = (_str(loc.get("country_code")) or _str(loc.get("country"))).casefold()
        if country in _AMERICAS:
            return True
        lon = loc.get("longitude")
        if isinstance(lon, int | float) and lon < -30:
            return True
    return False


# --- .ics exports ----------------------------------------------------------------------------


def _parse_ics(content: bytes, ctx: _Context) -> None:
    result = ical.parse_ical(content, ctx.source, ctx.settings, now=ctx.now)
    for warning in result.warnings:
        ctx.warn(warning.message)
    for event in result.events:
        ctx.add(facebook_identity(event))


def facebook_identity(event: Event) -> Event:
    """An iCal event with UID ``e123@facebook.com`` keyed like the Graph API: ``123``,
    uid ``facebook:123``, canonical URL."""
    match = _FB_UID_RE.match(event.uid)
    if not match:
        return event
    event_id = match.group(1) or match.group(2)
    return replace(
        event, key=event_id, uid=f"facebook:{event_id}", url=FACEBOOK_EVENT_URL.format(event_id)
    )


# --- small helpers ---------------------------------------------------------------------------


def _scrub(event: Event, secrets: tuple[str, ...]) -> Event:
    """The event with any token-shaped text removed from its free-text and URL fields."""
    fields = ("title", "description", "url", "image", "location_text", "organizer_url")
    changes = {}
    for name in fields:
        value = getattr(event, name)
        cleaned = redact(value, secrets) if value else value
        if cleaned != value:
            changes[name] = cleaned
    return replace(event, **changes) if changes else event
