"""Benchmark: the scheduler's harvest engine and the memory of ``run --once``.

    python -m bench.harvest polite [--sources 500] [--events 100] [--hosts 20] [--latency 0.05]
    python -m bench.harvest memory [--sizes 25000 50000 100000 200000] [--sources 200]
    python -m bench.harvest trace  [--events 100000] [--sources 200]

``polite``: a local server (in a process of its own) answers on 127.0.0.1 … 127.0.0.N (one
"host" each) and adds ``--latency`` per request; it counts requests in flight per host. Prints the first
cycle's wall time against the serial sum (the same cycle with one worker), the largest
number of requests ever in flight to one host, and a second cycle where every source
answers 304 (its share of the first, and how many sources were parsed again).

``memory``: for each size, a fresh ``aggregator run --once`` in its own process against
a local server of ``--sources`` iCal calendars (weekly series and shared UIDs included).
Prints the peak RSS (the largest single process, as wait4 reports it, and the sampled
sum over the process tree), the growth exponent between sizes, a no-change rerun
(the median of three, timed without the memory sampling), and its floor: a bare script
that starts Python, imports requests, sqlite3 and yaml, reads the same sources.yaml, asks
every calendar once with its stored ETag over one kept-alive session and records each
304 in a transaction of its own (the median of three): what any no-change run of 200
sources costs here before it does anything of its own.

``trace``: the same run in this process, stage by stage, with the RSS high-water mark
after each stage (``--tracemalloc``: the traced Python peak of each stage and the largest
allocation sites still held; ``--cache-mb``: another SQLite page cache size).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.pipeline import make_calendar
from bench.scratch import scratch_folder

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
RERUNS = 3  # no-change reruns per size; the median is reported


class Calendars:
    """Bodies by path, served with ETags; counts requests in flight per host."""

    def __init__(self, bodies: dict[str, bytes], latency: float) -> None:
        self.bodies = bodies
        self.etags = {p: '"' + hashlib.sha256(b).hexdigest()[:16] + '"' for p, b in bodies.items()}
        self.latency = latency
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.max_total = 0
        self.requests = 0
        self.not_modified = 0

    def enter(self, host: str) -> None:
        with self.lock:
            self.requests += 1
            self.in_flight[host] = self.in_flight.get(host, 0) + 1
            self.max_in_flight[host] = max(self.max_in_flight.get(host, 0), self.in_flight[host])
            self.max_total = max(self.max_total, sum(self.in_flight.values()))

    def leave(self, host: str) -> None:
        with self.lock:
            self.in_flight[host] -= 1


def serve(calendars: Calendars, hosts: int) -> list[ThreadingHTTPServer]:
    """One server per loopback address 127.0.0.1 … 127.0.0.N, all on the same port."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path in ("/_stats", "/_reset"):  # the bench's own questions, not counted
                self._stats()
                return
            # counted out just before the client can have the whole answer (the last byte,
            # or the end of the headers), so a client that sends its next request at once
            # is never seen as overlapping with this one
            host = self.connection.getsockname()[0]
            calendars.enter(host)
            left = False
            try:
                # robots.txt: 404 at once (no rules, no delay), so the figures compare with
                # those from before every host was asked for it; still counted in flight
                time.sleep(0.0 if self.path == "/robots.txt" else calendars.latency)
                body = calendars.bodies.get(self.path)
                etag = calendars.etags.get(self.path, "")
                if body is not None and self.headers.get("If-None-Match") == etag:
                    with calendars.lock:
                        calendars.not_modified += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    calendars.leave(host)
                    left = True
                    self.end_headers()
                    return
                status, body = (200, body) if body is not None else (404, b"not found")
                self.send_response(status)
                self.send_header("Content-Type", "text/calendar; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body[:-1])
                calendars.leave(host)
                left = True
                self.wfile.write(body[-1:])
            finally:
                if not left:
                    calendars.leave(host)

        def _stats(self) -> None:
            with calendars.lock:  # what was seen so far; /_reset then starts afresh
                body = json.dumps(
                    {
                        "max_in_flight": calendars.max_in_flight,
                        "max_total": calendars.max_total,
                        "not_modified": calendars.not_modified,
                    }
                ).encode()
                if self.path == "/_reset":
                    calendars.max_in_flight = {}
                    calendars.max_total = calendars.not_modified = 0
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler)]
    port = servers[0].server_address[1]
    servers += [ThreadingHTTPServer((f"127.0.0.{n}", port), Handler) for n in range(2, hosts + 1)]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers


def _serve_child(bodies: dict[str, bytes], hosts: int, latency: float, pipe: Connection) -> None:
    servers = serve(Calendars(bodies, latency), hosts)
    pipe.send(servers[0].server_address[1])
    pipe.recv()  # until the bench is done
    for server in servers:
        server.shutdown()


class RemoteCalendars:
    """The organizers' servers in a process of their own, so they never compete with the
    harvest for this process's GIL; counters come back over ``/_stats``."""

    def __init__(self, bodies: dict[str, bytes], hosts: int, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(
            target=_serve_child, args=(bodies, hosts, latency, child), daemon=True
        )
        self.process.start()
        self.port = int(self.pipe.recv())

    def stats(self, reset: bool = False) -> dict[str, Any]:
        path = "/_reset" if reset else "/_stats"
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as answer:
            return dict(json.loads(answer.read()))

    def close(self) -> None:
        self.pipe.send("done")
        self.process.join(timeout=10)


def config_text(work: Path, port: int, sources: int, hosts: int, **settings: object) -> str:
    lines = [
        "settings:",
        f"  database: {work}/bench.db",
        f"  feeds_dir: {work}/feeds",
        "  allow_private_hosts: true",
        "  max_bytes: 200000000",
        *(f"  {key}: {value}" for key, value in settings.items()),
        "sources:",
    ]
    for i in range(sources):
        host = f"127.0.0.{i % hosts + 1}"
        lines += [
            f"  - id: s{i}",
            f"    name: Förening {i}",
            f"    url: http://{host}:{port}/s{i}.ics",
            "    municipality: Vimmerby",
        ]
    return "\n".join(lines) + "\n"


# -- polite ---------------------------------------------------------------------------


def polite(args: argparse.Namespace) -> None:
    from aggregator import pipeline
    from aggregator.config import load_config
    from aggregator.store import Store

    rng = random.Random(7)
    bodies = {f"/s{i}.ics": make_calendar(i, args.events, rng) for i in range(args.sources)}
    calendars = RemoteCalendars(bodies, args.hosts, args.latency)
    port = calendars.port
    print(
        f"{args.sources} sources × {args.events} events over {args.hosts} hosts, "
        f"{args.latency * 1000:.0f} ms per request"
    )
    results = {}
    for label, workers in (
        ("serial (1 worker)", 1),
        (f"parallel ({args.workers} workers)", args.workers),
    ):
        work = scratch_folder("bench-harvest-")
        (work / "sources.yaml").write_text(
            config_text(work, port, args.sources, args.hosts, workers=workers, per_host_delay=0),
            encoding="utf-8",
        )
        config = load_config(work / "sources.yaml")
        store = Store(config.settings.database)
        calendars.stats(reset=True)
        started = time.perf_counter()
        first = pipeline.run_once(store, config, NOW)
        first_seconds = time.perf_counter() - started
        assert all(r.outcome == "ok" for r in first.sources), first.failed[:3]
        seen = calendars.stats(reset=True)
        per_host, total = max(seen["max_in_flight"].values()), seen["max_total"]
        started = time.perf_counter()
        second = pipeline.run_once(store, config, NOW)
        second_seconds = time.perf_counter() - started
        not_modified = calendars.stats()["not_modified"]
        reparsed = sum(1 for r in second.sources if r.outcome != "unchanged")
        results[label] = first_seconds
        print(f"{label}:")
        print(
            f"  first cycle        {first_seconds:7.2f} s  ({first.publish.events} events published)"
        )
        print(f"  max in flight      {per_host} per host, {total} in all")
        print(
            f"  304 cycle          {second_seconds:7.2f} s  ({100 * second_seconds / first_seconds:.1f}% "
            f"of the first; {not_modified} answered 304, {reparsed} parsed again)"
        )
        store.close()
    serial, parallel = results.values()
    print(f"parallel first cycle / serial: {parallel / serial:.2f}")
    calendars.close()


# -- memory ---------------------------------------------------------------------------


def _tree_rss_kb(root: int) -> int:
    """Sum of VmRSS over ``root`` and its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        rss[int(entry)] = int(line.split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return sum(rss.get(pid, 0) for pid in tree)


def measure_cli(config: Path, *extra: str) -> tuple[float, float, float]:
    """(wall s, max RSS MB of the largest process, sampled peak MB of the whole tree)."""
    env = {**os.environ, "AGGREGATOR_NOW": NOW.isoformat(), "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aggregator",
            "--config",
            str(config),
            "-q",
            "run",
            "--once",
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(OSError):
            peak = max(peak, _tree_rss_kb(process.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - started
    # the process is reaped by poll(); its own high-water mark comes from wait4's rusage,
    # which poll() discarded, so ask the kernel for our children's maximum instead
    import resource

    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert process.returncode == 0, process.returncode
    return wall, largest, peak / 1024


def memory(args: argparse.Namespace) -> None:
    print(f"run --once over {args.sources} sources (each size in a fresh process and database)")
    print(
        f"{'events':>8} {'first run':>10} {'peak RSS':>10} {'tree peak':>10} {'no-change':>10}"
        f"{'':>8} {'floor':>8}"
    )
    peaks: list[tuple[int, float]] = []
    for size in args.sizes:
        rng = random.Random(42)
        per_source = size // args.sources
        bodies = {f"/s{i}.ics": make_calendar(i, per_source, rng) for i in range(args.sources)}
        calendars = Calendars(bodies, 0.0)
        servers = serve(calendars, args.hosts)
        port = servers[0].server_address[1]
        work = scratch_folder("bench-memory-")
        config = work / "sources.yaml"
        config.write_text(config_text(work, port, args.sources, args.hosts), encoding="utf-8")
        # RUSAGE_CHILDREN is a running maximum: measure each size in a fresh interpreter
        out = subprocess.run(
            [sys.executable, "-m", "bench.harvest", "_one", str(config)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.split()
        wall, largest, tree, rerun, floor = map(float, out)
        peaks.append((size, largest))
        print(
            f"{size:>8} {wall:>9.1f}s {largest:>8.0f}MB {tree:>8.0f}MB {rerun:>9.2f}s"
            f" ({100 * rerun / wall:.1f}%) {floor:>7.2f}s ({100 * floor / wall:.1f}%)"
        )
        for server in servers:
            server.shutdown()
    for (a, pa), (b, pb) in itertools.pairwise(peaks):
        print(f"growth exponent {a}→{b}: {math.log(pb / pa) / math.log(b / a):.2f}")


def rerun_wall(config: Path) -> float:
    """Wall seconds of one no-change ``run --once``, unsampled: the /proc walk that
    measure_cli does every 50 ms costs CPU on the same cores, which a run this short
    would pay a noticeable share of."""
    env = {**os.environ, "AGGREGATOR_NOW": NOW.isoformat(), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "aggregator", "--config", str(config), "-q", "run", "--once"]
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


# The floor of a no-change run (see the module's docstring); argv[1]: the sources.yaml
FLOOR = """
import sqlite3, sys, requests, yaml
config = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
db = sqlite3.connect(config["settings"]["database"], isolation_level=None)
etags = dict(db.execute("SELECT id, etag FROM sources"))
session = requests.Session()
session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=64))
for source in config["sources"]:
    answer = session.get(
        source["url"], headers={"If-None-Match": etags[source["id"]]}, stream=True, timeout=20
    )
    assert answer.status_code == 304, answer.status_code
    answer.raw.drain_conn()
    db.execute("BEGIN IMMEDIATE")
    db.execute("UPDATE sources SET last_attempt_at = last_attempt_at WHERE id = ?", (source["id"],))
    db.execute("COMMIT")
"""


def floor_wall(config: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR, str(config)], check=True)
    return time.perf_counter() - started


def measure_one(config: Path) -> None:
    wall, largest, tree = measure_cli(config)
    rerun = statistics.median(rerun_wall(config) for _ in range(RERUNS))
    floor = statistics.median(floor_wall(config) for _ in range(RERUNS))
    print(wall, largest, tree, rerun, floor)


# -- trace ----------------------------------------------------------------------------


def trace(args: argparse.Namespace) -> None:
    import resource
    import tracemalloc

    from aggregator import pipeline
    from aggregator.config import load_config
    from aggregator.publish import output
    from aggregator.store import Store

    if args.cache_mb is not None:  # what the store's SQLite page cache costs
        from aggregator.store import base

        base.PRAGMAS = tuple(
            f"PRAGMA cache_size=-{args.cache_mb * 1024}" if p.startswith("PRAGMA cache_size") else p
            for p in base.PRAGMAS
        )
    rng = random.Random(42)
    per_source = args.events // args.sources
    bodies = {f"/s{i}.ics": make_calendar(i, per_source, rng) for i in range(args.sources)}
    calendars = Calendars(bodies, 0.0)
    servers = serve(calendars, args.hosts)
    port = servers[0].server_address[1]
    work = scratch_folder("bench-trace-")
    (work / "sources.yaml").write_text(
        config_text(work, port, args.sources, args.hosts), encoding="utf-8"
    )
    config = load_config(work / "sources.yaml")
    store = Store(config.settings.database)
    print(
        f"{args.events} events over {args.sources} sources, {sum(map(len, bodies.values())) / 1e6:.0f} MB"
    )

    def rss() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    base = rss()
    print(f"  start                 high-water {base:6.0f} MB")

    @contextlib.contextmanager
    def stage(name: str) -> Iterator[None]:
        if args.tracemalloc:
            tracemalloc.start(8)
            tracemalloc.reset_peak()
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        line = f"  {name:20}  high-water {rss():6.0f} MB  {seconds:6.1f} s"
        if args.tracemalloc:
            _, peak = tracemalloc.get_traced_memory()
            snapshot = tracemalloc.take_snapshot()
            tracemalloc.stop()
            line += f"  traced peak {peak / 1e6:6.0f} MB"
            print(line)
            for stat in snapshot.statistics("lineno")[:6]:
                print(f"      still held {stat.size / 1e6:6.1f} MB  {stat.traceback}")
        else:
            print(line)

    with stage("harvest_all"):
        pipeline.harvest_all(store, config, NOW)
    with stage("update_events"):
        pipeline.update_events(store, config, NOW)
    with stage("publish"):
        output.publish(store, config, NOW)
    print(
        f"  parse workers' largest: {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB"
    )
    print("  dedupe caches (entries held / limit):")
    for name, (held, limit) in dedupe_caches().items():
        print(f"      {name:32} {held:>7} / {limit}")
    for server in servers:
        server.shutdown()


def dedupe_caches() -> dict[str, tuple[int, int | None]]:
    """What each ``functools`` cache of the dedupe stage holds after a run: they live for
    the whole process, so one sized to a calendar grows with it (issue 11: the title +
    place cache was 52 MB at 100k events, 92 MB at 200k, until it held a batch)."""
    import importlib
    import pkgutil

    import aggregator.dedupe as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, value in vars(module).items():
            if callable(getattr(value, "cache_info", None)):
                cache = value.cache_info()
                found[f"{info.name}.{name}"] = (cache.currsize, cache.maxsize)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("polite")
    p.add_argument("--sources", type=int, default=500)
    p.add_argument("--events", type=int, default=100)
    p.add_argument("--hosts", type=int, default=20)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--workers", type=int, default=20, help="default: one per host")
    m = commands.add_parser("memory")
    m.add_argument("--sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000])
    m.add_argument("--sources", type=int, default=200)
    m.add_argument("--hosts", type=int, default=20)
    t = commands.add_parser("trace")
    t.add_argument("--events", type=int, default=100_000)
    t.add_argument("--sources", type=int, default=200)
    t.add_argument("--hosts", type=int, default=20)
    t.add_argument("--tracemalloc", action="store_true")
    t.add_argument("--cache-mb", type=int, help="SQLite page cache instead of the store's")
    one = commands.add_parser("_one")
    one.add_argument("config", type=Path)
    args = parser.parse_args()
    if args.command == "polite":
        polite(args)
    elif args.command == "memory":
        memory(args)
    elif args.command == "trace":
        trace(args)
    else:
        measure_one(args.config)


if __name__ == "__main__":
    main()
