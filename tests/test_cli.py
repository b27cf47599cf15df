"""End to end: the CLI against a real local HTTP server and a real SQLite file."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aggregator.cli import build_parser, main
from tests.support import assert_feeds_valid, read_with_icalendar, write_config

ROOT = Path(__file__).parent.parent


def vevent(
    uid: str, summary: str, start: str, end: str, *, sequence: int = 0, extra: str = ""
) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSEQUENCE:{sequence}\r\n"
        f"DTSTART;TZID=Europe/Stockholm:{start}\r\nDTEND;TZID=Europe/Stockholm:{end}\r\n"
        f"SUMMARY:{summary}\r\n{extra}END:VEVENT\r\n"
    )


def calendar(*events: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//E2E//SV\r\n"
        + "".join(events)
        + "END:VCALENDAR\r\n"
    ).encode()


TEATER_V1 = calendar(
    vevent(
        "julrevy@teater.se",
        "Julrevy",
        "20261212T190000",
        "20261212T210000",
        extra="LOCATION:Folkets hus\\, Storgatan 2\\, 598 30 Vimmerby\r\n",
    ),
    vevent(
        "vaar@teater.se",
        "Vårföreställning",
        "20270328T150000",
        "20270328T170000",
        extra="CATEGORIES:Teater,Barn\r\n",
    ),
    vevent("host@teater.se", "Höstföreställning", "20271031T020000", "20271031T040000"),
    vevent("inställd@teater.se", "Nyårskabaré", "20261231T200000", "20261231T235900"),
)
TEATER_V2 = calendar(
    vevent(
        "julrevy@teater.se",
        "Julrevy – extra föreställning",
        "20261212T190000",
        "20261212T213000",
        sequence=1,
        extra="LOCATION:Folkets hus\\, Storgatan 2\\, 598 30 Vimmerby\r\n",
    ),
    vevent(
        "vaar@teater.se",
        "Vårföreställning",
        "20270328T150000",
        "20270328T170000",
        extra="CATEGORIES:Teater,Barn\r\n",
    ),
    vevent("host@teater.se", "Höstföreställning", "20271031T020000", "20271031T040000"),
)
KOMMUN = calendar(
    vevent("julrevy@teater.se", "JULREVY", "20261212T190000", "20261212T210000"),
    vevent(
        "lucia@oskarshamn.se",
        "Luciatåg på Stora torget",
        "20261213T170000",
        "20261213T180000",
        extra="LOCATION:Stora torget\\, Påskallavik\r\n",
    ),
)
KYRKA = calendar(
    vevent(
        "lucia@kyrka.se",
        "Luciakonsert i Hultsfreds kyrka",
        "20261213T170000",
        "20261213T183000",
        extra="LOCATION:Hultsfreds kyrka\r\n",
    ),
)
BIBLIOTEK = calendar(
    vevent(
        "saga@bibliotek.se",
        "Sagostund",
        "20261205T100000",
        "20261205T110000",
        extra="LOCATION:Biblioteket\\, Mariannelund\r\n",
    ),
)


class Sources:
    """What the fake organizers' servers answer; tests change it between runs."""

    def __init__(self, httpserver: HTTPServer) -> None:
        self.bodies = {
            "teater": TEATER_V1,
            "kommun": KOMMUN,
            "kyrka": KYRKA,
            "bibliotek": BIBLIOTEK,
        }
        self.status = {name: 200 for name in self.bodies}
        self.hits: dict[str, int] = {name: 0 for name in self.bodies}
        for name in self.bodies:
            httpserver.expect_request(f"/{name}.ics").respond_with_handler(self._handler(name))
        self.url = httpserver.url_for

    def _handler(self, name: str):
        def handle(request: Request) -> Response:
            self.hits[name] += 1
            if self.status[name] != 200:
                return Response("<html><body>Internt fel</body></html>", status=self.status[name])
            etag = f'"{name}-{hash(self.bodies[name]) & 0xFFFF}"'
            if name == "bibliotek" and request.headers.get("If-None-Match") == etag:
                return Response(status=304)
            return Response(
                self.bodies[name], headers={"ETag": etag, "Content-Type": "text/calendar"}
            )

        return handle


@pytest.fixture
def organizers(httpserver: HTTPServer) -> Sources:
    return Sources(httpserver)


@pytest.fixture
def config_file(tmp_path: Path, organizers: Sources) -> Path:
    return write_config(
        tmp_path,
        [
            {
                "id": "teater",
                "name": "Vimmerby Teater",
                "url": organizers.url("/teater.ics"),
                "municipality": "Vimmerby",
                "categories": ["Teater"],
                "priority": 50,
            },
            {
                "id": "kommun",
                "name": "Oskarshamns kommun",
                "url": organizers.url("/kommun.ics"),
                "municipality": "Oskarshamn",
                "priority": 20,
            },
            {
                "id": "kyrka",
                "name": "Hultsfreds församling",
                "url": organizers.url("/kyrka.ics"),
                "municipality": "Hultsfred",
                "kind": "ical",
            },
            {"id": "bibliotek", "name": "Eksjö bibliotek", "url": organizers.url("/bibliotek.ics")},
        ],
    )


def run(config_file: Path, *args: str) -> int:
    return main(["--config", str(config_file), *args])


def feed_bytes(feeds: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(feeds)): p.read_bytes() for p in sorted(feeds.rglob("*")) if p.is_file()
    }


def events_in(path: Path) -> dict[str, dict]:
    return {e["summary"]: e for e in read_with_icalendar(path)}


@pytest.mark.icaljs
def test_whole_pipeline_through_changes_failures_and_reruns(
    config_file: Path,
    organizers: Sources,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    feeds = config_file.parent / "feeds"
    monkeypatch.setenv("AGGREGATOR_NOW", "2026-11-26T12:00:00+00:00")

    # first run: everything is new
    assert run(config_file, "run", "--once") == 0
    out = capsys.readouterr().out
    assert "Sources: 4 ok, 0 unchanged, 0 failed" in out
    assert re.search(r"Feeds: 7 events in \d+ feeds", out), out
    assert_feeds_valid(feeds)
    all_events = events_in(feeds / "all.ics")
    assert set(all_events) == {
        "Julrevy",
        "Vårföreställning",
        "Höstföreställning",
        "Nyårskabaré",
        "Luciatåg på Stora torget",
        "Luciakonsert i Hultsfreds kyrka",
        "Sagostund",
    }, "the same UID from the theatre and the municipality is one event, the theatre's title wins"
    assert all_events["Vårföreställning"]["start"] == {"utc": "2027-03-28T13:00:00Z"}
    assert all_events["Höstföreställning"]["start"] == {"utc": "2027-10-31T00:00:00Z"}
    assert set(events_in(feeds / "municipality" / "oskarshamn.ics")) == {"Luciatåg på Stora torget"}
    assert set(events_in(feeds / "municipality" / "eksjo.ics")) == {"Sagostund"}, (
        "Mariannelund is in Eksjö"
    )
    assert "Julrevy" in events_in(feeds / "organizer" / "kommun.ics")
    assert set(events_in(feeds / "category" / "barn.ics")) == {"Vårföreställning"}
    index = json.loads((feeds / "index.json").read_text())
    assert {f["id"] for f in index["feeds"]} >= {
        "all",
        "municipality/vimmerby",
        "category/teater",
        "organizer/kyrka",
    }
    julrevy = json.loads((feeds / "all.json").read_text())["items"]
    julrevy = next(i for i in julrevy if i["title"] == "Julrevy")
    assert [s["id"] for s in julrevy["_event"]["sources"]] == ["teater", "kommun"]
    assert julrevy["_event"]["start"] == "2026-12-12T19:00:00+01:00"
    uid_before = all_events["Julrevy"]["uid"]

    # second run: a changed event, a removed event, a failing source, an unchanged (304) source
    organizers.bodies["teater"] = TEATER_V2
    organizers.status["kyrka"] = 500
    monkeypatch.setenv("AGGREGATOR_NOW", "2026-11-26T13:00:00+00:00")
    assert run(config_file, "run", "--once") == 0, "failed sources do not fail the run"
    out = capsys.readouterr().out
    assert "Sources: 1 ok, 2 unchanged, 1 failed" in out
    assert "failed kyrka: Servern fick ett fel när vi hämtade" in out
    assert_feeds_valid(feeds)
    all_events = events_in(feeds / "all.ics")
    changed = all_events["Julrevy – extra föreställning"]
    assert changed["uid"] == uid_before and changed["sequence"] == 1
    assert changed["end"] == {"utc": "2026-12-12T20:30:00Z"}
    assert "Nyårskabaré" not in all_events, "an event removed at the source leaves the feeds"
    assert "Luciakonsert i Hultsfreds kyrka" in all_events, "a failing source keeps its events"
    assert all_events["Vårföreställning"]["sequence"] == 0, "unchanged events keep their SEQUENCE"
    db = sqlite3.connect(config_file.parent / "test.db")
    outcome = db.execute(
        "SELECT outcome, http_status FROM fetch_log WHERE source_id = 'bibliotek' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert outcome == ("unchanged", 304)
    assert db.execute(
        "SELECT count(*) FROM source_events WHERE source_id = 'teater' AND removed_at IS NOT NULL"
    ).fetchone() == (1,), "the removed event is tombstoned, not deleted"
    status = db.execute("SELECT status, message FROM sources WHERE id = 'kyrka'").fetchone()
    assert status[0] == "failed" and "HTTP 500" in status[1]

    # third run: nothing changed anywhere → every feed byte-identical
    organizers.status["kyrka"] = 200
    assert run(config_file, "run", "--once") == 0
    capsys.readouterr()
    before = feed_bytes(feeds)
    mtimes = {p: p.stat().st_mtime_ns for p in feeds.rglob("*") if p.is_file()}
    monkeypatch.setenv("AGGREGATOR_NOW", "2026-11-26T14:00:00+00:00")
    assert run(config_file, "run", "--once") == 0
    assert feed_bytes(feeds) == before
    assert {p: p.stat().st_mtime_ns for p in feeds.rglob("*") if p.is_file()} == mtimes, (
        "no file rewritten"
    )
    # and a forced rebuild from the database gives the same bytes
    assert run(config_file, "publish", "--force") == 0
    assert feed_bytes(feeds) == before


def test_collapsing_source_is_held_instead_of_wiped(
    tmp_path: Path,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AGGREGATOR_NOW", "2026-11-26T12:00:00+00:00")
    many = calendar(
        *(
            vevent(
                f"e{i}@x.se",
                f"Evenemang {i}",
                f"202612{10 + i:02d}T180000",
                f"202612{10 + i:02d}T200000",
            )
            for i in range(8)
        )
    )
    body = {"data": many}
    httpserver.expect_request("/cal.ics").respond_with_handler(lambda r: Response(body["data"]))
    config_file = write_config(
        tmp_path, [{"id": "forening", "name": "Föreningen", "url": httpserver.url_for("/cal.ics")}]
    )
    assert run(config_file, "run", "--once") == 0
    body["data"] = calendar(vevent("e0@x.se", "Evenemang 0", "20261210T180000", "20261210T200000"))
    assert run(config_file, "run", "--once") == 0
    assert "held" in capsys.readouterr().out
    assert len(events_in(tmp_path / "feeds" / "all.ics")) == 8
    assert run(config_file, "harvest", "--accept-shrink") == 0
    assert run(config_file, "publish") == 0
    assert len(events_in(tmp_path / "feeds" / "all.ics")) == 1


@pytest.mark.icaljs
def test_bundled_example_sources_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's first command, on a copy of the shipped configuration."""
    text = (ROOT / "sources.yaml").read_text(encoding="utf-8")
    text = text.replace("path: examples/", f"path: {ROOT}/examples/")
    text = re.sub(r"database: .*", f"database: {tmp_path}/a.db", text)
    text = re.sub(r"feeds_dir: .*", f"feeds_dir: {tmp_path}/feeds", text)
    config_file = tmp_path / "sources.yaml"
    config_file.write_text(text, encoding="utf-8")
    assert main(["--config", str(config_file), "run", "--once"]) == 0
    out = capsys.readouterr().out
    assert "Sources: 6 ok, 0 unchanged, 0 failed" in out
    assert_feeds_valid(tmp_path / "feeds")
    titles = [e["summary"] for e in read_with_icalendar(tmp_path / "feeds" / "all.ics")]
    assert titles.count("Julmarknad på hembygdsgården") == 1
    assert "JULMARKNAD PÅ HEMBYGDSGÅRDEN I BODAFORS" not in titles, (
        "the municipality's copy is merged"
    )
    assert main(["--config", str(config_file), "events", "list", "--municipality", "Eksjö"]) == 0
    listing = capsys.readouterr().out
    assert listing.strip() and all("(Eksjö)" in line for line in listing.strip().splitlines())


def test_sources_check_previews_without_storing(
    tmp_path: Path, organizers: Sources, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = write_config(tmp_path, [])
    assert run(config_file, "sources", "check", organizers.url("/kyrka.ics")) == 0
    out = capsys.readouterr().out
    assert out.startswith("Kind: ical\nEvents: 1\n")
    assert "2026-12-13 17:00  Luciakonsert i Hultsfreds kyrka — Hultsfreds kyrka" in out
    assert not (tmp_path / "test.db").exists()


def test_sources_list_shows_health(
    config_file: Path, organizers: Sources, capsys: pytest.CaptureFixture[str]
) -> None:
    organizers.status["kyrka"] = 503
    run(config_file, "run", "--once")
    capsys.readouterr()
    assert run(config_file, "sources", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "EVENTS", "LAST", "OK", "MESSAGE"]
    kyrka = next(line for line in lines if line.startswith("kyrka"))
    assert "failed" in kyrka and "HTTP 503" in kyrka


def test_broken_configuration_exits_2_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - id: a\n    url: http://example.se/a.ics\n    intervall: 1h\n",
        encoding="utf-8",
    )
    assert main(["--config", str(path), "run", "--once"]) == 2
    assert f"{path}:4 (intervall)" in capsys.readouterr().err


def _all_parsers(parser=None):
    import argparse

    parser = parser or build_parser()
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_parsers(sub)


def test_every_command_has_help_text() -> None:
    for parser in _all_parsers():
        assert parser.format_help().strip()
        for action in parser._actions:
            if action.dest not in ("help",) and action.option_strings:
                assert action.help, f"{parser.prog} {action.option_strings} has no help"


def test_sources_check_reads_files_through_fetch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = write_config(tmp_path, [])
    assert run(config_file, "sources", "check", "/dev/zero") == 1
    assert "ingen vanlig fil" in capsys.readouterr().err
    assert run(config_file, "sources", "check", str(ROOT / "examples" / "hultsfred-kyrka.ics")) == 0
    assert capsys.readouterr().out.startswith("Kind: ical\nEvents: 12\n")


@pytest.mark.parametrize("how", ["python -m aggregator", "the console script"])
def test_the_command_delivers_all_its_output_and_its_exit_code(tmp_path: Path, how: str) -> None:
    """The command ends without the interpreter's teardown (``cli.entry``): what it
    printed to a pipe still arrives whole, an exit handler still runs, and the exit code
    is main's, for a run, a listing, a configuration error and argparse's own exits."""
    import os
    import shutil
    import subprocess
    import sys

    root = Path(__file__).parent.parent
    shutil.copytree(root / "examples", tmp_path / "examples")
    config = tmp_path / "sources.yaml"
    shutil.copy(root / "sources.yaml", config)
    script = Path(sys.executable).parent / "aggregator"
    command = [sys.executable, "-m", "aggregator"] if how.startswith("python") else [str(script)]
    marker = tmp_path / "exit-handler-ran"
    # an exit handler of the kind a library registers (logging, multiprocessing …)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import atexit, pathlib\n"
        f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'ja')\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # a pipe buffers
    env["PYTHONPATH"] = f"{hook}{os.pathsep}{root}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )

    if how.startswith("python"):  # the console script calls the same entry(): one run will do
        done = run("--config", str(config), "run", "--once")
        assert done.returncode == 0, done.stderr
        assert "Sources: 6 ok, 0 unchanged, 0 failed" in done.stdout
        assert marker.read_text(encoding="utf-8") == "ja"
        marker.unlink()
    listed = run("--config", str(config), "sources", "list")
    assert listed.returncode == 0 and listed.stdout.endswith("\n")
    assert len(listed.stdout.splitlines()) >= 6 and "vimmerby-teater" in listed.stdout
    assert marker.read_text(encoding="utf-8") == "ja"
    config.write_text("settings:\n  workers: many\n", encoding="utf-8")
    broken = run("--config", str(config), "sources", "list")
    assert broken.returncode == 2 and broken.stderr.startswith("aggregator: configuration error")
    assert run("--help").returncode == 0 and run("no-such-command").returncode == 2
