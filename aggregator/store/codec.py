"""How the store writes events and instants as text: UTC ISO strings, event JSON, digests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from aggregator.model import Event, EventStatus, Place


def iso(value: datetime) -> str:
    """UTC as 2026-12-12T18:00:00Z (sortable as text)."""
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


class UnreadableValue(ValueError):
    """Text in the database that is not what the store writes: edited by hand, or
    damaged where SQLite's own checks do not look (inside a value). The store's wrapper
    turns it into a ``StoreError`` sentence, as it does for a damaged file."""


def parse_iso(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise UnreadableValue(f"{value!r} is not a time") from None


def checked_iso(value: str | None) -> str | None:
    """A stored instant kept as text for its readers, but checked here to be one, so a
    damaged value is the store's one sentence rather than a reader's traceback."""
    if value is not None:
        parse_iso(value)
    return value


def json_value(text: str) -> Any:
    """A JSON column (an event, a list of warnings) back, or ``UnreadableValue``."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise UnreadableValue(f"{_excerpt(text)} is not JSON") from None


def _excerpt(text: object, limit: int = 60) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def content_digest(data: str) -> str:
    return hashlib.blake2b(data.encode(), digest_size=16).hexdigest()


def event_span(event: Event) -> tuple[str, str]:
    """Sortable UTC start and end strings; all-day dates as midnight UTC."""
    start = _as_instant(event.start)
    end = _as_instant(event.end) if event.end is not None else start
    return iso(start), iso(max(start, end))


def _as_instant(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _time_to_json(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return iso(value)
    return value.isoformat()


def _time_from_json(value: str | None) -> datetime | date | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise UnreadableValue(f"{value!r} is not a date") from None
    return parse_iso(value)


def event_to_json(event: Event) -> str:
    return json.dumps(event_to_dict(event), ensure_ascii=False, separators=(",", ":"))


def event_to_dict(event: Event) -> dict[str, Any]:
    place = event.place
    return {
        "source_id": event.source_id,
        "key": event.key,
        "title": event.title,
        "start": _time_to_json(event.start),
        "end": _time_to_json(event.end),
        "all_day": event.all_day,
        "timezone": event.timezone,
        "status": event.status,
        "description": event.description,
        "description_html": event.description_html,
        "url": event.url,
        "place": [
            place.name,
            place.street,
            place.locality,
            place.municipality,
            place.latitude,
            place.longitude,
        ],
        "location_text": event.location_text,
        "categories": list(event.categories),
        "organizer_name": event.organizer_name,
        "organizer_url": event.organizer_url,
        "image": event.image,
        "uid": event.uid,
    }


def event_from_json(data: str) -> Event:
    return event_from_dict(json_value(data))


def event_from_dict(d: dict[str, Any]) -> Event:
    """The event back from its stored dict; ``UnreadableValue`` for one we did not write."""
    try:
        return _event_from_dict(d)
    except UnreadableValue:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise UnreadableValue(f"an event {_excerpt(d)} ({type(exc).__name__}: {exc})") from None


def _event_from_dict(d: dict[str, Any]) -> Event:
    start = _time_from_json(d["start"])
    if start is None:
        raise UnreadableValue(f"an event without a start {_excerpt(d)}")
    return Event(
        source_id=d["source_id"],
        key=d["key"],
        title=d["title"],
        start=start,
        end=_time_from_json(d["end"]),
        all_day=d["all_day"],
        timezone=d["timezone"],
        status=EventStatus(d["status"]),
        description=d["description"],
        description_html=d["description_html"],
        url=d["url"],
        place=Place(*d["place"]),
        location_text=d["location_text"],
        categories=tuple(d["categories"]),
        organizer_name=d["organizer_name"],
        organizer_url=d["organizer_url"],
        image=d["image"],
        uid=d["uid"],
    )


def merged_to_dict(event: Event, sources: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A merged event's published content (``events.data``): the event without its
    harvest identity, plus the sources it came from, most trusted first."""
    body = event_to_dict(event)
    for field in ("source_id", "key", "uid"):
        body.pop(field)
    body["sources"] = [{"id": source_id, "url": url} for source_id, url in sources]
    return body


def merged_to_json(event: Event, sources: Sequence[tuple[str, str]]) -> str:
    """Canonical text of ``merged_to_dict``: key order is fixed by ``event_to_dict``, so
    equal content gives equal text (and digest) without sort_keys."""
    return json.dumps(merged_to_dict(event, sources), ensure_ascii=False, separators=(",", ":"))


def merged_from_json(event_id: str, data: str) -> tuple[Event, tuple[tuple[str, str], ...]]:
    """The merged event and its sources back from ``events.data``."""
    body = json_value(data)
    try:
        sources = tuple((s["id"], s["url"]) for s in body.pop("sources"))
    except (AttributeError, KeyError, TypeError) as exc:
        raise UnreadableValue(f"merged event {event_id} ({type(exc).__name__}: {exc})") from None
    return event_from_dict({**body, "source_id": "", "key": event_id, "uid": ""}), sources
