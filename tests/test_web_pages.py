"""The public Swedish pages over real HTTP; a real browser (Debian's chromium) for the flow."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
import requests

from tests.support import require_chromium
from tests.web_site import HOSTILE, Site

ARTIFACTS = Path(__file__).parent / "artifacts"


def page(url: str) -> requests.Response:
    answer = requests.get(url, timeout=10)
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<html lang="sv">' in answer.text
    assert 'name="viewport"' in answer.text
    return answer


def jsonld(html: str) -> dict[str, object]:
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert match, "no JSON-LD block"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def test_event_page_is_swedish_escaped_and_lists_sources(base: str, site: Site) -> None:
    answer = page(f"{base}/evenemang/{site.ids['Julmarknad i Lönneberga']}")
    assert answer.status_code == 200
    assert "<h1>Julmarknad i Lönneberga</h1>" in answer.text
    assert "lör 12 dec 2026 10:00–15:00" in answer.text
    assert "Lönneberga hembygdsförening" in answer.text and "Hultsfreds kommun" in answer.text
    assert f'href="/evenemang/{site.ids["Julmarknad i Lönneberga"]}.ics"' in answer.text
    assert "Lägg till i kalendern" in answer.text
    data = jsonld(answer.text)
    assert data["@type"] == "Event" and data["name"] == "Julmarknad i Lönneberga"
    assert data["startDate"] == "2026-12-12T10:00:00+01:00"
    assert data["endDate"] == "2026-12-12T15:00:00+01:00"
    assert data["location"]["@type"] == "Place"  # type: ignore[index]
    assert data["eventStatus"] == "https://schema.org/EventScheduled"


def test_hostile_title_is_text_everywhere(base: str, site: Site) -> None:
    answer = page(f"{base}/evenemang/{site.ids[HOSTILE]}")
    html = answer.text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Fika &amp; &#34;lotter&#34;" in html
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert block and "<" not in block.group(1) and "\\u003cscript\\u003e" in block.group(1)
    assert jsonld(html)["name"] == HOSTILE
    assert jsonld(html)["eventStatus"] == "https://schema.org/EventCancelled"
    assert "INSTÄLLT" in html
    assert "javascript:" not in html, "a source's javascript: link is not shown"
    listing = page(f"{base}/").text
    assert "<script>alert(1)" not in listing and "&lt;script&gt;alert(1)" in listing


def test_add_to_calendar_is_one_event(base: str, site: Site) -> None:
    event_id = site.ids["Jazzkväll på teatern"]
    answer = requests.get(f"{base}/evenemang/{event_id}.ics", timeout=10)
    assert answer.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in answer.headers["Content-Disposition"]
    events = icalendar.Calendar.from_ical(answer.content).walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["Jazzkväll på teatern"]


def test_old_event_links_move_for_good_and_unknown_is_404(base: str, site: Site) -> None:
    event_id = site.ids["Jazzkväll på teatern"]
    moved = requests.get(f"{base}/events/{event_id}", timeout=10, allow_redirects=False)
    assert moved.status_code == 301 and moved.headers["Location"] == f"/evenemang/{event_id}"
    missing = page(f"{base}/evenemang/0000000000000000")
    assert missing.status_code == 404 and "finns inget evenemang" in missing.text
    assert page(f"{base}/finns-inte").status_code == 404


def test_removed_event_answers_gone(base: str, site: Site) -> None:
    store = site.store()
    event_id = site.ids["Morgonläsning"]
    try:
        store.conn.execute(
            "UPDATE events SET removed_at = '2026-11-26T00:00:00Z' WHERE id = ?", (event_id,)
        )
        gone = page(f"{base}/evenemang/{event_id}")
    finally:
        store.conn.execute("UPDATE events SET removed_at = NULL WHERE id = ?", (event_id,))
        store.close()
    assert gone.status_code == 410 and "borttaget" in gone.text.lower()


def test_index_filters_search_and_pages(base: str) -> None:
    everything = page(f"{base}/").text
    assert everything.index("Morgonläsning") < everything.index("Jazzkväll på teatern")
    vimmerby = page(f"{base}/?kommun=vimmerby").text
    assert "Jazzkväll på teatern" in vimmerby and "Julmarknad i Lönneberga" not in vimmerby
    assert '<option value="vimmerby" selected>' in vimmerby
    jazz = page(f"{base}/?kategori=jazz").text
    assert "Jazzkväll på teatern" in jazz and "Nyårsrevy" not in jazz
    later = page(f"{base}/?datum=2026-12-10").text
    assert "Jazzkväll på teatern" not in later and "Julmarknad i Lönneberga" in later
    bad = page(f"{base}/?datum=igår")
    assert bad.status_code == 200 and "datum" in bad.text


def test_subscribe_page_has_every_way_in(base: str) -> None:
    html = page(f"{base}/prenumerera").text
    assert 'href="webcal://alltsomsker.test/feeds/all.ics"' in html
    google = re.search(r'href="(https://calendar\.google\.com/[^"]+)"', html)
    assert google
    cid = parse_qs(urlsplit(google.group(1).replace("&amp;", "&")).query)["cid"][0]
    assert cid == "webcal://alltsomsker.test/feeds/all.ics"
    assert 'value="https://alltsomsker.test/feeds/all.ics"' in html
    assert "<svg" in html, "a QR code"
    for phone in ("iPhone", "Android", "Outlook"):
        assert phone in html
    assert "/prenumerera?kalender=municipality%2Fvimmerby" in html
    one = page(f"{base}/prenumerera?kalender=municipality/vimmerby").text
    assert 'href="webcal://alltsomsker.test/feeds/municipality/vimmerby.ics"' in one
    combo = page(f"{base}/prenumerera?kommun=vimmerby&kommun=hultsfred&kategori=jazz").text
    assert (
        "webcal://alltsomsker.test/api/events.ics?municipality=vimmerby&amp;"
        "municipality=hultsfred&amp;category=jazz" in combo
    )
    assert page(f"{base}/prenumerera?kalender=../../etc").status_code == 404
    assert page(f"{base}/prenumerera?kommun=stockholm").status_code == 422


def test_sources_page(base: str) -> None:
    html = page(f"{base}/kallor").text
    for name in ("Lönneberga hembygdsförening", "Hultsfreds kommun", "Vimmerby Teaterförening"):
        assert name in html
    assert "Fungerar" in html
    assert "forening.ics" not in html, "no source locations on a public page"


def test_feeds_link_to_pages_that_exist(base: str, site: Site) -> None:
    feed = json.loads((site.folder / "feeds" / "all.json").read_text(encoding="utf-8"))
    home = urlsplit(feed["home_page_url"]).path
    assert requests.get(base + home, timeout=10).status_code == 200
    for item in feed["items"][:3]:
        path = urlsplit(item["url"]).path
        if path.startswith(("/events/", "/evenemang/")):
            assert requests.get(base + path, timeout=10).status_code == 200


LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WEBSITE = """<!doctype html><html><body><script>
async function run() {
  const url = "%s/api/events?municipality=vimmerby";
  const first = await fetch(url);
  const tag = first.headers.get("ETag");
  const again = await fetch(url, {headers: {"If-None-Match": tag}});
  const missing = await fetch("%s/api/events/0000000000000000");
  document.title = JSON.stringify({first: first.status, tag: tag, again: again.status,
                                   missing: missing.status});
}
run().catch(e => { document.title = "error " + e; });
</script></body></html>"""


@pytest.mark.browser
def test_a_real_browser_follows_the_flow(base: str, site: Site, httpserver: object) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(require_chromium()), args=LAUNCH_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, locale="sv-SE")
            tab = context.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.goto(f"{base}/")
            assert tab.locator("html").get_attribute("lang") == "sv"
            tab.screenshot(path=str(ARTIFACTS / "index.png"), full_page=True)
            tab.select_option("select[name=kommun]", "vimmerby")
            tab.click("button[type=submit]")
            titles = tab.locator("ul.events .title").all_inner_texts()
            assert titles == ["Morgonläsning", "Jazzkväll på teatern", "Nyårsrevy"]
            tab.fill("input[name=q]", "teatern")
            tab.click("button[type=submit]")
            assert tab.locator("ul.events .title").all_inner_texts() == ["Jazzkväll på teatern"]
            tab.click("text=Jazzkväll på teatern")
            assert tab.locator("h1").inner_text() == "Jazzkväll på teatern"
            data = json.loads(tab.locator('script[type="application/ld+json"]').inner_text())
            assert data["@type"] == "Event" and data["startDate"] == "2026-12-05T19:00:00+01:00"
            assert tab.locator("ul.sources li").all_inner_texts() == ["Vimmerby Teaterförening"]
            tab.screenshot(path=str(ARTIFACTS / "event.png"), full_page=True)
            tab.click("text=Prenumerera på hela kalendern")
            assert tab.locator("a.webcal").get_attribute("href") == (
                "webcal://alltsomsker.test/feeds/all.ics"
            )
            assert tab.locator(".qr svg").count() == 1
            tab.screenshot(path=str(ARTIFACTS / "prenumerera.png"), full_page=True)
            tab.goto(f"{base}/evenemang/{site.ids[HOSTILE]}")
            assert tab.locator("h1").inner_text() == HOSTILE, "shown as text, never run"
            assert errors == []

            other_origin = httpserver  # a website on another origin, as the real one is
            other_origin.expect_request("/").respond_with_data(  # type: ignore[attr-defined]
                WEBSITE % (base, base), content_type="text/html"
            )
            tab.goto(other_origin.url_for("/"))  # type: ignore[attr-defined]
            tab.wait_for_function("document.title.length > 0")
            result = json.loads(tab.title()) if tab.title().startswith("{") else tab.title()
            assert result == {
                "first": 200,
                "tag": result["tag"],
                "again": 304,
                "missing": 404,
            }, result
            assert result["tag"]
        finally:
            browser.close()


def test_subscribe_page_states_a_cut_calendars_horizon(base: str, site: Site) -> None:
    """The publisher cuts a subscription at 1 MB and writes how far it reaches into
    index.json (``ics_horizon``); the page says so rather than promising everything."""
    index_path = site.folder / "feeds" / "index.json"
    original = index_path.read_text(encoding="utf-8")
    index = json.loads(original)
    for entry in index["feeds"]:
        entry["ics_horizon"] = "2027-03-31" if entry["id"] == "all" else None
    index_path.write_text(json.dumps(index), encoding="utf-8")
    try:
        cut = page(f"{base}/prenumerera").text
        assert "Kalendern når fram till 31 mars 2027" in cut
        whole = page(f"{base}/prenumerera?kalender=municipality/vimmerby").text
        assert "når fram till" not in whole
    finally:
        index_path.write_text(original, encoding="utf-8")
