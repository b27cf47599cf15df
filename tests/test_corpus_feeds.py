"""Every real-world calendar in the corpus, harvested and republished through the CLI: the
feeds carry exactly the events we read from it (its expected file), icalendar and ical.js
read the same instants from its all.ics, and every per-feed file is all's frame holding a
subset of all's entries, titled as index.json says. A calendar cut to stay under 1 MB
(index.json's ics_horizon) holds what we read up to that day.

Feeds are assembled from one rendered fragment per event and format, so a per-feed file
shares all.ics's bytes; it is parsed in full (icalendar, ical.js, feedparser) for the few
calendars in SPLIT_PARSED and checked against all.* as text for the rest."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from aggregator.cli import main
from tests.expected import (
    CorpusFile,
    corpus_files,
    event_line,
    expected_event_lines,
    line_fields,
    recorded_now,
)
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
# the lines of a calendar's frame that belong to its feed: its name, and how far it reaches
FEED_LINES = re.compile(r"^(X-WR-CALNAME|NAME|X-WR-CALDESC|DESCRIPTION)[;:]")
FEED_TEXT = re.compile(
    r"^(?:X-WR-CALNAME|NAME|X-WR-CALDESC|DESCRIPTION)[;:].*?\r\n(?:[ \t].*?\r\n)*", re.M
)
STOCKHOLM = ZoneInfo("Europe/Stockholm")  # write_config's timezone
CANCELLED = "INSTÄLLT: "  # what a cancelled event's SUMMARY starts with (once)


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


def comparable(line: str) -> str:
    """An event line with a cancelled event's title free of the feed's INSTÄLLT prefix."""
    _, _, status, title = line_fields(line)
    if status != "cancelled":
        return line
    return line.removesuffix(title) + title.removeprefix(CANCELLED)


def published_lines(events: list[dict[str, Any]]) -> list[str]:
    """Events as read_with_icalendar gives them, in the expected file's line format."""

    def when(value: dict[str, str] | None) -> str:
        return "-" if value is None else value.get("utc") or value["date"]

    return sorted(
        comparable(event_line(when(e["start"]), when(e["end"]), e["status"].lower(), e["summary"]))
        for e in events
    )


def local_day(start: str) -> date:
    if "T" not in start:
        return date.fromisoformat(start)
    return datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(STOCKHOLM).date()


def up_to(lines: list[str], horizon: str | None) -> list[str]:
    """The expected events a calendar cut at ``horizon`` holds: those starting by that day."""
    if horizon is None:
        return sorted(comparable(line) for line in lines)
    last = date.fromisoformat(horizon)
    return sorted(comparable(line) for line in lines if local_day(line_fields(line)[0]) <= last)


def ics_parts(text: str) -> tuple[str, list[str]]:
    """(the calendar without its events, one text block per VEVENT)."""
    return VEVENT.sub("", text), VEVENT.findall(text)


def unfolded_lines(text: str) -> list[str]:
    return re.sub(r"\r\n[ \t]", "", text).split("\r\n")


def text_value(value: object) -> str:
    """A TEXT value: icalendar leaves the calendar's NAME and X-WR-* escaped (RFC 5545 3.3.11)."""
    raw = str(value)
    if isinstance(value, icalendar.vText):
        return raw  # a property icalendar knows (DESCRIPTION): already read
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], raw)


def check_frame(path: Path, frame: str, all_frame: str, feed: dict[str, Any]) -> None:
    """The frame is all.ics's but for its feed lines, which icalendar reads as index.json
    says: the feed's title, and the day it reaches to when it was cut."""
    assert [f for f in unfolded_lines(frame) if not FEED_LINES.match(f)] == [
        f for f in unfolded_lines(all_frame) if not FEED_LINES.match(f)
    ], f"{path}: frame differs from all.ics beyond its feed lines"
    lines = "".join(FEED_TEXT.findall(frame))  # as written: escaped and folded right?
    calendar = icalendar.Calendar.from_ical(f"BEGIN:VCALENDAR\r\n{lines}END:VCALENDAR\r\n")
    name = text_value(calendar["X-WR-CALNAME"])
    assert name == text_value(calendar["NAME"]) == feed["title"], path
    note = calendar.get("X-WR-CALDESC")
    assert (note is not None) == (feed.get("ics_horizon") is not None), path
    if note is not None:
        assert text_value(note) == str(calendar["DESCRIPTION"]), path
        assert text_value(note).startswith("Evenemang till och med "), path


def check_split_ics(path: Path, all_frame: str, all_blocks: set[str], feed: dict[str, Any]) -> bool:
    """Checks a per-feed calendar against all.ics (its frame and VEVENT blocks); True when
    it holds events all.ics left out (all was cut nearer than it), which then need reading
    in full."""
    frame, blocks = ics_parts(text_of(path))
    check_frame(path, frame, all_frame, feed)
    if feed.get("ics_horizon") is None:
        assert len(blocks) == feed["events"], path
    else:
        assert 0 < len(blocks) < feed["events"], path
    return not set(blocks) <= all_blocks


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
    index = json.loads((feeds / "index.json").read_text(encoding="utf-8"))
    everything = index["feeds"][0]
    assert everything["id"] == "all" and everything["events"] == len(expected)
    assert len(index["feeds"]) >= 8, "all, six municipalities and the organizer, at least"
    assert published_lines(read[all_ics]) == up_to(expected, everything.get("ics_horizon")), (
        "the calendar must carry what we read (up to its horizon), no more and no less"
    )
    all_frame, all_vevents = ics_parts(text_of(all_ics))
    all_blocks = set(all_vevents)
    check_frame(all_ics, all_frame, all_frame, everything)
    all_rss_text = text_of(feeds / "all.rss")
    all_rss = set(re.findall(r"<item>.*?</item>", all_rss_text, re.S))
    assert len(re.findall(r"<item>", all_rss_text)) == len(expected), "RSS is never cut"
    all_json = {
        json.dumps(item, sort_keys=True)
        for item in json.loads((feeds / "all.json").read_text(encoding="utf-8"))["items"]
    }
    assert len(all_json) == len(expected)
    beyond_all = []
    for feed in index["feeds"][1:]:
        if check_split_ics(feeds / feed["ics"], all_frame, all_blocks, feed):
            assert everything.get("ics_horizon"), f"{feed['ics']} has events all.ics lacks"
            beyond_all.append(feed["id"])
        check_split_rss(feeds / feed["rss"], all_rss, feed["title"], feed["events"])
        check_split_json(feeds / feed["json"], all_json, feed["title"], feed["events"])
    if beyond_all and not split:
        assert_feeds_valid(feeds, only=beyond_all)
    listed = {f[ext] for f in index["feeds"] for ext in ("ics", "rss", "json")}
    files = [p for p in feeds.rglob("*") if p.is_file()]
    shown = {str(p.relative_to(feeds)) for p in files if p.suffix in FORMATS and p.name[0] != "."}
    assert shown == listed | {"index.json"}, "index.json lists every feed file"
    assert not [p for p in files if p.suffix == ".tmp"], "no temp files left behind"
