"""``aggregator run`` as an operator runs it: a real process, a real port, real signals.

Hot reload of sources.yaml (added, removed, edited sources), SIGHUP, SIGTERM while a
harvest waits for a slow server and while a publish is writing, SIGINT, and a backup
taken while the service writes. Waits poll the result with a deadline; nothing asserts
how long anything took.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from aggregator.cli import main
from tests.hosts import Answer, Hosts
from tests.service_process import ServiceProcess
from tests.support import assert_feeds_valid, read_with_icalendar, write_config

ROOT = Path(__file__).parent.parent
DEADLINE = 90.0  # seconds a wait may take before the test gives up (never asserted on)
# the service's own waits at a tenth (clock.waits): config looks every 0.1 s, registrations
# every 0.5 s, a publish after 0.2 s of quiet, 1 s of grace for running harvests at a stop
WAIT_SCALE = "0.1"
POLL = 0.05  # seconds between two looks at what a test waits for


def event(uid: str, title: str, start: str, place: str = "Folkets hus\\, Vimmerby") -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=Europe/Stockholm:{start}\r\nDURATION:PT2H\r\n"
        f"SUMMARY:{title}\r\nLOCATION:{place}\r\nEND:VEVENT\r\n"
    )


def write_calendar(path: Path, *events: str) -> Path:
    path.write_bytes(
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Run//SV\r\n"
            "X-WR-TIMEZONE:Europe/Stockholm\r\n" + "".join(events) + "END:VCALENDAR\r\n"
        ).encode()
    )
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Service:
    """``aggregator run`` in a child process; its log goes to a file we can read."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.port = free_port()
        self.log_path = config.parent / "service.log"
        self.log_path.write_bytes(b"")
        self.process = ServiceProcess(
            ["--config", str(config), "run", "--port", str(self.port)],
            {**os.environ, "AGGREGATOR_WAIT_SCALE": WAIT_SCALE},
            self.log_path,
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if check():
                return
            assert self.process.poll() is None, f"the service died:\n{self.log()}"
            time.sleep(POLL)
        raise AssertionError(f"gave up waiting for {what}; log:\n{self.log()}")

    def wait_log(self, text: str, count: int = 1) -> None:
        self.wait_for(f"{text!r} in the log", lambda: self.log().count(text) >= count)

    def stop(self, signum: int = signal.SIGTERM, then: Callable[[], None] | None = None) -> int:
        """Signal the service and wait for it to exit; ``then`` runs in between (a check
        of what the service had done when the signal left)."""
        self.process.send_signal(signum)
        if then is not None:
            then()
        return self.process.wait(timeout=DEADLINE)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def titles(path: Path) -> set[str]:
    try:
        return {e["summary"] for e in read_with_icalendar(path)}
    except (FileNotFoundError, ValueError):
        return set()  # not written yet


def integrity(database: Path) -> str:
    db = sqlite3.connect(database)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def configure(tmp_path: Path, sources: list[dict[str, Any]]) -> Path:
    return write_config(tmp_path, sources)


def test_hot_reload_adds_edits_and_removes_sources(
    tmp_path: Path, service: Callable[[Path], Service]
) -> None:
    teater = write_calendar(tmp_path / "teater.ics", event("t1@x", "Julrevy", "20261212T190000"))
    kyrka = write_calendar(tmp_path / "kyrka.ics", event("k1@x", "Luciakonsert", "20261213T180000"))
    a = {"id": "teater", "name": "Teatern", "path": str(teater)}
    b = {"id": "kyrka", "name": "Kyrkan", "path": str(kyrka)}
    config = configure(tmp_path, [a])
    run = service(config)
    all_ics = tmp_path / "feeds" / "all.ics"
    run.wait_for("the first source's event", lambda: "Julrevy" in titles(all_ics))

    configure(tmp_path, [a, b])  # added
    run.wait_for("the added source's event", lambda: "Luciakonsert" in titles(all_ics))
    # feeds are written one after another: the organizer's comes after all.ics
    run.wait_for(
        "the added source's organizer feed",
        lambda: "Luciakonsert" in titles(tmp_path / "feeds" / "organizer" / "kyrka.ics"),
    )

    configure(tmp_path, [{**a, "categories": ["Musik"]}, b])  # edited
    musik = tmp_path / "feeds" / "category" / "musik.ics"
    run.wait_for("the edited source's category feed", lambda: titles(musik) == {"Julrevy"})

    configure(tmp_path, [{**a, "categories": ["Musik"]}])  # removed
    run.wait_for(
        "the removed source's event to leave", lambda: "Luciakonsert" not in titles(all_ics)
    )
    run.wait_for(
        "its organizer feed to go",
        lambda: not (tmp_path / "feeds" / "organizer" / "kyrka.ics").exists(),
    )
    assert "Julrevy" in titles(all_ics)
    log = run.log()
    assert "kyrka: added to the configuration" in log
    assert "teater: changed in the configuration" in log
    assert "kyrka: removed from the configuration" in log
    assert run.stop() == 0
    assert integrity(tmp_path / "test.db") == "ok"


def test_sighup_reloads_and_a_broken_file_keeps_the_running_configuration(
    tmp_path: Path, service: Callable[[Path], Service]
) -> None:
    teater = write_calendar(tmp_path / "teater.ics", event("t1@x", "Julrevy", "20261212T190000"))
    kyrka = write_calendar(tmp_path / "kyrka.ics", event("k1@x", "Luciakonsert", "20261213T180000"))
    a = {"id": "teater", "name": "Teatern", "path": str(teater)}
    config = configure(tmp_path, [a])
    run = service(config)
    all_ics = tmp_path / "feeds" / "all.ics"
    run.wait_for("the first harvest", lambda: "Julrevy" in titles(all_ics))
    good = config.read_text(encoding="utf-8")
    config.write_text(good + "  - id: Trasig\n", encoding="utf-8")
    run.process.send_signal(signal.SIGHUP)
    run.wait_log("configuration not reloaded")
    assert run.process.poll() is None, "a broken sources.yaml never stops the service"
    configure(tmp_path, [a, {"id": "kyrka", "name": "Kyrkan", "path": str(kyrka)}])
    run.process.send_signal(signal.SIGHUP)
    run.wait_for("the added source", lambda: "Luciakonsert" in titles(all_ics))
    assert run.stop() == 0


@pytest.mark.icaljs
def test_sigterm_while_a_harvest_waits_for_a_slow_server(
    tmp_path: Path, service: Callable[[Path], Service], capsys: pytest.CaptureFixture[str]
) -> None:
    body = write_calendar(tmp_path / "x.ics", event("s1@x", "Julmarknad", "20261212T100000"))
    with Hosts(1) as hosts:
        answer = {
            "now": Answer(body.read_bytes(), 200, {"Content-Type": "text/calendar"}, delay=60)
        }
        hosts.routes["/slow.ics"] = lambda r: answer["now"]
        config = configure(
            tmp_path, [{"id": "slow", "name": "Slow", "url": hosts.url(1, "/slow.ics")}]
        )
        run = service(config)
        run.wait_for("the request to arrive", hosts.arrived.is_set)
        assert run.stop() == 0
        log = run.log()
        assert "stopping" in log and "abandoned" in log
        assert integrity(tmp_path / "test.db") == "ok"
        assert_feeds_valid(tmp_path / "feeds")
        answer["now"] = Answer(body.read_bytes(), 200, {"Content-Type": "text/calendar"})
        assert main(["--config", str(config), "run", "--once"]) == 0, "the next run is normal"
    assert "Sources: 1 ok, 0 unchanged, 0 failed" in capsys.readouterr().out
    assert titles(tmp_path / "feeds" / "all.ics") == {"Julmarknad"}


EVENTS_TO_CUT = 3000  # big_calendar's all.ics is cut at 1 MB from about 2,300 events


def big_calendar(path: Path, count: int) -> Path:
    places = ["Folkets hus\\, Vimmerby", "Kyrkan\\, Eksjö", "Bygdegården\\, Lönneberga"]
    return write_calendar(
        path,
        *(
            event(
                f"b{i}@x",
                f"Evenemang nummer {i}",
                f"2027{1 + i % 12:02d}{1 + i % 28:02d}T{8 + i % 12:02d}{i % 60:02d}00",
                places[i % 3],
            )
            for i in range(count)
        ),
    )


def test_sigterm_during_a_publish_lets_it_finish(
    tmp_path: Path, service: Callable[[Path], Service], capsys: pytest.CaptureFixture[str]
) -> None:
    # a publish long enough to signal into (about a second here, against the 0.05 s the
    # test polls at; still_publishing fails if it was not), whose calendars still exceed
    # the 1 MB cut; no longer: the service's harvest and publish are most of this test
    big = big_calendar(tmp_path / "big.ics", EVENTS_TO_CUT)
    config = configure(tmp_path, [{"id": "big", "name": "Stor", "path": str(big)}])
    run = service(config)
    run.wait_log("big: ok in")
    run.wait_log("publish: merging and writing feeds", count=2)  # the one after the harvest

    def still_publishing() -> None:
        # proof from this side that the signal left during the publish; the service's
        # own "stopping:" line may come after it (its main thread can be waiting for the
        # database, which the publish holds, when the signal lands)
        assert run.log().count("files written") == 1, "the publish was over before the signal"

    assert run.stop(then=still_publishing) == 0
    log = run.log()
    assert "stopping:" in log
    assert log.count("files written") == 2, "the publish the signal came into finished"
    assert integrity(tmp_path / "test.db") == "ok"
    items = json.loads((tmp_path / "feeds" / "all.json").read_text(encoding="utf-8"))["items"]
    assert len(items) == EVENTS_TO_CUT, "the feed is whole"
    assert "feed all.ics cut to 1.0 MB" in log, "the publish had a calendar to cut"
    assert read_with_icalendar(tmp_path / "feeds" / "all.ics"), "the (1 MB capped) calendar parses"
    assert not list((tmp_path / "feeds").rglob("*.tmp")), "no half-written feed left behind"
    assert main(["--config", str(config), "run", "--once"]) == 0, "the next run is normal"
    assert "Sources: 0 ok, 1 unchanged, 0 failed" in capsys.readouterr().out


def test_sigint_stops_too_and_feeds_are_served_meanwhile(
    tmp_path: Path, service: Callable[[Path], Service]
) -> None:
    teater = write_calendar(tmp_path / "teater.ics", event("t1@x", "Julrevy", "20261212T190000"))
    run = service(configure(tmp_path, [{"id": "teater", "name": "Teatern", "path": str(teater)}]))

    def served() -> bool:
        with contextlib.suppress(requests.ConnectionError):
            url = f"http://127.0.0.1:{run.port}/feeds/all.ics"
            return b"Julrevy" in requests.get(url, timeout=5).content
        return False

    run.wait_for("the feed over HTTP", served)
    assert run.stop(signal.SIGINT) == 0


def test_backup_while_the_service_runs(
    tmp_path: Path, service: Callable[[Path], Service], capsys: pytest.CaptureFixture[str]
) -> None:
    teater = write_calendar(tmp_path / "teater.ics", event("t1@x", "Julrevy", "20261212T190000"))
    config = configure(tmp_path, [{"id": "teater", "name": "Teatern", "path": str(teater)}])
    run = service(config)
    run.wait_for("the first harvest", lambda: "Julrevy" in titles(tmp_path / "feeds" / "all.ics"))
    copy = tmp_path / "backups" / "copy.db"
    assert main(["--config", str(config), "backup", str(copy)]) == 0
    assert "integrity ok" in capsys.readouterr().out
    assert run.stop() == 0
    assert integrity(copy) == "ok"
    assert not Path(str(copy) + "-wal").exists(), "one self-contained file"
    db = sqlite3.connect(copy)
    assert db.execute("SELECT id FROM sources").fetchall() == [("teater",)]
    assert db.execute("SELECT count(*) FROM source_events").fetchone() == (1,)
    db.close()
    # restore as README says: stop, copy back, start
    (tmp_path / "test.db").unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(tmp_path / "test.db") + suffix).unlink(missing_ok=True)
    (tmp_path / "test.db").write_bytes(copy.read_bytes())
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert "Sources: 0 ok, 1 unchanged, 0 failed" in capsys.readouterr().out


def test_approved_registrations_join_a_running_service_and_paused_ones_leave(
    tmp_path: Path, service: Callable[[Path], Service]
) -> None:
    from datetime import UTC, datetime

    from aggregator.store import Store
    from aggregator.store.registrations import NewRegistration, RegistrationStatus

    teater = write_calendar(tmp_path / "teater.ics", event("t1@x", "Julrevy", "20261212T190000"))
    kyrka = write_calendar(tmp_path / "kyrka.ics", event("k1@x", "Luciakonsert", "20261213T180000"))
    with Hosts(1) as hosts:
        hosts.routes["/k.ics"] = lambda r: Answer(
            kyrka.read_bytes(), 200, {"Content-Type": "text/calendar"}
        )
        config = configure(tmp_path, [{"id": "teater", "name": "Teatern", "path": str(teater)}])
        run = service(config)
        all_ics = tmp_path / "feeds" / "all.ics"
        run.wait_for("the configured source", lambda: "Julrevy" in titles(all_ics))
        now = datetime(2026, 11, 26, 12, tzinfo=UTC)
        store = Store(tmp_path / "test.db")
        store.add_registration(
            NewRegistration(
                id="kyrka",
                name="Kyrkan",
                email="kyrkan@example.se",
                url=hosts.url(1, "/k.ics"),
                url_key="kyrka",
                kind="ical",
                municipality="Vimmerby",
                categories=("Musik",),
                preview='{"found": true, "kind": "ical", "total": 1, "upcoming": 1, "events": []}',
                token_hash="0" * 64,
            ),
            now,
        )
        assert main(["--config", str(config), "sources", "approve", "kyrka"]) == 0
        run.wait_for("the approved registration's event", lambda: "Luciakonsert" in titles(all_ics))
        assert "kyrka: added to the configuration" in run.log()
        store.change_registration_status("kyrka", RegistrationStatus.PAUSED, now)
        store.close()
        run.wait_for(
            "the paused registration to leave", lambda: "Luciakonsert" not in titles(all_ics)
        )
        assert run.stop() == 0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 10.0),
        ("0.1", 1.0),
        ("1", 10.0),
        ("0", 10.0),
        ("-0.5", 10.0),
        ("2", 10.0),
        ("snabbt", 10.0),
        ("nan", 10.0),
        ("", 10.0),
    ],
)
def test_only_a_factor_up_to_one_scales_the_service_waits(
    monkeypatch: pytest.MonkeyPatch, value: str | None, seconds: float
) -> None:
    """The knob these tests turn: production (unset) and any value but a speed-up keep
    every wait as written, so a stray setting can never make the service slower or
    spin without waiting."""
    from aggregator.clock import WAIT_SCALE_ENV, waits

    if value is None:
        monkeypatch.delenv(WAIT_SCALE_ENV, raising=False)
    else:
        monkeypatch.setenv(WAIT_SCALE_ENV, value)
    assert waits(10.0) == pytest.approx(seconds)
