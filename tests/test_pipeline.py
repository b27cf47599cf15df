"""pipeline.py pieces that the end-to-end tests reach only at scale."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from aggregator.dedupe.update import day_ranges
from aggregator.publish.write import FeedFrame, write_feed_if_changed


def test_streamed_feed_is_valid_across_batches_and_not_rewritten_when_same(tmp_path: Path) -> None:
    frame = FeedFrame('{"items":[', ",", "]}")
    items = [json.dumps({"id": i, "title": "Fika på ån"}, ensure_ascii=False) for i in range(4501)]
    path = tmp_path / "all.json"
    written = write_feed_if_changed(path, frame, iter(items))
    assert (written.changed, written.count) == (True, 4501)
    assert written.size == path.stat().st_size
    assert [item["id"] for item in json.loads(path.read_text(encoding="utf-8"))["items"]] == list(
        range(4501)
    )
    mtime = path.stat().st_mtime_ns
    assert write_feed_if_changed(path, frame, iter(items)).changed is False
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".all.json.meta",
        "all.json",
        "all.json.gz",
    ], "only the feed and its sidecars (publish/sidecars.py): no temp files left behind"
    assert write_feed_if_changed(path, frame, iter(items[:-1])).changed is True


def test_empty_feed(tmp_path: Path) -> None:
    path = tmp_path / "x" / "empty.json"
    written = write_feed_if_changed(path, FeedFrame("[", ",", "]"), iter(()))
    assert (written.changed, written.size) == (True, 2)
    assert json.loads(path.read_text()) == []


def test_day_ranges_cover_neighbours_and_merge() -> None:
    assert day_ranges(["2026-12-12", "2026-12-13", "2027-01-05"]) == [
        ("2026-12-11T00:00:00Z", "2026-12-15T00:00:00Z"),
        ("2027-01-04T00:00:00Z", "2027-01-07T00:00:00Z"),
    ]


def test_parallel_parse_stores_the_same_as_serial(tmp_path: Path) -> None:
    """Worker processes (used for large harvests) give the same results and errors."""
    from datetime import UTC, datetime

    from aggregator.config import load_config
    from aggregator.pipeline import harvest_all, update_events
    from aggregator.store import Store
    from tests.support import DATA, write_config

    sources = [
        {"id": "google", "name": "Google", "path": str(DATA / "ical" / "google_x_wr_timezone.ics")},
        {
            "id": "outlook",
            "name": "Outlook",
            "path": str(DATA / "ical" / "outlook_windows_tzid.ics"),
        },
        {"id": "cut", "name": "Avklippt", "path": str(DATA / "ical" / "truncated.ics")},
    ]
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    results = {}
    for mode, threshold in (("serial", 10**12), ("parallel", 0)):
        folder = tmp_path / mode
        folder.mkdir()
        config = load_config(write_config(folder, sources))
        store = Store(config.settings.database)
        reports = harvest_all(store, config, now, parallel_bytes=threshold)
        update_events(store, config, now)
        rows = store.conn.execute(
            "SELECT source_id, key, data FROM source_events ORDER BY 1, 2"
        ).fetchall()
        results[mode] = ([(r.source_id, r.outcome, r.events, r.message) for r in reports], rows)
    assert results["parallel"] == results["serial"]
    outcomes = {source: outcome for source, outcome, *_ in results["serial"][0]}
    assert outcomes == {"google": "ok", "outlook": "ok", "cut": "failed"}


def test_changed_settings_re_render_every_event(tmp_path: Path, capsys) -> None:
    """Fragments are rendered once per content change, and again when base_url changes."""
    from aggregator.cli import main
    from tests.support import DATA, read_with_icalendar, write_config

    sources = [{"id": "fest", "name": "Fest", "path": str(DATA / "ical" / "all_day_multi_day.ics")}]
    config = write_config(tmp_path, sources, base_url="https://gammal.example")
    assert main(["--config", str(config), "run", "--once"]) == 0
    uids = {e["uid"] for e in read_with_icalendar(tmp_path / "feeds" / "all.ics")}
    assert all(uid.endswith("@gammal.example") for uid in uids)
    write_config(tmp_path, sources, base_url="https://ny.example")
    assert main(["--config", str(config), "publish"]) == 0
    capsys.readouterr()
    new_uids = {e["uid"] for e in read_with_icalendar(tmp_path / "feeds" / "all.ics")}
    assert {u.split("@")[0] for u in new_uids} == {u.split("@")[0] for u in uids}
    assert all(uid.endswith("@ny.example") for uid in new_uids)


def test_publish_sweeps_temp_files_a_killed_run_left_behind(tmp_path: Path) -> None:
    """kill -9 during publish skips the writer's cleanup; the next publish removes them,
    but never the temp file of a publish that is still running in another process."""
    import os
    import subprocess
    import sys

    from aggregator.cli import main
    from tests.support import DATA, write_config

    sources = [{"id": "fest", "name": "Fest", "path": str(DATA / "ical" / "all_day_multi_day.ics")}]
    config = write_config(tmp_path, sources)
    assert main(["--config", str(config), "-q", "run", "--once"]) == 0
    feeds = tmp_path / "feeds"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True).stdout.strip()  # fmt: skip
    left = [
        feeds / f".all.ics.{dead}.k1ll3d.tmp",
        feeds / "organizer" / f".fest.rss.{dead}.x9.tmp",
        feeds / "municipality" / ".vimmerby.json.oldstyle.tmp",  # before pids were written
    ]
    live = feeds / f".all.rss.{os.getppid()}.busy.tmp"
    for path in [*left, live]:
        path.write_text("half a feed", encoding="utf-8")
    assert main(["--config", str(config), "-q", "publish", "--force"]) == 0
    assert [p for p in left if p.exists()] == []
    assert live.exists(), "another live publish's temp file is not ours to remove"
    assert sorted(p.name for p in feeds.iterdir() if p.name.endswith(".tmp")) == [live.name]


def test_a_subscription_calendar_is_cut_to_1_mb_nearest_events_first(tmp_path: Path) -> None:
    """Google Calendar stops reading a subscription at 1 MB: keep whole days from the
    nearest on, drop the farthest future, and say how far the calendar reaches."""
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    import icalendar

    from aggregator.cli import main
    from tests.support import write_config

    first = datetime(2027, 1, 4, 18)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Stor kalender//SV"]
    for i in range(600):
        start = first + timedelta(days=i // 4, hours=i % 4)
        lines += [
            "BEGIN:VEVENT",
            f"UID:e{i}@stor.example",
            "DTSTAMP:20261101T000000Z",
            f"DTSTART;TZID=Europe/Stockholm:{start:%Y%m%dT%H%M%S}",
            f"SUMMARY:Föreläsning nummer {i}",
            "DESCRIPTION:" + "Lång beskrivning av kvällen med fika och samtal. " * 40,
            "LOCATION:Biblioteket\\, Vimmerby",
            "END:VEVENT",
        ]
    big = tmp_path / "stor.ics"
    big.write_text("\r\n".join([*lines, "END:VCALENDAR", ""]), encoding="utf-8")
    small = tmp_path / "liten.ics"
    small.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Liten//SV\r\nBEGIN:VEVENT\r\n"
        "UID:x@liten\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20270110T170000Z\r\n"
        "SUMMARY:Konsert\r\nLOCATION:Kyrkan\\, Eksjö\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        encoding="utf-8",
    )
    config = write_config(
        tmp_path,
        [
            {"id": "stor", "name": "Stor", "path": str(big), "municipality": "Vimmerby"},
            {"id": "liten", "name": "Liten", "path": str(small), "municipality": "Eksjö"},
        ],
        workers=1,  # parsed here: a parse worker would add its start and imports
    )
    assert main(["--config", str(config), "-q", "run", "--once"]) == 0
    feeds = tmp_path / "feeds"
    ics = (feeds / "all.ics").read_bytes()
    assert len(ics) <= 1_000_000
    index = {f["id"]: f for f in json.loads((feeds / "index.json").read_text("utf-8"))["feeds"]}
    horizon = date.fromisoformat(index["all"]["ics_horizon"])
    calendar = icalendar.Calendar.from_ical(ics)
    months = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
              "september", "oktober", "november", "december")  # fmt: skip
    said = f"till och med {horizon.day} {months[horizon.month - 1]} {horizon.year}"
    assert said in str(calendar["X-WR-CALDESC"]) and said in str(calendar["DESCRIPTION"])
    zone = ZoneInfo("Europe/Stockholm")
    in_ics = {str(e["UID"]).split("@")[0] for e in calendar.walk("VEVENT")}
    every = json.loads((feeds / "all.json").read_text("utf-8"))["items"]
    assert len(every) == 601, "the JSON feed is not cut"
    through = {
        item["id"]
        for item in every
        if datetime.fromisoformat(item["_event"]["start"]).astimezone(zone).date() <= horizon
    }
    assert in_ics == through, "every event through the horizon, none after"
    assert 100 < len(in_ics) < 601
    assert index["municipality/eksjo"]["ics_horizon"] is None
    eksjo = (feeds / "municipality" / "eksjo.ics").read_text("utf-8")
    assert "X-WR-CALDESC" not in eksjo and "SUMMARY:Konsert" in eksjo


def test_parse_workers_are_kept_through_a_burst_and_stopped_after_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Six large sources on two parsing threads start at most two worker processes (each
    start imports the parsers again), and none is left once the burst is over, even
    before the pool closes (an idle service holds no parse memory). Also a guard for
    Linux's parent-death signal, which follows the thread that started a worker: a
    worker shared between threads was killed when its starting thread ended."""
    import multiprocessing
    import time
    from datetime import UTC, datetime

    from aggregator.config import load_config
    from aggregator.model import Outcome
    from aggregator.pipeline.pool import HarvestPool
    from aggregator.store import Store
    from tests.support import DATA, write_config

    calendar = (DATA / "ical" / "google_x_wr_timezone.ics").read_bytes()
    sources = []
    for n in range(6):
        (tmp_path / f"k{n}.ics").write_bytes(calendar.replace(b"UID:", f"UID:k{n}-".encode()))
        sources.append(
            {"id": f"k{n}", "name": f"Kalender {n}", "path": str(tmp_path / f"k{n}.ics")}
        )
    config = load_config(write_config(tmp_path, sources, workers=2))
    store = Store(config.settings.database)
    reports = []
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    store.sync_sources(config.sources, now)
    pool = HarvestPool(store, config, now=lambda: now, on_report=reports.append, parallel_bytes=0)
    caplog.set_level(logging.DEBUG, logger="aggregator.harvest.worker")
    try:
        for source in config.sources:
            pool.submit(source)
        assert pool.wait_idle(timeout=120)
        # each harvest thread stops its worker as it ends, which it does for want of work
        deadline = time.monotonic() + 60
        while multiprocessing.active_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert multiprocessing.active_children() == [], "the burst is over: no worker left"
    finally:
        pool.close()
    assert sorted(r.outcome for r in reports) == [Outcome.OK] * 6, [r.message for r in reports]
    started = [r for r in caplog.records if r.getMessage().startswith("parse worker")]
    assert len(started) <= 2, [r.getMessage() for r in started]
    assert started or (os.cpu_count() or 1) < 2, "parsed in workers (no pool on one core)"
    store.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # it ends so
def test_a_harvest_thread_killed_mid_harvest_leaves_the_pool_working(tmp_path: Path) -> None:
    """A harvest thread ended by something that is not an Exception (SystemExit from a
    library, a stray interrupt) reports its source failed, and the pool counts it out
    and takes the next job with another thread: before, the pool went on counting the
    dead thread, so what waited (and ``wait_idle``) waited for ever."""
    import ctypes
    import threading
    from datetime import UTC, datetime

    from aggregator.config import load_config
    from aggregator.model import Outcome
    from aggregator.pipeline.pool import HarvestPool
    from aggregator.store import Store
    from tests.hosts import Answer, Hosts
    from tests.support import DATA, write_config

    class Killed(BaseException):
        pass

    calendar = (DATA / "ical" / "all_day_multi_day.ics").read_bytes()
    with Hosts(1) as hosts:
        hosts.routes["/slow.ics"] = lambda request: Answer(calendar, delay=1.0)
        hosts.routes["/quick.ics"] = lambda request: Answer(calendar)
        sources = [
            {"id": "slow", "url": hosts.url(1, "/slow.ics")},
            {"id": "quick", "url": hosts.url(1, "/quick.ics")},
        ]
        config = load_config(write_config(tmp_path, sources, workers=1))
        store = Store(config.settings.database)
        now = datetime(2026, 11, 26, 12, tzinfo=UTC)
        store.sync_sources(config.sources, now)
        reports = []
        pool = HarvestPool(store, config, now=lambda: now, on_report=reports.append)
        try:
            pool.submit(config.sources[0])
            assert hosts.arrived.wait(10)  # the slow request is in flight
            (thread,) = [t for t in threading.enumerate() if t.name == "harvest"]
            assert thread.ident is not None
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(Killed)
            )
            thread.join(10)
            assert not thread.is_alive()
            pool.submit(config.sources[1])
            assert pool.wait_idle(timeout=30), "the waiting job was never taken"
        finally:
            pool.close()
            store.close()
    outcomes = {r.source_id: r.outcome for r in reports}
    assert outcomes == {"slow": Outcome.FAILED, "quick": Outcome.OK}


def test_a_source_waits_or_runs_in_the_pool_once(tmp_path: Path) -> None:
    """A second submit of a source that waits or runs is refused (the scheduler and
    'Hämta nu' may ask at once); a withdrawn source leaves the queue, the others keep
    their order."""
    from datetime import UTC, datetime

    from aggregator.config import load_config
    from aggregator.pipeline.pool import HarvestPool
    from aggregator.pipeline.steps import SourceReport
    from aggregator.store import Store
    from tests.hosts import Answer, Hosts
    from tests.support import DATA, write_config

    calendar = (DATA / "ical" / "all_day_multi_day.ics").read_bytes()
    with Hosts(1) as hosts:
        hosts.routes["/slow.ics"] = lambda request: Answer(calendar, delay=1.0)
        for name in ("a", "b", "c"):
            hosts.routes[f"/{name}.ics"] = lambda request: Answer(calendar)
        sources = [{"id": "slow", "url": hosts.url(1, "/slow.ics")}] + [
            {"id": name, "url": hosts.url(1, f"/{name}.ics")} for name in ("a", "b", "c")
        ]
        config = load_config(write_config(tmp_path, sources, workers=1))
        store = Store(config.settings.database)
        now = datetime(2026, 11, 26, 12, tzinfo=UTC)
        store.sync_sources(config.sources, now)
        reports: list[SourceReport] = []
        pool = HarvestPool(store, config, now=lambda: now, on_report=reports.append)
        slow, a, b, c = config.sources
        try:
            assert pool.submit(slow)
            assert hosts.arrived.wait(10)  # running
            assert [pool.submit(s) for s in (a, b, c)] == [True, True, True]  # waiting
            assert [pool.submit(s) for s in (slow, a, b, c)] == [False] * 4
            assert pool.busy() == {"slow", "a", "b", "c"}
            pool.withdraw("b")
            assert pool.busy() == {"slow", "a", "c"}
            assert pool.wait_idle(timeout=30)
            assert pool.submit(b), "a source that has left the pool can be submitted again"
            assert pool.wait_idle(timeout=30)
        finally:
            pool.close()
            store.close()
    assert [r.source_id for r in reports] == ["slow", "a", "c", "b"]
