"""The JSON API for the website (``/api/...``): listings, one event, changes, facets.

Handlers are plain functions run in FastAPI's thread pool (SQLite is blocking); each
reads through the store's ``WebQueries`` and answers with an ETag so a website that
polls gets 304s. Bad parameters raise ``ApiError``: 400/422 ``{"error", "field"}``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from aggregator import clock
from aggregator.model import WINDOW_BACK
from aggregator.normalize import slugify
from aggregator.publish import feed_title
from aggregator.publish.formats import PUBLISHERS
from aggregator.publish.write import FeedHead, cut_to_size
from aggregator.store import iso, parse_iso
from aggregator.store.web_queries import Fragment
from aggregator.web import feedrows
from aggregator.web.context import WebContext
from aggregator.web.errors import ApiError
from aggregator.web.models import (
    ChangesPage,
    ErrorBody,
    EventItem,
    EventPage,
    Facet,
    JsonFeed,
    SourceStatus,
)
from aggregator.web.params import (
    DEFAULT_LIMIT,
    EVENT_ID,
    MAX_LIMIT,
    MAX_QUERY,
    EventFilter,
    Status,
    encode_cursor,
    store_query,
)
from aggregator.web.responses import conditional_response

TOKEN = re.compile(r"^c(\d{1,18})$")
MAX_CHANGES = 500

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "A parameter could not be read"},
    422: {"model": ErrorBody, "description": "A parameter has a value we cannot use"},
}

ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
ERRORS_AS_JSON: dict[int | str, dict[str, object]] = {
    400: {"description": "A parameter could not be read", "content": ERROR_CONTENT},
    422: {"description": "A parameter has a value we cannot use", "content": ERROR_CONTENT},
}

router = APIRouter(prefix="/api", tags=["api"])


def web(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context


Web = Annotated[WebContext, Depends(web)]


def event_filter(
    date_from: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=40,
            description="date (2026-12-01) or datetime; local time unless an offset is given",
        ),
    ] = None,
    date_to: Annotated[
        str | None,
        Query(alias="to", max_length=40, description="a date includes that whole day"),
    ] = None,
    municipality: Annotated[
        list[str] | None, Query(description="municipality slug, repeatable (any of)")
    ] = None,
    category: Annotated[
        list[str] | None, Query(description="category slug, repeatable (any of)")
    ] = None,
    organizer: Annotated[
        list[str] | None, Query(description="source id, repeatable (any of)")
    ] = None,
    q: Annotated[
        str | None,
        Query(description=f"full-text search, at most {MAX_QUERY} characters"),
    ] = None,
    status: Annotated[list[Status] | None, Query(description="repeatable (any of)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=400, description="next_cursor")] = None,
) -> EventFilter:
    return EventFilter(
        date_from=date_from,
        date_to=date_to,
        municipality=tuple(municipality or ()),
        category=tuple(category or ()),
        organizer=tuple(organizer or ()),
        q=q,
        status=tuple(s.value for s in status or ()),
        limit=limit,
        cursor=cursor,
    )


Filter = Annotated[EventFilter, Depends(event_filter)]


@router.get(
    "/events",
    response_model=EventPage,
    responses=ERRORS,
    summary="Events, filtered, in start order",
)
def list_events(request: Request, ctx: Web, given: Filter) -> Response:
    store = ctx.stores.get()
    query = store_query(given, ctx.config, clock.now(), categories=ctx.known_categories())
    rows = store.list_events(replace(query, limit=query.limit + 1), Fragment.JSON)
    page, more = rows[: query.limit], len(rows) > query.limit
    next_cursor = encode_cursor(page[-1].start_utc, page[-1].id) if more else None
    body = (
        '{"events":['
        + ",".join(row.fragment for row in page)
        + '],"next_cursor":'
        + json.dumps(next_cursor)
        + "}"
    )
    return conditional_response(request, body.encode(), "application/json")


FEED_TYPES = {
    "ics": "text/calendar; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


def _feed(request: Request, ctx: WebContext, given: EventFilter, extension: str) -> Response:
    """A filtered view as a feed. A calendar is cut only at 1 MB (or at ``limit`` when
    asked), RSS and JSON at ``limit`` or ``feedrows.MAX_ITEMS``; every cut falls between
    whole days and the feed states the last day it holds."""
    store = ctx.stores.get()
    now = clock.now()
    default_from = now - WINDOW_BACK  # as the published feeds: past events stay a month
    if given.cursor:
        raise ApiError(422, "En kalender har inga sidor: utelämna cursor.", "cursor")
    asked = "limit" in request.query_params
    query = store_query(
        given, ctx.config, now, categories=ctx.known_categories(), default_from=default_from
    )
    settings = ctx.config.settings
    fragment = {"ics": Fragment.ICS, "rss": Fragment.RSS, "json": Fragment.JSON}[extension]
    title = feed_title("filtered", filter_label(given, ctx, store.feed_labels()), settings)
    url = f"{settings.base_url}{request.url.path}"
    if request.url.query:
        url += "?" + request.url.query
    head = FeedHead(title, url, now)
    publisher = PUBLISHERS[extension]
    day = local_day(settings.timezone)
    zone = ZoneInfo(settings.timezone)
    if publisher.max_bytes is not None and not asked:
        body = feedrows.calendar_body(
            store,
            query,
            lambda horizon: publisher.frame(replace(head, horizon=horizon), settings),
            publisher.max_bytes,
            day,
        )
        return conditional_response(request, body, FEED_TYPES[extension])
    cap = query.limit if asked else feedrows.MAX_ITEMS
    rows, counted = feedrows.whole_days(store, query, fragment, cap, zone, day)
    fragments = [row.fragment for row in rows]
    if publisher.max_bytes is None:
        text = publisher.frame(replace(head, horizon=counted), settings).assemble(fragments)
        return conditional_response(request, text.encode(), FEED_TYPES[extension])
    # a calendar with a limit: the count's cut, and never past Google's 1 MB
    data, _ = cut_to_size(
        lambda horizon: publisher.frame(replace(head, horizon=horizon or counted), settings),
        publisher.max_bytes,
        day,
        fragments,
        [row.start_utc for row in rows],
    )
    return conditional_response(request, data, FEED_TYPES[extension])


@functools.lru_cache(maxsize=4)
def local_day(zone_name: str) -> Callable[[str], date]:
    """start_utc (UTC ISO) → the local date it falls on, for cutting by whole days."""
    zone = ZoneInfo(zone_name)

    def day(start_utc: str) -> date:
        return parse_iso(start_utc).astimezone(zone).date()

    return day


def filter_label(given: EventFilter, ctx: WebContext, labels: dict[str, str]) -> str:
    """ "Vimmerby, Hultsfred · Jazz": the filtered feed's name in a phone's calendar list."""
    names = {slugify(m): m for m in ctx.config.settings.municipalities}
    parts = []
    if given.municipality:
        parts.append(", ".join(names.get(slugify(m), m) for m in given.municipality))
    if given.category:
        parts.append(", ".join(labels.get(f"category/{slugify(c)}", c) for c in given.category))
    if given.organizer:
        parts.append(", ".join(ctx.source_names.get(o, o) for o in given.organizer))
    if given.q:
        parts.append(f"”{given.q}”")
    return " · ".join(parts) or "urval"


def _feed_responses(media_type: str) -> dict[int | str, dict[str, object]]:
    return {
        **ERRORS,
        200: {
            "description": (
                "The filtered events as a feed: a calendar cut only at 1 MB, RSS and JSON "
                "at limit or 5,000 events; any cut falls between whole days and the feed "
                "states the last day it holds"
            ),
            "content": {media_type: {"schema": {"type": "string"}}},
        },
    }


@router.get(
    "/events.ics",
    response_class=Response,
    responses=_feed_responses("text/calendar"),
    summary="The same filters as a calendar to subscribe to",
)
def events_ics(request: Request, ctx: Web, given: Filter) -> Response:
    return _feed(request, ctx, given, "ics")


@router.get(
    "/events.rss",
    response_class=Response,
    responses=_feed_responses("application/rss+xml"),
    summary="The same filters as RSS 2.0",
)
def events_rss(request: Request, ctx: Web, given: Filter) -> Response:
    return _feed(request, ctx, given, "rss")


class FeedJsonResponse(JSONResponse):
    """Only for the OpenAPI document: the body is assembled from stored items."""

    media_type = "application/feed+json"


@router.get(
    "/events.json",
    response_class=FeedJsonResponse,
    response_model=JsonFeed,
    responses=ERRORS_AS_JSON,
    summary="The same filters as JSON Feed 1.1",
)
def events_json(request: Request, ctx: Web, given: Filter) -> Response:
    return _feed(request, ctx, given, "json")


@router.get(
    "/events/{event_id}",
    response_model=EventItem,
    responses={
        301: {"description": "Merged into another event: Location names it"},
        404: {"model": ErrorBody, "description": "No such event"},
        410: {"model": ErrorBody, "description": "The event was removed"},
    },
    summary="One event",
)
def get_event(request: Request, ctx: Web, event_id: str) -> Response:
    store = ctx.stores.get()
    if not EVENT_ID.match(event_id):
        raise ApiError(404, "Det finns inget evenemang med det id:t.", "event_id")
    state = store.event_state(event_id)
    if state is None:
        raise ApiError(404, "Det finns inget evenemang med det id:t.", "event_id")
    if state.removed:
        successor = store.successor(event_id)
        if successor is not None:
            return RedirectResponse(f"/api/events/{successor}", status_code=301)
        raise ApiError(410, "Evenemanget är borttaget.", "event_id")
    return conditional_response(request, state.json_item.encode(), "application/json")


@router.get(
    "/changes",
    response_model=ChangesPage,
    responses=ERRORS,
    summary="What changed since a token: updated, removed and merged-away events",
)
def changes(
    request: Request,
    ctx: Web,
    since: Annotated[
        str | None,
        Query(max_length=40, description="next_since of the last answer; omit for everything"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CHANGES)] = MAX_CHANGES,
) -> Response:
    store = ctx.stores.get()
    after = 0
    if since:
        match = TOKEN.match(since)
        if match is None:
            raise ApiError(400, "Okänd token: använd next_since från förra svaret.", "since")
        after = int(match.group(1))
    latest = store.last_change()
    if after > latest:
        raise ApiError(
            400, "Token är nyare än kalendern (återställd databas?): hämta allt igen.", "since"
        )
    rows = store.changes_after(after, limit + 1, Fragment.JSON)
    page, more = rows[:limit], len(rows) > limit
    entries = []
    for row in page:
        if not row.removed:
            entries.append(
                f'{{"id":"{row.id}","change":"updated","successor":null,"event":{row.fragment}}}'
            )
            continue
        successor = store.successor(row.id)
        kind = "merged" if successor else "removed"
        entries.append(
            json.dumps({"id": row.id, "change": kind, "successor": successor, "event": None})
        )
    next_since = f"c{page[-1].seq}" if page else f"c{after}"
    body = (
        '{"changes":['
        + ",".join(entries)
        + f'],"next_since":"{next_since}","more":{"true" if more else "false"}}}'
    )
    return conditional_response(request, body.encode(), "application/json", "no-cache")


def _facet(ctx: WebContext, feed: str, name: str, upcoming: int) -> dict[str, object]:
    base = ctx.config.settings.base_url
    slug = feed.split("/", 1)[1]
    return {
        "slug": slug,
        "name": name,
        "upcoming": upcoming,
        "feeds": {ext: f"{base}/feeds/{quote(feed)}.{ext}" for ext in ("ics", "rss", "json")},
    }


@router.get(
    "/municipalities", response_model=list[Facet], summary="Municipalities, with upcoming events"
)
def municipalities(request: Request, ctx: Web) -> Response:
    moment = iso(clock.now())
    feeds = [(f"municipality/{slugify(m)}", m) for m in ctx.config.settings.municipalities]
    facets = [_facet(ctx, feed, name, ctx.upcoming(feed, moment)) for feed, name in feeds]
    return _json(request, facets)


@router.get("/categories", response_model=list[Facet], summary="Categories, with upcoming events")
def categories(request: Request, ctx: Web) -> Response:
    counts = ctx.category_counts(iso(clock.now()))
    facets = [_facet(ctx, feed, label, upcoming) for feed, label, upcoming in counts]
    return _json(request, facets)


@router.get("/sources", response_model=list[SourceStatus], summary="Every source and its health")
def sources(request: Request, ctx: Web) -> Response:
    store = ctx.stores.get()
    configured = set(ctx.source_names)
    paused = store.pause_reasons()
    rows = [
        {
            "id": s.id,
            "name": s.name,
            "status": s.status,
            "pause_reason": paused.get(s.id),
            "last_success": s.last_success_at,
            "events": s.events,
        }
        for s in store.public_sources()
        if s.id in configured
    ]
    return _json(request, rows)


def _json(request: Request, value: Sequence[object]) -> Response:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return conditional_response(request, body, "application/json")
