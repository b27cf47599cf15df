"""Fuzzy cross-source matching: which harvested events are the same real event.

The exact stage (``identity``) joins events that share a publisher UID. This module
finds the rest: the same concert from the theatre's calendar, its Facebook page and the
municipality's listing, each titled, timed and placed a little differently.

features (what is compared of each event) → blocking (which pairs are worth scoring) →
score (how alike, with vetoes) → cluster (guarded unions: A~B~C cannot chain A and C).

Pure functions over ``model.Event``: no I/O, no clock.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from aggregator.dedupe.blocking import AnchorCounts, candidate_pairs
from aggregator.dedupe.cluster import ScoredPair, cluster_pairs
from aggregator.dedupe.features import Features, TextMemo, event_features
from aggregator.dedupe.score import (
    MATCH,
    REVIEW,
    is_clear_non_match,
    score_features,
    worth_keeping,
)
from aggregator.model import Event


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Clusters of ≥ 2 event indices; the pairs that joined them; pairs for a moderator."""

    clusters: list[list[int]]
    merged: list[ScoredPair]
    review: list[ScoredPair]


def match_events(
    events: Sequence[Event],
    tz_name: str,
    *,
    must_link: Iterable[tuple[int, int]] = (),
    cannot_link: Iterable[tuple[int, int]] = (),
    common: AnchorCounts | None = None,
) -> MatchResult:
    """Find the events that are the same real event, and the pairs a human should decide.

    ``must_link`` pairs (a moderator's merge, a shared publisher UID) are joined first,
    whatever their scores; ``cannot_link`` pairs (a moderator's "keep apart") are clear
    non-matches, so no chain can pull them together either. ``common``: when ``events``
    are a batch of a larger set, that set's title anchor counts (see ``blocking``).
    """
    # Scoring makes millions of short-lived acyclic tuples; the collections they trigger
    # would rescan every event each time (about 20 % of the run), so hold the collector.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _match_events(events, tz_name, must_link, cannot_link, common)
    finally:
        if enabled:
            gc.enable()


def _without_reused_uids(features: list[Features]) -> list[Features]:
    """A UID that a source gives two of its own events is no identity ("1@" from a
    plugin's default): it neither blocks nor links pairs."""
    seen: dict[tuple[str, str], int] = {}
    for f in features:
        if f.uid:
            seen[(f.source, f.uid)] = seen.get((f.source, f.uid), 0) + 1
    reused = {uid for (_, uid), count in seen.items() if count > 1}
    if not reused:
        return features
    return [replace(f, uid="") if f.uid in reused else f for f in features]


def _match_events(
    events: Sequence[Event],
    tz_name: str,
    must_link: Iterable[tuple[int, int]],
    cannot_link: Iterable[tuple[int, int]],
    common: AnchorCounts | None,
) -> MatchResult:
    memo: TextMemo = {}  # this call's events share their texts' features
    features = _without_reused_uids([event_features(e, tz_name, memo) for e in events])
    del memo
    forbidden = {(min(i, j), max(i, j)) for i, j in cannot_link}
    forced = sorted({(min(i, j), max(i, j)) for i, j in must_link if i != j} - forbidden)
    kept = []
    for i, j in candidate_pairs(features, common):
        if (i, j) in forbidden or (j, i) in forbidden:
            continue
        score = worth_keeping(features[i], features[j])
        if score is not None and score.total >= REVIEW:
            kept.append((i, j, score))

    def non_match(i: int, j: int) -> bool:
        if (i, j) in forbidden:
            return True
        return is_clear_non_match(score_features(features[i], features[j]))

    sources = [f.source for f in features]
    found = cluster_pairs(len(events), kept, sources=sources, non_match=non_match, forced=forced)
    where = {i: c for c, members in enumerate(found.clusters) for i in members}
    uncertain = [(i, j, s) for i, j, s in kept if s.total < MATCH and not is_clear_non_match(s)]
    review = sorted(
        (
            (i, j, score)
            for i, j, score in uncertain + found.refused
            if where.get(i, -1 - i) != where.get(j, -1 - j)
        ),
        key=lambda r: (r[0], r[1]),
    )
    return MatchResult(clusters=found.clusters, merged=found.merged, review=review)
