"""Fuzzy cross-source matching: which harvested events are the same real event.

The exact stage in ``dedupe.py`` joins events that share a publisher UID. This module
finds the rest: the same concert from the theatre's calendar, its Facebook page and the
municipality's listing, each titled, timed and placed a little differently.

Wrongly merging two real events hides one of them, which is worse than a duplicate, so
every rule leans towards "not the same": a clear conflict on time, place or title vetoes
a match, the uncertain middle band goes to a human (``REVIEW`` ≤ total < ``MATCH``), and
clusters refuse any union that would put two clear non-matches (or two events of one
source) together, so A~B~C cannot chain A and C.

What is compared of each event (title key, place, local day, URL) is extracted in
``matching_features``; this module scores pairs, blocks and clusters.

Pure functions over ``model.Event``: no I/O, no clock.
"""

from __future__ import annotations

import gc
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from rapidfuzz import fuzz

from aggregator.dedupe.cluster import join_matches
from aggregator.dedupe.features import (
    _REGIONS,
    _areas_meet,
    _Features,
    _features,
    _region,
    _seat_compatible,
)
from aggregator.dedupe.features import local_day as local_day  # re-exported
from aggregator.dedupe.features import normalize_title as normalize_title  # re-exported
from aggregator.model import Event

MATCH = 0.80  # total at or above: merged
REVIEW = 0.55  # total at or above (and below MATCH): listed for a moderator
MAX_GAP_MINUTES = 45  # timed events further apart are different shows (14:00 vs 19:00)
TITLE_CONFLICT = 0.5  # titles this different at one time and place are two events
FAR_KM = 20.0  # coordinates this far apart are two places
VENUE_CONFLICT = 0.5  # venue names this different in one town are two places
COMMON_SHARE = 0.01  # title anchors held by more of the events are too common to block on
COMMON_MIN = 200  # ... but only in catalogues big enough for that to matter


@dataclass(frozen=True, slots=True)
class PairScore:
    """Why two events are (not) the same: component scores in [0, 1] and decisive flags.

    ``total`` is title × time × place, so one weak component cannot be outvoted by two
    strong ones; a conflict makes it 0; a shared URL or UID lifts it to a match unless
    something conflicts.
    """

    time: float
    title: float
    place: float
    total: float
    same_url: bool = False
    same_uid: bool = False
    time_conflict: bool = False
    place_conflict: bool = False
    title_conflict: bool = False
    minutes: int | None = None  # start difference for two timed events
    notes: tuple[str, ...] = field(default=())

    @property
    def decisive(self) -> bool:
        return self.same_url or self.same_uid

    @property
    def decision(self) -> str:
        if is_clear_non_match(self) or self.total < REVIEW:
            return "different"
        return "match" if self.total >= MATCH else "review"

    @property
    def reason(self) -> str:
        """One line for `aggregator events show` and the review queue."""
        parts = [f"title {self.title:.2f}", f"time {self.time:.2f}", f"place {self.place:.2f}"]
        if self.minutes is not None:
            parts[1] += f" ({self.minutes} min apart)"
        flags = [
            name
            for name, on in (
                ("same URL", self.same_url),
                ("same UID", self.same_uid),
                ("times conflict", self.time_conflict),
                ("places conflict", self.place_conflict),
                ("titles conflict", self.title_conflict),
            )
            if on
        ]
        return f"{self.decision} {self.total:.2f}: " + ", ".join(parts + flags + list(self.notes))


def is_clear_non_match(score: PairScore) -> bool:
    """Two events that must never share a cluster, whatever joins them indirectly."""
    return score.time_conflict or score.place_conflict or score.title_conflict


def _time(a: _Features, b: _Features) -> tuple[float, bool, int | None]:
    """(score, conflict, minutes apart)."""
    if a.all_day and b.all_day:
        return (1.0, False, None) if a.day == b.day else (0.0, True, None)
    if a.all_day or b.all_day:
        whole, timed = (a, b) if a.all_day else (b, a)
        if whole.day == timed.day:
            return 0.9, False, None  # one source gives only the date
        if timed.near_day is not None and whole.day == timed.near_day < timed.day:
            return 0.75, False, None  # 00:30 local dated by its UTC instant (the day before)
        return 0.0, True, None
    minutes = round(abs(a.instant - b.instant) / 60)
    if minutes > MAX_GAP_MINUTES:
        return 0.0, True, minutes
    if minutes == 0:
        return 1.0, False, 0
    if minutes <= 15:
        return 0.97, False, minutes
    if minutes <= 30:
        return 0.93, False, minutes  # doors vs start, rounded times
    return 0.75, False, minutes


def _km(a: _Features, b: _Features) -> float:
    assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
    dy = (a.lat - b.lat) * 111.2
    dx = (a.lon - b.lon) * 111.2 * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot(dx, dy)


def _place(a: _Features, b: _Features) -> tuple[float, bool, str]:
    """(score, conflict, note). Unknown places are neutral-ish, never a reason to merge."""
    distance = None
    if a.lat is not None and b.lat is not None:
        distance = _km(a, b)
        if distance > FAR_KM:
            return 0.0, True, "far apart"
        if distance <= 0.25:
            return 1.0, False, "same coordinates"
    if a.localities and b.localities:
        if a.localities & b.localities:
            locality = "same"
        elif _seat_compatible(a.localities, b.localities):
            locality = "coarse"
        else:
            return 0.0, True, "different localities"
    else:
        locality = "unknown"
        if a.municipality and b.municipality and a.municipality != b.municipality:
            return 0.5, False, "different municipalities"
    if a.venue and b.venue:
        similarity = 1.0 if a.venue == b.venue else _venue_similarity(a.venue, b.venue)
        if similarity < VENUE_CONFLICT and locality == "same" and distance is None:
            return 0.0, True, "different venues"  # "Stora torget" vs "Folkets park"
        venue = "same" if similarity >= 0.85 else "similar" if similarity >= 0.6 else "different"
    else:
        venue = "unknown"
    score = _PLACE_TABLE[locality][venue]
    if distance is not None and distance > 5 and venue != "same":
        score *= 0.8
    return score, False, f"{locality} locality, {venue} venue"


@lru_cache(maxsize=1 << 16)
def _venue_similarity(x: str, y: str) -> float:
    """Generous on purpose: a low value vetoes a match ("museet" ⊂ "döderhultarmuseet")."""
    best = max(fuzz.token_set_ratio(x, y), fuzz.ratio(x, y))
    if min(len(x), len(y)) >= 4:
        best = max(best, fuzz.partial_ratio(x, y))
    return best / 100


_PLACE_TABLE = {
    "same": {"same": 1.0, "similar": 0.9, "unknown": 0.95, "different": 0.6},
    "unknown": {"same": 0.95, "similar": 0.85, "unknown": 0.9, "different": 0.55},
    "coarse": {"same": 0.7, "similar": 0.65, "unknown": 0.7, "different": 0.5},
}


def _title(a: _Features, b: _Features) -> float:
    """Similarity of title keys; subsets count ("Pippi på cirkus" ⊂ "Pippi Långstrump …")."""
    if a.key == b.key:
        return 1.0
    if a.tokens <= b.tokens or b.tokens <= a.tokens:
        small, big = sorted((len(a.tokens), len(b.tokens)))
        return 0.85 if small == 1 and big >= 3 else 1.0  # one word of a long title is weak
    return _key_similarity(a.key, b.key) if a.key < b.key else _key_similarity(b.key, a.key)


@lru_cache(maxsize=1 << 18)
def _key_similarity(x: str, y: str) -> float:
    shorter = min(len(x), len(y))
    ratio = fuzz.ratio(x, y)
    if shorter < 6:
        # "quiz"/"jazz" are close by accident; only a one-letter slip ("lopis") counts
        return ratio / 100 if ratio >= 90 else ratio * 0.8 / 100
    best = max(ratio, fuzz.token_set_ratio(x, y))
    if best < 90 and shorter >= 10:
        best = max(best, 0.9 * fuzz.partial_ratio(x, y))
    return best / 100


def _worth_keeping(a: _Features, b: _Features) -> PairScore | None:
    """The score if it reaches REVIEW, else None; cheap checks first (most pairs fail)."""
    time, time_conflict, _ = _time(a, b)
    if time_conflict:
        return None
    place, place_conflict, _ = _place(a, b)
    if place_conflict:
        return None
    linked = (a.url and a.url == b.url) or (a.uid and a.uid == b.uid)
    if not linked and _title(a, b) * time * place < REVIEW:
        return None
    return _score(a, b)


def _score(a: _Features, b: _Features) -> PairScore:
    time, time_conflict, minutes = _time(a, b)
    place, place_conflict, note = _place(a, b)
    same_url = bool(a.url) and a.url == b.url
    same_uid = bool(a.uid) and a.uid == b.uid
    title = _title(a, b)
    linked = same_url or same_uid
    title_conflict = title < TITLE_CONFLICT and not linked
    total = 0.0 if time_conflict or place_conflict or title_conflict else title * time * place
    if linked and total > 0 and time >= 0.9:
        total = max(total, 0.95)  # not across a time gap: series pages share one URL
    return PairScore(
        time, title, place, round(total, 4), same_url, same_uid, time_conflict,
        place_conflict, title_conflict, minutes, (note,),
    )  # fmt: skip


def score_pair(a: Event, b: Event, tz_name: str = "Europe/Stockholm") -> PairScore:
    """How alike two events are, with every component computed (for explanations)."""
    return _score(_features(a, tz_name), _features(b, tz_name))


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


def _block_keys(features: Sequence[_Features]) -> list[set[str]]:
    """Each event's blocking keys: its title anchors, URL and UID.

    Anchors held by more than ``COMMON_SHARE`` of all events ("konsert" in a big
    catalogue) are left out for events that have rarer ones: duplicates share their rare
    words too, and common anchors would make the pair count grow with the square of the
    events per day. Below ``COMMON_MIN`` events nothing counts as common.
    """
    anchors = [_anchors(f.tokens) for f in features]
    counts: dict[str, int] = defaultdict(int)
    for found in anchors:
        for anchor in found:
            counts[anchor] += 1
    limit = max(COMMON_MIN, COMMON_SHARE * len(features))
    keys = []
    for f, found in zip(features, anchors, strict=True):
        rare = {a for a in found if counts[a] <= limit} or found
        if f.url:
            rare.add("u" + f.url)
        if f.uid:
            rare.add("i" + f.uid)
        keys.append(rare)
    return keys


def _candidate_pairs(features: Sequence[_Features]) -> Iterator[tuple[int, int]]:
    by_day: dict[date, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    event_keys = _block_keys(features)
    for index in sorted(range(len(features)), key=lambda i: features[i].instant):
        f = features[index]
        # a block per municipality too: villages of different ones never match, and an
        # event whose town is unknown joins every municipality's block
        regions = _REGIONS if not f.area else (_region(f.area),)
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
                        a.area != b.area and not _areas_meet(a.area, b.area)
                    ):
                        continue
                    if earlier in (a.day, a.near_day) and earlier in (b.day, b.near_day):
                        continue  # both belong to the day before too: emitted there
                    yield pair


def candidate_pairs(events: Sequence[Event], tz_name: str) -> Iterator[tuple[int, int]]:
    """Index pairs worth scoring, each once, never two of one source.

    Blocks by the venue's local day (near-midnight events also by the neighbouring day).
    Within a day it pairs only events sharing a (not too common) title word end, URL or
    UID; timed events
    only within ``MAX_GAP_MINUTES``, and events placed in towns that conflict never: both
    are clear non-matches anyway, so skipping them loses nothing.
    """
    return _candidate_pairs([_features(e, tz_name) for e in events])


def _cluster(
    n: int,
    pairs: Iterable[tuple[int, int, PairScore]],
    sources: Sequence[str] | None,
    non_match: Callable[[int, int], bool] | None,
    forced: Sequence[tuple[int, int]] = (),
) -> tuple[list[list[int]], list[tuple[int, int, PairScore]], list[tuple[int, int, PairScore]]]:
    """(clusters, merged pairs, match pairs refused by a guard); ``forced`` pairs join first."""
    known_conflicts: set[tuple[int, int]] = set()
    matches: list[tuple[int, int, PairScore]] = []
    for i, j, score in pairs:
        i, j = min(i, j), max(i, j)
        if is_clear_non_match(score):
            known_conflicts.add((i, j))
        elif score.total >= MATCH:
            matches.append((i, j, score))
    return join_matches(n, matches, known_conflicts, sources, non_match, forced, FORCED)


def cluster(
    n: int,
    pairs: Iterable[tuple[int, int, PairScore]],
    *,
    sources: Sequence[str] | None = None,
    non_match: Callable[[int, int], bool] | None = None,
) -> list[list[int]]:
    """Clusters (lists of ≥ 2 indices) from scored pairs, best match first.

    A union is refused when it would join two events of one source (``sources``) or two
    events that are each other's clear non-match: known from ``pairs`` or, for pairs
    never scored, asked of ``non_match(i, j)``.
    """
    return _cluster(n, pairs, sources, non_match)[0]


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Clusters of ≥ 2 event indices; the pairs that joined them; pairs for a moderator."""

    clusters: list[list[int]]
    merged: list[tuple[int, int, PairScore]]
    review: list[tuple[int, int, PairScore]]


FORCED = PairScore(
    time=1.0, title=1.0, place=1.0, total=1.0, notes=("joined by a moderator or a shared UID",)
)


def match_events(
    events: Sequence[Event],
    tz_name: str,
    *,
    must_link: Iterable[tuple[int, int]] = (),
    cannot_link: Iterable[tuple[int, int]] = (),
) -> MatchResult:
    """Find the events that are the same real event, and the pairs a human should decide.

    ``must_link`` pairs (a moderator's merge, a shared publisher UID) are joined first,
    whatever their scores; ``cannot_link`` pairs (a moderator's "keep apart") are clear
    non-matches, so no chain can pull them together either.
    """
    # Scoring makes millions of short-lived acyclic tuples; the collections they trigger
    # would rescan every event each time (about 20 % of the run), so hold the collector.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _match_events(events, tz_name, must_link, cannot_link)
    finally:
        if enabled:
            gc.enable()


def _match_events(
    events: Sequence[Event],
    tz_name: str,
    must_link: Iterable[tuple[int, int]],
    cannot_link: Iterable[tuple[int, int]],
) -> MatchResult:
    features = [_features(e, tz_name) for e in events]
    forbidden = {(min(i, j), max(i, j)) for i, j in cannot_link}
    forced = sorted({(min(i, j), max(i, j)) for i, j in must_link if i != j} - forbidden)
    kept = []
    for i, j in _candidate_pairs(features):
        if (i, j) in forbidden or (j, i) in forbidden:
            continue
        score = _worth_keeping(features[i], features[j])
        if score is not None and score.total >= REVIEW:
            kept.append((i, j, score))

    def non_match(i: int, j: int) -> bool:
        if (i, j) in forbidden:
            return True
        return is_clear_non_match(_score(features[i], features[j]))

    sources = [f.source for f in features]
    clusters, merged, refused = _cluster(len(events), kept, sources, non_match, forced)
    where = {i: c for c, members in enumerate(clusters) for i in members}
    uncertain = [(i, j, s) for i, j, s in kept if s.total < MATCH and not is_clear_non_match(s)]
    review = sorted(
        (
            (i, j, score)
            for i, j, score in uncertain + refused
            if where.get(i, -1 - i) != where.get(j, -1 - j)
        ),
        key=lambda r: (r[0], r[1]),
    )
    return MatchResult(clusters=clusters, merged=merged, review=review)
