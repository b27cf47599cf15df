"""What an organizer reads in ``sources show``: Swedish sentences that say what happened
and what to do, never a library's English exception text. One representative failure per
harvester family (feed, website, Facebook, a parse worker over its memory budget)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.errors import FetchError
from aggregator.fetch.polite import HostGate, host_of, paced_fetcher
from aggregator.model import RobotsFile, RobotsStatus, Settings
from tests.support import write_config

# words that only turn up in English text; a Swedish message has none of them
ENGLISH = re.compile(
    r"\b(the|is|not|could|found|skipped|nothing|was|were|which|with|more than|events?)\b"
)

SWEDISH_NOT_XML = b"Detta \xc3\xa4r ingen XML, bara en rad text.\n"
PAGE_WITHOUT_EVENTS = (
    "<!doctype html><html lang=sv><head><title>Välkommen till föreningen</title></head>"
    "<body><h1>Om oss</h1><p>Vi träffas ibland.</p></body></html>"
).encode()


def export_without_events() -> bytes:
    """A 'Download your information' zip with photos and messages but no Events."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photos/a.jpg", b"x")
        archive.writestr("messages/inbox.json", "{}")
    return buffer.getvalue()


def huge_calendar(events: int) -> bytes:
    """Far larger as parsed objects than the 64 MB a worker may use for one source."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//sv"]
    for n in range(events):
        lines += [
            "BEGIN:VEVENT",
            f"UID:stor-{n}@example.se",
            "DTSTAMP:20261101T120000Z",
            f"DTSTART:2026120{1 + n % 9}T18{n % 60:02d}00Z",
            f"SUMMARY:Evenemang nummer {n} med en lite längre titel",
            f"DESCRIPTION:{'Lång beskrivning. ' * 20}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def shown(config: Path, source_id: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["--config", str(config), "sources", "show", source_id]) == 0
    return capsys.readouterr().out


def assert_swedish(output: str, *, expected: str) -> None:
    """``expected`` is shown, and the line that shows it (past the field name) has no
    English in it."""
    lines = [line for line in output.splitlines() if expected in line]
    assert lines, output
    message = lines[0].split("—", 1)[-1]
    assert not ENGLISH.search(message.replace("schema.org Event", "")), message


@pytest.fixture
def harvested(tmp_path: Path) -> Path:
    files = {
        "nyheter.xml": SWEDISH_NOT_XML,
        "forening.html": PAGE_WITHOUT_EVENTS,
        "export.zip": export_without_events(),
        "profil.json": b'{"profile_v2": {"name": "Hembygdsf\xc3\xb6reningen"}}',
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    config = write_config(
        tmp_path,
        [
            {"id": "flode", "name": "Flödet", "path": "nyheter.xml", "kind": "feed"},
            {"id": "sida", "name": "Sidan", "path": "forening.html", "kind": "html"},
            {"id": "fb", "name": "Facebook", "path": "export.zip", "kind": "facebook"},
            {"id": "fbjson", "name": "Profil", "path": "profil.json", "kind": "facebook"},
        ],
    )
    main(["--config", str(config), "run", "--once"])
    return config


def test_a_feed_that_is_not_xml_is_explained_in_swedish(
    harvested: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = shown(harvested, "flode", capsys)
    assert "status:       failed" in out
    assert_swedish(out, expected="inte giltig RSS eller Atom")


def test_a_page_without_events_is_explained_in_swedish(
    harvested: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = shown(harvested, "sida", capsys)
    assert_swedish(out, expected="Vi hittade inga evenemang")


def test_a_facebook_export_without_events_is_explained_in_swedish(
    harvested: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = shown(harvested, "fb", capsys)
    assert "status:       failed" in out
    assert_swedish(out, expected="innehåller inga evenemangsfiler från Facebook")
    out = shown(harvested, "fbjson", capsys)
    assert "status:       failed" in out
    assert_swedish(out, expected="innehåller inga evenemang från Facebook")


def test_a_worker_over_its_memory_budget_is_explained_in_swedish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "stor.ics").write_bytes(huge_calendar(40_000))
    config = write_config(
        tmp_path,
        [{"id": "stor", "name": "Stor", "path": "stor.ics", "max_events": 100_000}],
        parse_memory=64,
        workers=2,
        max_bytes=64_000_000,
    )
    main(["--config", str(config), "run", "--once"])
    out = shown(config, "stor", capsys)
    assert "status:       failed" in out
    assert_swedish(out, expected="Att läsa källan krävde mer")


def test_pages_a_polite_fetch_passes_by_are_explained_in_swedish() -> None:
    """What a crawl warns about a linked page it could not fetch (``Sidan … gick inte att
    hämta: <this>``): its host busy with another harvest, or robots.txt unreadable."""
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    gate = HostGate(Settings())
    assert gate.try_take("andra.se")  # another harvest holds it

    def unreachable(url: str) -> RobotsFile:
        return RobotsFile(host_of(url), RobotsStatus.UNREACHABLE, now)

    fetch = paced_fetcher(
        lambda url: b"", gate, "egen.se", timeout=0.01, robots=unreachable, now=now
    )
    messages = []
    for url in ("https://andra.se/evenemang/1", "https://egen.se/robots.txt"):
        with pytest.raises(FetchError) as info:
            fetch(url)
        messages.append(info.value.message)
    assert "upptagen" in messages[0] and "robots.txt gick inte att läsa" in messages[1]
    for message in messages:
        assert not ENGLISH.search(message), message


def test_files_an_export_folder_passes_by_are_explained_in_swedish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "exporter"
    folder.mkdir()
    (folder / "kalender.ics").write_bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//SV\r\nBEGIN:VEVENT\r\nUID:a@x\r\n"
        b"DTSTART:20261210T180000Z\r\nSUMMARY:Julmarknad\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    (folder / "huge_events.json").write_bytes(b" " * 3000)
    config = write_config(
        tmp_path,
        [{"id": "mapp", "name": "Mappen", "path": str(folder), "kind": "facebook"}],
        max_bytes=2500,
    )
    main(["--config", str(config), "run", "--once"])
    out = shown(config, "mapp", capsys)
    assert_swedish(out, expected="huge_events.json lästes inte")
    assert "gränsen på 2,4 kB" in out
