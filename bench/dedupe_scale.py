"""How matching scales: synthetic seasons of 25k–200k events.

    /tmp/venv/bin/python -m bench.dedupe_scale [--sizes 25000 50000 100000 200000]
                                               [--days 273]

Each size runs in a fresh process (so peak RSS is that size's own) and times
``match_events``: features, candidate pairs, scoring and clustering. By default every
size fills the same season (Dec–Aug), so events per day grow with n: the hard case for a
day-blocked matcher. ``--days 0`` keeps the density constant instead (span grows with n).
Targets (issue 4): 200k under 20 s and 1 GB, growth exponent ≤ 1.2.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.dedupe.matching import match_events
from aggregator.model import Event, Place
from aggregator.normalize.gazetteer import LOCALITIES

TZ = ZoneInfo("Europe/Stockholm")
FIRST = date(2026, 12, 1)
KINDS = ["Konsert", "Julkonsert", "Teater", "Föreläsning", "Quiz", "Dans", "Marknad", "Loppis",
         "Vernissage", "Sagostund", "Guidad visning", "Stickcafé", "Bingo", "Filmkväll",
         "Allsång", "Workshop", "Berättarkväll", "Orgelkonsert", "Stand-up", "Visafton"]  # fmt: skip
FIRST_NAMES = ["Anna", "Erik", "Lena", "Olle", "Maria", "Per", "Karin", "Johan", "Eva", "Nils",
               "Sara", "Lars", "Ida", "Gustav", "Elin", "Magnus", "Frida", "Jonas", "Emma", "Axel",
               "Astrid", "Bo", "Cecilia", "David", "Ebba", "Fredrik", "Greta", "Hans", "Ingrid",
               "Jakob", "Kerstin", "Leif", "Malin", "Oskar", "Petra", "Rolf", "Stina", "Tove",
               "Ulf", "Vera"]  # fmt: skip
SYLLABLES = ["berg", "lind", "sjö", "ek", "holm", "ny", "sand", "fors", "björk", "lund", "ås",
             "hed", "al", "gran", "ros", "dal", "strand", "wik", "eng", "löv", "ström", "gren",
             "qvist", "man", "blad", "sten", "mark", "vall", "by", "kvist"]  # fmt: skip


def surname(rng: random.Random) -> str:
    """Names from syllables: like a real catalogue, the vocabulary grows with its size."""
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


VENUES = ["Folkets hus", "kyrka", "bibliotek", "Bygdegården", "Stora torget", "Kulturhuset",
          "Hembygdsgården", "Konsthallen"]  # fmt: skip
TIMES = [(h, m) for h in range(10, 22) for m in (0, 30)]


def synthetic(n: int, days: int, seed: int = 7) -> list[Event]:
    """n events: ~70 % originals, the rest re-listings by other sources with variations.

    Like a real catalogue, the number of organizers (and so of distinct titles and
    venues) grows with n: one organizer per ~40 events, each with a handful of titles.
    """
    rng = random.Random(seed)
    localities = list(LOCALITIES)
    span = days or max(1, n // 120)
    organizers = []
    for o in range(max(1, n // 40)):
        home = rng.choice(localities)
        venues = [rng.choice(VENUES) for _ in range(rng.randint(1, 3))]
        titles = [
            f"{rng.choice(KINDS)} med {rng.choice(FIRST_NAMES)} {surname(rng)}"
            if rng.random() < 0.6
            else f"{rng.choice(KINDS)}: {surname(rng)}s {rng.choice(KINDS).lower()}"
            for _ in range(rng.randint(3, 8))
        ]
        organizers.append((f"org-{o}", home, venues, titles))
    originals = int(n * 0.7)
    events: list[Event] = []
    for i in range(originals):
        source, locality, venues, titles = rng.choice(organizers)
        venue = rng.choice(venues)
        day = FIRST + timedelta(days=rng.randrange(span))
        all_day = rng.random() < 0.05
        hour, minute = rng.choice(TIMES)
        start = (
            day
            if all_day
            else datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).astimezone(UTC)
        )
        place = Place(name=venue, locality=locality, municipality=LOCALITIES[locality])
        events.append(Event(source, f"k{i}", rng.choice(titles), start, all_day=all_day,
                            place=place, location_text=f"{venue}, {locality}",
                            url=f"https://{source}.se/e/{i}"))  # fmt: skip
    while len(events) < n:
        base = events[rng.randrange(originals)]
        title = rng.choice([base.title, base.title.upper(), base.title + " – premiär!"])
        start = base.start
        if isinstance(start, datetime):
            start = start + timedelta(minutes=rng.choice([0, 0, 15, -15, 30]))
        place, text = base.place, base.location_text
        if rng.random() < 0.2:
            place, text = Place(name=base.place.name), base.place.name  # town left out
        source = f"listing-{rng.randrange(50)}-{base.place.municipality}"
        events.append(Event(source, f"d{len(events)}", title, start, all_day=base.all_day,
                            place=place, location_text=text))  # fmt: skip
    return events


def run_one(n: int, days: int) -> dict[str, float]:
    events = synthetic(n, days)
    began = time.perf_counter()
    result = match_events(events, "Europe/Stockholm")
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"n": n, "seconds": seconds, "peak_mb": peak, "clusters": len(result.clusters),
            "review": len(result.review)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000])
    parser.add_argument("--days", type=int, default=273, help="season length; 0: constant density")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.days)))
        return 0
    rows = []
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, "-m", "bench.dedupe_scale", "--one", str(n), "--days", str(args.days)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        rows.append(json.loads(out))
    print(
        f"{'events':>8} {'seconds':>8} {'peak MB':>8} {'exponent':>8} {'clusters':>9} {'review':>7}"
    )
    previous = None
    for row in rows:
        exponent = ""
        if previous:
            exponent = f"{math.log(row['seconds'] / previous['seconds']) / math.log(row['n'] / previous['n']):.2f}"
        print(f"{row['n']:>8} {row['seconds']:>8.2f} {row['peak_mb']:>8.0f} {exponent:>8} "
              f"{row['clusters']:>9} {row['review']:>7}")  # fmt: skip
        previous = row
    return 0


if __name__ == "__main__":
    sys.exit(main())
