"""schedule.py: one job per source on its interval; a job harvests, merges and publishes."""

from __future__ import annotations

import threading
from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger

from aggregator.config import load_config
from aggregator.schedule import build_scheduler, harvest_and_publish
from aggregator.store import Store
from tests.support import DATA, read_with_icalendar, write_config


def test_one_job_per_source_on_its_interval(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            [
                {
                    "id": "a",
                    "name": "A",
                    "path": str(DATA / "ical" / "latin1.ics"),
                    "interval": "30m",
                },
                {
                    "id": "b",
                    "name": "B",
                    "path": str(DATA / "ical" / "all_day_multi_day.ics"),
                    "interval": "1d",
                },
            ],
        )
    )
    store = Store(config.settings.database)
    scheduler = build_scheduler(store, config, threading.Lock())
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"a", "b"}
    assert isinstance(jobs["a"].trigger, IntervalTrigger)
    assert jobs["a"].trigger.interval.total_seconds() == 1800
    assert jobs["b"].trigger.interval.total_seconds() == 86400


def test_a_job_harvests_merges_and_publishes(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            [{"id": "fest", "name": "Fest", "path": str(DATA / "ical" / "all_day_multi_day.ics")}],
        )
    )
    store = Store(config.settings.database)
    store.sync_sources(config.sources)
    harvest_and_publish(store, config, config.sources[0], threading.Lock())
    titles = {e["summary"] for e in read_with_icalendar(tmp_path / "feeds" / "all.ics")}
    assert titles == {"Lönneberga marknad", "Nationaldagsfirande"}


def test_run_serves_fresh_feeds_until_stopped(tmp_path: Path) -> None:
    """The main job as an operator starts it: a real process, a real port."""
    import contextlib
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import requests

    config = write_config(
        tmp_path,
        [{"id": "fest", "name": "Fest", "path": str(DATA / "ical" / "all_day_multi_day.ics")}],
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--config", str(config), "run", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    try:
        body = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and b"Nationaldagsfirande" not in body:
            with contextlib.suppress(requests.ConnectionError):
                body = requests.get(f"http://127.0.0.1:{port}/feeds/all.ics", timeout=2).content
            time.sleep(0.2)
        assert b"Nationaldagsfirande" in body, process.stderr.read1().decode()  # type: ignore[union-attr]
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
