"""Benchmark: what the full-text index costs when merged events are saved, and how fast
searching is, on synthetic published events.

    python bench/search.py [--events 100000] [--rounds 2]

Saves the same merged events into fresh databases with the search triggers and without
them (alternating, so a busy machine weighs on both alike) and prints the time of each;
then the latency of ``Store.search_event_ids``, of the CLI's listing filtered by a search
(every match) and of the API's first page of 50 in start order (``list_events``, which
walks the index in docid = start order and stops at the page, migration m042).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.model import Event, Place
from aggregator.store import (
    EventContent,
    MergedRecord,
    Revision,
    SearchQuery,
    Store,
    event_span,
    iso,
    merged_to_json,
)
from aggregator.store.web_queries import EventQuery, Fragment

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
WORDS = [
    "Julmarknad",
    "Luciatåg",
    "Loppis",
    "Föredrag",
    "Barnteater",
    "Konsert",
    "Gudstjänst",
    "Dans",
    "Filmkväll",
    "Café",
    "Hembygdsdag",
    "Stickcafé",
]
PLACES = ["Folkets hus", "Hembygdsgården", "Kyrkan", "Biblioteket", "Bygdegården", "Torget"]
TOWNS = ["Lönneberga", "Mariannelund", "Hultsfred", "Vimmerby", "Eksjö", "Påskallavik"]


def updates(count: int) -> list[MergedRecord]:
    rng = random.Random(7)
    result = []
    for i in range(count):
        start = NOW + timedelta(hours=rng.randrange(24 * 400))
        town = rng.choice(TOWNS)
        event = Event(
            source_id="",
            key=f"e{i}",
            title=f"{rng.choice(WORDS)} i {town} {i}",
            start=start,
            end=start + timedelta(hours=2),
            description=" ".join(rng.choice(WORDS).lower() for _ in range(30)),
            place=Place(rng.choice(PLACES), "Storgatan 1", town, "Hultsfred"),
            organizer_name=f"{town} hembygdsförening",
        )
        start_utc, end_utc = event_span(event)
        result.append(
            MergedRecord(
                id=f"{i:016x}",
                revision=Revision("2026-11-26T12:00:00Z", "2026-11-26T12:00:00Z", 0),
                content=EventContent(
                    data=merged_to_json(event, [("bench", "")]),
                    content_hash=f"h{i}",
                    start_utc=start_utc,
                    end_utc=end_utc,
                    status=event.status,
                ),
                was_published=False,
            )
        )
    return result


def save_all(path: Path, rows: list[MergedRecord], *, indexed: bool) -> float:
    store = Store(path)
    if not indexed:
        for trigger in ("insert", "update", "delete"):
            store.conn.execute(f"DROP TRIGGER events_search_note_{trigger}")
    started = time.perf_counter()
    for chunk in range(0, len(rows), 5000):
        store.save_merged(rows[chunk : chunk + 5000], [], NOW)
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


def latency(run: object, repeat: int = 20) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rows = updates(args.events)
    with tempfile.TemporaryDirectory() as folder:
        timings: dict[bool, list[float]] = {True: [], False: []}
        for round_ in range(args.rounds):
            for indexed in (False, True):
                path = Path(folder) / f"r{round_}-{indexed}.db"
                timings[indexed].append(save_all(path, rows, indexed=indexed))
        plain, indexed = min(timings[False]), min(timings[True])
        print(f"save_merged of {args.events} new events (best of {args.rounds}):")
        print(f"  without the search index  {plain:7.2f} s")
        print(
            f"  with the search index     {indexed:7.2f} s  (+{indexed - plain:.2f} s, "
            f"{(indexed - plain) / args.events * 1e6:.0f} µs per event)"
        )
        store = Store(Path(folder) / f"r0-{True}.db")
        print(f"search over {args.events} published events, ms (median / p95 of 20):")
        for text in ["lonneberga", "jul*", "konsert hultsfred", '"folkets hus"', "zzzz"]:
            found = len(store.search_event_ids(text, limit=100_000))
            p50, p95 = latency(lambda text=text: store.search_event_ids(text, limit=50))
            query = SearchQuery.parse(text)
            l50, l95 = latency(lambda query=query: store.published_events(query=query))
            page = EventQuery(ends_after=iso(NOW), search=query, limit=51)
            a50, a95 = latency(lambda page=page: store.list_events(page, Fragment.JSON))
            print(
                f"  {text:20} {found:6} found  search_event_ids(limit 50) {p50:6.1f} / {p95:6.1f}"
                f"   published_events(query) {l50:7.1f} / {l95:7.1f}"
                f"   list_events page {a50:5.1f} / {a95:5.1f}"
            )
        store.close()


if __name__ == "__main__":
    main()
