"""Guarded clustering of matched event pairs: which matches may actually be joined.

``score`` sorts candidate pairs into matches and clear non-matches; this module turns
the matches into clusters without ever letting a chain of good matches
(A~B~C) join two events that must stay apart: two of one source, a known clear
non-match, or a pair the caller's ``non_match`` judges so when asked. An event matching
two mutually exclusive events about equally well is left to a human (``AMBIGUITY_MARGIN``).

Pure functions over indices and scores: no I/O, no clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from aggregator.dedupe.score import FORCED, MATCH, PairScore, is_clear_non_match

AMBIGUITY_MARGIN = 0.05  # an event matching two incompatible events this evenly is unclear

ScoredPair = tuple[int, int, PairScore]


@dataclass(frozen=True, slots=True)
class Clustering:
    """Clusters of ≥ 2 indices; the pairs that joined them; match pairs a guard refused."""

    clusters: list[list[int]]
    merged: list[ScoredPair]
    refused: list[ScoredPair]


class _Clusters:
    """Union-find that refuses unions joining a source twice or a clear non-match pair."""

    def __init__(self, n: int, sources: Sequence[str] | None, cannot: Callable[[int, int], bool]):
        self.parent = list(range(n))
        self.members: dict[int, list[int]] = {}
        self.sources = sources
        self.cannot = cannot

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def group(self, root: int) -> list[int]:
        return self.members.get(root, [root])

    def compatible(self, i: int, j: int) -> bool:
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return True
        left, right = self.group(ri), self.group(rj)
        if self.sources is not None:
            taken = {self.sources[x] for x in left}
            if any(self.sources[y] in taken for y in right):
                return False
        return not any(self.cannot(x, y) for x in left for y in right)

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        keep, gone = min(ri, rj), max(ri, rj)
        self.parent[gone] = keep
        self.members[keep] = self.group(keep) + self.members.pop(gone, [gone])

    def clusters(self) -> list[list[int]]:
        return sorted(sorted(m) for m in self.members.values() if len(m) > 1)


def cluster_pairs(
    n: int,
    pairs: Iterable[ScoredPair],
    *,
    sources: Sequence[str] | None = None,
    non_match: Callable[[int, int], bool] | None = None,
    forced: Sequence[tuple[int, int]] = (),
) -> Clustering:
    """Clusters from scored pairs, best match first.

    A union is refused when it would join two events of one source (``sources``) or two
    events that are each other's clear non-match: known from ``pairs`` or, for pairs
    never scored, asked of ``non_match(i, j)``. ``forced`` pairs (i < j) join first,
    whatever the guards, and are reported merged with ``FORCED``.
    """
    known_conflicts: set[tuple[int, int]] = set()
    matches: list[ScoredPair] = []
    for i, j, score in pairs:
        i, j = min(i, j), max(i, j)
        if is_clear_non_match(score):
            known_conflicts.add((i, j))
        elif score.total >= MATCH:
            matches.append((i, j, score))
    return _join_matches(n, matches, known_conflicts, sources, non_match, forced)


def _join_matches(
    n: int,
    matches: Sequence[ScoredPair],
    known_conflicts: set[tuple[int, int]],
    sources: Sequence[str] | None,
    non_match: Callable[[int, int], bool] | None,
    forced: Sequence[tuple[int, int]],
) -> Clustering:
    cache: dict[tuple[int, int], bool] = {}

    def cannot(x: int, y: int) -> bool:
        pair = (x, y) if x < y else (y, x)
        if pair in known_conflicts:
            return True
        if sources is not None and sources[x] == sources[y]:
            return True
        if non_match is None:
            return False
        if pair not in cache:
            cache[pair] = non_match(*pair)
        return cache[pair]

    # An event that matches two mutually exclusive events about equally well (a village
    # site's "Luciatåg" at "Kyrkan", the same hour as three churches' Luciatåg) is not
    # evidence for either: send those pairs to review instead of guessing.
    partners: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for i, j, score in matches:
        partners[i].append((score.total, j))
        partners[j].append((score.total, i))
    unclear: set[tuple[int, int]] = set()
    for i, found in partners.items():
        if len(found) < 2:
            continue
        found.sort(reverse=True)
        for (s1, j), (s2, k) in pairwise(found):
            if s1 - s2 < AMBIGUITY_MARGIN and cannot(j, k):
                unclear.update({(min(i, j), max(i, j)), (min(i, k), max(i, k))})
    forest = _Clusters(n, sources, cannot)
    merged: list[ScoredPair] = []
    refused: list[ScoredPair] = []
    for i, j in forced:
        if forest.find(i) != forest.find(j):
            forest.union(i, j)
            merged.append((i, j, FORCED))
    for i, j, score in sorted(matches, key=lambda m: (-m[2].total, m[0], m[1])):
        if forest.find(i) == forest.find(j):
            continue
        if (i, j) in unclear or not forest.compatible(i, j):
            refused.append((i, j, score))
            continue
        forest.union(i, j)
        merged.append((i, j, score))
    return Clustering(forest.clusters(), merged, refused)
