"""Date and time values as websites write them → UTC instants or all-day dates.

Structured data (schema.org, hCalendar, The Events Calendar) mostly writes ISO 8601,
but with every liberty: no offset (local time), ``+0100`` without colon, ``.000Z``
milliseconds, basic format ``20261212T1900``, a bracketed zone name. Recipes read
Swedish prose ("lör 12 dec kl. 19.00") through :func:`parse_swedish`, the one
door to the shared ``swedish_dates`` module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from aggregator.harvest.swedish_dates import SwedishDateError, parse_swedish_datetime
from aggregator.normalize.timezones import local_to_utc, zone

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


def parse_swedish(
    text: str, now: datetime, tz: tzinfo, problems: list[str] | None = None
) -> tuple[When, When | None] | None:
    """Start and end from Swedish text ("lör 12 dec kl. 19.00–21.00"), or None.

    The one door to the shared Swedish date module, so recipes can be pointed at
    another parser without touching them. Impossible or ambiguous dates (a weekday
    that does not fit, two performances) count as not found; why goes to ``problems``.
    """
    try:
        found = parse_swedish_datetime(text, now=now, tz=tz)
    except SwedishDateError as exc:
        if problems is not None:
            problems.append(f"{exc.verdict}: {exc}")
        return None
    if found is None:
        return None
    end = When(found.end, found.all_day) if found.end is not None else None
    return When(found.start, found.all_day), end
