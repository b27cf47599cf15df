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


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


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
    if len(value) == 10:
        return date.fromisoformat(value)
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
    return event_from_dict(json.loads(data))


def event_from_dict(d: dict[str, Any]) -> Event:
    start = _time_from_json(d["start"])
    assert start is not None
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
    body = json.loads(data)
    sources = tuple((s["id"], s["url"]) for s in body.pop("sources"))
    return event_from_dict({**body, "source_id": "", "key": event_id, "uid": ""}), sources
