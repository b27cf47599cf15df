"""Date and time values as websites write them → UTC instants or all-day dates.

Structured data (schema.org, hCalendar, The Events Calendar) mostly writes ISO 8601,
but with every liberty: no offset (local time), ``+0100`` without colon, ``.000Z``
milliseconds, basic format ``20261212T1900``, a bracketed zone name. Recipes read
Swedish prose ("lör 12 dec kl. 19.00"); that goes through :func:`parse_swedish`,
the one place to swap in the shared Swedish date module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from aggregator.timezones import local_to_utc, zone

_ISO_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{1,2})-(?P<d>\d{1,2})|(?P<m2>\d{2})(?P<d2>\d{2}))"
    r"(?:(?:T|\s+|T\s*)(?P<H>\d{1,2})(?::?(?P<M>\d{2}))?(?::?(?P<S>\d{2})(?:[.,]\d+)?)?"
    r"\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?)?"
    r"(?:\s*\[(?P<zone>[A-Za-z_]+(?:/[A-Za-z_+-]+)*)\])?$",
    re.IGNORECASE,
)
_DURATION_RE = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
MAX_DURATION = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class When:
    """One parsed value: an instant (UTC) or a calendar day for all-day values."""

    value: datetime | date
    all_day: bool
    zone_name: str = ""  # a zone the value itself named, if any


def parse_when(text: str, tz: tzinfo) -> When | None:
    """ISO-ish date or date-time; without an offset it is wall time in ``tz``."""
    text = text.strip()
    if not text or len(text) > 64:
        return None
    match = _ISO_RE.match(text)
    if match is None:
        return None
    year = int(match["y"])
    month = int(match["m"] or match["m2"])
    day = int(match["d"] or match["d2"])
    try:
        day_value = date(year, month, day)
    except ValueError:
        return None
    if match["H"] is None:
        return When(day_value, all_day=True)
    hour, minute, second = int(match["H"]), int(match["M"] or 0), int(match["S"] or 0)
    extra = timedelta(0)
    if hour == 24 and minute == 0 and second == 0:
        hour, extra = 0, timedelta(days=1)  # "24:00" is the end of the day
    try:
        wall = datetime.combine(day_value, time(hour, minute, second)) + extra
    except ValueError:
        return None
    offset = _offset(match["tz"])
    zone_name = match["zone"] or ""
    if offset is not None:
        return When(wall.replace(tzinfo=offset).astimezone(UTC), False, zone_name)
    named = zone(zone_name) if zone_name else None
    return When(local_to_utc(wall, named or tz), False, zone_name if named else "")


def _offset(text: str | None) -> timezone | None:
    if not text:
        return None
    if text.upper() in ("Z", "UTC", "GMT"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 14 or minutes > 59:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_duration(text: str) -> timedelta | None:
    """ISO 8601 duration (``PT2H6M``) as schema.org ``duration`` writes it."""
    match = _DURATION_RE.match(text.strip())
    if match is None or not any(match.groupdict().values()):
        return None
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    value = timedelta(
        weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"]
    )
    return value if timedelta(0) < value <= MAX_DURATION else None


# --- Swedish prose, for recipes ---------------------------------------------------

_MONTHS = {
    "jan": 1, "januari": 1, "feb": 2, "februari": 2, "mar": 3, "mars": 3, "apr": 4,
    "april": 4, "maj": 5, "jun": 6, "juni": 6, "jul": 7, "juli": 7, "aug": 8,
    "augusti": 8, "sep": 9, "sept": 9, "september": 9, "okt": 10, "oktober": 10,
    "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH_RE = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:e|:e|\.)?\s+({_MONTH_ALT})\.?(?![a-zåäö])(?:\s+(\d{{4}}))?",
    re.IGNORECASE,
)
_NUMERIC_RE = re.compile(r"(?<![\d/.-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d])")
_SLASH_RE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:[/-](\d{2,4}))?(?![\d/])")
_CLOCK_RE = re.compile(
    r"(?<![\d/.-])(\d{1,2})[.:](\d{2})(?:\s*(?:-|–|—|till)\s*(\d{1,2})[.:](\d{2}))?(?![\d])"
)
_KL_TIME_RE = re.compile(
    r"\bkl(?:ockan)?\.?\s*(\d{1,2})(?:[.:](\d{2}))?"
    r"(?:\s*(?:-|–|—|till)\s*(\d{1,2})(?:[.:](\d{2}))?)?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SwedishWhen:
    """Wall-clock values read from Swedish text; the caller puts them in a zone."""

    day: date
    start: time | None
    end: time | None


def parse_swedish(text: str, now: datetime) -> SwedishWhen | None:
    """A Swedish date (and time range) in free text; year inferred as the next occurrence.

    Uses the shared ``swedish_dates`` module when it is there; this is the simple
    fallback for "12 dec", "lördag 2 januari 2027 kl. 13.00", "12/12 kl 19",
    "2026-12-12 19:00", "19.00–21.00".
    """
    shared = _shared_parser()
    if shared is not None:
        return shared(text, now)
    return _parse_swedish_simple(text, now)


def _shared_parser():  # type: ignore[no-untyped-def]
    """Hook for ``aggregator.harvest.swedish_dates`` (written in parallel); None for now."""
    return None


def _parse_swedish_simple(text: str, now: datetime) -> SwedishWhen | None:
    text = " ".join(text.split())
    day, rest = _find_day(text, now)
    if day is None:
        return None
    start, end = find_times(rest)
    return SwedishWhen(day, start, end)


def _find_day(text: str, now: datetime) -> tuple[date | None, str]:
    today = now.date()
    match = _NUMERIC_RE.search(text)
    if match:
        try:
            value = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None, text
        return value, text[: match.start()] + " " + text[match.end() :]
    match = _DAY_MONTH_RE.search(text)
    if match:
        month = _MONTHS[match[2].lower()]
        found = _with_year(int(match[1]), month, match[3], today)
        return found, text[: match.start()] + " " + text[match.end() :]
    match = _SLASH_RE.search(text)
    if match:
        found = _with_year(int(match[1]), int(match[2]), match[3], today)
        return found, text[: match.start()] + " " + text[match.end() :]
    return None, text


def _with_year(day: int, month: int, year_text: str | None, today: date) -> date | None:
    try:
        if year_text:
            year = int(year_text)
            year += 2000 if year < 100 else 0
            return date(year, month, day)
        candidate = date(today.year, month, day)
    except ValueError:
        return None
    # a date without a year is the next one to come; a little slack for events
    # still listed a few weeks after they happened
    if candidate < today - timedelta(days=60):
        try:
            candidate = date(today.year + 1, month, day)
        except ValueError:
            return None
    return candidate


def find_times(text: str) -> tuple[time | None, time | None]:
    """The first time or time range in ``text``: "kl. 19", "19.00–21.00", "kl 18:30"."""
    match = _KL_TIME_RE.search(text) or _CLOCK_RE.search(text)
    if match is None:
        return None, None
    start = _clock(match[1], match[2])
    end = _clock(match[3], match[4]) if match[3] else None
    return start, end


def _clock(hours: str | None, minutes: str | None) -> time | None:
    if hours is None:
        return None
    h, m = int(hours), int(minutes or 0)
    if h == 24 and m == 0:
        return time(23, 59)
    if h > 23 or m > 59:
        return None
    return time(h, m)
