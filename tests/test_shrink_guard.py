"""The shrink guard against a real server that sends validators (ETag, Last-Modified)
and answers conditional requests with 304, through ``main``."""

from __future__ import annotations

import hashlib
import sqlite3
from email.utils import formatdate
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aggregator.cli import main
from tests.support import read_with_icalendar, write_config


def calendar(count: int, *, title: str = "Evenemang") -> bytes:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:e{i}@forening.se\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=Europe/Stockholm:202612{10 + i:02d}T180000\r\n"
        f"DTEND;TZID=Europe/Stockholm:202612{10 + i:02d}T200000\r\n"
        f"SUMMARY:{title} {i}\r\nEND:VEVENT\r\n"
        for i in range(count)
    )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Shrink//SV\r\n"
        + events
        + "END:VCALENDAR\r\n"
    ).encode()


class Organizer:
    """A calendar server that does conditional GET properly; tests change its calendar."""

    def __init__(self, httpserver: HTTPServer, validator: str) -> None:
        self.body = calendar(8)
        self.validator = validator
        self.answers: list[int] = []
        httpserver.expect_request("/cal.ics").respond_with_handler(self.handle)
        self.url = httpserver.url_for("/cal.ics")

    def handle(self, request: Request) -> Response:
        version = hashlib.sha256(self.body).hexdigest()[:16]
        etag = f'"{version}"'
        modified = formatdate(1_700_000_000 + int(version, 16) % 10_000_000, usegmt=True)
        if self.validator == "etag":
            headers, fresh = {"ETag": etag}, request.headers.get("If-None-Match") == etag
        else:
            headers = {"Last-Modified": modified}
            fresh = request.headers.get("If-Modified-Since") == modified
        status = 304 if fresh else 200
        self.answers.append(status)
        body = b"" if fresh else self.body
        return Response(body, status=status, headers={**headers, "Content-Type": "text/calendar"})


@pytest.fixture(params=["etag", "last-modified"])
def organizer(request: pytest.FixtureRequest, httpserver: HTTPServer) -> Organizer:
    return Organizer(httpserver, request.param)


@pytest.fixture
def config(tmp_path: Path, organizer: Organizer) -> Path:
    return write_config(tmp_path, [{"id": "forening", "name": "Föreningen", "url": organizer.url}])


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def published(config: Path) -> list[str]:
    return sorted(e["summary"] for e in read_with_icalendar(config.parent / "feeds" / "all.ics"))


def status(config: Path) -> str:
    conn = sqlite3.connect(config.parent / "test.db")
    value = conn.execute("SELECT status FROM sources WHERE id = 'forening'").fetchone()[0]
    conn.close()
    return value


def test_accept_shrink_takes_effect_for_a_server_with_validators(
    config: Path, organizer: Organizer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "run", "--once") == 0
    assert len(published(config)) == 8
    organizer.body = calendar(1)  # the organizer emptied the calendar, by mistake or not
    assert run(config, "run", "--once") == 0
    assert status(config) == "held" and len(published(config)) == 8
    assert run(config, "run", "--once") == 0, "asked again, the answer is the same: still held"
    assert organizer.answers[-1] == 200 and status(config) == "held"
    capsys.readouterr()
    assert run(config, "harvest", "--accept-shrink") == 0
    assert organizer.answers[-1] == 200, "accepting must fetch the new calendar, not get a 304"
    assert "7 removed" in capsys.readouterr().out
    assert run(config, "publish") == 0
    assert published(config) == ["Evenemang 0"] and status(config) == "ok"
    assert run(config, "run", "--once") == 0
    assert organizer.answers[-1] == 304, "the accepted harvest's validators are used again"


def test_a_held_source_that_comes_back_is_read_again(config: Path, organizer: Organizer) -> None:
    """Held with one event changed meanwhile, then the original calendar is restored: what
    the store holds must follow the source again (no 304 against the old calendar's
    validators while the store keeps the held harvest's change)."""
    assert run(config, "run", "--once") == 0
    original = organizer.body
    organizer.body = calendar(1, title="Ändrat")
    assert run(config, "run", "--once") == 0
    assert status(config) == "held"
    assert "Ändrat 0" in published(config), "a held harvest still stores the changes it brings"
    organizer.body = original
    assert run(config, "run", "--once") == 0
    assert organizer.answers[-1] == 200 and status(config) == "ok"
    assert published(config) == [f"Evenemang {i}" for i in range(8)]
