"""One pause, two reasons, one resume; and what an operator meets after months of running.

A source failing for ``pause_after`` is paused and keeps its events; a moderator's pause
(``sources pause`` or /admin, of a configured or a registered source) takes them out of
the feeds; ``sources resume`` lifts either and says which; ``sources list``/``show``,
/kallor, /api/sources and the organizer's status page say the same. A source whose
address is edited in sources.yaml starts afresh (no old ETag, no old backoff or pause),
and a pause that comes while the source is being fetched is not undone by that harvest.
Everything through ``main([...])``, real HTTP and a real ``aggregator run``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from aggregator.cli import main
from aggregator.store import Store
from aggregator.store.registrations import RegistrationStatus
from tests.hosts import Answer, Hosts
from tests.support import write_config
from tests.test_run_service import Service, titles
from tests.test_schedule import T0, at, calendar, ics, run, schedule_of
from tests.test_service_web import add_registration
from tests.web_server import running


def out_of(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> str:
    capsys.readouterr()
    assert run(config, *args) == 0
    return capsys.readouterr().out


def list_line(capsys: pytest.CaptureFixture[str], config: Path, source_id: str) -> str:
    lines = out_of(capsys, config, "sources", "list").splitlines()
    return next(line for line in lines if line.startswith(source_id + " "))


def feed_titles(tmp_path: Path) -> set[str]:
    return titles(tmp_path / "feeds" / "all.ics")


def test_a_moderators_pause_takes_the_events_out_until_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    at(monkeypatch, T0)
    with Hosts(1) as hosts:
        hosts.routes["/k.ics"] = lambda r: ics(calendar("k1@x", "Julotta"), ETag='"v1"')
        config = write_config(
            tmp_path, [{"id": "kyrka", "name": "Kyrkan", "url": hosts.url(1, "/k.ics")}]
        )
        assert run(config, "run", "--once") == 0
        assert feed_titles(tmp_path) == {"Julotta"}

        said = out_of(capsys, config, "sources", "pause", "kyrka")
        assert "kyrka: paused by a moderator; its events left the feeds" in said
        assert feed_titles(tmp_path) == set(), "out of the feeds at once"
        assert list_line(capsys, config, "kyrka").split()[1:3] == ["paused", "(moderator)"]
        show = out_of(capsys, config, "sources", "show", "kyrka")
        assert "paused:       by a moderator since" in show and "out of the feeds" in show

        asked = len(hosts.requests_to("/k.ics"))
        assert "skipped kyrka: pausad av en moderator" in out_of(capsys, config, "run", "--once")
        named = out_of(capsys, config, "harvest", "--source", "kyrka")
        assert "pausad av en moderator" in named, "naming it does not lift a person's pause"
        assert len(hosts.requests_to("/k.ics")) == asked, "a paused source is not fetched"

        said = out_of(capsys, config, "sources", "resume", "kyrka")
        assert "kyrka: resumed (it was paused by a moderator)" in said
        assert "Sources: 1 ok" in out_of(capsys, config, "run", "--once")
        assert feed_titles(tmp_path) == {"Julotta"}, "back with the first harvest"
        last = hosts.requests_to("/k.ics")[-1]
        assert "If-None-Match" not in last.headers, "a 304 would have left its events out"
        assert "not paused" in _resume_again(capsys, config)


def _resume_again(capsys: pytest.CaptureFixture[str], config: Path) -> str:
    capsys.readouterr()
    assert run(config, "sources", "resume", "kyrka") == 0
    return capsys.readouterr().err


def test_a_pause_for_failing_keeps_the_events_and_resume_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with Hosts(1) as hosts:
        answer = {"now": ics(calendar("k1@x", "Julotta"))}
        hosts.routes["/k.ics"] = lambda r: answer["now"]
        config = write_config(
            tmp_path,
            [{"id": "kyrka", "name": "Kyrkan", "url": hosts.url(1, "/k.ics")}],
            pause_after="1d",
        )
        at(monkeypatch, T0)
        assert run(config, "run", "--once") == 0
        answer["now"] = Answer(b"gone", 500)
        for hours in (1, 26):
            at(monkeypatch, T0 + timedelta(hours=hours))
            assert run(config, "run", "--once") == 0
        state = schedule_of(config, "kyrka")
        assert state.paused and state.pause_reason == "failing"
        assert feed_titles(tmp_path) == {"Julotta"}, "nothing lost when a source breaks"
        assert list_line(capsys, config, "kyrka").split()[1:3] == ["paused", "(failing)"]
        show = out_of(capsys, config, "sources", "show", "kyrka")
        assert "paused:       after failing" in show and "its events stay in the feeds" in show
        with running(config) as base:
            rows = requests.get(f"{base}/api/sources", timeout=10).json()
            assert [(r["status"], r["pause_reason"]) for r in rows] == [("paused", "failing")]
            assert (
                "evenemangen vi redan har visas" in requests.get(f"{base}/kallor", timeout=10).text
            )
        said = out_of(capsys, config, "sources", "resume", "kyrka")
        assert "kyrka: resumed (it was paused after failing for a long time)" in said


def test_a_registered_sources_pause_is_one_pause_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Paused with ``sources pause`` (as /admin would): the registration is paused too, so
    the organizer's page, /kallor, /api/sources and ``sources list`` agree; one resume."""
    at(monkeypatch, T0)
    with Hosts(1) as hosts:
        hosts.routes["/f.ics"] = lambda r: ics(calendar("f1@x", "Loppis"))
        config = write_config(tmp_path, [])
        token = add_registration(
            tmp_path / "test.db", "forening", "Föreningen", hosts.url(1, "/f.ics")
        )
        assert run(config, "sources", "approve", "forening") == 0
        assert run(config, "run", "--once") == 0
        assert feed_titles(tmp_path) == {"Loppis"}
        assert "paused by a moderator" in out_of(capsys, config, "sources", "pause", "forening")
        assert feed_titles(tmp_path) == set()
        assert list_line(capsys, config, "forening").split()[1:3] == ["paused", "(moderator)"]
        with running(config) as base:
            rows = requests.get(f"{base}/api/sources", timeout=10).json()
            assert [(r["id"], r["status"], r["pause_reason"]) for r in rows] == [
                ("forening", "paused", "moderator")
            ]
            assert "Pausad av en moderator" in requests.get(f"{base}/kallor", timeout=10).text
            status = requests.get(f"{base}/registrera/status/{token}", timeout=10).text
            assert "pausad av en moderator" in status, "the registration says it"
            assert "Pausad av en moderator; evenemangen visas inte" in status, "and its health"
        said = out_of(capsys, config, "sources", "resume", "forening")
        assert "forening: resumed (it was paused by a moderator)" in said
        store = Store(tmp_path / "test.db")
        try:
            registration = store.registration("forening")
            assert registration is not None and registration.status is RegistrationStatus.ACTIVE
        finally:
            store.close()
        assert run(config, "run", "--once") == 0
        assert feed_titles(tmp_path) == {"Loppis"}


def test_a_database_from_before_m060_keeps_its_pauses(tmp_path: Path) -> None:
    """An operator's pause (told by its message) and a moderator's pause of a registration
    (which had deleted the source row) become moderator pauses; a failing one stays."""
    database = tmp_path / "old.db"
    store = Store(database)
    store.close()
    db = sqlite3.connect(database)
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm060_pause_reason'")
    db.execute("ALTER TABLE sources DROP COLUMN pause_reason")
    db.executemany(
        "INSERT INTO sources (id, name, status, message, etag) VALUES (?, ?, 'paused', ?, 'e')",
        [
            ("hand", "Hand", "Pausad av administratören; den hämtas igen efter …"),
            ("trasig", "Trasig", "Källan är pausad: den har inte gått att hämta sedan …"),
        ],
    )
    db.execute(
        """INSERT INTO registrations (id, name, email, url, url_key, kind, municipality,
             categories, status, preview, token_hash, created_at, updated_at)
           VALUES ('reg', 'Reg', 'r@example.se', 'https://r.example/k.ics', 'r', 'ical', '',
             '[]', 'paused', '{}', 'h', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z')"""
    )
    db.commit()
    db.close()
    store = Store(database)
    try:
        states = store.schedule_states()
    finally:
        store.close()
    assert {sid: s.pause_reason for sid, s in states.items()} == {
        "hand": "moderator",
        "trasig": "failing",
        "reg": "moderator",
    }
    db = sqlite3.connect(database)
    etags = dict(db.execute("SELECT id, etag FROM sources").fetchall())
    assert etags == {"hand": None, "trasig": "e", "reg": None}
    db.close()


# -- what an operator meets after months --------------------------------------------------


def test_an_edited_address_starts_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The old address's ETag is not sent to the new one; its Retry-After, backoff and a
    pause for failing no longer hold the source back; a new path on the same host keeps
    the host's Retry-After."""
    with Hosts(2) as hosts:
        hosts.routes["/old.ics"] = lambda r: Answer(b"busy", 503, {"Retry-After": "86400"})
        hosts.routes["/same-host.ics"] = lambda r: ics(calendar("s1@x", "Samma värd"))
        hosts.routes["/new.ics"] = lambda r: ics(calendar("n1@x", "Ny adress"), ETag='"n"')
        source = {"id": "kyrka", "name": "Kyrkan", "url": hosts.url(1, "/old.ics")}
        config = write_config(tmp_path, [source], pause_after="1d")
        for hours in (0, 25):  # a day of failures: paused
            at(monkeypatch, T0 + timedelta(hours=hours))
            assert run(config, "run", "--once") == 0
        assert schedule_of(config, "kyrka").paused

        # a new path on the same host: no longer paused, but the host asked for a day
        write_config(
            tmp_path, [{**source, "url": hosts.url(1, "/same-host.ics")}], pause_after="1d"
        )
        at(monkeypatch, T0 + timedelta(hours=26))
        said = out_of(capsys, config, "run", "--once")
        assert "skipped kyrka: servern bad oss vänta" in said, "the same host asked us to wait"
        assert hosts.requests_to("/same-host.ics") == []
        assert not schedule_of(config, "kyrka").paused

        # another host: harvested at once, nothing of the old address holds it back
        write_config(tmp_path, [{**source, "url": hosts.url(2, "/new.ics")}], pause_after="1d")
        assert "Sources: 1 ok" in out_of(capsys, config, "run", "--once")
        assert feed_titles(tmp_path) == {"Ny adress"}
        state = schedule_of(config, "kyrka")
        assert not state.paused and state.consecutive_failures == 0
        assert "If-None-Match" not in hosts.requests_to("/new.ics")[0].headers


def test_a_pause_during_a_harvest_is_not_undone_by_it(
    tmp_path: Path, service: Callable[[Path], Service]
) -> None:
    with Hosts(1) as hosts:
        answer = {"now": ics(calendar("k1@x", "Julotta"))}
        hosts.routes["/k.ics"] = lambda r: answer["now"]
        source = {"id": "kyrka", "name": "Kyrkan", "url": hosts.url(1, "/k.ics")}
        config = write_config(tmp_path, [source])
        run_ = service(config)
        run_.wait_for("the first harvest", lambda: feed_titles(tmp_path) == {"Julotta"})
        answer["now"] = Answer(
            calendar("k1@x", "Julotta i ny tid", day=13),
            200,
            {"Content-Type": "text/calendar"},
            delay=3.0,
        )
        before = len(hosts.requests_to("/k.ics"))
        write_config(tmp_path, [{**source, "categories": ["Musik"]}])  # edited: fetched now
        run_.wait_for("the request in flight", lambda: len(hosts.requests_to("/k.ics")) > before)
        assert main(["--config", str(config), "sources", "pause", "kyrka"]) == 0
        run_.wait_log("kyrka: skipped")
        assert "pausad av en moderator medan den hämtades" in run_.log()
        assert schedule_of(config, "kyrka").paused_by_moderator, "the pause stands"
        run_.wait_for("the feeds without it", lambda: feed_titles(tmp_path) == set())
        db = sqlite3.connect(tmp_path / "test.db")
        live = db.execute("SELECT count(*) FROM source_events WHERE removed_at IS NULL")
        assert live.fetchone()[0] == 0, "the harvest that was running stored nothing"
        db.close()
        assert run_.stop() == 0
        index = json.loads((tmp_path / "feeds" / "index.json").read_text(encoding="utf-8"))
        assert index["feeds"], "feeds are whole"


@pytest.mark.icaljs
def test_a_service_killed_mid_harvest_starts_again_cleanly(
    tmp_path: Path, service: Callable[[Path], Service]
) -> None:
    """``kill -9`` while a harvest waits for its server and after a publish: nothing is
    left "running" or half-written; the next start harvests the source and the feeds and
    database are whole."""
    import os
    import signal

    from tests.support import assert_feeds_valid

    with Hosts(2) as hosts:
        slow = {"now": ics(calendar("s1@x", "Julmarknad"))}
        slow["now"].delay = 60.0
        hosts.routes["/slow.ics"] = lambda r: slow["now"]
        hosts.routes["/fast.ics"] = lambda r: ics(calendar("f1@x", "Luciatåg", day=13))
        config = write_config(
            tmp_path,
            [
                {"id": "fast", "name": "Snabb", "url": hosts.url(1, "/fast.ics")},
                {"id": "slow", "name": "Långsam", "url": hosts.url(2, "/slow.ics")},
            ],
        )
        first = service(config)
        first.wait_for("the fast source published", lambda: feed_titles(tmp_path) == {"Luciatåg"})
        first.wait_for("the slow request in flight", lambda: bool(hosts.requests_to("/slow.ics")))
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait()
        slow["now"] = ics(calendar("s1@x", "Julmarknad"))
        second = service(config)
        second.wait_for(
            "both sources after the restart",
            lambda: feed_titles(tmp_path) == {"Luciatåg", "Julmarknad"},
        )
        assert second.stop() == 0
    db = sqlite3.connect(tmp_path / "test.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    statuses = dict(db.execute("SELECT id, status FROM sources").fetchall())
    db.close()
    assert statuses == {"fast": "ok", "slow": "ok"}
    assert_feeds_valid(tmp_path / "feeds")
    assert not list((tmp_path / "feeds").rglob("*.tmp")), "no temp file left behind"
