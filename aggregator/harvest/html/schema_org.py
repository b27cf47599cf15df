"""schema.org ``Event`` nodes (from JSON-LD, microdata, RDFa or hCalendar) → Events.

Every syntax is first turned into the same compact JSON-LD-like dict (``@type``,
``name``, ``startDate`` …), so the mapping to our Event lives in one place.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from aggregator.harvest.context import HarvestContext
from aggregator.harvest.dates import When, parse_duration, parse_swedish, parse_when
from aggregator.model import CANCELLED, CONFIRMED, Event, EventStatus, Place
from aggregator.normalize import html_to_text, looks_like_html
from aggregator.normalize.urls import join_url

MAX_DEPTH = 40  # deeper JSON is not an event listing but an attack or a bug
MAX_NODES = 50_000  # dict/list nodes visited per page

# Event subtypes whose names do not end in "Event"
_EXTRA_EVENT_TYPES = {"festival", "hackathon", "courseinstance"}
_CONTAINER_TYPES = {"eventseries"}
_SUB_EVENT_KEYS = ("subEvent", "subEvents")
_SCHEMA_PREFIX_RE = re.compile(r"^(?:https?://schema\.org/|schema:)", re.IGNORECASE)
_NUMBER_RE = re.compile(r"^\d+(?:[.,]\d+)?$")


@dataclass(kw_only=True)
class HtmlContext(HarvestContext):
    """A website harvest (the base context is all it needs; named for its readers)."""


def short_type(value: Any) -> list[str]:
    """``@type`` as bare lowercase names: ``http://schema.org/MusicEvent`` → ``musicevent``."""
    types = value if isinstance(value, list) else [value]
    out = []
    for item in types:
        if isinstance(item, str):
            out.append(_SCHEMA_PREFIX_RE.sub("", item.strip()).rsplit("/", 1)[-1].lower())
    return out


def is_event_type(value: Any) -> bool:
    return any(t.endswith("event") or t in _EXTRA_EVENT_TYPES for t in short_type(value))


def find_event_nodes(data: Any) -> Iterator[dict[str, Any]]:
    """Every Event-typed dict in a JSON-LD structure, wherever it is nested.

    Containers (``@graph``, ItemList, EventSeries, a Place's ``event``) are walked;
    an Event's own properties are not, except its sub-events. Depth and node
    count are bounded so hostile JSON cannot make this slow.
    """
    budget = [MAX_NODES]
    yield from _walk(data, 0, budget)


def _walk(value: Any, depth: int, budget: list[int]) -> Iterator[dict[str, Any]]:
    if depth > MAX_DEPTH or budget[0] <= 0:
        return
    budget[0] -= 1
    if isinstance(value, list):
        for item in value:
            yield from _walk(item, depth + 1, budget)
        return
    if not isinstance(value, dict):
        return
    types = value.get("@type", value.get("type"))
    if is_event_type(types):
        subs = [value[k] for k in _SUB_EVENT_KEYS if k in value]
        if not any(t in _CONTAINER_TYPES for t in short_type(types)) or not subs:
            yield value
        for sub in subs:
            yield from _walk(sub, depth + 1, budget)
        return
    for key, item in value.items():
        if key != "@context" and isinstance(item, (dict, list)):
            yield from _walk(item, depth + 1, budget)


# --- mapping one node --------------------------------------------------------------


def event_from_node(node: dict[str, Any], page_url: str, ctx: HtmlContext) -> Event | None:
    """One schema.org Event node as our Event, or None (with a warning) if unusable."""
    title = text_of(node.get("name")) or text_of(node.get("headline"))
    label = f"”{title[:60]}”" if title else "(utan namn)"
    start_text = text_of(node.get("startDate"))
    start = _parse_value(start_text, ctx)
    if start is None:
        reason = (
            f"startdatumet ”{start_text[:40]}” gick inte att förstå"
            if start_text
            else "startdatum (startDate) saknas"
        )
        ctx.warn(
            f"Evenemanget {label} visas inte: {reason}. Ange startDate i ISO 8601, till "
            "exempel 2026-12-05T19:00+01:00."
        )
        return None
    end = _end_of(node, start, label, ctx)
    if ended_before_window(start, end, ctx):
        ctx.skipped_old += 1
        return None
    status, notes = _status(node, label, ctx)
    url = url_of(node.get("url"), page_url)
    place, location_text, online_url = _location(node.get("location"), page_url)
    organizer_name, organizer_url = _organizer(node.get("organizer"), page_url)
    description, description_html = compose_description(
        text_of(node.get("description"), join=False),
        notes=notes,
        extra=[line for line in (price_line(node), online_url and f"Online: {online_url}") if line],
    )
    key = node_id(node, page_url) or url
    return Event(
        source_id=ctx.source.id,
        key=key,
        title=title,
        start=start.value,
        end=end,
        all_day=start.all_day,
        timezone=start.zone_name or ctx.tz_name,
        status=status,
        description=description,
        description_html=description_html,
        url=url or online_url,
        place=place,
        location_text=location_text,
        organizer_name=organizer_name,
        organizer_url=organizer_url,
        image=image_of(node.get("image"), page_url),
        uid=key,
    )


def node_id(node: dict[str, Any], page_url: str) -> str:
    """``@id`` (or microdata ``itemid``) resolved against the page; blank nodes are not ids."""
    raw = node.get("@id") or node.get("id")
    if not isinstance(raw, str) or not raw.strip() or raw.startswith("_:"):
        return ""
    return join_url(page_url, raw.strip())[:500]


def _end_of(
    node: dict[str, Any], start: When, label: str, ctx: HtmlContext
) -> datetime | date | None:
    end_text = text_of(node.get("endDate"))
    end = _parse_value(end_text, ctx)
    if start.all_day:
        assert isinstance(start.value, date)
        last = start.value
        if end is not None:
            end_day = end.value if end.all_day else _local_day(end.value, ctx)
            assert isinstance(end_day, date)
            last = max(last, end_day)
        return last + timedelta(days=1)  # schema.org endDate is inclusive, ours exclusive
    if end is None or end.all_day:
        duration = parse_duration(text_of(node.get("duration")))
        return start.value + duration if duration else None
    assert isinstance(start.value, datetime) and isinstance(end.value, datetime)
    if end.value < start.value:
        if start.value - end.value < timedelta(hours=24) and not _has_offset(end_text):
            return end.value + timedelta(days=1)  # "21:00–01:00" written on one date
        ctx.warn(
            f"Evenemanget {label} slutar innan det börjar, så sluttiden visas inte; rätta endDate."
        )
        return None
    return end.value


def _parse_value(text: str, ctx: HtmlContext) -> When | None:
    """ISO 8601 as it should be; Swedish prose when a page put the visible text there
    (RDFa and hCalendar take an element's text when it has no machine-readable value)."""
    if not text:
        return None
    parsed = parse_when(text, ctx.tz)
    if parsed is None and any(ch.isalpha() for ch in text) and len(text) < 80:
        found = parse_swedish(text, ctx.now, ctx.tz)
        parsed = found[0] if found else None
    return parsed


def _has_offset(text: str) -> bool:
    return bool(re.search(r"(Z|[+-]\d{2}:?\d{2})$", text.strip()))


def _local_day(value: datetime | date, ctx: HtmlContext) -> date:
    if isinstance(value, datetime):
        return value.astimezone(ctx.tz).date()
    return value


def ended_before_window(start: When, end: datetime | date | None, ctx: HtmlContext) -> bool:
    return ctx.ended_before_window(end or start.value)


_STATUS_WORDS = {"eventpostponed": "uppskjutet", "eventrescheduled": "flyttat"}
_STATUS_NOTES = {
    "eventpostponed": "Obs: evenemanget är uppskjutet, nytt datum är inte bestämt.",
    "eventrescheduled": "Obs: evenemanget har fått ett nytt datum.",
    "eventmovedonline": "Obs: evenemanget hålls nu online.",
}


def _status(node: dict[str, Any], label: str, ctx: HtmlContext) -> tuple[EventStatus, list[str]]:
    raw = text_of(node.get("eventStatus"))
    name = short_type(raw)[0] if raw else ""
    if "cancel" in name:
        return CANCELLED, []
    note = _STATUS_NOTES.get(name)
    if note is None:
        return CONFIRMED, []
    if name != "eventmovedonline":
        ctx.warn(
            f"Evenemanget {label} är markerat som {_STATUS_WORDS.get(name, name[5:])} ({raw}); "
            "det visas med en anteckning om det."
        )
    return CONFIRMED, [note]


def _location(value: Any, page_url: str) -> tuple[Place, str, str]:
    """(place, location_text, online url). Structured places leave location_text empty."""
    places = value if isinstance(value, list) else [value]
    online = ""
    for item in places[:5]:
        if isinstance(item, str) and item.strip():
            text = clean(item)
            if text.startswith(("http://", "https://")):
                online = online or text
                continue
            return Place(), text, online
        if not isinstance(item, dict):
            continue
        types = short_type(item.get("@type", item.get("type")))
        if "virtuallocation" in types:
            online = online or url_of(item.get("url"), page_url)
            continue
        place, text = _place(item)
        if place != Place() or text:
            return place, text, online
    return Place(), "Online" if online else "", online


def _place(item: dict[str, Any]) -> tuple[Place, str]:
    name = text_of(item.get("name"))
    latitude, longitude = _geo(item.get("geo")) or _geo(item)
    address = item.get("address")
    if isinstance(address, list):
        address = address[0] if address else None
    if isinstance(address, dict):
        street = text_of(address.get("streetAddress"))
        locality = text_of(address.get("addressLocality"))
        if not locality:
            locality = text_of(address.get("postalCode"))
        place = Place(name or street or locality, street, locality, "", latitude, longitude)
        return place, ""
    address_text = text_of(address)
    if address_text:
        in_address = name and name.casefold() in address_text.casefold()
        text = address_text if in_address else ", ".join(p for p in (name, address_text) if p)
        return Place(latitude=latitude, longitude=longitude), text
    return Place(name=name, latitude=latitude, longitude=longitude), ""


def _geo(value: Any) -> tuple[float | None, float | None]:
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, dict):
        return None, None
    try:
        lat = float(str(text_of(value.get("latitude"))).replace(",", "."))
        lon = float(str(text_of(value.get("longitude"))).replace(",", "."))
    except ValueError:
        return None, None
    if -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0.0, 0.0):
        return lat, lon
    return None, None


def _organizer(value: Any, page_url: str) -> tuple[str, str]:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        return clean(value), ""
    if isinstance(value, dict):
        return text_of(value.get("name")), url_of(value.get("url"), page_url)
    return "", ""


# --- offers → a Swedish price line -------------------------------------------------


def price_line(node: dict[str, Any]) -> str:
    """ "Pris: 150 kr", "Pris: 100–200 kr" or "Fri entré" from ``offers``."""
    free = str(text_of(node.get("isAccessibleForFree"))).lower() in ("true", "1", "yes")
    offers = node.get("offers")
    offers = offers if isinstance(offers, list) else [offers] if offers else []
    prices: list[float] = []
    texts: list[str] = []
    currency = ""
    for offer in offers[:20]:
        if not isinstance(offer, dict):
            continue
        currency = currency or text_of(offer.get("priceCurrency"))
        for key in ("price", "lowPrice", "highPrice"):
            raw = text_of(offer.get(key))
            if not raw:
                continue
            number = raw.replace(" ", "").replace("\u00a0", "")
            if _NUMBER_RE.match(number):
                prices.append(float(number.replace(",", ".")))
            elif raw.lower() in ("free", "gratis", "fri entré", "fritt inträde"):
                prices.append(0.0)
            else:
                texts.append(raw)
    if free or (prices and max(prices) == 0 and not texts):
        return "Fri entré"
    if prices:
        low, high = min(p for p in prices if p > 0), max(prices)
        unit = _currency(currency)
        if low == high:
            return f"Pris: {_amount(low)} {unit}"
        return f"Pris: {_amount(low)}–{_amount(high)} {unit}"
    if texts:
        return f"Pris: {texts[0][:80]}"
    return ""


def _currency(code: str) -> str:
    code = code.strip().upper()
    return "kr" if code in ("", "SEK", "KR") else code


def _amount(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".replace(".", ",")


# --- small value helpers -----------------------------------------------------------


def compose_description(
    raw: str,
    *,
    notes: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> tuple[str, str]:
    """(text, html) with status notes before and price/online lines after the body.

    HTML bodies stay HTML (normalize sanitizes them); our lines are escaped.
    """
    body = raw.strip()
    if looks_like_html(body):
        parts = [f"<p>{html.escape(n)}</p>" for n in notes]
        parts.append(body)
        parts.extend(f"<p>{html.escape(e)}</p>" for e in extra)
        markup = "\n".join(parts)
        return html_to_text(markup), markup
    text = "\n\n".join(p for p in [*notes, body, *extra] if p)
    return text, ""


def text_of(value: Any, *, join: bool = True) -> str:
    """A scalar JSON-LD value as text: first of a list, ``@value`` of a value object.

    ``join=False`` keeps line breaks (for descriptions).
    """
    for _ in range(5):
        if isinstance(value, list):
            value = next((v for v in value if v not in (None, "", [], {})), None)
        elif isinstance(value, dict):
            value = value.get("@value", value.get("name", value.get("value")))
        else:
            break
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if "&" in text:
        text = html.unescape(text)
    return text.strip() if not join else clean(text)


def clean(text: str) -> str:
    return " ".join(html.unescape(text).split()) if "&" in text else " ".join(text.split())


def url_of(value: Any, base: str) -> str:
    """An http(s) URL from a string, a list or an object with ``url``/``@id``."""
    for _ in range(4):
        if isinstance(value, list):
            value = value[0] if value else None
        elif isinstance(value, dict):
            value = value.get("url") or value.get("contentUrl") or value.get("@id")
        else:
            break
    if not isinstance(value, str) or not value.strip():
        return ""
    resolved = join_url(base, html.unescape(value.strip()))
    return resolved if resolved.startswith(("http://", "https://")) else ""


def image_of(value: Any, base: str) -> str:
    return url_of(value, base)


def hash_key(event: Event) -> str:
    digest = hashlib.sha256(f"{event.title}\x00{event.start.isoformat()}".encode()).hexdigest()
    return f"hash:{digest[:20]}"


def finish_events(events: list[Event]) -> list[Event]:
    """Keys for every event: hash when none; repeats dropped; shared keys split by start.

    A listing often repeats its detail pages' events (same key or same title, time
    and place): the richer copy is kept. Showtimes share a film's URL, so a key
    used by events at different times gets the start appended.
    """
    kept: list[Event] = []
    by_key: dict[tuple[str, str], int] = {}
    by_title: dict[tuple[str, str], list[int]] = {}
    for event in events:
        if not event.key:
            event = replace(event, key=hash_key(event), uid="")
        start = event.start.isoformat()
        index = by_key.get((event.key, start))
        if index is None:
            twins = by_title.get((event.title.casefold(), start), [])
            index = next((i for i in twins if _same_place(kept[i], event)), None)
        if index is not None:
            if _richness(event) > _richness(kept[index]):
                kept[index] = event
                by_key[(event.key, start)] = index
            continue
        by_key[(event.key, start)] = len(kept)
        by_title.setdefault((event.title.casefold(), start), []).append(len(kept))
        kept.append(event)
    counts: dict[str, int] = {}
    for event in kept:
        counts[event.key] = counts.get(event.key, 0) + 1
    out = []
    for event in kept:
        if counts[event.key] > 1:
            key = f"{event.key}#{event.start.isoformat()}"
            event = replace(event, key=key, uid=key if event.uid else "")
        out.append(event)
    return out


def _same_place(a: Event, b: Event) -> bool:
    """Same title and start is one event unless both name different places."""
    pa = (a.place.text or a.location_text).casefold()
    pb = (b.place.text or b.location_text).casefold()
    return not pa or not pb or pa == pb


def _richness(event: Event) -> int:
    return (
        len(event.description)
        + len(event.place.text) * 2
        + (50 if event.end else 0)
        + (20 if event.image else 0)
    )
