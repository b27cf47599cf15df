"""Candidate pairs: which events are worth scoring at all.

Scoring every pair of a 100k-event season is out of reach; a duplicate shares its local
day (near-midnight events also the neighbouring one), a rare title word end, URL or UID,
and a municipality with the event it duplicates, so only such events are paired.

Pure functions over ``Features``: no I/O, no clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from aggregator.dedupe.features import REGIONS, Features, areas_meet, region_of
from aggregator.dedupe.score import MAX_GAP_MINUTES

COMMON_SHARE = 0.01  # title anchors held by more of the events are too common to block on
COMMON_MIN = 200  # ... but only in catalogues big enough for that to matter


def _anchors(tokens: frozenset[str]) -> set[str]:
    """Title word prefixes and suffixes: a duplicate's title shares at least one.

    Both ends of a long word survive a typo in the other end and compound splits
    ("jul konsert" / "julkonsert" share "sert"); short words key on three letters.
    """
    keys = set()
    for t in tokens:
        if len(t) <= 7:
            keys.add("p" + t[:3])  # "lopis"/"loppis"/"lopppis"
        if len(t) >= 6:
            keys.update(("p" + t[:4], "s" + t[-4:]))
    return keys


@dataclass(frozen=True, slots=True)
class AnchorCounts:
    """How many of ``events`` events hold each title anchor: what "common" is judged by."""

    counts: Mapping[str, int]
    events: int


def count_anchors(tokens: Iterable[frozenset[str]], into: dict[str, int] | None = None) -> int:
    """Add each event's title anchors (from its ``Features.tokens``) to ``into``; returns
    how many events were counted. The matcher counts a whole calendar this way, a batch
    of days at a time."""
    counts = into if into is not None else {}
    events = 0
    for found in tokens:
        events += 1
        for anchor in _anchors(found):
            counts[anchor] = counts.get(anchor, 0) + 1
    return events


def _block_keys(features: Sequence[Features], common: AnchorCounts | None = None) -> list[set[str]]:
    """Each event's blocking keys: its title anchors, URL and UID.

    Anchors held by more than ``COMMON_SHARE`` of all events ("konsert" in a big
    catalogue) are left out for events that have rarer ones: duplicates share their rare
    words too, and common anchors would make the pair count grow with the square of the
    events per day. Below ``COMMON_MIN`` events nothing counts as common. ``common``:
    judge by these counts (the whole calendar these events are a batch of) instead.
    """
    anchors = [_anchors(f.tokens) for f in features]
    if common is None:
        local: dict[str, int] = defaultdict(int)
        for found in anchors:
            for anchor in found:
                local[anchor] += 1
        common = AnchorCounts(local, len(features))
    counts = common.counts
    limit = max(COMMON_MIN, COMMON_SHARE * common.events)
    keys = []
    for f, found in zip(features, anchors, strict=True):
        rare = {a for a in found if counts.get(a, 0) <= limit} or found
        if f.url:
            rare.add("u" + f.url)
        if f.uid:
            rare.add("i" + f.uid)
        keys.append(rare)
    return keys


def candidate_pairs(
    features: Sequence[Features], common: AnchorCounts | None = None
) -> Iterator[tuple[int, int]]:
    """Index pairs worth scoring, each once, never two of one source.

    Blocks by the venue's local day (near-midnight events also by the neighbouring day).
    Within a day it pairs only events sharing a (not too common) title word end, URL or
    UID; timed events only within ``MAX_GAP_MINUTES``, and events placed in towns that
    conflict never: both are clear non-matches anyway, so skipping them loses nothing.
    """
    by_day: dict[date, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    event_keys = _block_keys(features, common)
    for index in sorted(range(len(features)), key=lambda i: features[i].instant):
        f = features[index]
        # a block per municipality too: villages of different ones never match, and an
        # event whose town is unknown joins every municipality's block
        regions = REGIONS if not f.area else (region_of(f.area),)
        keys = [f"{key}@{region}" for key in event_keys[index] for region in regions]
        for day in (f.day, f.near_day):
            if day is not None:
                block = by_day[day]
                for key in keys:
                    block[key].append(index)  # so every block is sorted by start
    gap = MAX_GAP_MINUTES * 60
    for day in sorted(by_day):
        earlier = day - timedelta(days=1)
        seen: set[tuple[int, int]] = set()
        for members in by_day.pop(day).values():
            if len(members) < 2:
                continue
            for position, i in enumerate(members):
                a = features[i]
                if a.all_day:
                    others = [j for j in members if j != i]
                else:
                    others = []
                    limit = a.instant + gap
                    for j in members[position + 1 :]:
                        if features[j].instant > limit:
                            break  # all-day events sort first (local midnight)
                        others.append(j)
                for j in others:
                    pair = (i, j) if i < j else (j, i)
                    if pair in seen:
                        continue
                    seen.add(pair)
                    b = features[j]
                    if a.source == b.source or (
                        a.area != b.area and not areas_meet(a.area, b.area)
                    ):
                        continue
                    if earlier in (a.day, a.near_day) and earlier in (b.day, b.near_day):
                        continue  # both belong to the day before too: emitted there
                    yield pair
