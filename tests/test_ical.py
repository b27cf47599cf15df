"""The iCal harvester against the shared corpus and against one fixture per producer quirk."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from aggregator.errors import ParseError
from aggregator.harvest.ical import MAX_OCCURRENCES_PER_SERIES, parse_ical
from aggregator.model import CANCELLED, Event, HarvestResult, Settings, Source
from aggregator.normalize import normalize_event
from tests.expected import first_start as _first_start
from tests.expected import harvest_corpus
from tests.support import DATA, utc

ICAL = DATA / "ical"
CORPUS = sorted((DATA / "corpus" / "ical").glob("*.ics"))


def parse(name: str, now: datetime, source: Source) -> HarvestResult:
    return parse_ical((ICAL / name).read_bytes(), source, Settings(), now=now)


def by_key(result: HarvestResult) -> dict[str, Event]:
    return {e.key: e for e in result.events}


# -- the shared corpus: every file yields events or a clear error, never a crash ----------

EXPECTED_ERRORS = {
    "broken__big_bad_calendar.ics": "verkar avklippt",
}


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_file_yields_events_or_a_clear_error(path: Path, source: Source) -> None:
    now = _first_start(path)
    content = path.read_bytes()
    if path.name in EXPECTED_ERRORS:
        with pytest.raises(ParseError, match=EXPECTED_ERRORS[path.name]):
            parse_ical(content, source, Settings(), now=now)
        return
    result = harvest_corpus(path, now)  # parsed once for the tests that read it
    for event in result.events:
        assert event.title is not None
        if isinstance(event.start, datetime):
            assert (
                event.start.utcoffset() is not None and event.start.utcoffset().total_seconds() == 0
            )
            if event.end is not None:
                assert isinstance(event.end, datetime) and event.end >= event.start
        else:
            assert event.all_day and isinstance(event.end, date) and event.end > event.start
        normalize_event(event, source, Settings())
    keys = [e.key for e in result.events]
    assert len(keys) == len(set(keys)), "source keys must be unique within a harvest"


def test_corpus_has_events(source: Source) -> None:
    """Files with events in them must not silently come out empty."""
    empty_ok = {
        "broken__utf8_bom.ics",
        "outlook_live__empty_calendar.ics",
        "broken__big_bad_calendar.ics",
        # its RRULE ends (UNTIL 2021) before DTSTART (2024) and EXDATE removes DTSTART itself
        "outlook__tzid_city_list.ics",
    }
    for path in CORPUS:
        if path.name in empty_ok:
            continue
        result = harvest_corpus(path, _first_start(path))
        assert result.events, f"{path.name} gave no events"


def test_corpus_events_calendar_with_broken_vtimezone_still_parses(source: Source) -> None:
    path = DATA / "corpus" / "ical" / "wp_the_events_calendar__ecp633.ics"
    result = parse_ical(path.read_bytes(), source, Settings(), now=_first_start(path))
    assert len(result.events) >= 1


# -- quirks of real producers, with exact instants ----------------------------------------


def test_google_utc_times_with_x_wr_timezone(now: datetime, source: Source) -> None:
    events = by_key(parse("google_x_wr_timezone.ics", now, source))
    spring = events["dst-spring@google.com"]
    assert (spring.start, spring.end) == (utc(2027, 3, 28, 13), utc(2027, 3, 28, 15))
    assert spring.timezone == "Europe/Stockholm"
    floating = events["floating-in-google@google.com"]
    assert floating.start == utc(2026, 12, 12, 17)


def test_weekly_series_keeps_local_time_across_the_dst_switch(
    now: datetime, source: Source
) -> None:
    events = parse("google_x_wr_timezone.ics", now, source).events
    series = sorted(
        (e for e in events if e.key.startswith("weekly-over-dst")), key=lambda e: e.start
    )
    assert [e.start for e in series] == [
        utc(2027, 3, 17, 18),
        utc(2027, 3, 24, 18),
        utc(2027, 3, 31, 17),
    ]
    assert [e.key for e in series] == [
        "weekly-over-dst@google.com/20270317T180000Z",
        "weekly-over-dst@google.com/20270324T180000Z",
        "weekly-over-dst@google.com/20270331T170000Z",
    ]
    assert len({e.uid for e in series}) == 3, "each occurrence is its own identity"


def test_outlook_windows_zone_with_vtimezone(now: datetime, source: Source) -> None:
    events = by_key(parse("outlook_windows_tzid.ics", now, source))
    concert = events["040000008200E00074C5B7101A82E00800000000A1"]
    assert (concert.start, concert.end) == (utc(2027, 3, 28, 13), utc(2027, 3, 28, 15))
    assert concert.timezone == "Europe/Berlin"
    assert "<b>vårkonsert</b>, fri entré" in concert.description_html


def test_outlook_windows_zone_without_vtimezone_and_cancelled(
    now: datetime, source: Source
) -> None:
    events = by_key(parse("outlook_windows_tzid.ics", now, source))
    event = events["040000008200E00074C5B7101A82E00800000000A2"]
    assert event.start == utc(2026, 12, 10, 17)
    assert event.timezone == "Europe/Paris"
    assert event.status == CANCELLED


def test_outlook_display_name_city_list_as_tzid(now: datetime, source: Source) -> None:
    event = by_key(parse("outlook_windows_tzid.ics", now, source))["city-list-tzid"]
    assert event.start == utc(2026, 10, 31, 18)
    assert event.end is None


def test_floating_times_use_the_configured_zone_with_defined_dst_answers(
    now: datetime, source: Source
) -> None:
    events = by_key(parse("floating_lf_dst_gap.ics", now, source))
    # 02:30 does not exist on 2027-03-28: the offset before the gap applies (RFC 5545 3.3.5)
    assert events["gap@nassjo.example"].start == utc(2027, 3, 28, 1, 30)
    # 02:30 happens twice on 2027-10-31: the first (summer time) is taken
    assert events["repeat@nassjo.example"].start == utc(2027, 10, 31, 0, 30)
    winter = events["winter@nassjo.example"]
    assert (winter.start, winter.end) == (utc(2027, 1, 15, 18), utc(2027, 1, 15, 20))


def test_all_day_and_multi_day_events_have_exclusive_end(now: datetime, source: Source) -> None:
    events = by_key(parse("all_day_multi_day.ics", now, source))
    market = events["marknad@example.se"]
    assert (market.start, market.end, market.all_day) == (date(2027, 6, 5), date(2027, 6, 7), True)
    single = events["one-day@example.se"]
    assert (single.start, single.end) == (date(2027, 6, 6), date(2027, 6, 7))


def test_rrule_with_exdate_rdate_and_overrides(now: datetime, source: Source) -> None:
    result = parse("recurrence_exdate_rdate_override.ics", now, source)
    series = sorted(
        (e for e in result.events if e.key.startswith("korovning")), key=lambda e: e.start
    )
    assert [(e.key.split("/")[1], e.start, e.status) for e in series] == [
        ("20270104T173000Z", utc(2027, 1, 4, 17, 30), "confirmed"),
        ("20270118T173000Z", utc(2027, 1, 19, 18, 0), "confirmed"),
        ("20270125T173000Z", utc(2027, 1, 25, 17, 30), "cancelled"),
        ("20270203T173000Z", utc(2027, 2, 3, 17, 30), "confirmed"),
    ]
    assert series[1].title == "Körövning (flyttad till tisdag)"


def test_endless_series_is_capped_with_a_warning(now: datetime, source: Source) -> None:
    result = parse("recurrence_exdate_rdate_override.ics", now, source)
    hourly = [e for e in result.events if e.key.startswith("forever@")]
    assert len(hourly) == MAX_OCCURRENCES_PER_SERIES
    assert any("Klockringning" in w.message and "tillfällen" in w.message for w in result.warnings)


def test_escapes_folding_inside_an_escape_and_bom(now: datetime, source: Source) -> None:
    event = parse("folded_escapes_bom.ics", now, source).events[0]
    assert event.title == "Luciakonsert i Hultsfreds kyrka, med kör"
    assert event.description == "Rad ett\nRad två med komma, semikolon; och bakstreck\\ slut"
    assert event.location_text == "Hultsfreds kyrka, Hultsfred"


def test_latin1_file(now: datetime, source: Source) -> None:
    event = parse("latin1.ics", now, source).events[0]
    assert event.title == "Luciagudstjänst i Målilla kyrka"
    assert event.start == utc(2026, 12, 13, 17)


def test_malformed_events_are_skipped_with_a_warning_naming_them(
    now: datetime, source: Source
) -> None:
    result = parse("malformed_event.ics", now, source)
    assert [e.key for e in result.events] == ["good@example.se"]
    messages = " | ".join(w.message for w in result.warnings)
    assert "Trasigt datum" in messages
    assert "Utan starttid" in messages and "DTSTART" in messages


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("truncated.ics", "verkar avklippt"),
        ("error_page.ics", "gav en webbsida"),
    ],
)
def test_malformed_files_are_a_clear_source_error(
    name: str, message: str, now: datetime, source: Source
) -> None:
    with pytest.raises(ParseError, match=message):
        parse(name, now, source)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\xff" * 1000,
        b"BEGIN:VCALENDAR\r\n" + b"BEGIN:VEVENT\r\n" * 5000 + b"END:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:99999999T999999\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nX-" + b"A" * 1_000_000 + b":1\r\nEND:VCALENDAR\r\n",
    ],
    ids=["empty", "binary", "unbalanced-nesting", "impossible-date", "huge-line"],
)
def test_hostile_input_never_crashes(content: bytes, now: datetime, source: Source) -> None:
    try:
        result = parse_ical(content, source, Settings(), now=now)
    except ParseError as exc:
        assert exc.message
    else:
        assert all(e.title is not None for e in result.events)


def test_events_long_past_are_left_out(source: Source) -> None:
    result = parse_ical((ICAL / "latin1.ics").read_bytes(), source, Settings(), now=utc(2027, 6, 1))
    assert result.events == ()
    assert [w.message for w in result.warnings] == [
        "Alla 1 evenemang i kalendern slutade för mer än 30 dagar sedan, och passerade "
        "evenemang visas inte; lägg in kommande evenemang."
    ]


def test_facebook_ics_export_gets_the_event_url(source: Source) -> None:
    path = DATA / "corpus" / "ical" / "facebook_v09__upcoming_events.ics"
    result = parse_ical(path.read_bytes(), source, Settings(), now=utc(2009, 6, 1))
    assert result.events
    first = next(e for e in result.events if e.key == "facebook:98026796755")
    assert first.url == "https://www.facebook.com/events/98026796755/"
    assert first.uid == "facebook:98026796755"
    assert all(e.url.startswith("https://www.facebook.com/events/") for e in result.events)


# regressions found by mutating the corpus (about 24,000 mutated files)
@pytest.mark.parametrize(
    ("extra", "expect_event"),
    [
        ("DTSTART:20261220T150000Z\r\nDTSTART:20261221T150000Z\r\n", True),
        ("DTSTART:20261220T150000Z\r\nDTEND:20261220T170000Z\r\nDTEND:20261220T180000Z\r\n", True),
        ("DTSTART:20261220T150000Z\r\nDURATION:PT1H\r\nDURATION:PT2H\r\n", True),
        ("DTSTART:20261220T150000Z\r\nDTEND:T120000\r\n", True),
        ("DTSTART:T150000\r\n", False),
    ],
    ids=["two-dtstart", "two-dtend", "two-durations", "time-only-dtend", "time-only-dtstart"],
)
def test_repeated_or_odd_date_properties(
    extra: str, expect_event: bool, now: datetime, source: Source
) -> None:
    content = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x@example.se\r\nSUMMARY:Julmarknad\r\n"
        + extra
        + "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    result = parse_ical(content, source, Settings(), now=now)
    assert [e.start for e in result.events] == ([utc(2026, 12, 20, 15)] if expect_event else [])
    if not expect_event:
        assert "DTSTART" in result.warnings[0].message


def test_private_events_are_left_out_with_a_warning(source: Source) -> None:
    path = DATA / "corpus" / "ical" / "facebook_v09__upcoming_events.ics"
    result = parse_ical(path.read_bytes(), source, Settings(), now=utc(2009, 6, 1))
    text = path.read_text(encoding="utf-8")
    private = text.count("CLASS:PRIVATE")
    assert private == 2
    assert len(result.events) == text.count("BEGIN:VEVENT") - private
    assert any("2 evenemang är markerade som privata" in w.message for w in result.warnings)


def test_every_occurrence_after_a_thisandfuture_edit_is_kept_with_its_own_key() -> None:
    """recurring-ical-events copies a RANGE=THISANDFUTURE edit's RECURRENCE-ID onto every
    later occurrence; keyed by it, all of them but one were lost."""
    from aggregator.harvest import harvest_bytes

    path = Path(__file__).parent / "data" / "corpus" / "ical" / "reservas__range_thisandfuture.ics"
    source = Source(id="reservas", name="Reservas", path=str(path), kind="ical")
    result = harvest_bytes(
        path.read_bytes(), source, Settings(), now=datetime(2024, 9, 1, tzinfo=UTC)
    )
    edited = [e for e in result.events if e.title == "EDITED EVENT"]
    assert len(edited) > 100
    assert len({e.key for e in result.events}) == len(result.events)
