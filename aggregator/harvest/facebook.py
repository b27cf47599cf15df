"""Facebook events → Events: Graph API JSON, "Download your information" exports, .ics.

Facebook gives organizers no feed, so every way event data really leaves it is
read here (see ``corpus/facebook/FACEBOOK_FORMATS.md``):

* Graph API ``/{page-id}/events`` answers, following ``paging.next``;
* DYI exports, as the ``.zip`` or the JSON inside it: UTF-8 text escaped as
  Latin-1 (repaired here), epoch timestamps, no event ids;
* the ``.ics`` export, handed to the iCal harvester;
* a folder the operator drops any of these into (``read_export_folder`` +
  ``bundle_export_folder`` turn it into one zip, so the harvester stays bytes-in).

Identity: the Facebook event id is the key and ``facebook:{id}`` the uid, so an
event from the API and from an .ics export is one event. DYI items carry no id:
their key is ``dyi:`` + a hash of the repaired name and ``start_timestamp``
(stable across re-exports of the same event) and their uid stays empty, so
dedupe matches them by title, time and place.

Access tokens never leave this module as text: every URL or message that goes
into an Event, a warning, an error or a log line passes through ``redact``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aggregator.errors import FetchError, ParseError
from aggregator.harvest import ical
from aggregator.model import (
    CANCELLED,
    CONFIRMED,
    Event,
    HarvestResult,
    HarvestWarning,
    PageFetcher,
    Place,
    Settings,
    Source,
)
from aggregator.timezones import local_to_utc, zone

log = logging.getLogger(__name__)

WINDOW_BACK = timedelta(days=30)  # the iCal harvester's window: older events are not imported
MAX_EVENTS = 20_000  # per harvest; a page has hundreds, an export a few thousand
MAX_WARNINGS = 50
MAX_ZIP_MEMBERS = 10_000  # a full DYI export without media has a few hundred files
MAX_ZIP_DEPTH = 1  # an export zip inside a folder bundle, never deeper
UNPACK_BUDGET_FACTOR = 4  # total bytes unpacked from a zip ≤ 4 × settings.max_bytes
MAX_WALK_DEPTH = 12  # DYI layouts nest events lists 1–3 levels deep
MAX_FOLDER_FILES = 200
MAX_FOLDER_DEPTH = 6
FACEBOOK_EVENT_URL = "https://www.facebook.com/events/{}/"
BUNDLE_NOTE = "_aggregator_skipped.txt"

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
_ID_RE = re.compile(r"^\d{1,30}$")
_FB_UID_RE = re.compile(r"^(?:e(\d+)@facebook\.com|facebook:(\d+))$", re.IGNORECASE)
_PACIFIC_OFFSETS = (-7 * 60, -8 * 60)
_AMERICAS = {"us", "ca", "mx", "united states", "canada", "mexico"}
_ITEM_ERRORS = (ValueError, TypeError, KeyError, OverflowError)
# fmt: off
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
               RuntimeError, NotImplementedError, ValueError)
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


def repair_mojibake(text: str) -> str:
    """Undo DYI's UTF-8-as-Latin-1 escaping ("LÃ¶nneberga" → "Lönneberga") when it
    round-trips; text that is already right fails the round trip and is kept."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


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
    _finish_dyi(ctx)
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
        _parse_zip(content, ctx, depth)
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
    lists = list(_dyi_lists(data, name))
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


# --- "Download your information" exports -----------------------------------------------------


def _dyi_lists(data: Any, name: str) -> Iterator[tuple[str, str, list[Any]]]:
    """(class, key, items) of every list of DYI event items, at any depth up to a bound.

    Class is ``hosted`` (your_events, events_you_hosted), ``declined`` or ``other``
    (invitations, joined, interested …); layouts change, the item shape does not.
    """
    stack: list[tuple[str, Any, int]] = [(name.rsplit("/", 1)[-1], data, 0)]
    while stack:
        key, value, depth = stack.pop()
        if isinstance(value, list):
            if any(isinstance(v, dict) and "start_timestamp" in v for v in value[:20]):
                yield _dyi_class(key, name), key, value
            elif depth < MAX_WALK_DEPTH:
                stack.extend((key, v, depth + 1) for v in value[:100] if isinstance(v, dict | list))
        elif isinstance(value, dict) and depth < MAX_WALK_DEPTH:
            stack.extend(
                (str(k), v, depth + 1)
                for k, v in list(value.items())[:200]
                if isinstance(v, dict | list)
            )


def _dyi_class(key: str, file_name: str) -> str:
    base, key = file_name.rsplit("/", 1)[-1].casefold(), key.casefold()
    if "declin" in key or "declin" in base:
        return "declined"
    if "host" in key or "host" in base or key.startswith("your_events"):
        return "hosted"
    if base.startswith("your_events") and not key.startswith(("event", "invit")):
        return "hosted"  # your_events.json with a key we have not seen yet
    return "other"


def _finish_dyi(ctx: _Context) -> None:
    """Hosted events only, when the export has any: invitations are other people's
    events, maybe private. Without hosted events, invitations and responses are used."""
    if not ctx.dyi_lists:
        return
    hosted = [lst for cls, _, lst in ctx.dyi_lists if cls == "hosted"]
    chosen = hosted or [lst for cls, _, lst in ctx.dyi_lists if cls == "other"]
    if not chosen:
        ctx.warn("the export only lists events you declined; nothing to import")
        return
    before = len(ctx.events)
    for items in chosen:
        for item in items:
            if ctx.full:
                break
            try:
                ctx.add(_dyi_event(item, ctx))
            except _ITEM_ERRORS as exc:
                ctx.warn(f"skipped event {_describe(item)}: {_reason(exc)}")
    if not hosted and len(ctx.events) > before:
        ctx.warn(
            "the export lists no events you host, so the events you were invited to or "
            "answered were imported; check in the preview that they are public"
        )


def _dyi_event(item: Any, ctx: _Context) -> Event:
    if not isinstance(item, dict):
        raise ValueError("it is not a JSON object")
    name = repair_mojibake(_str(item.get("name")))
    start_ts = _epoch(item.get("start_timestamp"))
    if start_ts is None:
        raise ValueError("it has no start time (start_timestamp)")
    end_ts = _epoch(item.get("end_timestamp"))  # 0 = no end given
    start = datetime.fromtimestamp(start_ts, UTC)
    end = datetime.fromtimestamp(end_ts, UTC) if end_ts and end_ts >= start_ts else None
    event_id = _id(item.get("id") or item.get("event_id"))
    place = item.get("place")
    place = place if isinstance(place, dict) else {"name": place}  # older layouts: a string
    coordinate = place.get("coordinate") if isinstance(place.get("coordinate"), dict) else place
    lat, lon = _coordinates(coordinate.get("latitude"), coordinate.get("longitude"))
    parts = [repair_mojibake(_str(place.get(k))) for k in ("name", "address")]
    return Event(
        source_id=ctx.source.id,
        key=event_id or _hash_key(name, str(start_ts), prefix="dyi"),
        title=name,
        start=start,
        end=end,
        timezone=ctx.settings.timezone,
        description=repair_mojibake(_str(item.get("description"))),
        url=FACEBOOK_EVENT_URL.format(event_id) if event_id else "",
        place=Place(latitude=lat, longitude=lon),
        location_text=", ".join(dict.fromkeys(p for p in parts if p)),
        uid=f"facebook:{event_id}" if event_id else "",
    )


def _epoch(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = int(float(value))
    except ValueError:
        return None
    if seconds > 10**11:
        seconds //= 1000  # milliseconds
    return seconds if 0 < seconds < 32_503_680_000 else None


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


# --- zips and folders ------------------------------------------------------------------------


def _parse_zip(content: bytes, ctx: _Context, depth: int) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except _ZIP_ERRORS as exc:
        raise ctx.error(
            "the .zip file is damaged or incomplete; download the export again"
        ) from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise ctx.error(
                f"the .zip holds {len(infos)} files, more than the {MAX_ZIP_MEMBERS} an events "
                "export has; download it again with only 'Events' selected"
            )
        parsed, html_seen, problems = 0, False, []
        for info in infos:
            member = info.filename
            kind = _member_kind(member, depth)
            if info.is_dir() or kind is None:
                continue
            if _unsafe_name(member):
                ctx.warn(f"ignored a file with an unsafe name in the .zip: {member[:80]!r}")
                continue
            if kind == "html":
                html_seen = True
                continue
            data = _read_member(archive, info, ctx)
            if isinstance(data, str):
                problems.append(f"skipped {member[:120]}: {data}")
                continue
            if kind == "note":
                problems.extend(data.decode("utf-8", "replace").splitlines()[:MAX_WARNINGS])
                continue
            try:
                # no paging from files: a saved Graph answer is read as it is
                _parse_blob(data, member, ctx, None, depth + 1)
                parsed += 1
            except ParseError as exc:
                problems.append(f"skipped {member[:120]}: {exc.message}")
    if not parsed:
        if problems:
            raise ctx.error(f"nothing in the .zip could be read; {problems[0]}")
        hint = "is in HTML format" if html_seen else "does not include Events"
        raise ctx.error(
            f"the .zip holds no Facebook events files (your_events.json, event_invitations.json "
            f"…): it {hint}. Download it again with 'Events' selected and the format JSON"
        )
    for problem in problems:
        ctx.warn(problem)


def _member_kind(member: str, depth: int) -> str | None:
    base = member.replace("\\", "/").rsplit("/", 1)[-1].casefold()
    if depth == 0 and member == BUNDLE_NOTE:
        return "note"
    if base.endswith(".json") and "event" in base:
        return "json"
    if base.endswith(".html") and "event" in base:
        return "html"
    if base.endswith(".ics"):
        return "ics"
    if base.endswith(".zip") and depth < MAX_ZIP_DEPTH:
        return "zip"
    return None


def _unsafe_name(member: str) -> bool:
    parts = member.replace("\\", "/").split("/")
    return (
        member.startswith(("/", "\\"))
        or ".." in parts
        or "\x00" in member
        or bool(re.match(r"^[A-Za-z]:", member))
    )


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, ctx: _Context) -> bytes | str:
    """A member's bytes (or why it was skipped), read in chunks against the per-member cap
    and the unpack budget, so neither a zip bomb nor a header lying about its size gets far."""
    cap = min(ctx.settings.max_bytes, ctx.budget)
    limit = f"over the limit of {cap // 2**20} MB"
    if info.flag_bits & 0x1:
        return "it is encrypted"
    if info.file_size > cap:
        return f"it unpacks to {info.file_size // 2**20} MB, {limit}"
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(1 << 16):
                size += len(chunk)
                if size > cap:
                    return f"it unpacks to more than it says, {limit}"
                chunks.append(chunk)
    except _ZIP_ERRORS as exc:
        return f"it could not be unpacked ({_reason(exc)})"
    finally:
        ctx.budget -= size
    return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class ExportFolder:
    """The export files found in a ``path:`` folder, newest first, and what was skipped."""

    files: tuple[tuple[str, bytes], ...]
    skipped: tuple[str, ...] = ()


def read_export_folder(path: Path, max_bytes: int, *, source_id: str = "") -> ExportFolder:
    """Read the export files (.zip, .ics, events .json) under ``path``, newest first.

    Each file may be up to ``max_bytes`` and all together ``UNPACK_BUDGET_FACTOR`` ×
    ``max_bytes``; hidden and half-downloaded files and symlinked folders are passed by.
    """
    candidates: list[tuple[float, str, Path]] = []
    for root, dirs, names in os.walk(path, followlinks=False):
        depth = len(Path(root).relative_to(path).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and depth < MAX_FOLDER_DEPTH)
        for name in names:
            low = name.casefold()
            if name.startswith((".", "~")) or not low.endswith((".zip", ".ics", ".json")):
                continue
            if low.endswith(".json") and "event" not in low:
                continue
            file = Path(root) / name
            try:
                if not file.is_file():
                    continue
                candidates.append((file.stat().st_mtime, file.relative_to(path).as_posix(), file))
            except OSError:
                continue
    if not candidates:
        raise FetchError(
            f"the folder {path} holds no Facebook export (.zip, .json or .ics) yet",
            source_id=source_id,
            url=str(path),
        )
    candidates.sort(key=lambda c: (-c[0], c[1]))
    files: list[tuple[str, bytes]] = []
    skipped: list[str] = []
    total, limit, mb = 0, UNPACK_BUDGET_FACTOR * max_bytes, max_bytes // (1024 * 1024)
    for _, rel, file in candidates:
        if len(files) >= MAX_FOLDER_FILES:
            skipped.append(f"{rel}: more than {MAX_FOLDER_FILES} files in the folder; skipped")
            continue
        try:
            size = file.stat().st_size
            if size > max_bytes:
                skipped.append(f"{rel}: larger than the {mb} MB limit; skipped")
                continue
            if total + size > limit:
                skipped.append(f"{rel}: the folder holds more than {limit // 2**20} MB; skipped")
                continue
            files.append((rel, file.read_bytes()))
            total += size
        except OSError as exc:
            skipped.append(f"{rel}: could not be read ({exc.strerror}); skipped")
    return ExportFolder(tuple(files), tuple(skipped))


def bundle_export_folder(folder: ExportFolder) -> bytes:
    """One stored (uncompressed) zip of the folder's files, for ``parse_facebook``.

    Deterministic (fixed timestamps, newest file first) so fetch's content hash only
    changes when the files do; skipped files travel as a note that becomes warnings.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        if folder.skipped:
            info = zipfile.ZipInfo(BUNDLE_NOTE, date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, "\n".join(folder.skipped).encode())
        for name, data in folder.files:
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


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


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _id(value: Any) -> str:
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    return text if _ID_RE.match(text) else ""


def _coordinates(lat: Any, lon: Any) -> tuple[float | None, float | None]:
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        return None, None
    if -90 <= la <= 90 and -180 <= lo <= 180 and (la, lo) != (0.0, 0.0):
        return la, lo
    return None, None


def _hash_key(title: str, start: str, prefix: str = "hash") -> str:
    digest = hashlib.sha256(f"{title}\x00{start}".encode()).hexdigest()[:20]
    return f"{prefix}:{digest}"


def _describe(item: Any) -> str:
    if not isinstance(item, dict):
        return "(not an object)"
    name = repair_mojibake(_str(item.get("name")))[:60] or "(no title)"
    event_id = _id(item.get("id"))
    return f"'{name}'" + (f" (id {event_id})" if event_id else "")


def _reason(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__)[:200]
