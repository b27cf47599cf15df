"""Titles stay the organizer's text: plain-text formats (iCal SUMMARY) are kept literally,
HTML-typed titles (RSS/Atom type html) lose only their formatting tags, and whatever the
title holds is escaped, never executed, in .ics, .json, .rss and on the web page."""

from __future__ import annotations

import html
import json
from pathlib import Path

import icalendar
import pytest
import requests

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.normalize import clean_title, html_title_to_text
from aggregator.normalize.text import clean_line
from tests.support import write_config
from tests.web_server import running

# (case id, iCal SUMMARY as written in the file, the title we must keep)
ICAL_CASES = [
    ("script", "<script>alert(1)</script>", "<script>alert(1)</script>"),
    ("a-b-c", "a<b>c", "a<b>c"),
    ("rock-and-roll", "Rock & Roll", "Rock & Roll"),
    ("five-lt-six", "5 < 6", "5 < 6"),
    ("heart", "<3 Fika", "<3 Fika"),
    ("italic", "Fest <i>med</i> dans", "Fest <i>med</i> dans"),
    ("entity-is-text", "&lt;b&gt; och &amp;", "&lt;b&gt; och &amp;"),
    ("mixed", '<script>x</script> & "Fest" <b>fet</b>', '<script>x</script> & "Fest" <b>fet</b>'),
]
# (case id, RSS <title> content as written in the XML, the title we must keep); an RSS
# title is HTML only when feedparser finds it made of HTML elements (not with a <script>)
RSS_CASES = [
    ("script", "&lt;script&gt;alert(1)&lt;/script&gt;", "<script>alert(1)</script>"),
    ("a-b-c", "a&lt;b&gt;c", "a<b>c"),
    ("rock-and-roll", "Rock &amp; Roll", "Rock & Roll"),
    ("five-lt-six", "5 &lt; 6", "5 < 6"),
    ("heart", "&lt;3 Fika", "<3 Fika"),
    ("italic", "Fest &lt;i&gt;med&lt;/i&gt; dans", "Fest med dans"),
    ("italic-cdata", "<![CDATA[Fest <i>med</i> dans]]>", "Fest med dans"),
    ("double-escaped", "Om &lt;b&gt;&amp;lt;b&amp;gt;&lt;/b&gt;", "Om <b>"),
    (
        "script-in-html",
        "&lt;em&gt;Fest&lt;/em&gt; &lt;script&gt;x&lt;/script&gt;",
        "<em>Fest</em> <script>x</script>",
    ),
]


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("Fest <i>med</i> dans", "Fest med dans"),
        ("Rock &amp; Roll", "Rock & Roll"),
        ("5 &lt; 6", "5 < 6"),
        ("5 < 6", "5 < 6"),
        ("<3", "<3"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("Rad<br/>två", "Rad två"),
        ('<a href="https://x.se">Länk</a>', "Länk"),
        ("&amp;lt;b&amp;gt;", "&lt;b&gt;"),
    ],
    ids=["italic", "amp", "lt-entity", "lt", "heart", "script", "br", "link", "double"],
)
def test_html_title_to_text(markup: str, text: str) -> None:
    assert html_title_to_text(markup) == text


def test_clean_title_only_cleans_white_space_and_control_characters() -> None:
    assert clean_title("  <b>Fest</b>\u200b &amp;\r\n dans\x07 ") == "<b>Fest</b> &amp; dans"


@pytest.mark.parametrize("brk", ["\r", "\n", "\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"])
def test_a_line_break_inside_a_title_is_a_space_between_its_words(brk: str) -> None:
    for clean in (clean_title, clean_line, html_title_to_text):
        assert clean(f"Fest{brk}med dans") == "Fest med dans", (clean.__name__, brk)


def test_clean_line_decodes_entities_then_cleans_as_a_title() -> None:
    assert clean_line("  <b>Fest</b>\u200b &amp;\r\n dans\x07 ") == "<b>Fest</b> & dans"
    assert clean_line("Lördag&nbsp;5&nbsp;dec\t\u00a0kl 19") == "Lördag 5 dec kl 19"
    assert clean_line("&#8203;Julbord&#xAD;\n\n") == "Julbord", "decoded invisibles go too"


def _ics(cases: list[tuple[str, str, str]]) -> str:
    events = "".join(
        "BEGIN:VEVENT\r\n"
        f"UID:{case}@titles.test\r\n"
        f"DTSTART;TZID=Europe/Stockholm:202612{10 + n:02d}T180000\r\n"
        f"DTEND;TZID=Europe/Stockholm:202612{10 + n:02d}T200000\r\n"
        f"SUMMARY:{summary}\r\n"
        "END:VEVENT\r\n"
        for n, (case, summary, _) in enumerate(cases)
    )
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Titlar//SV\r\n{events}END:VCALENDAR\r\n"
    )


def _rss(cases: list[tuple[str, str, str]]) -> str:
    items = "".join(
        f"<item><title>{title}</title><link>https://forening.test/{case}</link>"
        f"<guid>https://forening.test/{case}</guid>"
        f"<description>Den {20 + n} december 2026 kl. 18.00</description></item>"
        for n, (case, title, _) in enumerate(cases)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Föreningen</title><link>https://forening.test/</link>{items}</channel></rss>"
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("titles")
    (folder / "kal.ics").write_text(_ics(ICAL_CASES), encoding="utf-8")
    (folder / "flode.rss").write_text(_rss(RSS_CASES), encoding="utf-8")
    config = write_config(
        folder,
        [
            {"id": "kal", "name": "Kalendern", "path": str(folder / "kal.ics"), "kind": "ical"},
            # max_pages 0: the items carry their dates in their text, and their links'
            # pages (forening.test) would each be looked up, with the host's pause between
            {
                "id": "flode",
                "name": "Flödet",
                "path": str(folder / "flode.rss"),
                "kind": "feed",
                "max_pages": 0,
            },
        ],
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGGREGATOR_NOW", "2026-11-26T12:00:00+00:00")
        assert main(["--config", str(config), "run", "--once"]) == 0
    return config


def _published_titles(feeds: Path) -> tuple[set[str], set[str], str]:
    calendar = icalendar.Calendar.from_ical((feeds / "all.ics").read_bytes())
    ics = {str(e.get("SUMMARY")) for e in calendar.walk("VEVENT")}
    data = json.loads((feeds / "all.json").read_text(encoding="utf-8"))
    return ics, {item["title"] for item in data["items"]}, (feeds / "all.rss").read_text("utf-8")


@pytest.mark.parametrize(
    ("case", "written", "title"),
    [pytest.param(f"ical-{c[0]}", c[1], c[2], id=f"ical-{c[0]}") for c in ICAL_CASES]
    + [pytest.param(f"rss-{c[0]}", c[1], c[2], id=f"rss-{c[0]}") for c in RSS_CASES],
)
def test_title_reaches_every_feed_as_text(
    published: Path, case: str, written: str, title: str
) -> None:
    ics, json_titles, rss = _published_titles(published.parent / "feeds")
    assert title in ics, f"{case}: {title!r} not among {sorted(ics)}"
    assert title in json_titles, f"{case}: {title!r} not in the JSON feed"
    assert f" – {html.escape(title, quote=False)}</title>" in rss, f"{case}: RSS"


def test_no_title_is_lost_or_renamed(published: Path) -> None:
    ics, _, _ = _published_titles(published.parent / "feeds")
    assert "Namnlöst evenemang" not in ics
    assert ics == {c[2] for c in ICAL_CASES} | {c[2] for c in RSS_CASES}


def test_web_page_shows_script_titles_as_text(published: Path) -> None:
    with running(load_config(published)) as base:
        listing = requests.get(f"{base}/", timeout=10).text
    assert "<script>alert(1)" not in listing and "<b>fet</b>" not in listing
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    assert "Fest &lt;i&gt;med&lt;/i&gt; dans" in listing  # the iCal one, literally
    assert "Fest med dans" in listing  # the RSS one, its tags were formatting
