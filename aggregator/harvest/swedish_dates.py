"""Event dates as Swedish organizers write them in prose.

"lördag 2 januari 2027 kl. 13.00", "lör 12/12 kl 19", "12 dec 19.00–21.00",
"5–7 mars", "2027-01-02 13:00", "kl. 18.30" (with a known date). dateparser
gets these wrong (years from "19.00", no weekday check, no time ranges), so
this is a small grammar of our own with a table of tests.

Wall times are read in the given zone and returned as UTC instants; a time in
the spring DST gap takes the offset before the gap and an autumn repeat the
first occurrence (see ``timezones.local_to_utc``). A date without a year is
the next occurrence after ``now``, except that a date up to a month back keeps
its year (an event that just happened is not next year's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from aggregator.normalize.timezones import local_to_utc

STOCKHOLM = ZoneInfo("Europe/Stockholm")
PAST_TOLERANCE = timedelta(days=31)  # "an event date up to ~1 month in the past keeps this year"
# a weekday that does not fit the next occurrence may pick the one after, but only within
# the harvest window (400 days): "lör 12 okt" must not jump years ahead to fit
WEEKDAY_HORIZON = timedelta(days=400)

WEEKDAYS = {
    "måndag": 0,
    "mån": 0,
    "tisdag": 1,
    "tis": 1,
    "onsdag": 2,
    "ons": 2,
    "torsdag": 3,
    "tors": 3,
    "tor": 3,
    "fredag": 4,
    "fre": 4,
    "lördag": 5,
    "lör": 5,
    "söndag": 6,
    "sön": 6,
}
MONTHS = {
    "januari": 1,
    "jan": 1,
    "februari": 2,
    "feb": 2,
    "mars": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "maj": 5,
    "juni": 6,
    "jun": 6,
    "juli": 7,
    "jul": 7,
    "augusti": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "oktober": 10,
    "okt": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
_MONTH_NAMES = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
]
_WEEKDAY_NAMES = ["måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"]


def _alternatives(words: dict[str, int]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_WD = rf"(?:(?P<wd>{_alternatives(WEEKDAYS)})(?:en)?\.?,?\s+)"
_TEXT_DATE = (
    rf"(?P<d1>\d{{1,2}})(?::[ae])?\.?(?:\s*[–-]\s*(?P<d2>\d{{1,2}})(?::[ae])?\.?)?"
    rf"\s*(?P<mon>{_alternatives(MONTHS)})\b\.?(?:\s+(?P<y>20\d\d)\b)?"
)
_ISO_DATE = r"(?P<iy>20\d\d)-(?P<im>\d{1,2})-(?P<id>\d{1,2})(?!\d)"
_NUM_DATE = r"(?P<nd>\d{1,2})/(?P<nm>\d{1,2})(?:[/-](?P<ny>20\d\d|\d\d))?(?![\d/])"
_DATE_RE = re.compile(
    rf"(?<![\w/.:-]){_WD}?(?P<den>den\s+)?(?:{_ISO_DATE}|{_TEXT_DATE}|{_NUM_DATE})",
)
# a second date closing a range: "5 mars – 7 april", "30 dec 2026 – 2 jan 2027"
_RANGE_END_RE = re.compile(
    rf"\s*(?:[–-]|till)\s*{_WD}?(?:den\s+)?(?:{_ISO_DATE}|{_TEXT_DATE})",
)
_NOT_MORE = r"(?![\d:/]|\.\d)"  # a sentence's full stop may follow, more digits may not
_TIME = rf"(?P<h1>\d{{1,2}})(?:[.:](?P<m1>\d{{2}})(?::\d{{2}})?)?{_NOT_MORE}"
_TIME_END = (
    r"(?:\s*(?:[–-]|till|och)\s*(?:kl(?:ockan)?\.?\s*|ca\.?\s*)?"
    rf"(?P<h2>\d{{1,2}})(?:[.:](?P<m2>\d{{2}}))?{_NOT_MORE})?"
)
_KL = r"(?P<kl>kl(?:ockan)?\.?\s*)"
# a time right after the date: "… kl. 13.00", "… 19.00–21.00", "2027-01-02T13:00", EM's " - 19:00 - 21:00"
_TIME_AFTER_RE = re.compile(
    rf"(?:\s*,?\s*(?:[-–|·]\s*)?(?:(?:från|mellan)\s+)?{_KL}?|t){_TIME}{_TIME_END}"
)
# a time anywhere else in the text needs its "kl": "Öppet kl. 11–15"
_KL_TIME_RE = re.compile(rf"(?<!\w){_KL}{_TIME}{_TIME_END}")
# a field that is only a time: "18.30", "19–21"
_BARE_TIME_RE = re.compile(rf"\s*(?:(?:från|mellan)\s+)?{_KL}?{_TIME}{_TIME_END}\s*[.,]?\s*")
_ALL_DAY_RE = re.compile(r"\s*[-–,]?\s*(?:heldag|hela dagen)\b")
_URL_RE = re.compile(r"(?:https?://|www\.)\S+")
_DASHES = str.maketrans({"\u2013": "–", "\u2014": "–", "\u2011": "-", "\u2212": "–", "\xa0": " "})


class SwedishDateError(ValueError):
    """A date was written, but it cannot be the right one (say which and why)."""


@dataclass(frozen=True, slots=True)
class SwedishDate:
    """``start``/``end`` as UTC datetimes, or dates for all-day events (``end`` exclusive)."""

    start: datetime | date
    end: datetime | date | None
    all_day: bool


@dataclass(frozen=True, slots=True)
class _Clock:
    hour: int
    minute: int
    end_hour: int | None = None
    end_minute: int | None = None


def parse_swedish_datetime(
    text: str, *, now: datetime, tz: tzinfo = STOCKHOLM, default_date: date | None = None
) -> SwedishDate | None:
    """A date/time *field* ("lör 12/12 kl 19", or just "18.30" when ``default_date`` is known).

    None when nothing date-like is there; SwedishDateError when a date is there but
    impossible (a weekday that does not fit, 31 februari, 25.00).
    """
    normalized = _normalize(text)
    if default_date is not None:
        bare = _BARE_TIME_RE.fullmatch(normalized)
        if bare:
            clock = _clock(bare, requires_minutes=False)
            if clock is not None:
                return _result(default_date, None, clock, tz)
    return find_swedish_datetime(text, now=now, tz=tz, default_date=default_date)


def find_swedish_datetime(
    text: str, *, now: datetime, tz: tzinfo = STOCKHOLM, default_date: date | None = None
) -> SwedishDate | None:
    """The first event date written somewhere in prose (a title, a description).

    A date with no time next to it takes a "kl …" time from elsewhere in the text,
    else it is all-day. With only a "kl …" time, ``default_date`` gives the day.
    """
    normalized = _normalize(text)
    first_error: SwedishDateError | None = None
    for match in _DATE_RE.finditer(normalized):
        try:
            found = _from_date_match(match, normalized, now, tz)
        except SwedishDateError as exc:
            first_error = first_error or exc
            continue
        if found is not None:
            return found
    if first_error is not None:
        raise first_error
    if default_date is not None:
        kl = _KL_TIME_RE.search(normalized)
        clock = _clock(kl, requires_minutes=False) if kl else None
        if clock is not None:
            return _result(default_date, None, clock, tz)
    return None


def _normalize(text: str) -> str:
    text = _URL_RE.sub(" ", text.translate(_DASHES).lower())
    return re.sub(r"[ \t]+", " ", text)


def _from_date_match(
    match: re.Match[str], text: str, now: datetime, tz: tzinfo
) -> SwedishDate | None:
    groups = match.groupdict()
    weekday = WEEKDAYS[groups["wd"]] if groups["wd"] else None
    has_time_after = _TIME_AFTER_RE.match(text, match.end())
    if groups["nd"] is not None and not (
        weekday is not None or groups["den"] or groups["ny"] or has_time_after
    ):
        return None  # a bare "1/2" is as often "half" as it is a date
    if groups["iy"] is not None:
        first = _checked_date(int(groups["iy"]), int(groups["im"]), int(groups["id"]), weekday)
        last = first
    else:
        day, month, year = _day_month_year(groups)
        first = _infer_date(day, month, year, weekday, now, tz)
        last = first
        if groups.get("d2"):
            last = _checked_date(first.year, month, int(groups["d2"]), None)
            if last < first:
                raise SwedishDateError(f"the range {day}–{groups['d2']} runs backwards")
    position = match.end()
    range_end = _RANGE_END_RE.match(text, position)
    if range_end is not None:
        last = _range_end_date(range_end, first)
        position = range_end.end()
    if _ALL_DAY_RE.match(text, position):
        return SwedishDate(first, last + timedelta(days=1), True)
    after = _TIME_AFTER_RE.match(text, position)
    clock = _clock(after, requires_minutes=True) if after else None
    if clock is None:
        kl = _KL_TIME_RE.search(text)
        clock = _clock(kl, requires_minutes=False) if kl else None
    if clock is None:
        return SwedishDate(first, last + timedelta(days=1), True)
    return _result(first, last if last != first else None, clock, tz)


def _day_month_year(groups: dict[str, str | None]) -> tuple[int, int, int | None]:
    if groups["d1"] is not None:
        month = MONTHS[groups["mon"] or ""]
        return int(groups["d1"]), month, int(groups["y"]) if groups["y"] else None
    year_text = groups["ny"]
    year = None
    if year_text:
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    return int(groups["nd"] or 0), int(groups["nm"] or 0), year


def _range_end_date(match: re.Match[str], first: date) -> date:
    groups = match.groupdict()
    weekday = WEEKDAYS[groups["wd"]] if groups["wd"] else None
    if groups["iy"] is not None:
        last = _checked_date(int(groups["iy"]), int(groups["im"]), int(groups["id"]), weekday)
    else:
        day = int(groups["d2"] or groups["d1"] or 0)
        month = MONTHS[groups["mon"] or ""]
        year = int(groups["y"]) if groups["y"] else first.year
        if not groups["y"] and (month, day) < (first.month, first.day):
            year += 1  # "30 dec – 2 jan"
        last = _checked_date(year, month, day, weekday)
    if last < first:
        raise SwedishDateError(f"the date range ends ({last}) before it starts ({first})")
    return last


def _checked_date(year: int, month: int, day: int, weekday: int | None) -> date:
    try:
        value = date(year, month, day)
    except ValueError:
        raise SwedishDateError(f"{day} {_month_name(month)} {year} does not exist") from None
    if weekday is not None and value.weekday() != weekday:
        raise SwedishDateError(
            f"{day} {_month_name(month)} {year} is a {_WEEKDAY_NAMES[value.weekday()]}, "
            f"not a {_WEEKDAY_NAMES[weekday]}"
        )
    return value


def _infer_date(
    day: int, month: int, year: int | None, weekday: int | None, now: datetime, tz: tzinfo
) -> date:
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise SwedishDateError(f"{day}/{month} is not a date")
    if year is not None:
        return _checked_date(year, month, day, weekday)
    today = now.astimezone(tz).date()
    earliest = today - PAST_TOLERANCE
    candidates: list[date] = []
    for candidate_year in range(today.year - 1, today.year + 6):
        try:
            value = date(candidate_year, month, day)
        except ValueError:
            continue  # 29 februari: only leap years
        if value >= earliest:
            candidates.append(value)
    if not candidates:
        raise SwedishDateError(f"{day} {_month_name(month)} does not exist")
    inferred = candidates[0]
    if weekday is None:
        return inferred
    latest = today + WEEKDAY_HORIZON
    for value in candidates:
        if value > latest:
            break
        if value.weekday() == weekday:
            return value
    raise SwedishDateError(
        f"the weekday does not match: {day} {_month_name(month)} {inferred.year} is a "
        f"{_WEEKDAY_NAMES[inferred.weekday()]}, not a {_WEEKDAY_NAMES[weekday]}"
    )


def _clock(match: re.Match[str], *, requires_minutes: bool) -> _Clock | None:
    groups = match.groupdict()
    if groups["h1"] is None:
        return None
    if requires_minutes and groups["m1"] is None and not groups.get("kl"):
        return None  # "5 mars 2027 12 personer": a number, not a time
    hour, minute = int(groups["h1"]), int(groups["m1"] or 0)
    _check_time(hour, minute)
    if groups["h2"] is None:
        return _Clock(hour, minute)
    end_hour, end_minute = int(groups["h2"]), int(groups["m2"] or 0)
    _check_time(end_hour, end_minute)
    return _Clock(hour, minute, end_hour, end_minute)


def _check_time(hour: int, minute: int) -> None:
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        raise SwedishDateError(f"{hour:02d}.{minute:02d} is not a time of day")


def _result(first: date, last: date | None, clock: _Clock, tz: tzinfo) -> SwedishDate:
    start = _instant(first, clock.hour, clock.minute, tz)
    end: datetime | None = None
    if clock.end_hour is not None and clock.end_minute is not None:
        end_day = last or first
        end = _instant(end_day, clock.end_hour, clock.end_minute, tz)
        if end <= start and last is None:
            end = _instant(first + timedelta(days=1), clock.end_hour, clock.end_minute, tz)
    return SwedishDate(start, end, False)


def _instant(day: date, hour: int, minute: int, tz: tzinfo) -> datetime:
    if hour == 24:  # "till 24.00": midnight at the end of the day
        day, hour = day + timedelta(days=1), 0
    wall = datetime(day.year, day.month, day.day, hour, minute)
    return local_to_utc(wall, tz).astimezone(UTC)


def _month_name(month: int) -> str:
    return _MONTH_NAMES[month - 1] if 1 <= month <= 12 else str(month)
