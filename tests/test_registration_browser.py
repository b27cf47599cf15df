"""The whole registration in Debian's chromium through Playwright: an organizer
registers a local test calendar and sees the live preview, a moderator logs in and
approves, and after a harvest the events are in ``/feeds/all.ics`` and on ``/``.
Screenshots of each step go to ``tests/artifacts/`` (git-ignored)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from aggregator.cli import main
from tests.registration_support import file_server
from tests.support import require_chromium, write_config
from tests.web_server import running

ARTIFACTS = Path(__file__).parent / "artifacts"
TOKEN = "moderatorns-hemliga-nyckel-2026"
CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Forening//SV\r\n"
    "BEGIN:VEVENT\r\nUID:jul@forening.example\r\n"
    "DTSTART;TZID=Europe/Stockholm:20261212T100000\r\n"
    "DTEND;TZID=Europe/Stockholm:20261212T150000\r\nSUMMARY:Julmarknad i Lönneberga\r\n"
    "LOCATION:Hembygdsgården\\, Lönneberga\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:lucia@forening.example\r\n"
    "DTSTART;TZID=Europe/Stockholm:20261213T180000\r\nSUMMARY:Luciatåg <3 fika & lotter\r\n"
    "LOCATION:Kyrkan\\, Lönneberga\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.mark.browser
def test_organizer_registers_and_moderator_approves_in_a_browser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    www = tmp_path / "www"
    www.mkdir()
    (www / "forening.ics").write_text(CALENDAR, encoding="utf-8")
    monkeypatch.setenv("AGGREGATOR_ADMIN_TOKEN", TOKEN)
    with file_server(www) as host:
        config_file = write_config(tmp_path, [], trusted_hosts=[host])
        assert main(["--config", str(config_file), "publish"]) == 0
        with running(config_file) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(require_chromium()), args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page(viewport={"width": 420, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on(
                    "response",
                    lambda r: (
                        errors.append(f"{r.status} {r.url}")
                        if r.status >= 400 and not r.url.endswith("/favicon.ico")
                        else None
                    ),
                )

                # the organizer: live preview, then the status link
                page.goto(f"{base}/registrera")
                assert page.locator("html").get_attribute("lang") == "sv"
                page.fill("#name", "Lönneberga hembygdsförening")
                page.fill("#email", "ordforande@lonneberga.example")
                page.select_option("#municipality", "Hultsfred")
                page.fill("#categories", "Hembygd, Jul")
                page.fill("#url", f"http://{host}/forening.ics")
                found = page.locator("#forhandsvisning-resultat .events li")
                found.first.wait_for(timeout=20_000)
                assert found.all_inner_texts() == [
                    "lör 12 dec 2026 10:00–15:00\nJulmarknad i Lönneberga – Hembygdsgården, Lönneberga",
                    "sön 13 dec 2026 18:00\nLuciatåg <3 fika & lotter – Kyrkan, Lönneberga",
                ]
                page.screenshot(
                    path=ARTIFACTS / "registrering-1-forhandsvisning.png", full_page=True
                )
                page.click("#skicka")
                page.wait_for_selector("#statuslank")
                status_url = page.locator("#statuslank").inner_text()
                assert "/registrera/status/" in status_url
                page.screenshot(path=ARTIFACTS / "registrering-2-statuslank.png", full_page=True)

                # the moderator: log in, see the preview, approve
                page.goto(f"{base}/admin")
                page.fill("#token", TOKEN)
                page.click("#logga-in")
                pending = page.locator("article.pending")
                assert pending.count() == 1
                assert "Julmarknad i Lönneberga" in pending.inner_text()
                page.screenshot(path=ARTIFACTS / "registrering-3-moderering.png", full_page=True)
                pending.locator("button.approve").click()
                page.wait_for_selector("text=Godkänd: lonneberga-hembygdsforening")
                page.screenshot(path=ARTIFACTS / "registrering-4-godkand.png", full_page=True)

                # after a harvest: in the feed and on the front page
                assert main(["--config", str(config_file), "run", "--once"]) == 0
                feed = requests.get(f"{base}/feeds/all.ics", timeout=10)
                assert feed.status_code == 200
                assert "SUMMARY:Julmarknad i Lönneberga" in feed.text
                page.goto(f"{base}/")
                page.wait_for_selector("text=Julmarknad i Lönneberga")
                assert "Luciatåg <3 fika & lotter" in page.inner_text("main")
                page.screenshot(path=ARTIFACTS / "registrering-5-forsidan.png", full_page=True)

                # and the organizer's status page says so
                page.goto(status_url.replace("https://alltsomsker.test", base))
                assert page.inner_text("#status") == "godkänd och aktiv"
                assert "Senaste hämtningen gick bra." in page.inner_text("#halsa")
                page.screenshot(path=ARTIFACTS / "registrering-6-status.png", full_page=True)
                assert errors == [], errors
            finally:
                browser.close()
    capsys.readouterr()
