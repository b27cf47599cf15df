"""Benchmark: the whole pipeline on 100k synthetic events served from a local HTTP server.

    python bench/pipeline.py [--events 100000] [--sources 20]

Prints wall time and events/s for harvest (fetch + parse + normalize), store,
dedupe (identity + matching + merge), render (each changed event's fragments and
feeds) and publish (write the feeds), the peak memory, a
no-change second run, and the ratio of the whole first run to a bare
``icalendar.Calendar.from_ical`` of the same bytes measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import icalendar

from aggregator import pipeline
from aggregator.config import load_config
from aggregator.dedupe import update as dedupe
from aggregator.publish import output
from aggregator.publish.render import render_changes
from aggregator.store import Store
from bench.scratch import scratch_folder

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
TITLES = [
    "Julkonsert",
    "Luciatåg",
    "Loppis",
    "Föredrag om hembygden",
    "Barnteater",
    "Stickcafé",
    "Vårmarknad",
    "Orgelkonsert",
    "Dans på logen",
    "Bokcirkel",
    "Guidad vandring",
    "Filmkväll",
]
PLACES = [
    "Folkets hus, Storgatan 2, 598 30 Vimmerby",
    "Hembygdsgården, Lönneberga",
    "Eksjö kulturhus, Eksjö",
    "Bygdegården, Mariannelund",
    "Kyrkan, Fågelfors",
    "Stora torget, Påskallavik",
    "Biblioteket, Bodafors",
    "Stadsparken, Oskarshamn",
]


def make_calendar(source_index: int, events: int, rng: random.Random) -> bytes:
    """One organizer's calendar: mostly single events, ~20% of events from weekly series."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//Bench//Source {source_index}//SV",
        "X-WR-TIMEZONE:Europe/Stockholm",
    ]
    series = max(1, events // 5 // 60)  # weekly series of ~60 occurrences in the window
    for s in range(series):
        start = NOW - timedelta(days=rng.randint(0, 20)) + timedelta(hours=rng.randint(8, 20))
        lines += [
            "BEGIN:VEVENT",
            f"UID:series-{source_index}-{s}@bench",
            "DTSTAMP:20261101T000000Z",
            f"DTSTART;TZID=Europe/Stockholm:{start.strftime('%Y%m%dT%H0000')}",
            f"DTEND;TZID=Europe/Stockholm:{(start + timedelta(hours=2)).strftime('%Y%m%dT%H0000')}",
            "RRULE:FREQ=WEEKLY;COUNT=60",
            f"SUMMARY:{rng.choice(TITLES)} (serie {s})",
            f"LOCATION:{rng.choice(PLACES).replace(',', chr(92) + ',')}",
            "END:VEVENT",
        ]
    for i in range(events - series * 60):
        start = NOW + timedelta(days=rng.randint(0, 390), hours=rng.randint(8, 21))
        # every 10th event also appears in the municipal calendar (source 0): same UID
        uid = (
            f"shared-{i}@bench"
            if i % 10 == 0 and source_index < 2
            else f"e-{source_index}-{i}@bench"
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20261101T000000Z",
            f"DTSTART:{start.strftime('%Y%m%dT%H%M00Z')}",
            f"DTEND:{(start + timedelta(hours=2)).strftime('%Y%m%dT%H%M00Z')}",
            f"SUMMARY:{rng.choice(TITLES)} nr {i}",
            f"DESCRIPTION:Välkommen till en kväll med {rng.choice(TITLES).lower()}. Fika finns.",
            f"LOCATION:{rng.choice(PLACES).replace(',', chr(92) + ',')}",
            f"CATEGORIES:{rng.choice(['Musik', 'Teater', 'Barn', 'Marknad', 'Föredrag'])}",
            f"URL:https://forening{source_index}.example/evenemang/{i}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def serve(bodies: dict[str, bytes]) -> ThreadingHTTPServer:
    etags = {
        path: '"' + hashlib.sha256(body).hexdigest()[:16] + '"' for path, body in bodies.items()
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path)
            if body is None:
                self.send_error(404)
                return
            if self.headers.get("If-None-Match") == etags[self.path]:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etags[self.path])
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the parse workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--sources", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(42)
    per_source = args.events // args.sources
    bodies = {f"/s{i}.ics": make_calendar(i, per_source, rng) for i in range(args.sources)}
    total_bytes = sum(len(b) for b in bodies.values())
    server = serve(bodies)
    port = server.server_address[1]
    work = scratch_folder("bench-pipeline-")
    sources_yaml = "\n".join(
        f"  - id: s{i}\n    name: Förening {i}\n    url: http://127.0.0.1:{port}/s{i}.ics\n    municipality: Vimmerby"
        for i in range(args.sources)
    )
    (work / "sources.yaml").write_text(
        f"settings:\n  database: {work}/bench.db\n  feeds_dir: {work}/feeds\n  allow_private_hosts: true\n"
        f"  max_bytes: 200000000\nsources:\n{sources_yaml}\n",
        encoding="utf-8",
    )
    config = load_config(work / "sources.yaml")
    store = Store(config.settings.database)
    store.sync_sources(config.sources)
    print(
        f"{args.sources} sources, {total_bytes / 1e6:.1f} MB of iCalendar, {args.events} events incl. series"
    )

    # the real harvest path (fetch, parse in worker processes, store), with the store
    # step timed on its own by wrapping it
    timings = {"store": 0.0}
    real_store_step = pipeline.pool.store_step

    def timed_store_step(*args, **kwargs):
        t = time.perf_counter()
        try:
            return real_store_step(*args, **kwargs)
        finally:
            timings["store"] += time.perf_counter() - t

    pipeline.pool.store_step = timed_store_step  # where the pool looks it up
    first_start = time.perf_counter()
    first_cpu = cpu_seconds()
    reports = pipeline.harvest_all(store, config, NOW)
    timings["fetch+parse+normalize"] = time.perf_counter() - first_start - timings["store"]
    pipeline.pool.store_step = real_store_step
    harvested = sum(r.events for r in reports)
    assert all(r.outcome == "ok" for r in reports), reports
    # dedupe hands each merge chunk to the renderer; the render's share is timed inside
    timings["render"] = 0.0

    def render(changes):
        t = time.perf_counter()
        render_changes(store, changes, config.settings)
        timings["render"] += time.perf_counter() - t

    t = time.perf_counter()
    dedupe.update_events(store, config.settings.timezone, NOW, render)
    timings["dedupe"] = time.perf_counter() - t - timings["render"]
    t = time.perf_counter()
    report = output.publish(store, config, NOW)
    timings["publish"] = time.perf_counter() - t
    first_total = time.perf_counter() - first_start
    first_cpu = cpu_seconds() - first_cpu
    memory = peak_mb()

    t = time.perf_counter()
    again = pipeline.run_once(store, config, NOW)
    second_total = time.perf_counter() - t
    assert all(s.outcome == "unchanged" for s in again.sources), again.sources

    t, c = time.perf_counter(), cpu_seconds()
    for body in bodies.values():
        icalendar.Calendar.from_ical(body)
    baseline = time.perf_counter() - t
    baseline_cpu = cpu_seconds() - c

    print(
        f"harvested {harvested} events into {report.events} published events, {report.feeds} feeds"
    )
    for stage in ("fetch+parse+normalize", "store", "dedupe", "render", "publish"):
        seconds = timings[stage]
        print(f"  {stage:22} {seconds:7.2f} s  {harvested / seconds:10.0f} events/s")
    print(f"  {'first run':22} {first_total:7.2f} s  {harvested / first_total:10.0f} events/s")
    print(
        f"  {'no-change rerun':16} {second_total:7.2f} s  ({100 * second_total / first_total:.1f}% of first run)"
    )
    print(f"  {'bare icalendar':22} {baseline:7.2f} s  (Calendar.from_ical of the same bytes)")
    print(f"ratio pipeline / bare parse: {first_total / baseline:.2f}")
    print(
        f"CPU: first run {first_cpu:.1f} s (this process and its parse workers), bare parse "
        f"{baseline_cpu:.1f} s, ratio {first_cpu / baseline_cpu:.2f} (steadier than wall time "
        "on a shared machine)"
    )
    print(
        f"peak memory (max RSS) during first run: {memory:.0f} MB in the main process, "
        f"{peak_mb(resource.RUSAGE_CHILDREN):.0f} MB in the largest parse worker"
    )
    all_ics = Path(config.settings.feeds_dir) / "all.ics"
    print(f"all.ics: {all_ics.stat().st_size / 1e6:.1f} MB")
    server.shutdown()


if __name__ == "__main__":
    main()
