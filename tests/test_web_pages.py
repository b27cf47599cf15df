"""Event pages: served over real HTTP, read by a real browser (Debian's chromium)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.store import Store
from aggregator.web import make_server
from tests.support import require_chromium, write_config

HOSTILE = 'Fika <3 & "lotter"'  # survives clean-up as text; must never become markup
CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Sida//SV\r\n"
    "BEGIN:VEVENT\r\nUID:jul@forening.se\r\nDTSTART;TZID=Europe/Stockholm:20261212T100000\r\n"
    "DTEND;TZID=Europe/Stockholm:20261212T150000\r\nSUMMARY:Julmarknad i Lönneberga\r\n"
    "LOCATION:Hembygdsgården\\, Lönneberga\r\nURL:https://forening.example/jul\r\n"
    "DESCRIPTION:Fika\\, lotter och tomte.\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:nasty@forening.se\r\nDTSTART:20261213T150000Z\r\n"
    f"SUMMARY:{HOSTILE}\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


@pytest.fixture
def site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[str, dict[str, str]]]:
    (tmp_path / "a.ics").write_text(CALENDAR, encoding="utf-8")
    (tmp_path / "b.ics").write_text(
        CALENDAR.split("BEGIN:VEVENT\r\nUID:nasty")[0] + "END:VCALENDAR\r\n"
    )
    config_file = write_config(
        tmp_path,
        [
            {
                "id": "forening",
                "name": "Lönneberga hembygdsförening",
                "path": str(tmp_path / "a.ics"),
            },
            {
                "id": "kommun",
                "name": "Hultsfreds kommun",
                "path": str(tmp_path / "b.ics"),
                "priority": 10,
            },
        ],
    )
    assert main(["--config", str(config_file), "run", "--once"]) == 0
    capsys.readouterr()
    config = load_config(config_file)
    store = Store(config.settings.database)
    ids = {json.loads(d)["title"]: i for i, d in store.conn.execute("SELECT id, data FROM events")}
    store.close()
    server = make_server(config, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", ids
    server.shutdown()
    server.server_close()


def test_event_page_is_swedish_escaped_and_lists_sources(site: tuple[str, dict[str, str]]) -> None:
    base, ids = site
    page = requests.get(f"{base}/events/{ids['Julmarknad i Lönneberga']}", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<html lang="sv">' in page.text
    assert "<h1>Julmarknad i Lönneberga</h1>" in page.text
    assert "lör 12 dec 2026 10:00–15:00" in page.text
    assert "Lönneberga hembygdsförening" in page.text and "Hultsfreds kommun" in page.text
    nasty = requests.get(f"{base}/events/{ids[HOSTILE]}", timeout=5).text
    assert "<h1>Fika &lt;3 &amp; &quot;lotter&quot;</h1>" in nasty
    assert "INSTÄLLT" in nasty
    assert requests.get(f"{base}/events/0000000000000000", timeout=5).status_code == 404


def test_removed_event_answers_gone(site: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    base, ids = site
    config = load_config(tmp_path / "sources.yaml")
    store = Store(config.settings.database)
    store.conn.execute(
        "UPDATE events SET removed_at = '2026-11-27T00:00:00Z' WHERE id = ?", (ids[HOSTILE],)
    )
    store.close()
    gone = requests.get(f"{base}/events/{ids[HOSTILE]}", timeout=5)
    assert gone.status_code == 410 and "borttaget" in gone.text


@pytest.mark.browser
def test_a_real_browser_reads_the_event_page(site: tuple[str, dict[str, str]]) -> None:
    from playwright.sync_api import sync_playwright

    base, ids = site
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(require_chromium()),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{base}/events/{ids['Julmarknad i Lönneberga']}")
            assert page.locator("html").get_attribute("lang") == "sv"
            assert page.locator("h1").inner_text() == "Julmarknad i Lönneberga"
            assert page.locator("ul.sources li").all_inner_texts() == [
                "Lönneberga hembygdsförening",
                "Hultsfreds kommun",
            ]
            data = json.loads(page.locator('script[type="application/ld+json"]').inner_text())
            assert data["@type"] == "Event" and data["startDate"] == "2026-12-12T10:00:00+01:00"
            page.goto(f"{base}/events/{ids[HOSTILE]}")
            assert page.locator("h1").inner_text() == HOSTILE, "shown as text, never run"
            assert errors == []
        finally:
            browser.close()
