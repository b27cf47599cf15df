"""Benchmark: what hostile sources cost a run — wall time, peak memory, and the outcome.

    python bench/hostile.py [--case rrule|series|big|drip|all] [--timeout 120] [--code DIR]
                            [--memory MB]

Each case is one `aggregator run --once` in a fresh process, in a temporary folder,
with the hostile source next to a small well-behaved one:

* rrule   a 163-byte calendar: FREQ=MINUTELY;COUNT=1000000000 from 1900
* series  a 94 KB calendar of 1,000 open-ended daily series
* big     a 20 MB calendar of 248,000 plain events
* drip    a server that sends its status line one byte every 0.2 s (timeout: 2)

``--code DIR`` runs another checkout's aggregator (say, the commit before these
limits) with the same files, to compare; a run still going at ``--timeout`` seconds
is killed and reported as such; ``--memory`` caps a run's address space (an old
checkout's run that hits it ends with exit 1). Peak memory is the largest sum of the
resident sets of the run and its parse workers, sampled every 0.1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_folder  # noqa: E402

GOOD = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//hostile//SV\r\nBEGIN:VEVENT\r\n"
    "UID:good@bench\r\nDTSTART:20261210T180000Z\r\nSUMMARY:Julkonsert\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def calendar(events: list[str]) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e}END:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//b//h//SV\r\n{body}END:VCALENDAR\r\n"


def rrule_bomb() -> str:
    return calendar(
        ["UID:b@x\r\nDTSTART:19000101T000000Z\r\nRRULE:FREQ=MINUTELY;COUNT=1000000000\r\n"]
    )


def open_ended_series() -> str:
    return calendar(
        [
            f"UID:serie-{i}@bench\r\nDTSTART:2020{i % 12 + 1:02d}{i % 28 + 1:02d}T"
            f"{i % 24:02d}0000Z\r\nRRULE:FREQ=DAILY\r\nSUMMARY:Serie {i}\r\n"
            for i in range(1000)
        ]
    )


def plain_events() -> str:
    return calendar(
        [
            f"UID:{i}@b\r\nDTSTART:2027{i % 12 + 1:02d}{i % 28 + 1:02d}T100000Z\r\nSUMMARY:E{i}\r\n"
            for i in range(248_000)
        ]
    )


class Drip:
    """Answers every request with a status line sent one byte every 0.2 s, forever."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/kalender.ics"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\n" + b"X" * 10_000_000:
                    if self.stop.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(0.2)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def run_case(name: str, code: Path, seconds: float, memory: int) -> dict[str, object]:
    folder = scratch_folder(f"hostile-{name}-")
    (folder / "good.ics").write_text(GOOD)
    hostile: dict[str, object] = {"id": "hostile", "path": "hostile.ics"}
    settings = {"database": "bench.db", "feeds_dir": "feeds", "allow_private_hosts": True}
    drip = None
    if name == "rrule":
        (folder / "hostile.ics").write_text(rrule_bomb())
    elif name == "series":
        (folder / "hostile.ics").write_text(open_ended_series())
    elif name == "big":
        (folder / "hostile.ics").write_text(plain_events())
    elif name == "drip":
        drip = Drip()
        hostile = {"id": "hostile", "url": drip.url, "kind": "ical"}
        settings["timeout"] = 2
    size = (folder / "hostile.ics").stat().st_size if (folder / "hostile.ics").exists() else 0
    config = {"settings": settings, "sources": [hostile, {"id": "good", "path": "good.ics"}]}
    (folder / "sources.yaml").write_text(json.dumps(config))  # JSON is YAML
    env = dict(os.environ, PYTHONPATH=str(code), AGGREGATOR_NOW="2026-11-26T12:00:00+00:00")
    command = [
        sys.executable,
        "-m",
        "aggregator",
        "--config",
        "sources.yaml",
        "-q",
        "run",
        "--once",
    ]
    measured = subprocess.run(
        [sys.executable, "-c", MEASURE, str(seconds), str(memory), *command],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, peak_kb, code_or_killed = measured.stdout.split()
    if drip is not None:
        drip.close()
    killed = code_or_killed == "killed"
    return {
        "case": name,
        "bytes": size,
        "wall_s": round(float(wall), 2),
        "peak_rss_mb": round(int(peak_kb) / 1024),
        "exit": code_or_killed,
        "outcome": "killed" if killed else _outcome(folder / "bench.db"),
    }


# Runs one command in its own session and prints: wall seconds, the peak of the summed
# resident memory (KB) of every process in that session (the run and its parse workers),
# sampled every 0.1 s, and its exit code or "killed" (after the timeout, with its group).
MEASURE = """
import os, resource, signal, subprocess, sys, threading, time
seconds, memory, command = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]

def limit():
    if memory:  # address space in MB, so that an old checkout cannot take the machine down
        resource.setrlimit(resource.RLIMIT_AS, (memory << 20, memory << 20))

def session_rss(sid):
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[3]) != sid:
                    continue
            with open(f"/proc/{pid}/status") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    return total

started = time.monotonic()
process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True, preexec_fn=limit)
peak = 0
def sample():
    global peak
    while process.poll() is None:
        peak = max(peak, session_rss(process.pid))
        time.sleep(0.1)
threading.Thread(target=sample, daemon=True).start()
try:
    result = str(process.wait(seconds))
except subprocess.TimeoutExpired:
    peak = max(peak, session_rss(process.pid))
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    result = "killed"
wall = time.monotonic() - started
print(wall, max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), result)
"""


def _outcome(database: Path) -> str:
    """The two sources' health: status, events, message (cut short)."""
    try:
        conn = sqlite3.connect(database)
        rows = conn.execute(
            "SELECT id, status, event_count, message FROM sources ORDER BY id"
        ).fetchall()
        conn.close()
    except sqlite3.Error as exc:
        return f"no database ({exc})"
    return "; ".join(f"{i}: {s}, {n} events {m[:90]!r}" for i, s, n, m in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["rrule", "series", "big", "drip", "all"], default="all")
    parser.add_argument("--timeout", type=float, default=120.0, help="kill a run after this")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout to run (default: this)")
    parser.add_argument(
        "--memory", type=int, default=0, help="cap the run's address space at this many MB"
    )
    args = parser.parse_args()
    cases = ["rrule", "series", "big", "drip"] if args.case == "all" else [args.case]
    print(f"code: {args.code}  timeout: {args.timeout:g} s")
    for name in cases:
        result = run_case(name, args.code.resolve(), args.timeout, args.memory)
        print(
            f"{result['case']:7} {result['bytes']:>10,} bytes  {result['wall_s']:>7} s  "
            f"peak {result['peak_rss_mb']} MB  exit {result['exit']}\n          {result['outcome']}"
        )


if __name__ == "__main__":
    main()
