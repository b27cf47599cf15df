"""Swedish event dates in prose: one line per case, exact UTC instants.

The named-case table of real listing phrasing is ``tests/data/swedish_dates/cases.tsv``
(read at 2026-11-27, a Friday; ``bench/swedish_dates_quality.py`` prints its figures).
The tables below keep the grammar's own corner cases, read at NOW (2026-11-26, Thursday).
Europe/Stockholm is UTC+1 in winter, UTC+2 in summer. DST 2027: spring forward
2027-03-28 02:00 → 03:00, fall back 2027-10-31 03:00 → 02:00.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from aggregator.cli import main
from aggregator.harvest.swedish_calendar import (
    NAMED_DAYS,
    RECENT_PAST,
    fourth_advent,
    iso_week,
    next_occurrence,
)
from aggregator.harvest.swedish_dates import (
    AmbiguousSwedishDate,
    SwedishDate,
    SwedishDateError,
    find_swedish_datetime,
    parse_swedish_datetime,
)
from bench.swedish_dates_quality import Case, Verdict, load_cases, outcome
from tests.support import DATA, write_config

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def timed(start: datetime, end: datetime | None = None) -> SwedishDate:
    return SwedishDate(start, end, False)


def all_day(first: date, end_exclusive: date) -> SwedishDate:
    return SwedishDate(first, end_exclusive, True)


# --- the named-case table ------------------------------------------------------------

TABLE = load_cases()


@pytest.mark.parametrize("case", TABLE, ids=[f"{c.family}/{c.id}" for c in TABLE])
def test_named_case(case: Case) -> None:
    """Right, or (for a known gap) no answer; never a wrong answer."""
    result = outcome(case)
    allowed = {Verdict.RIGHT, Verdict.NO_ANSWER} if case.gap else {Verdict.RIGHT}
    assert result.verdict in allowed, (
        f"{case.text!r}: expected {case.expected}, got {result.got} {result.error}"
    )


def test_the_table_covers_every_family_with_answers_and_refusals() -> None:
    families = {c.family for c in TABLE}
    assert families == {"times", "relative", "numeric", "compact", "named", "rules"}
    for family in families:
        cases = [c for c in TABLE if c.family == family]
        assert any(c.expected is None for c in cases), f"{family}: no case that must refuse"
        assert sum(c.expected is not None for c in cases) >= 10, f"{family}: too few answers"


# --- the grammar's corner cases ------------------------------------------------------

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
    (
        "12 dec mellan kl 19 och 21",
        timed(utc(2026, 12, 12, 18, 0), utc(2026, 12, 12, 20, 0)),
        "mellan-och",
    ),
    ("12 dec kl 22–02", timed(utc(2026, 12, 12, 21, 0), utc(2026, 12, 13, 1, 0)), "past-midnight"),
    ("12 dec kl. 20–24.00", timed(utc(2026, 12, 12, 19, 0), utc(2026, 12, 12, 23, 0)), "till-24"),
    ("2027-01-02 13:00", timed(utc(2027, 1, 2, 12, 0)), "iso-space"),
    ("2027-01-02T13:00:00", timed(utc(2027, 1, 2, 12, 0)), "iso-t"),
    ("tors 3 december klockan 18.30", timed(utc(2026, 12, 3, 17, 30)), "klockan"),
    ("ons 2 dec, kl. 10", timed(utc(2026, 12, 2, 9, 0)), "comma-kl"),
    ("1 sept kl 18", timed(utc(2027, 9, 1, 16, 0)), "sept-summer-time"),
    ("15 juli 2027 19.30", timed(utc(2027, 7, 15, 17, 30)), "summer-offset"),
    ("1:a maj kl 11", timed(utc(2027, 5, 1, 9, 0)), "ordinal"),
    ("söndagen den 28e februari kl 13", timed(utc(2027, 2, 28, 12, 0)), "ordinal-e"),
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
    # year inference: the next occurrence, but up to RECENT_PAST (7 days) back keeps the year
    ("2 januari", all_day(date(2027, 1, 2), date(2027, 1, 3)), "next-year"),
    ("21 november", all_day(date(2026, 11, 21), date(2026, 11, 22)), "recent-past-keeps-year"),
    ("1 november", all_day(date(2027, 11, 1), date(2027, 11, 2)), "a-month-back-is-next-year"),
    ("20 oktober", all_day(date(2027, 10, 20), date(2027, 10, 21)), "older-past-next-year"),
    ("29 feb", all_day(date(2028, 2, 29), date(2028, 3, 1)), "leap-day-next-leap-year"),
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
    (
        "Årsmöte 8 augusti. Mellan kl 12 och 13 serveras kaffe, mötet börjar kl 13.",
        timed(utc(2027, 8, 8, 11, 0)),
        "full-stop-after-month-ends-the-sentence",
    ),
    # not dates
    ("Halva priset: 1/2 för barn", None, "fraction-is-not-a-date"),
    ("Välkommen alla!", None, "no-date"),
    ("Vi är 12 personer", None, "number-is-not-a-date"),
    ("kl. 18.30", None, "time-without-date-context"),
    ("Sträckan är 1.2 km, barn 6-12", None, "decimal-and-ages"),
    ("For kids 6-12.\nSeptember 8: LEGO", None, "no-range-across-lines"),
    ("Öppet måndag–fredag 9–16", None, "weekdays-without-dates"),
]


@pytest.mark.parametrize(("text", "expected"), [c[:2] for c in CASES], ids=[c[2] for c in CASES])
def test_find_swedish_datetime(text: str, expected: SwedishDate | None) -> None:
    assert find_swedish_datetime(text, now=NOW) == expected


REJECTED = [
    ("fre 13/12 kl 18", "not a fredag", "weekday-fits-no-near-year"),
    ("sön 12/12 kl 19", "lördag, not a söndag", "weekday-never-moves-the-year"),
    ("lör 12 okt kl. 19.00", "tisdag, not a lördag", "weekday-never-jumps-years-ahead"),
    ("fredag 2 januari 2027 kl 13", "lördag, not a fredag", "weekday-contradicts-year"),
    ("31 februari 2027", "does not exist", "no-such-day"),
    ("12 dec kl 25.00", "not a time", "no-such-hour"),
    ("12 dec 19.75", "not a time", "no-such-minute"),
    ("1:a advent 3 december", "söndag 29 november 2026, not torsdag 3 december", "named-day"),
    ("fre–sön 3–5 juli", "lördag, not a fredag", "weekday-range"),
]


@pytest.mark.parametrize(
    ("text", "reason"), [c[:2] for c in REJECTED], ids=[c[2] for c in REJECTED]
)
def test_impossible_dates_are_rejected_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(SwedishDateError, match=reason) as raised:
        find_swedish_datetime(text, now=NOW)
    assert not isinstance(raised.value, AmbiguousSwedishDate)


AMBIGUOUS = [
    ("Julkonsert lördag 19 december kl 16 och 19", "several times", "two-performances"),
    ("Lördag 12 december\n14.00 Barnteater\n19.00 Kvällsteater", "one per line", "schedule"),
    ("Julmarknad 5 december. Nästa marknad blir 9 januari.", "2 dates", "two-dates"),
    ("Fredag 11.12 och lördag 12.12 kl 19", "2 dates", "two-days"),
    ("Lördag 5 december. Slutar kl 16.", "end time but no start", "end-only"),
    ("Konsert 12 december. Start kl 18, start kl 20.", "2 start times", "two-starts"),
]


@pytest.mark.parametrize(
    ("text", "reason"), [c[:2] for c in AMBIGUOUS], ids=[c[2] for c in AMBIGUOUS]
)
def test_ambiguous_text_gives_no_answer_and_says_why(text: str, reason: str) -> None:
    """No guess: the caller skips the event with a warning (the verdict and the reason)."""
    with pytest.raises(AmbiguousSwedishDate, match=reason) as raised:
        find_swedish_datetime(text, now=NOW)
    assert isinstance(raised.value, SwedishDateError)
    assert (
        raised.value.verdict == "texten säger inte vilket datum eller klockslag som är evenemangets"
    )


TIME_ONLY = [
    ("kl. 18.30", timed(utc(2026, 12, 5, 17, 30)), "kl-time"),
    ("18.30", timed(utc(2026, 12, 5, 17, 30)), "bare-time"),
    ("19", timed(utc(2026, 12, 5, 18, 0)), "bare-hour"),
    ("18.30–20", timed(utc(2026, 12, 5, 17, 30), utc(2026, 12, 5, 19, 0)), "bare-range"),
    ("Insläpp 18.00, start 19.00", timed(utc(2026, 12, 5, 18, 0)), "labelled-times"),
    ("lör 12/12 kl 19", timed(utc(2026, 12, 12, 18, 0)), "a-date-wins-over-context"),
    ("På julafton klockan 17", timed(utc(2026, 12, 24, 16, 0)), "a-named-day-wins"),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[:2] for c in TIME_ONLY], ids=[c[2] for c in TIME_ONLY]
)
def test_time_only_field_uses_the_known_date(text: str, expected: SwedishDate) -> None:
    assert parse_swedish_datetime(text, now=NOW, default_date=date(2026, 12, 5)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Söndagen före pingst kl. 11",
        "Andra söndagen i fastan kl 11",
        "Midsommar kl 14",
        "Nästa vecka kl 18",
        "Påsk kl 10",
        "Sön 30 kl 15",
        "Lördagar kl 10–14",
        "Datum meddelas senare, kl 18",
    ],
)
def test_a_day_word_that_cannot_be_read_is_never_the_known_date(text: str) -> None:
    """ "default_date must never turn an unread date word into today"."""
    assert parse_swedish_datetime(text, now=NOW, default_date=date(2026, 12, 5)) is None


def test_year_inference_around_new_year() -> None:
    january = datetime(2027, 1, 3, 12, 0, tzinfo=UTC)
    # "28 dec" six days ago is last year's event, not one almost a year ahead
    assert find_swedish_datetime("28 dec kl 19", now=january) == timed(utc(2026, 12, 28, 18, 0))
    assert find_swedish_datetime("2 feb", now=january) == all_day(
        date(2027, 2, 2), date(2027, 2, 3)
    )


def test_recent_past_edge_on_both_sides() -> None:
    today = date(2026, 11, 27)
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    inside, outside = today - RECENT_PAST, today - RECENT_PAST - timedelta(days=1)
    for day, year in ((inside, 2026), (outside, 2027)):
        found = find_swedish_datetime(f"{day.day} november", now=now)
        assert found is not None and found.start == date(year, 11, day.day), (day, found)
    # a range is placed by its last day: still on, so this year's
    assert find_swedish_datetime("1 november – 31 december", now=now) == all_day(
        date(2026, 11, 1), date(2027, 1, 1)
    )


def test_relative_days_count_from_the_publication_time() -> None:
    text = "Välkommen på lördag kl 11!"
    harvested = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
    published = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday
    assert find_swedish_datetime(text, now=harvested, reference=published) == timed(
        utc(2026, 11, 28, 10, 0)
    )
    assert find_swedish_datetime(text, now=harvested) == timed(utc(2026, 12, 5, 10, 0))


def test_a_written_date_beats_a_relative_day_unless_the_publication_time_is_known() -> None:
    text = "I morgon lördag är det julmarknad, lördag 12 december kl 10."
    written = timed(utc(2026, 12, 12, 9, 0))
    assert find_swedish_datetime(text, now=NOW) == written  # "i morgon" from the harvest: ignored
    published = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)
    assert find_swedish_datetime(text, now=NOW, reference=published) == written
    with pytest.raises(AmbiguousSwedishDate, match="counted from its publication"):
        find_swedish_datetime(text, now=NOW, reference=datetime(2026, 11, 20, 9, tzinfo=UTC))


def test_entities_without_tags_are_decoded() -> None:
    assert find_swedish_datetime("Lördag&nbsp;5&nbsp;december kl.&#160;19", now=NOW) == timed(
        utc(2026, 12, 5, 18, 0)
    )


def test_times_are_utc_aware() -> None:
    found = find_swedish_datetime("lör 12/12 kl 19", now=NOW)
    assert found is not None and isinstance(found.start, datetime)
    assert found.start.tzinfo is UTC


# --- the calendar behind the named days -------------------------------------------------

# from the Swedish almanac (Svenska kyrkans kyrkoår, Sveriges helgdagar)
ALMANAC = [
    ("påskdag", {2026: date(2026, 4, 5), 2027: date(2027, 3, 28), 2028: date(2028, 4, 16)}),
    ("långfredag", {2026: date(2026, 4, 3), 2027: date(2027, 3, 26), 2028: date(2028, 4, 14)}),
    (
        "kristi himmelfärdsdag",
        {2026: date(2026, 5, 14), 2027: date(2027, 5, 6), 2028: date(2028, 5, 25)},
    ),
    ("pingstdag", {2026: date(2026, 5, 24), 2027: date(2027, 5, 16), 2028: date(2028, 6, 4)}),
    (
        "midsommarafton",
        {2026: date(2026, 6, 19), 2027: date(2027, 6, 25), 2028: date(2028, 6, 23)},
    ),
    ("midsommardag", {2026: date(2026, 6, 20), 2027: date(2027, 6, 26), 2028: date(2028, 6, 24)}),
    (
        "alla helgons dag",
        {2026: date(2026, 10, 31), 2027: date(2027, 11, 6), 2028: date(2028, 11, 4)},
    ),
    ("1:a advent", {2026: date(2026, 11, 29), 2027: date(2027, 11, 28), 2028: date(2028, 12, 3)}),
    ("4:e advent", {2026: date(2026, 12, 20), 2027: date(2027, 12, 19), 2028: date(2028, 12, 24)}),
    ("mors dag", {2026: date(2026, 5, 31), 2027: date(2027, 5, 30), 2028: date(2028, 5, 28)}),
    ("fars dag", {2026: date(2026, 11, 8), 2027: date(2027, 11, 14), 2028: date(2028, 11, 12)}),
    ("fettisdag", {2026: date(2026, 2, 17), 2027: date(2027, 2, 9), 2028: date(2028, 2, 29)}),
    ("julafton", {2026: date(2026, 12, 24), 2027: date(2027, 12, 24), 2028: date(2028, 12, 24)}),
]


@pytest.mark.parametrize(("name", "days"), ALMANAC, ids=[a[0] for a in ALMANAC])
def test_named_days_fall_where_the_almanac_has_them(name: str, days: dict[int, date]) -> None:
    for year, expected in days.items():
        assert NAMED_DAYS[name](year) == expected, year


def test_every_advent_sunday_is_a_sunday_before_christmas() -> None:
    for year in range(2020, 2040):
        fourth = fourth_advent(year)
        assert fourth.weekday() == 6 and date(year, 12, 18) <= fourth <= date(year, 12, 24)


def test_iso_weeks() -> None:
    assert iso_week(2026, 53) == (date(2026, 12, 28), date(2027, 1, 3))  # 2026 has 53 weeks
    assert iso_week(2027, 53) is None
    assert iso_week(2027, 1) == (date(2027, 1, 4), date(2027, 1, 10))
    assert find_swedish_datetime("v. 53 jullovsbio", now=NOW) == all_day(
        date(2026, 12, 28), date(2027, 1, 4)
    )


def test_named_days_without_a_year_are_the_next_ones() -> None:
    today = date(2026, 11, 27)
    assert next_occurrence(NAMED_DAYS["alla helgons dag"], today) == date(2027, 11, 6)
    assert next_occurrence(NAMED_DAYS["1:a advent"], today) == date(2026, 11, 29)


# --- end to end: the CLI against a real local HTTP server -------------------------------

HARVESTED = "2026-11-30T10:00:00+00:00"  # Monday 30 November 2026, 11:00 in Stockholm
SWEDISH = DATA / "swedish_dates"


def published_instants(feeds: Path) -> dict[str, tuple[str, str | None]]:
    """Title → (start, end) of every event in the published JSON feed, as UTC ISO strings."""
    items = json.loads((feeds / "all.json").read_text(encoding="utf-8"))["items"]
    return {
        item["title"]: (_utc_text(item["_event"]["start"]), _utc_text(item["_event"]["end"]))
        for item in items
    }


def _utc_text(value: str | None) -> str | None:
    if value is None or "T" not in value:
        return value
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def source_warnings(folder: Path, source_id: str) -> list[str]:
    row = (
        sqlite3.connect(folder / "test.db")
        .execute("SELECT warnings FROM sources WHERE id = ?", (source_id,))
        .fetchone()
    )
    return json.loads(row[0] or "[]")


def test_rss_items_read_times_and_relative_days_end_to_end(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGGREGATOR_NOW", HARVESTED)
    base = httpserver.url_for("").rstrip("/")
    feed = (SWEDISH / "feed.rss.tmpl").read_text(encoding="utf-8").replace("{base}", base)
    httpserver.expect_request("/pa-gang/feed/").respond_with_data(
        feed, content_type="application/rss+xml"
    )
    for post in ("julkonsert", "lucia", "julmarknad", "korkvall", "pubkvall", "adventskaffe"):
        # each item's own page has no event data, so its text is what says when
        httpserver.expect_request(f"/{post}/").respond_with_data(
            (SWEDISH / "post_page.html").read_bytes(), content_type="text/html; charset=utf-8"
        )
    config = write_config(
        tmp_path,
        [
            {
                "id": "forsamling",
                "name": "Vimmerby församling",
                "url": httpserver.url_for("/pa-gang/feed/"),
                "kind": "feed",
            }
        ],
    )
    assert main(["--config", str(config), "run", "--once"]) == 0
    published = published_instants(tmp_path / "feeds")
    assert published == {
        # family 1: a start after a door time; a time on its own line after a label
        "Julkonsert i Vimmerby kyrka": ("2026-12-12T18:00Z", None),
        "Luciakonsert": ("2026-12-13T15:00Z", "2026-12-13T16:30Z"),
        # family 2: "på lördag" from the publication (Wednesday 25 November), not the
        # harvest (Monday 30 November, which would make it 5 December)
        "Julmarknad på kyrkbacken": ("2026-11-28T10:00Z", "2026-11-28T14:00Z"),
        "Hemsjökören sjunger": ("2026-11-29T18:00Z", None),
        # entities without tags ("Lördag&nbsp;5&nbsp;december") are read
        "Adventskaffe": ("2026-12-05T13:00Z", None),
    }
    warnings = source_warnings(tmp_path, "forsamling")
    assert any(
        "”Pubkväll i församlingshemmet”" in w and "säger inte vilket datum" in w for w in warnings
    ), warnings
    assert not [w for w in warnings if "gick inte att" in w], warnings
    items = json.loads((tmp_path / "feeds" / "all.json").read_text(encoding="utf-8"))["items"]
    coffee = next(i for i in items if i["title"] == "Adventskaffe")
    assert coffee["content_text"] == "Lördag 5 december kl. 14 i församlingshemmet"


def test_recipe_pages_read_times_and_relative_days_end_to_end(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGGREGATOR_NOW", HARVESTED)
    httpserver.expect_request("/kalender/").respond_with_data(
        (SWEDISH / "recipe_page.html").read_bytes(), content_type="text/html; charset=utf-8"
    )
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    config = write_config(
        tmp_path,
        [
            {
                "id": "hembygd",
                "name": "Lönneberga hembygdsförening",
                "url": httpserver.url_for("/kalender/"),
                "kind": "html",
                "recipe": {
                    "event": "article.evenemang",
                    "title": "h2",
                    "date": ".datum",
                    "time": ".tid",
                    "place": ".plats",
                },
            }
        ],
    )
    assert main(["--config", str(config), "run", "--once"]) == 0
    published = published_instants(tmp_path / "feeds")
    assert published == {
        # family 1: a labelled time in the time field, a start after a door time, hours
        # without "kl" right after the date
        "Julkonsert med Hemsjökören": ("2026-12-05T18:00Z", None),
        "Adventsmusik": ("2026-12-06T15:00Z", None),
        "Julmarknad": ("2026-12-12T09:00Z", "2026-12-12T15:00Z"),
        # family 2: a page has no publication time, so from the harvest (Monday 30 November)
        "Loppis i logen": ("2026-12-05T10:00Z", "2026-12-05T14:00Z"),
        "Bokcirkel": ("2026-12-01T17:30Z", None),
        # family 5
        "Julbön": ("2026-12-24T14:00Z", None),
    }
    warnings = source_warnings(tmp_path, "hembygd")
    assert any("”Luciatåg”" in w and "säger inte vilket datum" in w for w in warnings), warnings
