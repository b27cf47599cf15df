"""Swedish event dates in prose: one line per case, exact UTC instants.

Today is 2026-11-26 (NOW); Europe/Stockholm is UTC+1 in winter, UTC+2 in summer.
DST 2027: spring forward 2027-03-28 02:00 → 03:00, fall back 2027-10-31 03:00 → 02:00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from aggregator.harvest.swedish_dates import (
    SwedishDate,
    SwedishDateError,
    find_swedish_datetime,
    parse_swedish_datetime,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def timed(start: datetime, end: datetime | None = None) -> SwedishDate:
    return SwedishDate(start, end, False)


def all_day(first: date, end_exclusive: date) -> SwedishDate:
    return SwedishDate(first, end_exclusive, True)


CASES = [
    # full forms
    ("lördag 2 januari 2027 kl. 13.00", timed(utc(2027, 1, 2, 12, 0)), "weekday-date-year-kl"),
    ("Lördagen den 2 januari kl. 13", timed(utc(2027, 1, 2, 12, 0)), "lordagen-den"),
    ("lör 12/12 kl 19", timed(utc(2026, 12, 12, 18, 0)), "abbrev-weekday-numeric"),
    ("12 dec 19.00–21.00", timed(utc(2026, 12, 12, 18, 0), utc(2026, 12, 12, 20, 0)), "range-dots"),
    (
        "12 dec 19:00-21:00",
        timed(utc(2026, 12, 12, 18, 0), utc(2026, 12, 12, 20, 0)),
        "range-colon",
    ),
    ("12 dec kl 19 till 21", timed(utc(2026, 12, 12, 18, 0), utc(2026, 12, 12, 20, 0)), "till"),
    ("12 dec kl 22–02", timed(utc(2026, 12, 12, 21, 0), utc(2026, 12, 13, 1, 0)), "past-midnight"),
    ("12 dec kl. 20–24.00", timed(utc(2026, 12, 12, 19, 0), utc(2026, 12, 12, 23, 0)), "till-24"),
    ("2027-01-02 13:00", timed(utc(2027, 1, 2, 12, 0)), "iso-space"),
    ("2027-01-02T13:00:00", timed(utc(2027, 1, 2, 12, 0)), "iso-t"),
    ("tors 3 december klockan 18.30", timed(utc(2026, 12, 3, 17, 30)), "klockan"),
    ("ons 2 dec, kl. 10", timed(utc(2026, 12, 2, 9, 0)), "comma-kl"),
    ("1 sept kl 18", timed(utc(2027, 9, 1, 16, 0)), "sept-summer-time"),
    ("15 juli 2027 19.30", timed(utc(2027, 7, 15, 17, 30)), "summer-offset"),
    ("1:a maj kl 11", timed(utc(2027, 5, 1, 9, 0)), "ordinal"),
    # all-day dates and ranges
    ("den 5 mars", all_day(date(2027, 3, 5), date(2027, 3, 6)), "den-date"),
    ("5–7 mars", all_day(date(2027, 3, 5), date(2027, 3, 8)), "day-range"),
    ("5 - 7 mars 2027", all_day(date(2027, 3, 5), date(2027, 3, 8)), "day-range-hyphen"),
    ("30 dec – 2 jan", all_day(date(2026, 12, 30), date(2027, 1, 3)), "range-over-new-year"),
    ("5 mars – 7 april", all_day(date(2027, 3, 5), date(2027, 4, 8)), "month-range"),
    ("2 januari 2027 - Heldag", all_day(date(2027, 1, 2), date(2027, 1, 3)), "heldag"),
    # Events Manager's default "#_EVENTDATES - #_EVENTTIMES"
    (
        "12 december 2026 - 19:00 - 23:30",
        timed(utc(2026, 12, 12, 18, 0), utc(2026, 12, 12, 22, 30)),
        "events-manager",
    ),
    (
        "26 februari 2027 - 28 februari 2027 - 18:00 - 01:00",
        timed(utc(2027, 2, 26, 17, 0), utc(2027, 2, 28, 0, 0)),
        "events-manager-multiday",
    ),
    # year inference: the next occurrence, but up to a month back keeps this year
    ("2 januari", all_day(date(2027, 1, 2), date(2027, 1, 3)), "next-year"),
    ("1 november", all_day(date(2026, 11, 1), date(2026, 11, 2)), "recent-past-keeps-year"),
    ("20 oktober", all_day(date(2027, 10, 20), date(2027, 10, 21)), "older-past-next-year"),
    ("29 feb", all_day(date(2028, 2, 29), date(2028, 3, 1)), "leap-day-next-leap-year"),
    # weekday decides the year when it does not fit this one
    ("sön 12/12 kl 19", timed(utc(2027, 12, 12, 18, 0)), "weekday-pushes-year"),
    ("lör 12/12/26 kl 19", timed(utc(2026, 12, 12, 18, 0)), "two-digit-year"),
    # DST switch days (Europe/Stockholm)
    ("söndag 28 mars 2027 kl 01.30", timed(utc(2027, 3, 28, 0, 30)), "spring-before-gap"),
    ("söndag 28 mars 2027 kl 02.30", timed(utc(2027, 3, 28, 1, 30)), "spring-gap-offset-before"),
    ("söndag 28 mars 2027 kl 03.30", timed(utc(2027, 3, 28, 1, 30)), "spring-after-gap"),
    ("söndag 31 oktober 2027 kl 02.30", timed(utc(2027, 10, 31, 0, 30)), "autumn-repeat-first"),
    ("söndag 31 oktober 2027 kl 03.30", timed(utc(2027, 10, 31, 2, 30)), "autumn-after"),
    (
        "28 mars 2027 kl 01.00–04.00",
        timed(utc(2027, 3, 28, 0, 0), utc(2027, 3, 28, 2, 0)),
        "range-across-spring-switch",
    ),
    # inside prose: a date in the title, a "kl" time elsewhere
    (
        "Julmarknad lördag 12 december\nÖppet kl. 11–15.",
        timed(utc(2026, 12, 12, 10, 0), utc(2026, 12, 12, 14, 0)),
        "prose-kl-elsewhere",
    ),
    (
        "Konserten äger rum lördag 2 januari 2027 kl. 13.00 i kyrkan.",
        timed(utc(2027, 1, 2, 12, 0)),
        "prose-sentence",
    ),
    (
        "Se https://example.se/2026/12/01/ för mer. Dans 4 dec kl 20",
        timed(utc(2026, 12, 4, 19, 0)),
        "url-ignored",
    ),
    # not dates
    ("Halva priset: 1/2 för barn", None, "fraction-is-not-a-date"),
    ("Välkommen alla!", None, "no-date"),
    ("Vi är 12 personer", None, "number-is-not-a-date"),
    ("kl. 18.30", None, "time-without-date-context"),
]


@pytest.mark.parametrize(("text", "expected"), [c[:2] for c in CASES], ids=[c[2] for c in CASES])
def test_find_swedish_datetime(text: str, expected: SwedishDate | None) -> None:
    assert find_swedish_datetime(text, now=NOW) == expected


REJECTED = [
    ("fre 13/12 kl 18", "not a fredag", "weekday-fits-no-near-year"),
    ("lör 12 okt kl. 19.00", "tisdag, not a lördag", "weekday-never-jumps-years-ahead"),
    ("fredag 2 januari 2027 kl 13", "lördag, not a fredag", "weekday-contradicts-year"),
    ("31 februari 2027", "does not exist", "no-such-day"),
    ("12 dec kl 25.00", "not a time", "no-such-hour"),
    ("12 dec 19.75", "not a time", "no-such-minute"),
]


@pytest.mark.parametrize(
    ("text", "reason"), [c[:2] for c in REJECTED], ids=[c[2] for c in REJECTED]
)
def test_impossible_dates_are_rejected_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(SwedishDateError, match=reason):
        find_swedish_datetime(text, now=NOW)


TIME_ONLY = [
    ("kl. 18.30", timed(utc(2026, 12, 5, 17, 30)), "kl-time"),
    ("18.30", timed(utc(2026, 12, 5, 17, 30)), "bare-time"),
    ("19", timed(utc(2026, 12, 5, 18, 0)), "bare-hour"),
    ("18.30–20", timed(utc(2026, 12, 5, 17, 30), utc(2026, 12, 5, 19, 0)), "bare-range"),
    ("lör 12/12 kl 19", timed(utc(2026, 12, 12, 18, 0)), "a-date-wins-over-context"),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[:2] for c in TIME_ONLY], ids=[c[2] for c in TIME_ONLY]
)
def test_time_only_field_uses_the_known_date(text: str, expected: SwedishDate) -> None:
    assert parse_swedish_datetime(text, now=NOW, default_date=date(2026, 12, 5)) == expected


def test_year_inference_around_new_year() -> None:
    january = datetime(2027, 1, 5, 12, 0, tzinfo=UTC)
    # "28 dec" a week ago is last year's event, not one almost a year ahead
    assert find_swedish_datetime("28 dec kl 19", now=january) == timed(utc(2026, 12, 28, 18, 0))
    assert find_swedish_datetime("2 feb", now=january) == all_day(
        date(2027, 2, 2), date(2027, 2, 3)
    )


def test_times_are_utc_aware() -> None:
    found = find_swedish_datetime("lör 12/12 kl 19", now=NOW)
    assert found is not None and isinstance(found.start, datetime)
    assert found.start.tzinfo is UTC
