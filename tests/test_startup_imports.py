"""Start-up cost (issue 11): a command imports only what it uses.

The parsers (lxml, bs4, feedparser, icalendar, extruct …) take about half a second to
import; every ``aggregator`` command and every no-change rerun paid it before any work.
Each case runs one command through ``aggregator.cli.main`` in a fresh interpreter and
reads ``sys.modules`` afterwards: a module-level import of a parser anywhere on the way
(the CLI, config, pipeline, the harvest registry, detect, the linter) shows up here. A
first run in the same setup must import them, so the probe is seen to catch them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support import DATA, write_config

ROOT = Path(__file__).parent.parent

# what a command that parses nothing must not import (top-level packages and our parsers)
PARSERS = frozenset(
    {
        "lxml",
        "bs4",
        "soupsieve",
        "html5lib",
        "feedparser",
        "icalendar",
        "recurring_ical_events",
        "x_wr_timezone",
        "extruct",
        "aggregator.harvest.ical",
        "aggregator.harvest.feed",
        "aggregator.harvest.html",
        "aggregator.harvest.facebook",
        "aggregator.harvest.worker",  # the parse budget: multiprocessing, ctypes
    }
)
# the web app: only serve, run and the registration commands need it
WEB = frozenset({"fastapi", "starlette", "uvicorn", "jinja2", "aggregator.web"})
# what only creating or upgrading a database needs (sqlite-utils applies the migrations)
MIGRATOR = frozenset({"sqlite_utils", "click", "pluggy"})
# the matcher: only a run that harvested something new or changed needs it
MATCHER = frozenset({"rapidfuzz", "aggregator.dedupe.update", "aggregator.dedupe.matching"})

PROBE = """\
import json, sys
from aggregator.cli import main
out, argv = sys.argv[1], sys.argv[2:]
try:
    code = main(argv)
except SystemExit as exc:
    code = exc.code
with open(out, "w", encoding="utf-8") as handle:
    json.dump({"code": code, "modules": sorted(sys.modules)}, handle)
"""


def imported_by(tmp_path: Path, *argv: str) -> tuple[set[str], str]:
    """The modules a fresh interpreter holds after ``aggregator ARGV`` (exit code 0), and
    what the command printed."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(out.read_text(encoding="utf-8"))
    assert found["code"] in (0, None), (found["code"], done.stdout, done.stderr[-2000:])
    return set(found["modules"]), done.stdout


def heavy(modules: set[str], names: frozenset[str]) -> set[str]:
    """Which of ``names`` (packages, with their submodules) were imported."""
    return {name for name in names if any(m == name or m.startswith(name + ".") for m in modules)}


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """The shipped sources.yaml and example calendars, in a folder of their own."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    config = tmp_path / "sources.yaml"
    shutil.copy(ROOT / "sources.yaml", config)
    return config


def test_help_imports_no_parser_and_no_web_app(tmp_path: Path) -> None:
    modules, out = imported_by(tmp_path, "--help")
    assert out.startswith("usage: aggregator")
    assert heavy(modules, PARSERS | WEB) == set()


def test_sources_list_imports_no_parser(examples: Path, tmp_path: Path) -> None:
    modules, out = imported_by(tmp_path, "--config", str(examples), "sources", "list")
    assert "vimmerby-teater" in out and "aggregator.store" in modules
    assert heavy(modules, PARSERS | WEB) == set()


def test_a_no_change_run_of_files_imports_no_parser(examples: Path, tmp_path: Path) -> None:
    first, out = imported_by(tmp_path, "--config", str(examples), "-q", "run", "--once")
    assert "Sources: 6 ok, 0 unchanged, 0 failed" in out
    assert {"icalendar", "recurring_ical_events", "aggregator.harvest.ical"} <= heavy(
        first, PARSERS
    )
    assert heavy(first, MIGRATOR | MATCHER) == MIGRATOR | MATCHER  # a fresh database
    again, out = imported_by(tmp_path, "--config", str(examples), "-q", "run", "--once")
    assert "Sources: 0 ok, 6 unchanged, 0 failed" in out  # not failed: that parses nothing too
    assert heavy(again, PARSERS | WEB | MIGRATOR | MATCHER) == set()
    published, _ = imported_by(tmp_path, "--config", str(examples), "-q", "publish")
    assert heavy(published, PARSERS | WEB | MIGRATOR) == set()


def test_a_no_change_run_over_http_imports_no_parser(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """An iCal calendar that answers 304, a feed and a web page that answer the same bytes
    again (no validators: the content fingerprint says unchanged)."""
    calendar = (ROOT / "examples" / "vimmerby-teater.ics").read_bytes()
    etag = '"v1"'

    def ical(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304)
        return Response(calendar, headers={"ETag": etag, "Content-Type": "text/calendar"})

    httpserver.expect_request("/teater.ics").respond_with_handler(ical)
    httpserver.expect_request("/feed.rss").respond_with_data(
        (DATA / "rss" / "ev_module.rss").read_bytes(), content_type="application/rss+xml"
    )
    httpserver.expect_request("/page.html").respond_with_data(
        (DATA / "html" / "sv_microdata.html").read_bytes(), content_type="text/html"
    )
    config = write_config(
        tmp_path,
        [
            {"id": "teater", "url": httpserver.url_for("/teater.ics")},
            {"id": "flode", "url": httpserver.url_for("/feed.rss")},
            {"id": "sida", "url": httpserver.url_for("/page.html"), "kind": "html"},
        ],
    )
    first, out = imported_by(tmp_path, "--config", str(config), "-q", "run", "--once")
    assert "Sources: 3 ok, 0 unchanged, 0 failed" in out
    assert {"icalendar", "feedparser", "lxml"} <= heavy(first, PARSERS)
    again, out = imported_by(tmp_path, "--config", str(config), "-q", "run", "--once")
    assert "Sources: 0 ok, 3 unchanged, 0 failed" in out
    assert heavy(again, PARSERS | WEB | MIGRATOR | MATCHER) == set()


def test_every_kind_has_a_harvester_that_imports() -> None:
    """The registry names its kinds; config accepts exactly those, and each loads."""
    from aggregator.harvest import HARVESTER_LOADERS, harvester_for
    from aggregator.model import KINDS

    assert sorted(HARVESTER_LOADERS) == sorted(KINDS)
    for kind in KINDS:
        assert callable(harvester_for(kind)), kind
    assert harvester_for("gopher") is None
