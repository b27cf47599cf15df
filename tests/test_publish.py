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
from aggregator.publish.formats import PUBLISHERS
from aggregator.publish.ical import escape_text, fold, render_vevent, vtimezone
from aggregator.publish.jsonfeed import render_item as json_item
from aggregator.publish.rss import render_item as rss_item
from aggregator.publish.write import FeedHead
from tests.support import read_with_icaljs, utc

SETTINGS = Settings(base_url="https://alltsomsker.test")
NOW = utc(2026, 11, 26, 12)


def feed_text(
    extension: str, title: str, fragments: list[str], settings: Settings = SETTINGS
) -> str:
    """A whole feed of these fragments, framed as ``publish`` frames it."""
    url = f"https://x/feeds/{title}.{extension}"
    frame = PUBLISHERS[extension].frame(FeedHead(title, url, NOW), settings)
    return frame.head + frame.separator.join(fragments) + frame.tail


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
    text = feed_text("ics", "Allt som sker", [render_vevent(event(), SETTINGS)])
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
    path.write_text(feed_text("ics", "DST", fragments, settings), encoding="utf-8", newline="")
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
    feed = json.loads(feed_text("json", "Allt som sker", [json_item(event(), SETTINGS)]))
    assert feed["version"] == "https://jsonfeed.org/version/1.1" and len(feed["items"]) == 1
    empty = json.loads(feed_text("json", "Tomt", []))
    assert empty["items"] == []


def test_rss_item_has_date_in_title_and_event_module() -> None:
    text = feed_text("rss", "Allt som sker", [rss_item(event(), SETTINGS)])
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
    parsed = feedparser.parse(feed_text("rss", "t", [rss_item(nasty, SETTINGS)]))
    assert not parsed.bozo
    json.loads(json_item(nasty, SETTINGS))


def test_swedish_when() -> None:
    assert swedish_when(event(start=utc(2027, 3, 28, 13)), SETTINGS) == "sön 28 mars 2027 15:00"
    assert swedish_when(event(start=date(2027, 6, 6), all_day=True), SETTINGS) == "sön 6 juni 2027"


# -- feeds that do not mislead their readers (issue 8) -----------------------------------


def _rss_description(ev: PublishedEvent) -> str:
    """The <description> of an item as a reader gets it: XML-decoded, i.e. the HTML."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(feed_text("rss", "t", [rss_item(ev, SETTINGS)]))
    found = root.find("channel/item/description")
    assert found is not None and found.text is not None
    return found.text


def test_rss_description_is_sanitised_html_led_by_when_and_where() -> None:
    plain = event(
        description="<img src=x onerror=alert(2)>\n\nRad två\nrad tre", description_html=""
    )
    text = _rss_description(plain)
    assert text.startswith("<p>lör 12 dec 19:00–21:00 · Eksjö kyrka, Eksjö</p>")
    assert "<img" not in text and "&lt;img src=x onerror=alert(2)&gt;" in text
    assert "<p>Rad två<br>rad tre</p>" in text, "paragraphs and line breaks are kept"
    rich = event(
        description_html='<p>Välkommen!</p><script>alert(1)</script><img src=x onerror="a()">'
        '<p><a href="https://x.se" onclick="b()">Biljetter</a></p>'
    )
    text = _rss_description(rich)
    assert "<p>Välkommen!</p>" in text and '<a href="https://x.se"' in text
    for bad in ("<script", "alert(1)", "<img", "onerror", "onclick"):
        assert bad not in text
    assert not feedparser.parse(feed_text("rss", "t", [rss_item(rich, SETTINGS)])).bozo


def test_rss_description_exists_without_a_description() -> None:
    bare = event(description="", description_html="", organizer_name="")
    assert _rss_description(bare) == "<p>lör 12 dec 19:00–21:00 · Eksjö kyrka, Eksjö</p>"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (utc(2026, 12, 12, 18), utc(2026, 12, 12, 20), "lör 12 dec 19:00–21:00"),
        (utc(2026, 12, 12, 18), None, "lör 12 dec 19:00"),
        (utc(2026, 12, 12, 22), utc(2026, 12, 13, 1), "lör 12 dec 23:00 – sön 13 dec 02:00"),
        (utc(2027, 3, 28, 12), utc(2027, 3, 28, 14), "sön 28 mars 14:00–16:00"),  # DST day
        (date(2026, 12, 12), date(2026, 12, 13), "lör 12 dec"),  # end is exclusive
        (date(2026, 12, 12), None, "lör 12 dec"),
        (date(2026, 12, 11), date(2026, 12, 14), "fre 11 dec – sön 13 dec"),
    ],
    ids=["evening", "no-end", "past-midnight", "dst", "all-day", "all-day-no-end", "weekend"],
)
def test_when_line(start: datetime | date, end: datetime | date | None, expected: str) -> None:
    from aggregator.publish.event import swedish_span

    all_day = not isinstance(start, datetime)
    assert swedish_span(event(start=start, end=end, all_day=all_day), SETTINGS) == expected


@pytest.mark.parametrize(
    ("image", "media_type"),
    [
        ("https://eksjo.example/bild.jpg", "image/jpeg"),
        ("https://eksjo.example/affisch.PNG?w=800", "image/png"),
        ("https://eksjo.example/a/b.webp", "image/webp"),
        ("https://eksjo.example/bild", None),
        ("https://cdn.example/image?id=7.jpg", None),
        ("", None),
    ],
    ids=["jpg", "png-query", "webp", "no-extension", "extension-in-query", "none"],
)
def test_rss_enclosure_has_the_real_type_or_is_left_out(image: str, media_type: str | None) -> None:
    parsed = feedparser.parse(feed_text("rss", "t", [rss_item(event(image=image), SETTINGS)]))
    enclosures = parsed.entries[0].get("enclosures", [])
    if media_type is None:
        assert enclosures == []
    else:
        assert [(e["href"], e["type"]) for e in enclosures] == [(image, media_type)]


def test_json_event_timezone_is_the_zone_of_its_offsets_and_content_is_never_empty() -> None:
    berlin = event(timezone="Europe/Berlin", description="", description_html="")
    item = json.loads(json_item(berlin, SETTINGS))
    assert item["_event"]["timezone"] == "Europe/Stockholm"
    assert item["_event"]["start"].endswith("+01:00")
    assert item["content_text"] == "lör 12 dec 19:00–21:00 · Eksjö kyrka, Eksjö"


# -- what subscribers' calendars need (issue 9) ------------------------------------------


@pytest.mark.parametrize(
    ("title", "status", "summary"),
    [
        ("Pubquiz", "cancelled", "INSTÄLLT: Pubquiz"),
        ("Inställt: Pubquiz", "cancelled", "Inställt: Pubquiz"),
        ("INSTÄLLD – Pubquiz", "cancelled", "INSTÄLLD – Pubquiz"),
        ("Inställd: Pubquiz", "cancelled", "Inställd: Pubquiz"),
        ("Pubquiz (inställt)", "cancelled", "Pubquiz (inställt)"),
        ("Pubquiz – AVLYST", "cancelled", "Pubquiz – AVLYST"),
        ("Pubquiz", "confirmed", "Pubquiz"),
        ("Installationskonst", "cancelled", "INSTÄLLT: Installationskonst"),
    ],
    ids=[
        "plain",
        "installt",
        "caps-installd",
        "installd-colon",
        "in-brackets",
        "avlyst",
        "confirmed",
        "word-that-only-starts-alike",
    ],
)
def test_cancelled_summary_says_installt_once(title: str, status: str, summary: str) -> None:
    from aggregator.model import EventStatus

    ev = event(title=title, status=EventStatus(status))
    vevent = icalendar.Calendar.from_ical(feed_text("ics", "t", [render_vevent(ev, SETTINGS)]))
    found = vevent.walk("VEVENT")[0]
    assert str(found["SUMMARY"]) == summary
    assert str(found["STATUS"]) == ("CANCELLED" if status == "cancelled" else "CONFIRMED")
    rss_title = feedparser.parse(feed_text("rss", "t", [rss_item(ev, SETTINGS)])).entries[0].title
    assert rss_title.casefold().count("inställ") + rss_title.casefold().count("avlyst") == (
        1 if status == "cancelled" else 0
    )


def test_calendar_has_no_method_that_would_require_an_organizer() -> None:
    """RFC 5546: METHOD:PUBLISH needs ORGANIZER on every VEVENT; sources rarely give one."""
    text = feed_text("ics", "Allt som sker", [render_vevent(event(), SETTINGS)])
    assert "METHOD:" not in text
    assert "ORGANIZER" not in text


def test_feed_links_point_at_the_web_app() -> None:
    bare = event(url="")
    rss = feedparser.parse(feed_text("rss", "t", [rss_item(bare, SETTINGS)]))
    assert rss.feed.link == "https://alltsomsker.test/"
    assert rss.entries[0].link == "https://alltsomsker.test/evenemang/abc123"
    feed = json.loads(feed_text("json", "t", [json_item(bare, SETTINGS)]))
    assert feed["home_page_url"] == "https://alltsomsker.test/"
    assert feed["items"][0]["url"] == "https://alltsomsker.test/evenemang/abc123"
    vevent = icalendar.Calendar.from_ical(feed_text("ics", "t", [render_vevent(bare, SETTINGS)]))
    assert str(vevent.walk("VEVENT")[0]["URL"]) == "https://alltsomsker.test/evenemang/abc123"
