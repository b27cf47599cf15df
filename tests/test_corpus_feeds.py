"""Every real-world calendar in the corpus, harvested and republished through the CLI: the
feeds carry exactly the events we read from it (its expected file), icalendar and ical.js
read the same instants from its all.ics, and every per-feed file is all's frame holding a
subset of all's entries, titled as index.json says.

Feeds are assembled from one rendered fragment per event and format, so a per-feed file
shares all.ics's bytes; it is parsed in full (icalendar, ical.js, feedparser) for the few
calendars in SPLIT_PARSED and checked against all.* as text for the rest."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import icalendar
import pytest

from aggregator.cli import main
from tests.expected import CorpusFile, corpus_files, event_line, expected_event_lines, recorded_now
from tests.support import assert_feeds_valid, write_config

CALENDARS = [c for c in corpus_files() if c.kind == "ical" and c.path.parent.name == "ical"]
# per-feed files read in full: several feeds each (categories, a municipality), all-day
# recurrences, Windows zone names
SPLIT_PARSED = {
    "wp_events_manager63__community_centre.ics",
    "teamup__guild_events.ics",
    "evolution__recurrence_sequence.ics",
    "exchange2010__ms_timezones.ics",
}
FORMATS = (".ics", ".rss", ".json")
VEVENT = re.compile(r"BEGIN:VEVENT\r\n.*?END:VEVENT\r\n", re.S)
TITLE_LINES = re.compile(r"^(X-WR-CALNAME|NAME)[;:]")
TITLE_TEXT = re.compile(r"^(?:X-WR-CALNAME|NAME)[;:].*?\r\n(?:[ \t].*?\r\n)*", re.M)


def publish(corpus: CorpusFile, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = write_config(
        folder, [{"id": "corpus", "name": corpus.path.stem, "path": str(corpus.path)}]
    )
    now = recorded_now(corpus)
    assert now is not None
    monkeypatch.setenv("AGGREGATOR_NOW", now.isoformat())
    assert main(["--config", str(config), "run", "--once"]) == 0, corpus.id
    return folder / "feeds"


def text_of(path: Path) -> str:
    """The file's text with its CRLFs (read_text would turn them into LFs)."""
    return path.read_bytes().decode("utf-8")


def published_lines(events: list[dict[str, Any]]) -> list[str]:
    """Events as read_with_icalendar gives them, in the expected file's line format."""

    def when(value: dict[str, str] | None) -> str:
        return "-" if value is None else value.get("utc") or value["date"]

    return sorted(
        event_line(when(e["start"]), when(e["end"]), e["status"].lower(), e["summary"])
        for e in events
    )


def ics_parts(text: str) -> tuple[str, list[str]]:
    """(the calendar without its events, one text block per VEVENT)."""
    return VEVENT.sub("", text), VEVENT.findall(text)


def unfolded_lines(text: str) -> list[str]:
    return re.sub(r"\r\n[ \t]", "", text).split("\r\n")


CUT_LINES = re.compile(r"^(X-WR-CALDESC|DESCRIPTION)[:;]")  # the 1 MB cut's horizon note


def check_split_ics(
    path: Path, all_text: str, title: str, count: int, *, all_cut: bool = False
) -> None:
    frame, blocks = ics_parts(text_of(path))
    all_frame, all_blocks = ics_parts(all_text)
    assert [
        f for f in unfolded_lines(frame) if not TITLE_LINES.match(f) and not CUT_LINES.match(f)
    ] == [
        f for f in unfolded_lines(all_frame) if not TITLE_LINES.match(f) and not CUT_LINES.match(f)
    ], f"{path}: frame differs from all.ics beyond its title"
    if all_cut:  # all.ics stops at its horizon; this smaller feed may reach further
        assert len(blocks) <= count, path
    else:
        assert set(blocks) <= set(all_blocks) and len(blocks) == count, path
    # the lines that differ from all.ics's, as written (folded): escaped and folded right?
    titles = "".join(TITLE_TEXT.findall(frame))
    calendar = icalendar.Calendar.from_ical(f"BEGIN:VCALENDAR\r\n{titles}END:VCALENDAR\r\n")
    assert str(calendar["X-WR-CALNAME"]) == str(calendar["NAME"]) == title, path


def check_split_rss(path: Path, all_items: set[str], title: str, count: int) -> None:
    text = text_of(path)
    channel = ET.fromstring(text.encode("utf-8")).find("channel")  # well-formed XML
    assert channel is not None and channel.findtext("title") == title, path
    items = re.findall(r"<item>.*?</item>", text, flags=re.S)
    assert len(items) == count == len(channel.findall("item")), path
    assert set(items) <= all_items, f"{path}: an item differs from all.rss"


def check_split_json(path: Path, all_items: set[str], title: str, count: int) -> None:
    feed = json.loads(path.read_text(encoding="utf-8"))
    assert feed["title"] == title and len(feed["items"]) == count, path
    items = {json.dumps(item, sort_keys=True) for item in feed["items"]}
    assert items <= all_items, f"{path}: an item differs from all.json"


@pytest.mark.icaljs
@pytest.mark.parametrize("corpus", CALENDARS, ids=[c.path.name for c in CALENDARS])
def test_corpus_calendar_republishes_what_we_read(
    corpus: CorpusFile,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    feeds = publish(corpus, tmp_path, monkeypatch)
    capsys.readouterr()
    all_ics = feeds / "all.ics"
    split = corpus.path.name in SPLIT_PARSED
    read = assert_feeds_valid(feeds, only=None if split else ["all"])
    expected = expected_event_lines(corpus)
    published = published_lines(read[all_ics])
    index = json.loads((feeds / "index.json").read_text(encoding="utf-8"))
    if index["feeds"][0].get("ics_horizon"):  # cut at 1 MB for subscribers: the nearest kept
        assert all_ics.stat().st_size <= 1024 * 1024
        assert 0 < len(published) < len(expected)
        assert published == expected[: len(published)], "a cut calendar keeps the nearest events"
    else:
        assert published == expected, "the feed must carry what we read, no more and no less"
    assert index["feeds"][0]["id"] == "all" and index["feeds"][0]["events"] == len(expected)
    assert len(index["feeds"]) >= 8, "all, six municipalities and the organizer, at least"
    all_text = text_of(all_ics)
    all_rss = set(re.findall(r"<item>.*?</item>", text_of(feeds / "all.rss"), re.S))
    all_json = {
        json.dumps(item, sort_keys=True)
        for item in json.loads((feeds / "all.json").read_text(encoding="utf-8"))["items"]
    }
    for feed in index["feeds"][1:]:
        check_split_ics(
            feeds / feed["ics"],
            all_text,
            feed["title"],
            feed["events"],
            all_cut=bool(index["feeds"][0].get("ics_horizon")),
        )
        check_split_rss(feeds / feed["rss"], all_rss, feed["title"], feed["events"])
        check_split_json(feeds / feed["json"], all_json, feed["title"], feed["events"])
    listed = {f[ext] for f in index["feeds"] for ext in ("ics", "rss", "json")}
    files = [p for p in feeds.rglob("*") if p.is_file()]
    shown = {str(p.relative_to(feeds)) for p in files if p.suffix in FORMATS and p.name[0] != "."}
    assert shown == listed | {"index.json"}, "index.json lists every feed file"
    assert not [p for p in files if p.suffix == ".tmp"], "no temp files left behind"
