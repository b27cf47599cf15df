"""The dedupe stage over the store: identity → candidates → score → clusters → merge.

``update_events`` is the stage's one entry point: it gives new source events an event
(exact stage), re-matches the days harvests touched (fuzzy stage), then re-merges every
event whose members changed and stores what changed. It hands those changes, a chunk at
a time, to ``on_changes`` so the publish stage can render them; it renders nothing itself.

Memory follows a batch of days, not the calendar: the touched days are matched in
batches of at most ``MATCH_BATCH`` members (a first run touches every day of the
season), and events are merged ``MERGE_CHUNK`` at a time, each chunk released before
the next is read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import combinations

from aggregator.dedupe import identity
from aggregator.dedupe.blocking import AnchorCounts, count_anchors
from aggregator.dedupe.features import title_tokens
from aggregator.dedupe.matching import match_events
from aggregator.dedupe.merge import EventChange, refresh_event
from aggregator.dedupe.score import FORCED, score_pair
from aggregator.model import MatchDecision, OverrideKind
from aggregator.store import (
    Assignment,
    EventRow,
    MatchMember,
    MatchPair,
    MemberRef,
    Override,
    Store,
    iso,
)

log = logging.getLogger("aggregator")

REKEY_WINDOW = timedelta(days=1)  # how recently a re-keyed event's old self must have vanished
MERGE_CHUNK = 5000  # events merged (and their members held in memory) per store round trip
# Members (a batch of touched days with a day either side) matched at once: matching
# holds every member's event, features and candidate pairs, ~5 kB each, so ~30 MB.
# A day that alone has more members is matched whole.
MATCH_BATCH = 6000


def update_events(
    store: Store,
    tz_name: str,
    now: datetime,
    on_changes: Callable[[Sequence[EventChange]], object] = lambda changes: None,
) -> int:
    """Identity for new members, fuzzy matching on the touched days, then re-merge every
    event whose members changed. ``on_changes`` gets the events whose published content
    changed, one merge chunk at a time; returns how many there were."""
    assign_new_members(store, now)
    match_dirty_days(store, tz_name, now)
    dirty = store.dirty_event_ids()
    count = 0
    for start in range(0, len(dirty), MERGE_CHUNK):
        chunk = dirty[start : start + MERGE_CHUNK]
        rows = store.event_rows(chunk)
        members = store.members_of(chunk)
        unchanged = []
        found = []
        for event_id in chunk:
            # a new event: its row is written with its first merge
            row = rows.get(event_id) or EventRow(event_id, iso(now), iso(now), 0, "", False)
            change = refresh_event(row, members[event_id], now)
            if change is None:
                unchanged.append(event_id)
            else:
                found.append(change)
        del rows, members
        store.save_merged([c.record for c in found], unchanged, now)
        on_changes(found)
        count += len(found)
    return count


def assign_new_members(store: Store, now: datetime) -> None:
    """Exact stage: a re-keyed old self → its event; else a new one (see ``new_identities``)."""
    unassigned = store.unassigned_members()
    if not unassigned:
        return
    inherited: dict[MemberRef, str] = {}
    removed = store.recently_removed({s for s, _ in unassigned}, now - REKEY_WINDOW)
    if removed:
        rekeyable = {m.source_id for m in removed}
        refs = [(s, k) for s, k in unassigned if s in rekeyable]
        events = store.member_events(refs)
        new = [MatchMember(s, k, None, "", "", events[(s, k)]) for s, k in refs if (s, k) in events]
        inherited = identity.inherit_rekeyed(new, removed)
    assignments = identity.new_identities([r for r in unassigned if r not in inherited])
    assignments += [Assignment(s, k, event_id) for (s, k), event_id in sorted(inherited.items())]
    store.assign_members(assignments, moving=False)


def match_dirty_days(store: Store, tz_name: str, now: datetime) -> None:
    """Fuzzy stage, incremental: re-match only the days harvests touched (± a day, so the
    venue's local date is covered whatever the UTC offset), a batch of days at a time."""
    days = store.dirty_days()
    if not days:
        return
    overrides = store.overrides()
    batches = day_batches(days, store.active_members_per_day(), MATCH_BATCH)
    common = calendar_anchors(store, batches) if len(batches) > 1 else None
    for batch in batches:
        match_days(store, tz_name, batch, overrides, now, common)


def calendar_anchors(store: Store, batches: Sequence[Sequence[str]]) -> AnchorCounts:
    """The title anchors of every member the batches will match, each counted once (a
    batch at a time): so each batch judges which words are common as matching all the
    days at once would, and finds the same candidate pairs."""
    counts: dict[str, int] = {}
    events = 0
    counted_to = ""  # the batches' windows overlap: count a member in the first only
    for batch in batches:
        ranges = day_ranges(batch)
        members = store.members_starting_between(ranges_from(ranges, counted_to))
        events += count_anchors((title_tokens(m.event) for m in members), counts)
        counted_to = ranges[-1][1]
        del members
    return AnchorCounts(counts, events)


def ranges_from(ranges: Sequence[tuple[str, str]], start: str) -> list[tuple[str, str]]:
    """The part of sorted [from, to) ``ranges`` at or after ``start``: the members an
    earlier batch counted are neither read nor decoded again."""
    return [(max(low, start), high) for low, high in ranges if high > start]


def match_days(
    store: Store,
    tz_name: str,
    days: Sequence[str],
    overrides: Sequence[Override],
    now: datetime,
    common: AnchorCounts | None = None,
) -> None:
    """Re-match the members starting on ``days`` (± a day), move members between events to
    fit the clusters found, remember the pairs' scores, and mark the days matched."""
    members = store.members_starting_between(day_ranges(days))
    index = {m.ref: i for i, m in enumerate(members)}
    must_link: list[tuple[int, int]] = []
    cannot_link: list[tuple[int, int]] = []
    for override in overrides:
        if override.a in index and override.b in index:
            pair = (index[override.a], index[override.b])
            (must_link if override.kind is OverrideKind.MERGE else cannot_link).append(pair)
    must_link += _decisive_uid_pairs(members, tz_name)
    result = match_events(
        [m.event for m in members],
        tz_name,
        must_link=must_link,
        cannot_link=cannot_link,
        common=common,
    )
    current = {m.event_id for m in members if m.event_id}
    assignments = identity.reconcile(
        members, result.clusters, lambda event_id: event_id in current or store.id_in_use(event_id)
    )
    if assignments:
        store.assign_members(assignments)
    pairs = []
    for decision, found in (
        (MatchDecision.MERGED, result.merged),
        (MatchDecision.REVIEW, result.review),
    ):
        for i, j, score in found:
            reason = score.reason
            if score is FORCED:  # record what the pair really scores, and why it joined
                score = score_pair(members[i].event, members[j].event, tz_name)
                reason = f"joined by a moderator or a shared UID; {score.reason}"
            a, b = members[i].ref, members[j].ref
            pairs.append(MatchPair(*a, *b, decision, score.total, reason))
    store.save_match_pairs([m.ref for m in members], pairs, now)
    store.clear_dirty_days(days)
    if assignments:
        log.info("matching: %d members moved between events", len(assignments))


def day_batches(days: Sequence[str], per_day: Mapping[str, int], limit: int) -> list[list[str]]:
    """The touched days (UTC dates) in batches of consecutive ones whose members, with the
    day either side that ``day_ranges`` adds, number at most ``limit``; a day that alone
    has more is a batch of its own. Batches overlap by the days around their edges, so a
    pair across an edge is scored in both and the later batch's clusters decide."""
    batches: list[list[str]] = []
    batch: list[str] = []
    window: set[str] = set()
    load = 0
    for day in sorted(days):
        around = {_shifted(day, -1), day, _shifted(day, 1)}
        more = sum(per_day.get(d, 0) for d in around - window)
        if batch and load + more > limit:
            batches.append(batch)
            batch, window, load = [], set(), 0
            more = sum(per_day.get(d, 0) for d in around)
        batch.append(day)
        window |= around
        load += more
    if batch:
        batches.append(batch)
    return batches


def _shifted(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def _decisive_uid_pairs(members: Sequence[MatchMember], tz_name: str) -> list[tuple[int, int]]:
    """Members of different sources sharing a publisher UID whose time and place agree:
    one event, whatever else the matcher would say about the pair. A UID a source gives
    two of its own events is no identity at all and joins nothing."""
    by_uid: dict[str, dict[str, list[int]]] = {}
    for i, member in enumerate(members):
        if member.event.uid:
            by_uid.setdefault(member.event.uid, {}).setdefault(member.source_id, []).append(i)
    pairs = []
    for by_source in by_uid.values():
        single = [found[0] for found in by_source.values() if len(found) == 1]
        for i, j in combinations(single, 2):
            if score_pair(members[i].event, members[j].event, tz_name).link_decides:
                pairs.append((min(i, j), max(i, j)))
    return pairs


def day_ranges(days: Sequence[str]) -> list[tuple[str, str]]:
    """[from, to) UTC ranges covering each day with a day on either side, merged."""
    ranges: list[tuple[str, str]] = []
    for day in sorted(days):
        start = date.fromisoformat(day) - timedelta(days=1)
        end = date.fromisoformat(day) + timedelta(days=2)
        low, high = f"{start.isoformat()}T00:00:00Z", f"{end.isoformat()}T00:00:00Z"
        if ranges and low <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], high))
        else:
            ranges.append((low, high))
    return ranges
