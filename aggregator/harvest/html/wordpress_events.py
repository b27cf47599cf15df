"""WordPress "The Events Calendar" (Tribe) REST API → Events.

``/wp-json/tribe/events/v1/events`` answers ``{"events": [...], "next_rest_url": …,
"total", "total_pages"}`` (see the plugin's REST API docs,
https://docs.theeventscalendar.com/apis/rest-api/). It gives every upcoming event
with exact UTC times, venue and cost, which beats scraping the site's pages, so a
website source that is a Tribe site is read through it. Paging is followed within
the source's page budget.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta, tzinfo
from typing import Any

from lxml.html import HtmlElement

from aggregator.harvest.dates import When, parse_when
from aggregator.harvest.html.crawl import Crawler, same_site
from aggregator.harvest.html.schema_org import (
    HtmlContext,
    clean,
    compose_description,
    ended_before_window,
    text_of,
    url_of,
)
from aggregator.model import CANCELLED, CONFIRMED, Event, EventStatus, Place
from aggregator.normalize.text import html_title_to_text
from aggregator.normalize.timezones import zone
from aggregator.normalize.urls import join_url

log = logging.getLogger(__name__)

ENDPOINT = "tribe/events/v1/events"
PER_PAGE = 50
_TRIBE_MARKER_RE = re.compile(r"tribe-events|tribe_events|/wp-json/tribe/|tribe-common", re.I)
_UTC_OFFSET_ZONE_RE = re.compile(r"^UTC([+-]\d+(?:\.\d+)?)$")


def tribe_endpoint(tree: HtmlElement, text: str, page_url: str) -> str | None:
    """The REST endpoint of a WordPress page that runs The Events Calendar, else None."""
    if not _TRIBE_MARKER_RE.search(text):
        return None
    for link in tree.iter("link"):
        if (link.get("rel") or "").strip() == "https://api.w.org/" and link.get("href"):
            root = join_url(page_url, link.get("href", "").strip())
            if same_site(root, page_url):
                return join_url(root.rstrip("/") + "/", ENDPOINT) + f"?per_page={PER_PAGE}"
    return None


def parse_tribe_json(content: bytes, ctx: HtmlContext) -> tuple[list[Event], str]:
    """One REST page's events and its ``next_rest_url`` ("" at the end)."""
    try:
        data = json.loads(content.decode("utf-8-sig", errors="replace"))
    except (ValueError, RecursionError) as exc:
        log.debug("%s: The Events Calendar API not JSON: %s", ctx.source.id, str(exc)[:300])
        ctx.warn(
            "The Events Calendars gränssnitt (REST API) svarade med något som inte är JSON; "
            "kontrollera att tillägget är aktivt och att /wp-json/tribe/events/v1/events "
            "går att öppna."
        )
        return [], ""
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        ctx.warn(
            "The Events Calendars gränssnitt (REST API) svarade utan en lista med evenemang "
            "(”events”); kontrollera att tillägget är aktivt och uppdaterat."
        )
        return [], ""
    events = []
    for item in data["events"]:
        if isinstance(item, dict):
            event = _event(item, ctx)
            if event is not None:
                ctx.take()
                events.append(event)
    next_url = data.get("next_rest_url")
    return events, next_url if isinstance(next_url, str) else ""


def harvest_tribe(
    first: bytes | None, first_url: str, ctx: HtmlContext, crawler: Crawler | None
) -> list[Event] | None:
    """All pages of the API, starting from ``first`` (already fetched) or ``first_url``.

    None when the API could not be read at all, so the caller falls back to the page.
    """
    if first is None:
        if crawler is None:
            return None
        first = crawler.fetch(first_url)
        if first is None:
            return None
    events, next_url = parse_tribe_json(first, ctx)
    seen = {first_url}
    while next_url and crawler is not None:
        next_url = join_url(first_url, next_url)
        if next_url in seen or not same_site(next_url, first_url):
            break
        seen.add(next_url)
        body = crawler.fetch(next_url)
        if body is None:
            break
        more, next_url = parse_tribe_json(body, ctx)
        events.extend(more)
    return events


def _event(item: dict[str, Any], ctx: HtmlContext) -> Event | None:
    title = html_title_to_text(str(item.get("title") or ""))  # the API gives rendered HTML
    label = f"”{title[:60]}”" if title else f"id {item.get('id')}"
    tz_name, tz = _zone(item.get("timezone"), ctx)
    all_day = bool(item.get("all_day"))
    start = _when(item, "start", all_day, tz)
    if start is None:
        ctx.warn(
            f"Evenemanget {label} visas inte: det saknar ett användbart startdatum "
            "(start_date); ange start i evenemanget i WordPress."
        )
        return None
    end = _when(item, "end", all_day, tz)
    start_value, end_value = start.value, end.value if end else None
    if all_day:
        last = end_value if end_value and end_value >= start_value else start_value
        end_value = last + timedelta(days=1)
    elif end_value is not None and end_value < start_value:
        end_value = None
    if ended_before_window(start, end_value, ctx):
        ctx.skipped_old += 1
        return None
    status, notes = _status(item)
    description, description_html = compose_description(
        str(item.get("description") or ""), notes=notes, extra=[p for p in [_cost(item)] if p]
    )
    url = url_of(item.get("url"), "")
    key = url or (f"tribe:{item['id']}" if item.get("id") else "")
    organizer_name, organizer_url = _organizer(item.get("organizer"))
    return Event(
        source_id=ctx.source.id,
        key=key,
        title=title,
        start=start_value,
        end=end_value,
        all_day=all_day,
        timezone=tz_name,
        status=status,
        description=description,
        description_html=description_html,
        url=url,
        place=_venue(item.get("venue")),
        categories=tuple(
            clean(str(c.get("name", "")))
            for c in item.get("categories") or []
            if isinstance(c, dict) and c.get("name")
        ),
        organizer_name=organizer_name,
        organizer_url=organizer_url,
        image=url_of(item.get("image") or "", ""),
        uid=key,
    )


def _zone(value: Any, ctx: HtmlContext) -> tuple[str, tzinfo]:
    """The event's IANA zone; WordPress "UTC+1" manual offsets fall back to the default."""
    name = str(value or "").strip()
    found = zone(name) if name and not _UTC_OFFSET_ZONE_RE.match(name) else None
    if found is None:
        return ctx.tz_name, ctx.tz
    return name, found


def _when(item: dict[str, Any], which: str, all_day: bool, tz: tzinfo) -> When | None:
    local = str(item.get(f"{which}_date") or "").strip()
    if all_day:
        return parse_when(local[:10], tz) if local else None
    utc = str(item.get(f"utc_{which}_date") or "").strip()
    if utc:
        parsed = parse_when(utc + "Z", tz)
        if parsed is not None:
            return parsed
    return parse_when(local, tz) if local else None


def _status(item: dict[str, Any]) -> tuple[EventStatus, list[str]]:
    # The Events Calendar 5.11+ "event status" (scheduled/canceled/postponed/moved-online)
    raw = str(item.get("event_status") or item.get("status_event") or "").lower()
    if raw.startswith("cancel") or raw == "canceled":
        return CANCELLED, []
    if raw == "postponed":
        return CONFIRMED, ["Obs: evenemanget är uppskjutet, nytt datum är inte bestämt."]
    return CONFIRMED, []


def _cost(item: dict[str, Any]) -> str:
    cost = clean(str(item.get("cost") or ""))
    raw_details = item.get("cost_details")
    details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
    values = [str(v).strip() for v in details.get("values") or [] if str(v).strip()]
    if cost.lower() in ("0", "free", "gratis", "fri entré", "fritt inträde") or (
        values and all(v in ("0", "0.00", "0,00") for v in values) and not cost[:1].isalpha()
    ):
        return "Fri entré"
    if not cost:
        return ""
    if re.fullmatch(r"\d+(?:[.,]\d+)?(?:\s*[-–]\s*\d+(?:[.,]\d+)?)?", cost):
        symbol = str(details.get("currency_symbol") or "kr").strip()
        return f"Pris: {cost} {'kr' if symbol in ('', 'SEK', ':-') else symbol}"
    return f"Pris: {cost[:80]}"


def _venue(value: Any) -> Place:
    if not isinstance(value, dict):
        return Place()  # Tribe writes [] when an event has no venue
    lat, lon = _number(value.get("geo_lat")), _number(value.get("geo_lng"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    name = clean(str(value.get("venue") or ""))
    street = clean(str(value.get("address") or ""))
    city = clean(str(value.get("city") or ""))
    return Place(name or street or city, street, city, "", lat, lon)


def _number(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _organizer(value: Any) -> tuple[str, str]:
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, dict):
        return "", ""
    name = text_of(value.get("organizer"))
    url = url_of(value.get("website"), "") or url_of(value.get("url"), "")
    return name, url
