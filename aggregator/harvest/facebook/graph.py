"""Facebook's Graph API: ``/{page-id}/events`` answers, their paging, their errors.

Times come in every form Facebook ever wrote (offsets with and without a colon,
no offset, bare dates, pre-2012 Pacific wall times); recurring events list their
``event_times``. ``paging.next`` is followed only on the host the source names,
with the same scheme and port, so a forged answer cannot send the page fetcher
(and our token) anywhere else.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from aggregator.errors import FetchError, FetchFailure
from aggregator.harvest.facebook.common import (
    FACEBOOK_EVENT_URL,
    ITEM_ERRORS,
    FacebookContext,
    ItemProblem,
    coordinates,
    describe,
    hash_key,
    id_of,
    load_json,
    object_of,
    reason,
    text_of,
)
from aggregator.harvest.facebook.redact import token_secrets
from aggregator.model import CANCELLED, CONFIRMED, Event, PageFetcher, Place, Source
from aggregator.normalize.timezones import local_to_utc, zone
from aggregator.normalize.urls import split_url
from aggregator.redaction import redact

log = logging.getLogger(__name__)

_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?)?$"
)
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


def is_graph(data: Any) -> bool:
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
    where = f" i miljövariabeln {token_env}" if token_env else ""
    if code == 190 or (error.get("type") == "OAuthException" and code in (102, 463, 467)):
        sentence = (
            "Facebook godtog inte åtkomsttoken: den har gått ut eller dragits tillbaka. Skapa "
            f"en ny sidåtkomsttoken och lägg den{where}."
        )
    elif code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        sentence = (
            "Åtkomsttoken får inte läsa sidans evenemang (en behörighet saknas); be en "
            "administratör för sidan om en sidåtkomsttoken med åtkomst till evenemangen."
        )
    elif code in (4, 17, 32, 613):
        sentence = (
            "Facebooks gräns för antal anrop nåddes; vi försöker igen vid nästa hämtning, "
            "du behöver inte göra något."
        )
    elif code == 100:
        sentence = (
            "Facebook känner inte till sidan eller evenemanget, eller så är det inte "
            "offentligt; kontrollera id:t i adressen."
        )
    else:
        sentence = (
            "Facebook svarade med ett fel i stället för evenemang; kontrollera adressen och "
            "åtkomsttoken."
        )
    return f"{sentence} (Facebook svarade: {said})" if said else sentence


def describe_graph_error(content: bytes, source: Source) -> str | None:
    """For fetch: the organizer's sentence when an HTTP 4xx body is a Graph error object."""
    try:
        data = json.loads(content[:65536])
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and "error" in data:
        return redact(graph_error_message(data["error"], source.token_env), token_secrets(source))
    return None


def parse_graph(data: Any, ctx: FacebookContext, fetch_page: PageFetcher | None) -> None:
    pages = 1
    seen: set[str] = set()
    while True:
        for item in _graph_items(data):
            try:
                for event in _graph_events(item, ctx):
                    ctx.add(event)
            except ITEM_ERRORS as exc:
                ctx.warn(f"Evenemanget {describe(item)} visas inte: {reason(exc, ctx)}.")
        next_url = _next_url(data)
        if not next_url:
            return
        if fetch_page is None:
            ctx.warn(
                "Svaret har fler sidor med evenemang, men bara den första gick att läsa; "
                "resten visas inte."
            )
            return
        if pages >= ctx.source.max_pages:
            ctx.warn(
                f"Vi slutade efter {pages} sidor med evenemang och resten visas inte; höj "
                "max_pages för källan om fler ska med."
            )
            return
        if next_url in seen:
            ctx.warn(
                "Facebooks sidindelning pekade tillbaka på en sida vi redan läst, så vi "
                "slutade där."
            )
            return
        if not _on_source_host(next_url, ctx.source.url or ""):
            ctx.warn(
                "Svarets nästa sida ligger på en annan adress än källans "
                f"({_origin_text(next_url)}), så den hämtades inte."
            )
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


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _on_source_host(url: str, source_url: str) -> bool:
    """Same host and port as the source's own URL, and no step down from https to http:
    the page fetcher sends the source's token, so it must not be pointed elsewhere."""
    target, base = split_url(url), split_url(source_url)
    if target is None or base is None or not base.hostname:
        return False
    if target.scheme not in _DEFAULT_PORTS or base.scheme not in _DEFAULT_PORTS:
        return False
    if (target.hostname or "").lower() != base.hostname.lower():
        return False
    try:
        target_port = target.port or _DEFAULT_PORTS[target.scheme]
        base_port = base.port or _DEFAULT_PORTS[base.scheme]
    except ValueError:  # a port out of range
        return False
    if target.scheme == base.scheme:
        return target_port == base_port
    # only the step up, http → https, on the default ports
    return (base.scheme, target.scheme) == ("http", "https") and not target.port and not base.port


def _origin_text(url: str) -> str:
    parts = split_url(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}" if parts else "en oläslig adress"


def _fetch_graph_page(url: str, ctx: FacebookContext, fetch_page: PageFetcher) -> Any:
    log.debug("%s: next page %s", ctx.source.id, redact(url, ctx.secrets))
    try:
        body = fetch_page(url)
    except (FetchError, OSError) as exc:  # OSError: requests' exceptions, if a fetcher leaks one
        message = exc.message if isinstance(exc, FetchError) else str(exc)
        # `from None`: the original carries the URL, token and all
        failure = FetchError(
            redact(f"Nästa sida med evenemang gick inte att hämta: {message}", ctx.secrets),
            kind=exc.kind if isinstance(exc, FetchError) else FetchFailure.OTHER,
            source_id=ctx.source.id,
            url=redact(url, ctx.secrets),
        )
        if isinstance(exc, FetchError):  # a 429 on page 2 is backed off as on page 1
            failure.status, failure.retry_after = exc.status, exc.retry_after
        raise failure from None
    data = load_json(body, "Nästa sida med evenemang", ctx)
    if isinstance(data, dict) and "error" in data:
        raise ctx.error(graph_error_message(data["error"], ctx.source.token_env))
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ctx.error(
            "Nästa sida med evenemang är inte ett svar från Graph API (”data” saknas); "
            "vi försöker igen vid nästa hämtning."
        )
    return data


def _graph_events(item: Any, ctx: FacebookContext) -> Iterator[Event]:
    if not isinstance(item, dict):
        raise ItemProblem("det är inte ett JSON-objekt")
    if item.get("is_draft") is True:
        ctx.drafts += 1
        return
    event_id = id_of(item.get("id"))
    tz_name = text_of(item.get("timezone"))
    tz = zone(tz_name) if tz_name else None
    place, location_text = _graph_place(item)
    # Before 2012 Facebook stored wall times as Pacific time; the offset lies (corpus 2016 dump)
    legacy_ok = (
        tz is None and not _in_americas(item) and not ctx.settings.timezone.startswith("America/")
    )
    owner = object_of(item.get("owner"))
    owner_id = id_of(owner.get("id"))
    cover = object_of(item.get("cover"))
    description = text_of(item.get("description"))
    ticket = text_of(item.get("ticket_uri"))
    if ticket.startswith(("https://", "http://")):
        description = f"{description}\n\nBiljetter: {ticket}".strip()
    category = _CATEGORIES.get(text_of(item.get("category")).upper())
    base = Event(
        source_id=ctx.source.id,
        key=event_id,
        title=text_of(item.get("name")),
        start=datetime.min.replace(tzinfo=UTC),
        timezone=tz_name if tz is not None else ctx.settings.timezone,
        status=CANCELLED if item.get("is_canceled") is True else CONFIRMED,
        description=description,
        url=FACEBOOK_EVENT_URL.format(event_id) if event_id else "",
        place=place,
        location_text=location_text,
        categories=(category,) if category else (),
        organizer_name=text_of(owner.get("name")),
        organizer_url=f"https://www.facebook.com/{owner_id}" if owner_id else "",
        image=text_of(cover.get("source")),
        uid=f"facebook:{event_id}" if event_id else "",
    )
    times = item.get("event_times")
    if isinstance(times, list) and times:
        for occurrence in times:  # a recurring event: one event per time, keyed by its id
            if not isinstance(occurrence, dict):
                continue
            occ_id = id_of(occurrence.get("id"))
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
        event = replace(event, key=hash_key(event.title, event.start.isoformat()))
    yield event


def _timed(
    base: Event, item: dict[str, Any], tz: tzinfo, legacy_ok: bool, ctx: FacebookContext
) -> Event:
    """``base`` with the start/end of ``item`` (an event or one of its ``event_times``)."""
    start, start_fixed = _graph_time(item.get("start_time"), tz, legacy_ok)
    if start is None:
        raise ItemProblem("det saknar starttid (start_time)")
    end, _ = _graph_time(item.get("end_time"), tz, legacy_ok)
    all_day = not isinstance(start, datetime)
    if all_day:
        assert isinstance(start, date)
        end_day = end if isinstance(end, date) and not isinstance(end, datetime) else None
        end = end_day + timedelta(days=1) if end_day and end_day >= start else start + timedelta(1)
    elif not isinstance(end, datetime) or end < start:
        if end is not None:
            ctx.warn(
                f"Evenemanget {describe(item)} slutar innan det börjar, så sluttiden visas "
                "inte; rätta sluttiden på Facebook."
            )
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
            raise ItemProblem(f"tiden {value!r} är orimlig")
        pacific = zone("America/Los_Angeles") or UTC
        wall = datetime.fromtimestamp(value, pacific).replace(tzinfo=None)
        return local_to_utc(wall, tz), 1
    match = _TIME_RE.match(str(value).strip())
    if not match:
        raise ItemProblem(f"tiden ”{str(value)[:40]}” är inte i formatet ISO 8601")
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
    place, venue, loc_text = item.get("place"), item.get("venue"), text_of(item.get("location"))
    if item.get("is_online") is True and not isinstance(place, dict):
        return Place(), "Online"
    if isinstance(place, str):
        return Place(), place
    if isinstance(place, dict):
        name = text_of(place.get("name"))
        loc = object_of(place.get("location"))
    elif isinstance(venue, dict):
        name = text_of(venue.get("name")) or loc_text
        loc = venue
    else:
        return Place(), loc_text
    street, city = text_of(loc.get("street")), text_of(loc.get("city"))
    lat, lon = coordinates(loc.get("latitude"), loc.get("longitude"))
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
        loc = object_of(holder.get("location")) or holder
        country = (text_of(loc.get("country_code")) or text_of(loc.get("country"))).casefold()
        if country in _AMERICAS:
            return True
        lon = loc.get("longitude")
        if isinstance(lon, int | float) and lon < -30:
            return True
    return False
