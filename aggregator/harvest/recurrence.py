"""Recurring series brought to the window before they are expanded, within a budget.

Expansion (recurring-ical-events, dateutil) walks a rule from its DTSTART: a
163-byte ``FREQ=MINUTELY;COUNT=1000000000`` from 1900 walks tens of millions of
dates and holds them in memory before the first one in the window appears. So a
series' DTSTART is moved forward, exactly, to just before the window:

* a rule without COUNT moves by whole periods (INTERVAL × FREQ): every BYxxx
  part repeats with the period, so the dates in the window are the same;
* a rule with a large COUNT and one date per period moves the same way, and its
  COUNT shrinks by the periods skipped;
* any other rule with a large COUNT is walked, at most ``RULE_BUDGET`` dates,
  to its first date near the window; a rule that needs more is refused with a
  sentence (``RuleTooCostly``), and only that series is left out.

Only wall-clock arithmetic is used (RFC 5545 rules run in the DTSTART's local
time), so a weekly 19:00 stays 19:00 across DST.
"""

from __future__ import annotations

import calendar
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import icalendar
from dateutil.rrule import rrulestr

RULE_BUDGET = 10_000  # dates a rule may make before the window; a weekly rule from 1826
MARGIN = timedelta(hours=3)  # moved DTSTARTs stay this far before the window: DST and more

_FIXED = {
    "SECONDLY": timedelta(seconds=1),
    "MINUTELY": timedelta(minutes=1),
    "HOURLY": timedelta(hours=1),
    "DAILY": timedelta(days=1),
    "WEEKLY": timedelta(weeks=1),
}
_MONTHS = {"MONTHLY": 1, "YEARLY": 12}
_RULE_PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST")  # anything else is a BYxxx part


class RuleTooCostly(ValueError):
    """A rule that would make more than ``RULE_BUDGET`` dates before the window."""


@dataclass(frozen=True, slots=True)
class _Start:
    """A DTSTART as wall-clock time (or a day), with what it was written in."""

    wall: datetime
    tz: tzinfo | None
    is_date: bool

    def back(self, value: datetime) -> date | datetime:
        if self.is_date:
            return value.date()
        return value.replace(tzinfo=self.tz) if self.tz is not None else value


def fast_forward(component: icalendar.Component, window_start: datetime, floating: tzinfo) -> None:
    """Move a series master's DTSTART (and DTEND, and COUNT) to just before the window.

    ``floating`` is the zone that floating times are read in. Raises ``RuleTooCostly``.
    """
    rules = component.get("RRULE")
    prop = component.get("DTSTART")
    if rules is None or prop is None or isinstance(prop, list):
        return
    rules = rules if isinstance(rules, list) else [rules]
    start = _start_of(prop.dt)
    if start is None:
        return
    target = _wall(window_start, start, floating) - _duration(component) - MARGIN
    if start.wall >= target:
        return
    if len(rules) > 1:
        _check_walk(rules, start, target)  # rare (RFC 5545 deprecates it): no moving
        return
    rule = rules[0]
    moved = _move(rule, start, target)
    if moved is None:
        return
    new_wall, skipped = moved
    count = _count(rule)
    if count is not None:
        rule["COUNT"] = [max(1, count - skipped)]
    _shift(component, start, new_wall)


def _move(rule: Any, start: _Start, target: datetime) -> tuple[datetime, int] | None:
    """(the new DTSTART, how many dates were skipped), or None to leave the rule as it is."""
    count = _count(rule)
    if count is not None and count <= RULE_BUDGET:
        return None  # walking it costs little
    freq = _first(rule, "FREQ")
    interval = max(1, int(_first(rule, "INTERVAL") or 1))
    simple = all(str(key).upper() in _RULE_PARTS for key in rule)
    if count is None or (simple and _one_per_period(freq, start.wall)):
        periods = _periods_before(freq, interval, start.wall, target)
        if periods is None:
            return _walk(rule, start, target)
        steps, new_wall = periods
        if count is not None and steps >= count:
            # the series ended before the window: keep only its last date
            last = _advance(freq, interval, start.wall, count - 1)
            return (last, count - 1) if last is not None else None
        return new_wall, steps
    return _walk(rule, start, target)


def _periods_before(
    freq: str, interval: int, wall: datetime, target: datetime
) -> tuple[int, datetime] | None:
    """(k, DTSTART moved by k periods) with the largest k that stays at or before ``target``."""
    if freq in _FIXED:
        period = _FIXED[freq] * interval
        k = int((target - wall) / period)
        return k, wall + period * k
    if freq in _MONTHS:
        step = _MONTHS[freq] * interval
        months = (target.year - wall.year) * 12 + (target.month - wall.month)
        k = months // step
        for candidate in range(k, max(-1, k - 48), -1):  # a 31st or a 29 February may not exist
            moved = _add_months(wall, candidate * step)
            if moved is not None and moved <= target:
                return candidate, moved
        return None
    return None


def _advance(freq: str, interval: int, wall: datetime, steps: int) -> datetime | None:
    if freq in _FIXED:
        return wall + _FIXED[freq] * interval * steps
    if freq in _MONTHS:
        return _add_months(wall, _MONTHS[freq] * interval * steps)
    return None


def _one_per_period(freq: str, wall: datetime) -> bool:
    """A rule without BYxxx parts makes one date per period, unless the day is missing
    from some months (the 29th–31st) or years (29 February)."""
    if freq in _FIXED:
        return True
    if freq == "MONTHLY":
        return wall.day <= 28
    if freq == "YEARLY":
        return (wall.month, wall.day) != (2, 29)
    return False


def _walk(rule: Any, start: _Start, target: datetime) -> tuple[datetime, int] | None:
    """Walk the rule (at most ``RULE_BUDGET`` dates) to its first date at or after ``target``."""
    walker = _rrule(rule, start)
    if walker is None:
        return None
    skipped = 0
    for value in itertools.islice(walker, RULE_BUDGET + 1):
        if value >= target:
            return (value, skipped) if skipped else None
        skipped += 1
    if skipped > RULE_BUDGET:
        raise RuleTooCostly(_too_costly(rule))
    return None  # the rule ends before the window, within the budget


def _check_walk(rules: list[Any], start: _Start, target: datetime) -> None:
    """Several RRULEs: each may make at most the budget of dates before the window."""
    for rule in rules:
        walker = _rrule(rule, start)
        if walker is None:
            continue
        before = sum(1 for value in itertools.islice(walker, RULE_BUDGET + 1) if value < target)
        if before > RULE_BUDGET:
            raise RuleTooCostly(_too_costly(rule))


def _rrule(rule: Any, start: _Start) -> Any:
    """A dateutil rule on naive wall time (UNTIL made naive too), or None if it cannot be read."""
    text = rule.to_ical().decode("ascii", "replace")
    parts = []
    for part in text.split(";"):
        if part.upper().startswith("UNTIL="):
            until = part.split("=", 1)[1].rstrip("Zz")
            part = f"UNTIL={until}" if "T" in until else f"UNTIL={until}T235959"
        parts.append(part)
    try:
        return rrulestr(";".join(parts), dtstart=start.wall)
    except (ValueError, TypeError, OverflowError):
        return None


def _too_costly(rule: Any) -> str:
    shown = rule.to_ical().decode("ascii", "replace")[:80]
    return (
        f"dess upprepningsregel ({shown}) ger fler än {RULE_BUDGET} datum före den tid vi "
        "visar, mer än ett evenemang får kosta; ge serien ett senare startdatum eller ett "
        "slutdatum"
    )


def _start_of(value: Any) -> _Start | None:
    if isinstance(value, datetime):
        return _Start(value.replace(tzinfo=None), value.tzinfo, False)
    if isinstance(value, date):
        return _Start(datetime(value.year, value.month, value.day), None, True)
    return None


def _wall(instant: datetime, start: _Start, floating: tzinfo) -> datetime:
    """``instant`` as wall time in the DTSTART's zone (floating times: ``floating``)."""
    return instant.astimezone(start.tz or floating).replace(tzinfo=None)


def _duration(component: icalendar.Component) -> timedelta:
    """How long each occurrence lasts (so one that began before the window is kept)."""
    try:
        begin: Any = component["DTSTART"]
        start = begin.dt
        end: Any = component.get("DTEND")
        if end is not None and not isinstance(end, list):
            length = _naive(end.dt) - _naive(start)
        else:
            duration: Any = component.get("DURATION")
            if duration is not None:
                length = duration.dt
            else:  # RFC 5545: a day for a date, nothing for a date-time
                length = timedelta(0) if isinstance(start, datetime) else timedelta(days=1)
    except (AttributeError, TypeError, ValueError, OverflowError):
        return timedelta(days=1)
    if not isinstance(length, timedelta) or length < timedelta(0):
        return timedelta(days=1)
    return min(length, timedelta(days=366))  # a longer "duration" is a producer's mistake


def _naive(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return datetime(value.year, value.month, value.day)


def _shift(component: icalendar.Component, start: _Start, new_wall: datetime) -> None:
    """DTSTART to ``new_wall``, DTEND by the same wall-clock distance."""
    delta = new_wall - start.wall
    begin: Any = component["DTSTART"]
    begin.dt = start.back(new_wall)
    end: Any = component.get("DTEND")
    if end is not None and not isinstance(end, list):
        value = end.dt
        if isinstance(value, datetime):
            end.dt = (value.replace(tzinfo=None) + delta).replace(tzinfo=value.tzinfo)
        elif isinstance(value, date):
            end.dt = value + timedelta(days=delta.days)


def _add_months(value: datetime, months: int) -> datetime | None:
    index = value.year * 12 + (value.month - 1) + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999 or value.day > calendar.monthrange(year, month + 1)[1]:
        return None
    return value.replace(year=year, month=month + 1)


def _first(rule: Any, key: str) -> Any:
    value = rule.get(key)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _count(rule: Any) -> int | None:
    value = _first(rule, "COUNT")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
