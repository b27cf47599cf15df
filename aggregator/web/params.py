"""Query parameters of the event listings, checked and turned into a store query.

Times without an offset are local (the configured zone, Europe/Stockholm) and must
exist there: 02:30 on the last Sunday of March never happens and 02:30 on the last
Sunday of October happens twice, so both are refused rather than guessed.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aggregator.config import Config
from aggregator.normalize import slugify
from aggregator.store import SearchQuery, iso
from aggregator.store.search import MAX_CHARS
from aggregator.store.web_queries import EventQuery
from aggregator.web.errors import ApiError

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
EVENT_ID = re.compile(r"^[0-9a-f]{8,64}$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_QUERY = MAX_CHARS  # the store's one limit of a search text
MAX_VALUES = 20  # repeated parameters (municipality=…&municipality=…)


class Status(enum.StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class EventFilter:
    """The checked filters of a listing (the raw values the web was given)."""

    date_from: str | None = None
    date_to: str | None = None
    municipality: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    organizer: tuple[str, ...] = ()
    q: str | None = None
    status: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


def local_instant(value: str, field: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A ``from``/``to`` value as a UTC instant.

    A date is the start of that local day; as ``to`` it includes the whole day. A
    datetime with an offset is taken as given; without one it is local time.
    """
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ApiError(422, f"'{value}' är inget datum (ÅÅÅÅ-MM-DD).", field) from None
        if end:
            if day == date.max:
                raise ApiError(422, f"'{value}' ligger för långt fram.", field)
            day += timedelta(days=1)
        return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(
            422,
            f"'{value}' är varken ett datum (2026-12-24) eller en tidpunkt (2026-12-24T18:00).",
            field,
        ) from None
    if moment.tzinfo is not None:
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ApiError(422, f"'{value}' ligger utanför kalendern.", field) from None
    first, second = moment.replace(tzinfo=zone, fold=0), moment.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
            reason = "finns inte i svensk tid (klockan ställs fram)"
        else:
            reason = "inträffar två gånger i svensk tid (klockan ställs tillbaka)"
        raise ApiError(422, f"'{value}' {reason}; ange tiden med UTC-offset.", field)
    try:
        return first.astimezone(UTC)
    except OverflowError:
        raise ApiError(422, f"'{value}' ligger utanför kalendern.", field) from None


def encode_cursor(start_utc: str, event_id: str) -> str:
    raw = json.dumps([start_utc, event_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        start_utc, event_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise ApiError(
            400, "Okänd cursor: använd next_cursor från förra svaret.", "cursor"
        ) from None
    if not (
        isinstance(start_utc, str)
        and isinstance(event_id, str)
        and STAMP.match(start_utc)
        and EVENT_ID.match(event_id)
    ):
        raise ApiError(400, "Okänd cursor: använd next_cursor från förra svaret.", "cursor")
    return start_utc, event_id


def _slugs(values: tuple[str, ...], field: str) -> list[str]:
    if len(values) > MAX_VALUES:
        raise ApiError(422, f"Högst {MAX_VALUES} värden för {field}.", field)
    slugs = []
    for value in values:
        slug = value.strip().lower()
        if not SLUG.match(slug):
            slug = slugify(value)
        if not slug:
            raise ApiError(422, f"'{value}' är ingen giltig {field} (t.ex. 'vimmerby').", field)
        slugs.append(slug)
    return slugs


def store_query(
    given: EventFilter,
    config: Config,
    now: datetime,
    *,
    categories: Collection[str],
    default_from: datetime | None = None,
) -> EventQuery:
    """The store query for ``given``; ApiError (422/400) names the parameter at fault.
    ``categories``: the slugs of every category known (``WebContext.known_categories``);
    an unknown one is refused as an unknown municipality is, not answered with nothing."""
    zone = ZoneInfo(config.settings.timezone)
    if not 1 <= given.limit <= MAX_LIMIT:
        raise ApiError(422, f"limit måste vara 1–{MAX_LIMIT}.", "limit")
    start = (
        local_instant(given.date_from, "from", zone, end=False)
        if given.date_from
        else (default_from or now)
    )
    end = local_instant(given.date_to, "to", zone, end=True) if given.date_to else None
    if end is not None and end <= start:
        raise ApiError(422, "'to' måste ligga efter 'from'.", "to")
    municipalities = _slugs(given.municipality, "municipality")
    known = {slugify(m) for m in config.settings.municipalities}
    for slug in municipalities:
        if slug not in known:
            names = ", ".join(sorted(known))
            raise ApiError(422, f"Okänd kommun '{slug}'; kända: {names}.", "municipality")
    category_slugs = _slugs(given.category, "category")
    for slug in category_slugs:
        if slug not in categories:
            names = ", ".join(sorted(categories)) or "inga än"
            raise ApiError(422, f"Okänd kategori '{slug}'; kända: {names}.", "category")
    organizers = list(given.organizer)
    if len(organizers) > MAX_VALUES:
        raise ApiError(422, f"Högst {MAX_VALUES} värden för organizer.", "organizer")
    source_ids = {s.id for s in config.sources}
    for organizer in organizers:
        if organizer not in source_ids:
            raise ApiError(422, f"Ingen källa med id '{organizer}'.", "organizer")
    statuses = []
    for value in given.status:
        if value not in {s.value for s in Status}:
            raise ApiError(422, "status är confirmed, tentative eller cancelled.", "status")
        statuses.append(value)
    return EventQuery(
        ends_after=iso(start),
        starts_before=iso(end) if end is not None else None,
        municipalities=tuple(f"municipality/{s}" for s in municipalities),
        categories=tuple(f"category/{s}" for s in category_slugs),
        organizers=tuple(f"organizer/{o}" for o in organizers),
        statuses=tuple(statuses),
        search=search_query(given.q),
        after=decode_cursor(given.cursor) if given.cursor else None,
        limit=given.limit,
    )


def search_query(q: str | None) -> SearchQuery | None:
    """The store's full-text query for ``q`` (the one ``events list --q`` uses), or None."""
    if q is None or not q.strip():
        return None
    query = SearchQuery.parse(q)
    if query.problem is not None:
        raise ApiError(422, query.sentence(), "q")
    return query
