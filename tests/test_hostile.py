"""One source must never stall or exhaust the service.

Each case runs `aggregator run --once` with one hostile source (a generated file or a
misbehaving local server) next to a well-behaved one, and asserts outcomes: the
hostile source fails (or is cut down) with a sentence, the other one is harvested,
the run ends. No wall-clock assertions: the budgets are what ends each case.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.cli import main
from aggregator.harvest import HARVESTERS
from aggregator.harvest.worker import KeptWorker, ParseBudget
from aggregator.store import Store
from tests.parse_jobs import hog, nap
from tests.support import write_config

GOOD = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//SV\r\nBEGIN:VEVENT\r\nUID:good@x\r\n"
    b"DTSTART:20261210T180000Z\r\nSUMMARY:Julkonsert\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def ics(*bodies: str, header: str = "") -> bytes:
    events = "".join(f"BEGIN:VEVENT\r\n{b}END:VEVENT\r\n" for b in bodies)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//SV\r\n{header}{events}END:VCALENDAR\r\n".encode()


def health(config: Path) -> dict[str, Any]:
    store = Store(config.parent / "test.db")
    try:
        return {h.id: h for h in store.source_health()}
    finally:
        store.close()


def run_with(
    tmp_path: Path,
    hostile: dict[str, Any],
    *,
    files: dict[str, bytes] | None = None,
    **settings: Any,
) -> tuple[dict[str, Any], str]:
    """`run --once` with the hostile source and a good one; (health by id, output)."""
    for name, content in (files or {}).items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "good.ics").write_bytes(GOOD)
    config = write_config(
        tmp_path, [{"id": "hostile", **hostile}, {"id": "good", "path": "good.ics"}], **settings
    )
    code = main(["--config", str(config), "run", "--once"])
    assert code == 0
    found = health(config)
    assert found["good"].event_count == 1, "the well-behaved source must be harvested"
    return found, ""


# --- generated files ---------------------------------------------------------------------


def test_a_rule_of_a_billion_minutes_from_1900_is_brought_to_the_window(tmp_path: Path) -> None:
    bomb = ics(
        "UID:bomb@x\r\nDTSTART:19000101T000000Z\r\nRRULE:FREQ=MINUTELY;COUNT=1000000000\r\n"
        "SUMMARY:x\r\n"
    )
    assert len(bomb) < 200
    found, _ = run_with(tmp_path, {"path": "bomb.ics"}, files={"bomb.ics": bomb})
    assert found["hostile"].event_count == 500  # the per-series cap, from the window on
    assert any("fler än 500 tillfällen" in w for w in found["hostile"].warnings)


def test_a_rule_that_never_matches_is_stopped_by_the_parse_budget(tmp_path: Path) -> None:
    """dateutil walks 8000 years of seconds looking for 30 February: only time stops it."""
    never = ics(
        "UID:n@x\r\nDTSTART:20261201T000000Z\r\nRRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30\r\n"
    )
    found, _ = run_with(
        tmp_path, {"path": "never.ics"}, files={"never.ics": never}, parse_timeout=1
    )
    assert found["hostile"].status == "failed"
    assert "tog längre tid än 1 sekund," in found["hostile"].message


def test_a_thousand_open_ended_series_hit_the_event_cap(tmp_path: Path) -> None:
    series = [
        f"UID:s{i}@x\r\nDTSTART:2020{i % 12 + 1:02d}{i % 28 + 1:02d}T{i % 24:02d}0000Z\r\n"
        f"RRULE:FREQ=DAILY\r\nSUMMARY:Serie {i}\r\n"
        for i in range(1000)
    ]
    found, _ = run_with(
        tmp_path,
        {"path": "series.ics", "max_events": 2000},
        files={"series.ics": ics(*series)},
    )
    assert found["hostile"].status == "failed"
    assert "fler än 2000 evenemang" in found["hostile"].message
    assert found["hostile"].event_count == 0  # nothing half-imported


def test_a_file_with_far_more_events_than_the_cap_is_refused_unread(tmp_path: Path) -> None:
    plain = [
        f"UID:p{i}@x\r\nDTSTART:20270101T{i % 24:02d}0000Z\r\nSUMMARY:E{i}\r\n" for i in range(300)
    ]
    found, _ = run_with(
        tmp_path, {"path": "big.ics"}, files={"big.ics": ics(*plain)}, max_events=100
    )
    assert found["hostile"].status == "failed"
    assert "Kalenderfilen har fler än 250 evenemang" in found["hostile"].message


@pytest.mark.parametrize(
    ("body", "header", "said"),
    [
        ("UID:t@x\r\nDTSTART;TZID={z}:20261210T100000\r\nSUMMARY:Lång zon\r\n", "", "TZID"),
        (
            "UID:t@x\r\nDTSTART:20261210T100000\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Lång zon\r\n",
            "X-WR-TIMEZONE:Europe/{z}\r\n",
            "X-WR-TIMEZONE",
        ),
    ],
    ids=["tzid", "x-wr-timezone"],
)
def test_a_zone_name_longer_than_a_file_name_is_a_warning(
    tmp_path: Path, body: str, header: str, said: str
) -> None:
    zone = "A" * 300
    content = ics(body.format(z=zone), header=header.format(z=zone))
    found, _ = run_with(tmp_path, {"path": "zone.ics"}, files={"zone.ics": content})
    assert found["hostile"].status == "ok" and found["hostile"].event_count >= 1
    assert any(said in w for w in found["hostile"].warnings)


def test_an_unexpected_error_in_a_harvester_fails_that_source_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug nobody has found yet, stood in for by a harvester that raises."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setitem(HARVESTERS, "feed", broken)
    found, _ = run_with(tmp_path, {"path": "x.xml", "kind": "feed"}, files={"x.xml": b"<rss/>"})
    assert found["hostile"].status == "failed"
    assert "något oväntat (RuntimeError)" in found["hostile"].message


# --- misbehaving servers -----------------------------------------------------------------


# The read timeout the server cases run with: a request may take 3 of them (1.5 s), a
# crawl 6 (3 s). Each dripped byte comes well within it (a tenth of it, so a busy machine
# has 0.45 s to spare), so only the totals can stop a case.
TIMEOUT = 0.5
DRIP = TIMEOUT / 10


class Dripper:
    """A raw HTTP server that answers each path with its own kind of slowness."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.seen: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket, data: bytes, pause: float) -> None:
        for byte in data:
            if self.stop.is_set():
                return
            conn.sendall(bytes([byte]))
            time.sleep(pause)

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = conn.recv(65536).decode("latin-1")
                path = request.split(" ")[1] if " " in request else "/"
                self.seen.append(path)
                self._route(conn, path)
            except OSError:
                return

    def _route(self, conn: socket.socket, path: str) -> None:
        forever = b"x" * 1_000_000
        if path == "/status":
            self._drip(conn, b"HTTP/1.1 200 OK\r\n" + forever, DRIP)
        elif path == "/headers":
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            self._drip(conn, b"X-Slow: " + forever, DRIP)
        elif path == "/body":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\n\r\n")
            self._drip(conn, b"BEGIN:VCALENDAR\r\n" + forever, DRIP)
        elif path.startswith("/hop"):
            # each hop takes about a request's deadline / 3, each byte within the read
            # timeout; all six hops do not fit in one deadline
            n = int(path[4:] or 0)
            answer = f"HTTP/1.1 302 Found\r\nLocation: /hop{n + 1}\r\nConnection: close\r\n\r\n"
            self._drip(conn, answer[:12].encode(), DRIP * 0.8)
            conn.sendall(answer[12:].encode())
        elif path == "/list":
            links = "".join(f'<a href="/evenemang/e{i}">Evenemang {i}</a>' for i in range(20))
            page = f"<html><body><h1>Evenemang</h1>{links}</body></html>".encode()
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
            conn.sendall(head + page)
        elif path.startswith("/evenemang/"):
            page = b"<html><body>" + b" " * 12 + b"</body></html>"
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
            self._drip(conn, page, DRIP)  # 1.9 s a page: more than a request may take
        else:
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@pytest.fixture
def dripper() -> Iterator[Dripper]:
    server = Dripper()
    yield server
    server.close()


@pytest.mark.parametrize("path", ["/status", "/headers", "/body", "/hop0"])
def test_one_deadline_covers_the_whole_request(tmp_path: Path, dripper: Dripper, path: str) -> None:
    found, _ = run_with(tmp_path, {"url": dripper.url + path, "kind": "ical"}, timeout=TIMEOUT)
    assert found["hostile"].status == "failed"
    assert "för långsamt (vi gav upp efter 1,5 sekunder)" in found["hostile"].message


def test_one_deadline_covers_a_whole_crawl(tmp_path: Path, dripper: Dripper) -> None:
    found, _ = run_with(
        tmp_path, {"url": dripper.url + "/list", "kind": "html", "max_pages": 20}, timeout=TIMEOUT
    )
    assert found["hostile"].status == "failed"
    assert "tog mer än 3 sekunder sammanlagt" in found["hostile"].message
    detail_pages = [p for p in dripper.seen if p.startswith("/evenemang/")]
    assert 0 < len(detail_pages) < 20  # the crawl was cut off, not run to its end


# --- parse workers -----------------------------------------------------------------------


def run_kept(budget: ParseBudget, function: Callable[..., Any], jobs: list[tuple]) -> list[Any]:
    """``jobs`` (source id, args) one after the other on one kept worker, as a harvest
    thread parses its big sources."""
    worker = KeptWorker(budget)
    try:
        return [worker.run(function, source_id, args) for source_id, args in jobs]
    finally:
        worker.close()


def test_a_worker_over_its_memory_budget_fails_that_source_only() -> None:
    """The worker dies over its budget; the next source gets a new one."""
    budget = ParseBudget(seconds=60, memory_mb=128)
    results = run_kept(budget, hog, [("big", (1024,)), ("small", (1,))])
    assert "krävde mer än 128 MB minne" in str(results[0])
    assert results[1] == 1024 * 1024


def test_a_worker_that_does_not_answer_is_killed_at_its_budget() -> None:
    """A blocking call the in-process watchdog cannot interrupt: the parent kills it."""
    budget = ParseBudget(seconds=1, memory_mb=256)
    results = run_kept(budget, nap, [("slow", (3600,)), ("quick", (0,))])
    assert "tog längre tid än 1 sekund," in str(results[0])
    assert results[1] == 0


WORKER_PARENT = """
import os, sys, threading
sys.path.insert(0, {root!r})
from aggregator.harvest.worker import KeptWorker, ParseBudget
from tests.parse_jobs import nap

def parse(source_id):  # a harvest thread with its kept worker, as the pool has them
    print(KeptWorker(ParseBudget(7200, 256)).run(nap, source_id, (3600,)), flush=True)

if __name__ == "__main__":
    print(os.getpid(), flush=True)
    threads = [threading.Thread(target=parse, args=(s,)) for s in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
"""


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_parse_workers_die_with_their_parent_after_kill_9(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(WORKER_PARENT.format(root=str(Path(__file__).parent.parent)))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        # the spawn helper, then the two workers, appear under the parent
        assert wait_for(lambda: len(children_of(pid)) >= 2, 60)
        workers = children_of(pid)
        os.kill(pid, signal.SIGKILL)
        parent.wait(10)

        def gone() -> bool:
            return not any(os.path.exists(f"/proc/{w}") and _alive(w) for w in workers)

        assert wait_for(gone, 30), f"workers {workers} outlived their parent"
    finally:
        if parent.poll() is None:
            parent.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_an_interrupt_that_meets_the_end_of_a_parse_never_strikes_later() -> None:
    """The budget's interrupt can arrive just as a parse ends (here: sent to itself on its
    way out, after the watch fired once and was swallowed, as a parse that catches
    everything does). Whatever the parse returns, nothing may hit the thread afterwards:
    a stray interrupt once killed a harvest thread and left its pool waiting for ever."""
    import threading
    import time

    from aggregator.harvest.worker import ParseBudget, ParseTimeout, _raise_in, run_with_budget

    def swallows_then_ends() -> str:
        started = time.monotonic()
        while time.monotonic() - started < 0.6:  # past the 0.2 s budget: the watch fires
            try:
                time.sleep(0.01)
            except ParseTimeout:
                break
        _raise_in(threading.get_ident(), ParseTimeout)  # … and fires again as we leave
        return "klar"

    outcome = run_with_budget(swallows_then_ends, (), ParseBudget(seconds=0.2, memory_mb=0), "s")
    assert outcome == "klar" or "tog längre tid" in str(outcome)
    struck = []
    for _ in range(250):  # 2.5 s: more than two of the watch's re-checks (1 s)
        try:
            time.sleep(0.01)
        except ParseTimeout:
            struck.append(time.monotonic())
    assert struck == []
