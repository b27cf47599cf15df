"""Benchmark: the web server (``aggregator serve``) on a 100k-event database.

    python bench/serve.py [--events 100000] [--work DIR] [--seconds 5]

Builds the database with the real pipeline (synthetic calendars from
``bench/pipeline.py`` served on 127.0.0.1, spread over the six municipalities), starts
``aggregator serve`` as its own process, and prints:

- p50/p95 of ``/api/events`` for one month in one municipality, a full-text query and
  a page deep in the cursor (sequential requests on one keep-alive connection);
- requests/s of ``/feeds/all.ics`` as 304 and as a full 200 with concurrent clients,
  beside the same file from ``python -m http.server`` started in the same run;
- errors under 200 concurrent connections;
- the server's memory (RSS) while 200 slow readers fetch ``all.ics``;
- normal requests answered while 1,000 idle connections are open.

Every loop is bounded in count and time, and every connection goes to 127.0.0.1.
With ``--work DIR`` the database and feeds are kept there and reused on the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from aggregator import pipeline
from aggregator.config import load_config
from aggregator.normalize import slugify
from aggregator.publish import output
from aggregator.store import Store
from bench.pipeline import NOW, make_calendar
from bench.pipeline import serve as serve_calendars

REQUEST_TIMEOUT = 60.0  # seconds; a request slower than this counts as an error
MUNICIPALITIES = ["Nässjö", "Eksjö", "Vimmerby", "Hultsfred", "Högsby", "Oskarshamn"]


# -- the database ----------------------------------------------------------------


def build(work: Path, events: int, sources: int) -> Path:
    """A published 100k-event database in ``work`` (reused when already there)."""
    config_path = work / "sources.yaml"
    if (work / "feeds" / "index.json").exists():
        print(f"reusing {work}")
        return config_path
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    bodies = {f"/s{i}.ics": make_calendar(i, events // sources, rng) for i in range(sources)}
    server = serve_calendars(bodies)
    port = server.server_address[1]
    listed = "\n".join(
        f"  - id: s{i}\n    name: Förening {i}\n    url: http://127.0.0.1:{port}/s{i}.ics\n"
        f"    municipality: {MUNICIPALITIES[i % len(MUNICIPALITIES)]}"
        for i in range(sources)
    )
    config_path.write_text(
        f"settings:\n  database: {work}/bench.db\n  feeds_dir: {work}/feeds\n"
        f"  base_url: http://127.0.0.1:8080\n  allow_private_hosts: true\n"
        f"  max_bytes: 200000000\nsources:\n{listed}\n",
        encoding="utf-8",
    )
    config = load_config(config_path)
    store = Store(config.settings.database)
    store.sync_sources(config.sources)
    started = time.perf_counter()
    pipeline.harvest_all(store, config, NOW)
    pipeline.update_events(store, config, NOW)
    report = output.publish(store, config, NOW)
    store.close()
    server.shutdown()
    print(
        f"built {report.events} published events in {report.feeds} feeds "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return config_path


# -- servers -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(command: Sequence[str], port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server on port {port} did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- a small HTTP/1.1 client (asyncio, keep-alive) ------------------------------


async def request(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    path: str,
    headers: dict[str, str],
    *,
    read_delay: float = 0.0,
    chunk: int = 1 << 16,
) -> tuple[int, int, bool]:
    """(status, body bytes, keep-alive) of one GET on an open connection."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    fields = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip()
    keep = status_line.startswith("HTTP/1.1") and fields.get("connection", "") != "close"
    size = 0
    if "content-length" in fields:
        remaining = int(fields["content-length"])
        while remaining:
            data = await reader.read(min(chunk, remaining))
            if not data:
                raise ConnectionError("closed mid-body")
            remaining -= len(data)
            size += len(data)
            if read_delay:
                await asyncio.sleep(read_delay)
    elif status not in (204, 304):
        while data := await reader.read(chunk):
            size += len(data)
        keep = False
    return status, size, keep


async def hammer(
    port: int, path: str, headers: dict[str, str], clients: int, seconds: float, limit: int
) -> tuple[int, int, float, int]:
    """(responses, errors, seconds, bytes) for ``clients`` connections looping on one path."""
    done = errors = received = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done, errors, received
        reader = writer = None
        while time.perf_counter() < deadline and done + errors < limit:
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", port), REQUEST_TIMEOUT
                    )
                assert reader is not None
                status, size, keep = await asyncio.wait_for(
                    request(reader, writer, path, headers), REQUEST_TIMEOUT
                )
                if status in (200, 304):
                    done += 1
                    received += size
                else:
                    errors += 1
                if not keep:
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                errors += 1
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done, errors, time.perf_counter() - started, received


# -- measurements ----------------------------------------------------------------


def latencies(session: requests.Session, url: str, count: int) -> tuple[float, float, int]:
    times = []
    status = 0
    for _ in range(count):
        started = time.perf_counter()
        answer = session.get(url, timeout=30)
        times.append((time.perf_counter() - started) * 1000)
        status = answer.status_code
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], status


def deep_cursor(session: requests.Session, base: str) -> tuple[str, int]:
    """A cursor far into the listing: page through with limit=500 (bounded)."""
    cursor, position = "", 0
    for _ in range(400):
        params = {"limit": 500, "from": "2026-01-01"}
        if cursor:
            params["cursor"] = cursor
        page = session.get(f"{base}/api/events?{urlencode(params)}", timeout=60).json()
        position += len(page["events"])
        if not page["next_cursor"] or position >= 80_000:
            break
        cursor = page["next_cursor"]
    return cursor, position


async def slow_readers(port: int, pid: int, readers: int, seconds: float) -> list[float]:
    """RSS samples (MB) while ``readers`` clients read all.ics at ~128 KB/s each."""
    samples = [rss_mb(pid)]
    deadline = time.perf_counter() + seconds

    async def reader() -> None:
        stream, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(
                b"GET /feeds/all.ics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n"
            )
            await writer.drain()
            await stream.readuntil(b"\r\n\r\n")
            while time.perf_counter() < deadline:
                if not await stream.read(16384):
                    break
                await asyncio.sleep(0.125)
        finally:
            writer.close()

    async def sample() -> None:
        while time.perf_counter() < deadline:
            await asyncio.sleep(1)
            samples.append(rss_mb(pid))

    await asyncio.gather(sample(), *(reader() for _ in range(readers)), return_exceptions=True)
    return samples


async def idle_then_normal(port: int, idle: int, normal: int) -> tuple[int, int, list[float]]:
    """Open ``idle`` silent connections, then time ``normal`` real requests."""
    held = []
    for _ in range(idle):
        held.append(await asyncio.open_connection("127.0.0.1", port))
    ok = 0
    times = []
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(normal):
        started = time.perf_counter()
        status, _, _ = await request(reader, writer, "/api/events?limit=10", {})
        times.append((time.perf_counter() - started) * 1000)
        ok += status == 200
    writer.close()
    open_still = 0
    for _stream, conn in held:
        if not conn.is_closing():
            open_still += 1
        conn.close()
    return ok, open_still, sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--sources", type=int, default=24)
    parser.add_argument("--work", type=Path, default=Path("bench/out/serve"))
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput run")
    args = parser.parse_args()
    config_path = build(args.work.resolve(), args.events, args.sources)
    config = load_config(config_path)
    feeds = config.resolve(config.settings.feeds_dir)
    size = (feeds / "all.ics").stat().st_size
    env = {**os.environ, "AGGREGATOR_NOW": NOW.isoformat()}
    port, baseline_port = free_port(), free_port()
    ours = start(
        [
            sys.executable,
            "-m",
            "aggregator",
            "--config",
            str(config_path),
            "-q",
            "serve",
            "--port",
            str(port),
        ],
        port,
        env,
    )
    theirs = start(
        [
            sys.executable,
            "-m",
            "http.server",
            str(baseline_port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(feeds),
        ],
        baseline_port,
        env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        session = requests.Session()
        count = session.get(f"{base}/api/events?limit=1", timeout=30).status_code
        assert count == 200
        municipality = slugify(MUNICIPALITIES[2])
        month = urlencode({"municipality": municipality, "from": "2027-03-01", "to": "2027-03-31"})
        cursor, position = deep_cursor(session, base)
        print(f"all.ics: {size / 1e6:.1f} MB; server RSS at start {rss_mb(ours.pid):.0f} MB")
        print("API latency, 200 sequential requests each (ms):")
        for label, url in (
            ("one month, one municipality", f"{base}/api/events?{month}"),
            ("full-text q=julkonsert", f"{base}/api/events?q=julkonsert"),
            (
                "full-text q=lonneberga jul*",
                f"{base}/api/events?{urlencode({'q': 'lonneberga jul*'})}",
            ),
            ("the front page /", f"{base}/"),
            ("/api/municipalities", f"{base}/api/municipalities"),
            (
                f"cursor page at event {position}",
                f"{base}/api/events?{urlencode({'from': '2026-01-01', 'cursor': cursor})}",
            ),
        ):
            p50, p95, status = latencies(session, url, 200)
            print(f"  {label:34} p50 {p50:6.1f}  p95 {p95:6.1f}  (status {status})")

        tag = session.get(
            f"{base}/feeds/all.ics", headers={"Accept-Encoding": "identity"}, timeout=60
        ).headers["ETag"]
        stamp = requests.get(f"http://127.0.0.1:{baseline_port}/all.ics", timeout=60).headers[
            "Last-Modified"
        ]
        print(f"/feeds/all.ics throughput, {args.seconds:.0f} s each:")
        ims = {"If-Modified-Since": stamp}
        runs = [  # (label, port, headers, clients, request limit)
            ("304 If-None-Match, 50 clients", port, {"If-None-Match": tag}, 50, 10**6),
            ("304 http.server IMS, 50 clients", baseline_port, ims, 50, 10**6),
            ("304 If-None-Match, 4 clients", port, {"If-None-Match": tag}, 4, 10**6),
            ("304 http.server IMS, 4 clients", baseline_port, ims, 4, 10**6),
            ("200 identity, 10 clients", port, {"Accept-Encoding": "identity"}, 10, 2000),
            ("200 http.server, 10 clients", baseline_port, {}, 10, 2000),
            ("200 identity, 4 clients", port, {"Accept-Encoding": "identity"}, 4, 2000),
            ("200 http.server, 4 clients", baseline_port, {}, 4, 2000),
            ("200 gzip, 50 clients", port, {"Accept-Encoding": "gzip"}, 50, 20000),
        ]
        for label, target, headers, clients, limit in runs:
            path = "/all.ics" if target == baseline_port else "/feeds/all.ics"  # its root: feeds/
            done, errors, took, received = asyncio.run(
                hammer(target, path, headers, clients, args.seconds, limit)
            )
            print(
                f"  {label:38} {done / took:8.0f} req/s  {received / took / 1e6:7.0f} MB/s"
                f"  errors {errors}"
            )
        done, errors, took, _ = asyncio.run(
            hammer(port, "/api/events?limit=20", {}, 200, args.seconds, 100_000)
        )
        print(f"200 concurrent connections on /api/events: {done} answers, {errors} errors")
        done, errors, took, _ = asyncio.run(
            hammer(
                port,
                "/feeds/municipality/vimmerby.ics",
                {"Accept-Encoding": "gzip"},
                200,
                args.seconds,
                100_000,
            )
        )
        print(f"200 concurrent connections on a feed:      {done} answers, {errors} errors")
        samples = asyncio.run(slow_readers(port, ours.pid, 200, 20))
        print(
            f"200 slow readers of all.ics for 20 s: RSS start {samples[0]:.0f} MB, "
            f"peak {max(samples):.0f} MB, end {samples[-1]:.0f} MB"
        )
        ok, still_open, times = asyncio.run(idle_then_normal(port, 1000, 100))
        print(
            f"1,000 idle connections open ({still_open} still open at the end): {ok}/100 "
            f"normal requests answered, p50 {statistics.median(times):.1f} ms, "
            f"max {times[-1]:.1f} ms"
        )
    finally:
        for process in (ours, theirs):
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
