"""Pairwise precision / recall / F1 of ``aggregator.dedupe.matching.match_events`` on the labelled dataset.

    /tmp/venv/bin/python -m bench.dedupe_quality [--verbose] [PATH]

A predicted pair is two events in one predicted cluster; a true pair is two events in one
labelled group. Review pairs are not merged, so they count against recall, not precision.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from pathlib import Path
from zoneinfo import ZoneInfo

from aggregator.dedupe.matching import match_events
from aggregator.dedupe.score import MATCH, REVIEW, score_pair
from aggregator.model import Event
from bench.dedupe_data import DATASET, load_dataset, load_notes

TZ = "Europe/Stockholm"


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    false_positives: list[tuple[int, int]]
    false_negatives: list[tuple[int, int]]
    review_pairs: int
    review_true: int  # review pairs that are real duplicates (a moderator would merge)


def _pairs(groups: list[list[int]]) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for g in groups for a, b in combinations(g, 2)}


def evaluate(events: list[Event], labels: list[str]) -> Quality:
    result = match_events(events, TZ)
    by_label: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    truth = _pairs(list(by_label.values()))
    predicted = _pairs(result.clusters)
    tp = len(truth & predicted)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    review_true = sum(1 for i, j, _ in result.review if labels[i] == labels[j])
    return Quality(
        precision, recall, f1, len(truth), len(predicted),
        sorted(predicted - truth), sorted(truth - predicted), len(result.review), review_true,
    )  # fmt: skip


def _describe(event: Event) -> str:
    if isinstance(event.start, datetime):
        when = event.start.astimezone(ZoneInfo(TZ)).strftime("%Y-%m-%d %H:%M")
    else:
        when = event.start.isoformat()
    return f"{event.source_id:<24} {when:<16} {event.title!r} @ {event.location_text!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(DATASET))
    parser.add_argument("--verbose", "-v", action="store_true", help="list wrong pairs")
    args = parser.parse_args(argv)
    rows = load_dataset(args.path)
    events = [e for e, _ in rows]
    labels = [g for _, g in rows]
    q = evaluate(events, labels)
    groups = Counter(labels)
    print(f"dataset: {len(events)} events, {sum(1 for n in groups.values() if n > 1)} duplicate"
          f" groups, {q.true_pairs} true pairs  (MATCH {MATCH}, REVIEW {REVIEW})")  # fmt: skip
    print(f"precision {q.precision:.4f}  recall {q.recall:.4f}  F1 {q.f1:.4f}")
    print(
        f"predicted pairs {q.predicted_pairs}, false positives {len(q.false_positives)}, "
        f"false negatives {len(q.false_negatives)}"
    )
    print(f"review pairs {q.review_pairs} ({q.review_true} of them true duplicates)")
    if args.verbose:
        notes = load_notes(args.path) if Path(args.path).exists() else [""] * len(events)
        for name, wrong in (
            ("FALSE POSITIVE", q.false_positives),
            ("FALSE NEGATIVE", q.false_negatives),
        ):
            for i, j in wrong:
                score = score_pair(events[i], events[j], TZ)
                print(f"\n{name} {labels[i]}/{labels[j]}: {score.reason}")
                for k in (i, j):
                    trap = re.sub(r";.*", "", notes[k]) if notes[k].startswith("trap") else ""
                    print(f"  {_describe(events[k])}  [{notes[k] or trap}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
