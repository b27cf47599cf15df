"""Merging: what one event says when several sources describe it.

Each field comes from the most trusted source that has a value; the merged content is
canonical JSON whose digest tells whether subscribers must see a change (``SEQUENCE``
rises only then). Rendering the merged event into feeds is the publish stage's job.

Pure functions over typed rows: no I/O, no clock (``now`` is a parameter).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from aggregator.model import CANCELLED, Event
from aggregator.normalize import merge_categories
from aggregator.store import (
    EventContent,
    EventRow,
    MemberRow,
    MergedRecord,
    Revision,
    event_span,
    iso,
    merged_to_json,
)


@dataclass(frozen=True, slots=True)
class EventChange:
    """An event whose published content changed: the record to store and, unless it was
    removed, the merged event and its sources ((source id, url), most trusted first)."""

    record: MergedRecord
    event: Event | None
    sources: tuple[tuple[str, str], ...] = ()


def rank_members(members: Iterable[MemberRow]) -> list[MemberRow]:
    """Highest priority first; ties go to the member seen first, then by name for determinism."""
    return sorted(members, key=lambda m: (-m.priority, m.first_seen, m.source_id, m.key))


def merge_members(members: Sequence[MemberRow]) -> Event | None:
    """The merged event: each field from the highest-priority member that has a value."""
    active = rank_members(m for m in members if not m.removed)
    if not active:
        return None
    best = active[0].event
    if len(active) == 1:
        return best
    events = [m.event for m in active]

    def first(attribute: str) -> str:
        for event in events:
            value = getattr(event, attribute)
            if value:
                return value
        return ""

    place = best.place
    if not place.text:
        place = next((e.place for e in events if e.place.text), place)
    if not place.municipality:
        municipality = next((e.place.municipality for e in events if e.place.municipality), "")
        place = replace(place, municipality=municipality)
    if place.latitude is None:
        located = next((e.place for e in events if e.place.latitude is not None), None)
        if located is not None:
            place = replace(place, latitude=located.latitude, longitude=located.longitude)
    top_priority = active[0].priority
    cancelled = any(m.event.status == CANCELLED and m.priority >= top_priority for m in active)
    return replace(
        best,
        description=first("description"),
        description_html=first("description_html"),
        url=first("url"),
        image=first("image"),
        location_text=best.location_text or first("location_text"),
        organizer_url=first("organizer_url"),
        place=place,
        status=CANCELLED if cancelled else best.status,
        categories=merge_categories(*(e.categories for e in events)),
    )


def refresh_event(row: EventRow, members: Sequence[MemberRow], now: datetime) -> EventChange | None:
    """What an event looks like now, or None when its published content is unchanged.

    SEQUENCE rises only when the published content changed; an event that was never
    published and has no member left has nothing to take back.
    """
    merged = merge_members(members)
    if merged is None:
        if not row.content_hash or row.removed:
            return None
        revision = Revision(row.created_at, iso(now), row.sequence + 1)
        return EventChange(MergedRecord(row.id, revision, None, was_published=True), None)
    ranked = [m for m in rank_members(members) if not m.removed]
    sources = tuple((m.source_id, m.event.url) for m in ranked)
    data = merged_to_json(merged, sources)  # canonical: also the change detector
    digest = hashlib.blake2b(data.encode(), digest_size=16).hexdigest()
    if digest == row.content_hash and not row.removed:
        return None
    start_utc, end_utc = event_span(merged)
    content = EventContent(data, digest, start_utc, end_utc, merged.status)
    revision = Revision(row.created_at, iso(now), row.sequence + 1 if row.content_hash else 0)
    record = MergedRecord(row.id, revision, content, was_published=bool(row.content_hash))
    return EventChange(record, merged, sources)
