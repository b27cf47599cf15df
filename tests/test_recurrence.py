"""Series brought to the window before expansion give exactly the dates the slow walk
from DTSTART gives, and a rule that would cost too much is refused with a sentence.

Each case is parsed twice: as it is (fast-forward on) and with fast-forward turned
off, starting late enough that the slow walk is affordable; the occurrences in the
window must be the same, key for key.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.harvest import ical, recurrence
from aggregator.harvest.ical import parse_ical
from aggregator.model import HarvestResult, Settings, Source

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SOURCE = Source(id="s", name="Källan")


def calendar(body: str, header: str = "") -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//SV\r\n"
        + header
        + f"BEGIN:VEVENT\r\nUID:serie@x\r\nSUMMARY:Serie\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def occurrences(result: HarvestResult) -> list[tuple[str, str, str]]:
    return sorted((e.key, e.start.isoformat(), str(e.end)) for e in result.events)


CASES = {
    "daily": "DTSTART:20230301T190000Z\r\nDTEND:20230301T210000Z\r\nRRULE:FREQ=DAILY\r\n",
    "every-third-day-stockholm": (
        "DTSTART;TZID=Europe/Stockholm:20140110T190000\r\n"
        "DTEND;TZID=Europe/Stockholm:20140110T203000\r\nRRULE:FREQ=DAILY;INTERVAL=3\r\n"
    ),
    "fortnightly-mo-we-wkst-su": (
        "DTSTART;TZID=Europe/Stockholm:20160104T180000\r\n"
        "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;WKST=SU\r\n"
    ),
    "last-friday-monthly": (
        "DTSTART;TZID=Europe/Stockholm:20121228T200000\r\nRRULE:FREQ=MONTHLY;BYDAY=-1FR\r\n"
    ),
    "monthly-on-the-31st": "DTSTART:20130131T100000Z\r\nRRULE:FREQ=MONTHLY\r\n",
    "every-other-month-31st": "DTSTART:20130131T100000Z\r\nRRULE:FREQ=MONTHLY;INTERVAL=2\r\n",
    "leap-day-yearly": "DTSTART;VALUE=DATE:20120229\r\nRRULE:FREQ=YEARLY\r\n",
    "all-day-weekly": (
        "DTSTART;VALUE=DATE:20151203\r\nDTEND;VALUE=DATE:20151204\r\nRRULE:FREQ=WEEKLY\r\n"
    ),
    "every-5-hours-across-dst": (
        "DTSTART;TZID=Europe/Stockholm:20250901T010000\r\nRRULE:FREQ=HOURLY;INTERVAL=5\r\n"
    ),
    "floating-weekly": "DTSTART:20170305T110000\r\nRRULE:FREQ=WEEKLY;BYDAY=SU\r\n",
    "until-inside-window": (
        "DTSTART:20180105T170000Z\r\nRRULE:FREQ=WEEKLY;UNTIL=20270115T170000Z\r\n"
    ),
    "until-before-window": "DTSTART:20180105T170000Z\r\nRRULE:FREQ=DAILY;UNTIL=20190101T000000Z\r\n",
    "simple-count-moved": "DTSTART:20250101T000000Z\r\nRRULE:FREQ=HOURLY;COUNT=16000\r\n",
    "simple-count-ends-before": "DTSTART:20200101T000000Z\r\nRRULE:FREQ=HOURLY;COUNT=20000\r\n",
    "complex-count-walked": (
        "DTSTART:20200101T090000Z\r\nRRULE:FREQ=DAILY;BYHOUR=9,15;COUNT=12000\r\n"
    ),
    "exdate-and-override": (
        "DTSTART;TZID=Europe/Stockholm:20150107T190000\r\nRRULE:FREQ=WEEKLY\r\n"
        "EXDATE;TZID=Europe/Stockholm:20261209T190000\r\n"
    ),
    "long-events-overlapping-the-window-start": (
        "DTSTART:20230101T000000Z\r\nDTEND:20230111T000000Z\r\nRRULE:FREQ=WEEKLY\r\n"
    ),
}


@pytest.mark.parametrize("body", CASES.values(), ids=CASES.keys())
def test_fast_forward_gives_the_same_dates_as_the_slow_walk(
    body: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = calendar(body)
    fast = parse_ical(content, SOURCE, Settings(), now=NOW)
    monkeypatch.setattr(ical, "fast_forward", lambda *args: None)
    slow = parse_ical(content, SOURCE, Settings(), now=NOW)
    assert occurrences(fast) == occurrences(slow)
    assert [w.message for w in fast.warnings] == [w.message for w in slow.warnings]


def test_google_calendar_series_in_utc_keep_their_local_time_across_dst(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """X-WR-TIMEZONE turns a UTC series into local time before it is moved."""
    content = calendar(
        "DTSTART:20150115T180000Z\r\nRRULE:FREQ=WEEKLY\r\n",
        header="X-WR-TIMEZONE:Europe/Stockholm\r\n",
    )
    fast = parse_ical(content, SOURCE, Settings(), now=NOW)
    monkeypatch.setattr(ical, "fast_forward", lambda *args: None)
    slow = parse_ical(content, SOURCE, Settings(), now=NOW)
    assert occurrences(fast) == occurrences(slow)
    hours = {e.start.astimezone(UTC).hour for e in fast.events}
    assert hours == {18, 17}  # 19:00 in Stockholm, winter and summer


def test_the_moved_start_is_near_the_window() -> None:
    """What makes it fast: the walk starts within a period of the window, not in 1900."""
    import icalendar

    event = icalendar.Calendar.from_ical(
        calendar("DTSTART:19000101T000000Z\r\nRRULE:FREQ=MINUTELY;COUNT=1000000000\r\n")
    ).walk("VEVENT")[0]
    recurrence.fast_forward(event, datetime(2026, 10, 27, 12, tzinfo=UTC), UTC)
    start = event["DTSTART"].dt
    assert datetime(2026, 10, 27, 8, tzinfo=UTC) <= start <= datetime(2026, 10, 27, 12, tzinfo=UTC)
    skipped = int((start - datetime(1900, 1, 1, tzinfo=UTC)).total_seconds() // 60)
    assert event["RRULE"]["COUNT"] == [1_000_000_000 - skipped]


@pytest.mark.parametrize(
    "body",
    [
        "DTSTART:19000101T090000Z\r\nRRULE:FREQ=DAILY;BYHOUR=9,15;COUNT=1000000\r\n",
        "DTSTART:19000102T090000Z\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU;COUNT=1000000\r\n"
        "RRULE:FREQ=DAILY\r\n",
    ],
    ids=["complex-count-from-1900", "two-rules-from-1900"],
)
def test_a_rule_that_would_cost_too_much_is_refused_with_a_sentence(body: str) -> None:
    other = (
        "BEGIN:VEVENT\r\nUID:annan@x\r\nDTSTART:20261210T180000Z\r\nSUMMARY:Annan\r\nEND:VEVENT\r\n"
    )
    content = calendar(body).replace(b"END:VCALENDAR", other.encode() + b"END:VCALENDAR")
    result = parse_ical(content, SOURCE, Settings(), now=NOW)
    assert [e.title for e in result.events] == ["Annan"]  # only that series is left out
    assert any(
        "Det återkommande evenemanget ”Serie”" in w.message
        and f"fler än {recurrence.RULE_BUDGET} datum" in w.message
        for w in result.warnings
    )


# --- issue 11: a warning only when an event was really lost --------------------------------


def test_a_series_that_ended_years_ago_is_not_a_warning() -> None:
    content = calendar("DTSTART:20100105T170000Z\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\n")
    result = parse_ical(content, SOURCE, Settings(), now=NOW)
    assert result.events == ()
    assert not any("gick inte att läsa" in w.message for w in result.warnings)
    assert any("slutade för mer än 30 dagar sedan" in w.message for w in result.warnings)


def test_a_series_whose_dates_cannot_be_worked_out_is_a_warning() -> None:
    """A PERIOD that ends before it starts: recurring-ical-events gives up on the series
    there; the dates before it are kept, and the warning says what was lost."""
    content = calendar(
        "DTSTART:20261201T100000Z\r\nRDATE;VALUE=PERIOD:20261210T100000Z/20261209T100000Z\r\n"
    )
    result = parse_ical(content, SOURCE, Settings(), now=NOW)
    assert [e.start for e in result.events] == [datetime(2026, 12, 1, 10, tzinfo=UTC)]
    assert any(
        "”Serie”" in w.message
        and "Bara de 1 första datumen" in w.message
        and "DTSTART, DTEND, RRULE" in w.message
        and "PERIOD" not in w.message  # the library's own text goes to the debug log
        for w in result.warnings
    )
