"""Identity and merging: which harvested events are the same event, and what it says.

Two stages. The exact stage gives every new member an event: the one its publisher
UID already belongs to (an iCal UID arriving from two sources is one event), the one
a re-keyed old self of it belonged to, or a new one. The fuzzy stage
(``matching.match_events`` over the days a harvest touched) then decides which
members are the same real event, and ``reconcile`` moves members between events so
that ids stay stable: the older id survives a join, a cluster keeps its id when a
member leaves.

Everything here is pure: the pipeline reads rows from the store, calls these
functions and writes their answers back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from aggregator.dedupe.matching import normalize_title
from aggregator.model import CANCELLED, Event
from aggregator.normalize import merge_categories, slugify
from aggregator.store import (
    EventRow,
    MatchMember,
    MemberRow,
    MergedUpdate,
    event_span,
    iso,
    merged_to_json,
)

REMOVED = "removed"  # content hash of an event with no active members


def event_id_for(source_id: str, key: str) -> str:
    """A new event's id: derived from its founding member, so rebuilds give the same ids."""
    return hashlib.blake2b(f"{source_id}\x00{key}".encode(), digest_size=8).hexdigest()


def decide_identities(
    unassigned: Sequence[tuple[str, str, str]], ids_by_uid: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """(source_id, key, event_id) for each unassigned member.

    Members sharing a UID, in this batch or with an existing event, get one id, except
    two members of one source: a producer that reuses a UID for two events is wrong, not
    telling us they are one.
    """
    by_uid: dict[str, str] = dict(ids_by_uid)
    sources_of: dict[str, set[str]] = {}
    assignments = []
    for source_id, key, uid in sorted(unassigned):
        event_id = by_uid.get(uid) if uid else None
        if event_id is not None and source_id in sources_of.get(uid, set()):
            event_id = None
        if event_id is None:
            event_id = event_id_for(source_id, key)
            if uid:
                by_uid.setdefault(uid, event_id)
        if uid:
            sources_of.setdefault(uid, set()).add(source_id)
        assignments.append((source_id, key, event_id))
    return assignments


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


def feeds_of(event: Event, source_ids: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(feed, label) for each feed besides ``all`` that an event belongs to."""
    feeds = []
    if event.place.municipality:
        feeds.append(
            (f"municipality/{slugify(event.place.municipality)}", event.place.municipality)
        )
    feeds.extend((f"category/{slugify(c)}", c) for c in event.categories if slugify(c))
    feeds.extend((f"organizer/{source_id}", source_id) for source_id in source_ids)
    return tuple(dict.fromkeys(feeds))


def merged_data(event: Event, sources: Sequence[tuple[str, str]]) -> str:
    """The published content of a merged event as canonical JSON (also its change detector)."""
    return merged_to_json(event, sources)


def refresh_event(row: EventRow, members: Sequence[MemberRow], now: datetime) -> MergedUpdate:
    """What an event looks like now; SEQUENCE rises only when its published content changed."""
    merged = merge_members(members)
    if merged is None and not row.content_hash:
        return MergedUpdate(id=row.id, changed=False)  # never published: nothing to take back
    if merged is None:
        return MergedUpdate(
            id=row.id,
            changed=not row.removed,
            removed=True,
            modified_at=iso(now),
            sequence=row.sequence + (1 if row.content_hash else 0),
            content_hash=REMOVED,
            created_at=row.created_at,
            start_utc="",
            end_utc="",
            status="removed",
            data="{}",
        )
    ranked = [m for m in rank_members(members) if not m.removed]
    sources = tuple((m.source_id, m.event.url) for m in ranked)
    data = merged_data(merged, sources)
    digest = hashlib.blake2b(data.encode(), digest_size=16).hexdigest()
    if digest == row.content_hash and not row.removed:
        return MergedUpdate(id=row.id, changed=False)
    start_utc, end_utc = event_span(merged)
    feeds = feeds_of(merged, [source_id for source_id, _ in sources])
    return MergedUpdate(
        created_at=row.created_at,
        event=merged,
        sources=sources,
        had_content=bool(row.content_hash),
        id=row.id,
        changed=True,
        removed=False,
        modified_at=iso(now),
        sequence=row.sequence + 1 if row.content_hash else 0,
        content_hash=digest,
        start_utc=start_utc,
        end_utc=end_utc,
        status=merged.status,
        data=data,
        feeds=tuple(feed for feed, _ in feeds),
        feed_labels=feeds,
    )


# -- identity across sources (fuzzy stage) and re-keyed events ---------------------------


def inherit_rekeyed(
    new: Sequence[MatchMember], removed: Sequence[MatchMember]
) -> dict[tuple[str, str], str]:
    """Event ids for new members that are a re-keyed old member of the same source.

    Some platforms change an event's UID when it is rescheduled (The Events Calendar
    builds it from post id + start + end) or on every fetch. A new member with the same
    URL as a just-removed one, or the same title and place with only the time moved,
    is that event: it keeps its published id instead of appearing beside a removed one.
    """
    by_source: dict[str, list[MatchMember]] = {}
    for old in removed:
        by_source.setdefault(old.source_id, []).append(old)
    inherited: dict[tuple[str, str], str] = {}
    used: set[tuple[str, str]] = set()
    for member in sorted(new, key=lambda m: m.ref):
        for old in by_source.get(member.source_id, []):
            if old.ref in used or old.event_id is None:
                continue
            if _same_event_rekeyed(member.event, old.event):
                inherited[member.ref] = old.event_id
                used.add(old.ref)
                break
    return inherited


def _same_event_rekeyed(new: Event, old: Event) -> bool:
    if new.url and new.url == old.url:
        return True
    return normalize_title(new.title) == normalize_title(old.title) != "" and (
        new.location_text or new.place.text
    ) == (old.location_text or old.place.text)


def reconcile(
    members: Sequence[MatchMember],
    clusters: Sequence[Sequence[int]],
    id_taken: Callable[[str], bool],
) -> list[tuple[str, str, str]]:
    """(source_id, key, event_id) for members whose event must change to fit ``clusters``.

    Each group (a cluster, or a member alone) keeps an id it already has: an old id goes
    to the group holding most of its members (then the one with the most trusted source),
    and a group holding several old ids keeps the oldest, so when two published events turn out to be one the older id survives
    and when a member leaves, the cluster keeps its id. Groups with no id left get a new one.
    """
    in_cluster = {i for c in clusters for i in c}
    groups = [list(c) for c in clusters] + [[i] for i in range(len(members)) if i not in in_cluster]
    holders: dict[str, list[int]] = {}
    for g, group in enumerate(groups):
        for i in group:
            event_id = members[i].event_id
            if event_id:
                holders.setdefault(event_id, []).append(g)
    age = {m.event_id: m.event_created_at for m in members if m.event_id}
    chosen: dict[int, str] = {}
    for event_id in sorted(holders, key=lambda e: (age.get(e) or "", e)):
        counts: dict[int, int] = {}
        for g in holders[event_id]:
            counts[g] = counts.get(g, 0) + 1
        candidates = [g for g in counts if g not in chosen]
        if not candidates:
            continue
        best = min(  # most of its members, then the most trusted source, then the oldest
            candidates,
            key=lambda g: (
                -counts[g],
                -max(members[i].priority for i in groups[g]),
                min(members[i].first_seen for i in groups[g]),
                g,
            ),
        )
        chosen[best] = event_id
    given = set(chosen.values())
    assignments = []
    for g, group in enumerate(groups):
        event_id = chosen.get(g)
        if event_id is None:
            founder = min((members[i] for i in group), key=lambda m: (m.first_seen, m.ref))
            event_id = _fresh_id(
                founder.source_id, founder.key, lambda e: e in given or id_taken(e)
            )
            given.add(event_id)
        for i in group:
            if members[i].event_id != event_id:
                assignments.append((members[i].source_id, members[i].key, event_id))
    return assignments


def _fresh_id(source_id: str, key: str, taken: Callable[[str], bool]) -> str:
    event_id = event_id_for(source_id, key)
    counter = 1
    while taken(event_id):
        event_id = event_id_for(source_id, f"{key}\x00{counter}")
        counter += 1
    return event_id
