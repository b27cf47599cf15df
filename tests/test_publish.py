"""Publishers: RFC 5545 details, the generated VTIMEZONE checked by ical.js, JSON Feed and RSS shape."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import feedparser
import icalendar
import pytest

from aggregator.model import Place, Settings
from aggregator.publish import PublishedEvent, swedish_when
from aggregator.publish.ical import assemble_calendar, escape_text, fold, render_vevent, vtimezone
from aggregator.publish.jsonfeed import assemble_json
from aggregator.publish.jsonfeed import render_item as json_item
from aggregator.publish.rss import assemble_rss
from aggregator.publish.rss import render_item as rss_item
from tests.support import read_with_icaljs, utc

SETTINGS = Settings(base_url="https://alltsomsker.test")


def event(**changes: object) -> PublishedEvent:
    base = dict(
        id="abc123",
        title="Julkonsert i Eksjö kyrka; med kör, orkester & solister",
        start=utc(2026, 12, 12, 18),
        end=utc(2026, 12, 12, 20),
        all_day=False,
        timezone="Europe/Stockholm",
        status="confirmed",
        description="Rad ett\nRad två med åäö\\bakstreck",
        description_html="<p>Rad ett</p>",
        url="https://eksjo.example/jul",
        place=Place("Eksjö kyrka", "Kyrkogatan 1", "Eksjö", "Eksjö", 57.666, 14.972),
        location_text="",
        categories=("Musik", "Jul"),
        organizer_name="Eksjö församling",
        organizer_url="https://eksjo.example",
        image="https://eksjo.example/bild.jpg",
        sources=(("eksjo-kyrka", "https://eksjo.example/jul"), ("kommun", "")),
        created_at=utc(2026, 11, 1, 10),
        modified_at=utc(2026, 11, 20, 10),
        sequence=2,
    )
    base.update(changes)
    return PublishedEvent(**base)  # type: ignore[arg-type]


def test_fold_never_splits_a_character_and_lines_stay_within_75_octets() -> None:
    line = "DESCRIPTION:" + "åäö" * 100
    folded = fold(line)
    for part in folded.split("\r\n"):
        assert len(part.encode("utf-8")) <= 75
    assert folded.replace("\r\n ", "") == line


def test_escape_text() -> None:
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


def test_vevent_round_trips_through_icalendar() -> None:
    text = assemble_calendar("Allt som sker", [render_vevent(event(), SETTINGS)], SETTINGS, 2026)
    calendar = icalendar.Calendar.from_ical(text)
    vevent = calendar.walk("VEVENT")[0]
    assert str(vevent["UID"]) == "abc123@alltsomsker.test"
    assert str(vevent["SUMMARY"]) == "Julkonsert i Eksjö kyrka; med kör, orkester & solister"
    assert vevent["DTSTART"].dt == datetime(2026, 12, 12, 19, tzinfo=vevent["DTSTART"].dt.tzinfo)
    assert vevent["DTSTART"].dt.astimezone(UTC) == utc(2026, 12, 12, 18)
    assert str(vevent["DESCRIPTION"]).startswith("Rad ett\nRad två med åäö\\bakstreck")
    assert "Arrangör: Eksjö församling" in str(vevent["DESCRIPTION"])
    assert int(vevent["SEQUENCE"]) == 2
    assert vevent["DTSTAMP"].dt == utc(2026, 11, 20, 10)
    assert vevent["LAST-MODIFIED"].dt == utc(2026, 11, 20, 10)
    assert (vevent["GEO"].latitude, vevent["GEO"].longitude) == (57.666, 14.972)
    assert [str(c) for c in vevent["CATEGORIES"].cats] == ["Musik", "Jul"]
    assert str(vevent["STATUS"]) == "CONFIRMED"
    for name in ("X-WR-CALNAME", "NAME", "X-WR-TIMEZONE", "REFRESH-INTERVAL", "X-PUBLISHED-TTL"):
        assert name in calendar
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))


def test_all_day_event_uses_value_date_with_exclusive_end() -> None:
    text = render_vevent(
        event(start=date(2027, 6, 5), end=date(2027, 6, 7), all_day=True), SETTINGS
    )
    assert "DTSTART;VALUE=DATE:20270605\r\n" in text
    assert "DTEND;VALUE=DATE:20270607\r\n" in text


def test_cancelled_status() -> None:
    assert "STATUS:CANCELLED\r\n" in render_vevent(event(status="cancelled"), SETTINGS)


def test_generated_stockholm_vtimezone_is_the_compact_outlook_google_form() -> None:
    text = vtimezone("Europe/Stockholm", 2026)
    assert (
        "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200"
        in text
    )
    assert (
        "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100"
        in text
    )


def _dst_days() -> list[datetime]:
    """Instants around every switch 2026–2030, plus ordinary days."""
    instants = []
    for year in range(2026, 2031):
        for month in (3, 10):
            last_sunday = max(
                d for d in (date(year, month, day) for day in range(25, 32)) if d.weekday() == 6
            )
            base = datetime(last_sunday.year, last_sunday.month, last_sunday.day, tzinfo=UTC)
            instants += [base + timedelta(minutes=30 * i) for i in range(-2, 8)]
            instants += [base + timedelta(hours=15), base - timedelta(hours=9)]
    instants += [utc(2027, 1, 15, 18), utc(2027, 7, 1, 10)]
    return instants


@pytest.mark.icaljs
@pytest.mark.parametrize(
    "zone", ["Europe/Stockholm", "Europe/London", "America/New_York", "UTC", "Asia/Tokyo"]
)
def test_icaljs_reads_every_instant_around_dst_switches_as_we_wrote_it(
    zone: str, tmp_path: Path
) -> None:
    settings = Settings(timezone=zone, base_url="https://alltsomsker.test")
    instants = _dst_days()
    fragments = [
        render_vevent(event(id=f"e{i}", start=instant, end=instant + timedelta(hours=1)), settings)
        for i, instant in enumerate(instants)
    ]
    path = tmp_path / "dst.ics"
    path.write_text(
        assemble_calendar("DST", fragments, settings, 2026), encoding="utf-8", newline=""
    )
    read = read_with_icaljs([path])[str(path)]
    assert read["error"] is None
    seen = {e["uid"].split("@")[0]: e["start"]["utc"] for e in read["events"]}
    for i, instant in enumerate(instants):
        assert seen[f"e{i}"] == instant.strftime("%Y-%m-%dT%H:%M:%SZ"), f"{zone} {instant}"
    parsed = icalendar.Calendar.from_ical(path.read_bytes())
    for i, vevent in enumerate(parsed.walk("VEVENT")):
        assert vevent["DTSTART"].dt.astimezone(UTC) == instants[i]


def test_json_feed_item_carries_the_event_extension() -> None:
    item = json.loads(json_item(event(), SETTINGS))
    assert item["id"] == "abc123"
    assert item["_event"]["start"] == "2026-12-12T19:00:00+01:00"
    assert item["_event"]["location"] == {
        "name": "Eksjö kyrka",
        "address": "Kyrkogatan 1, Eksjö",
        "locality": "Eksjö",
        "municipality": "Eksjö",
        "latitude": 57.666,
        "longitude": 14.972,
    }
    assert item["_event"]["sources"] == [
        {"id": "eksjo-kyrka", "url": "https://eksjo.example/jul"},
        {"id": "kommun", "url": None},
    ]
    feed = json.loads(
        assemble_json(
            "Allt som sker", "https://x/feeds/all.json", [json_item(event(), SETTINGS)], SETTINGS
        )
    )
    assert feed["version"] == "https://jsonfeed.org/version/1.1" and len(feed["items"]) == 1
    empty = json.loads(assemble_json("Tomt", "https://x/feeds/tomt.json", [], SETTINGS))
    assert empty["items"] == []


def test_rss_item_has_date_in_title_and_event_module() -> None:
    text = assemble_rss(
        "Allt som sker", "https://x/feeds/all.rss", [rss_item(event(), SETTINGS)], SETTINGS
    )
    parsed = feedparser.parse(text)
    assert not parsed.bozo
    entry = parsed.entries[0]
    assert (
        entry.title
        == "lör 12 dec 2026 19:00 – Julkonsert i Eksjö kyrka; med kör, orkester & solister"
    )
    assert entry.ev_startdate == "2026-12-12T19:00:00+01:00"
    assert entry.ev_location == "Eksjö kyrka, Kyrkogatan 1, Eksjö"
    assert entry.ev_organizer == "Eksjö församling"


def test_hostile_text_is_escaped_in_every_format() -> None:
    nasty = event(
        title="</title><script>alert('x')</script>\x07 & ]]>",
        description="BEGIN:VEVENT\nEND:VCALENDAR",
    )
    ics = render_vevent(nasty, SETTINGS)
    assert "\nEND:VCALENDAR" not in ics and "BEGIN:VEVENT\\nEND:VCALENDAR" in ics
    parsed = feedparser.parse(
        assemble_rss("t", "https://x/t.rss", [rss_item(nasty, SETTINGS)], SETTINGS)
    )
    assert not parsed.bozo
    json.loads(json_item(nasty, SETTINGS))


def test_swedish_when() -> None:
    assert swedish_when(event(start=utc(2027, 3, 28, 13)), SETTINGS) == "sön 28 mars 2027 15:00"
    assert swedish_when(event(start=date(2027, 6, 6), all_day=True), SETTINGS) == "sön 6 juni 2027"
