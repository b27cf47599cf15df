"""The Swedish calendar behind the prose: words for days and months, named days, weeks.

Pure date arithmetic for :mod:`aggregator.harvest.swedish_dates`: which day "julafton",
"midsommarafton", "3:e advent" or "vecka 9" is in a given year, and which year an
undated date means. Easter is dateutil's (Gregorian computus); the rest follows the
Swedish almanac: midsommardagen is the Saturday 20–26 June, alla helgons dag the
Saturday 31 October–6 November, Kristi himmelfärdsdag Easter + 39 days, the fourth
advent the last Sunday before Christmas Day, weeks are ISO 8601 weeks (Monday first).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, timedelta

from dateutil.easter import easter

# A date written without a year is the next such date on or after today, except a
# date at most this many days back, which keeps its year: a listing that still shows
# last weekend's event means last weekend, not the same day next year.
RECENT_PAST = timedelta(days=7)

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
# Finland-Swedish church and newspaper listings: "lö 16.11", "to 12.12"; read only
# right before a numeric date, where they cannot be the English "on"/"to".
SHORT_WEEKDAYS = {"må": 0, "ti": 1, "on": 2, "to": 3, "fr": 4, "lö": 5, "sö": 6}
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
MONTH_NAMES = (
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
)
WEEKDAY_NAMES = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")


def alternatives(words: Iterable[str]) -> str:
    """A regex alternation, longest first ("fredag" before "fre"); a space is one or more."""
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(re.escape(word).replace(r"\ ", " +") for word in ordered)


def month_name(month: int) -> str:
    return MONTH_NAMES[month - 1] if 1 <= month <= 12 else str(month)


def describe(day: date) -> str:
    """How a reason names a day: "lördag 5 december 2026"."""
    return f"{WEEKDAY_NAMES[day.weekday()]} {day.day} {month_name(day.month)} {day.year}"


# --- named days ----------------------------------------------------------------------


def _fixed(month: int, day: int) -> Callable[[int], date]:
    return lambda year: date(year, month, day)


def _from_easter(days: int) -> Callable[[int], date]:
    return lambda year: easter(year) + timedelta(days=days)


def _weekday_between(
    month: int, first_day: int, weekday: int, shift: int = 0
) -> Callable[[int], date]:
    """The ``weekday`` in the seven days from ``first_day`` (midsommardagen: Saturday 20–26 June)."""

    def day_of(year: int) -> date:
        start = date(year, month, first_day)
        return start + timedelta(days=(weekday - start.weekday()) % 7 + shift)

    return day_of


def fourth_advent(year: int) -> date:
    """The last Sunday before Christmas Day (24 December when that is a Sunday)."""
    eve = date(year, 12, 24)
    return eve - timedelta(days=(eve.weekday() + 1) % 7)


def _advent(number: int) -> Callable[[int], date]:
    return lambda year: fourth_advent(year) - timedelta(weeks=4 - number)


def _last_sunday_of_may(year: int) -> date:
    end = date(year, 5, 31)
    return end - timedelta(days=(end.weekday() + 1) % 7)


def _candlemas(year: int) -> date:
    """Kyndelsmässodagen: the Sunday 2–8 February, a week earlier if that is fastlagssöndagen."""
    sunday = _weekday_between(2, 2, 6)(year)
    return sunday - timedelta(weeks=1) if sunday == easter(year) - timedelta(days=49) else sunday


def _annunciation(year: int) -> date:
    """Marie bebådelsedag: the Sunday 22–28 March, moved before palm Sunday if it meets Easter."""
    sunday = _weekday_between(3, 22, 6)(year)
    palm_sunday = easter(year) - timedelta(days=7)
    return palm_sunday - timedelta(weeks=1) if sunday >= palm_sunday else sunday


# Written forms (lowercase; a trailing "en" and the spaces are handled by the grammar)
# and the day each one is in a given year.
NAMED_DAYS: dict[str, Callable[[int], date]] = {
    "julafton": _fixed(12, 24),
    "juldag": _fixed(12, 25),
    "annandag jul": _fixed(12, 26),
    "stefanidag": _fixed(12, 26),  # Finland
    "nyårsafton": _fixed(12, 31),
    "nyårsdag": _fixed(1, 1),
    "trettondagsafton": _fixed(1, 5),
    "trettondedag jul": _fixed(1, 6),
    "trettondag jul": _fixed(1, 6),
    "trettondedag": _fixed(1, 6),
    "trettondag": _fixed(1, 6),
    "tjugondag knut": _fixed(1, 13),
    "tjugondedag knut": _fixed(1, 13),
    "tjugondedag jul": _fixed(1, 13),
    "tjugondag jul": _fixed(1, 13),
    "knutsdag": _fixed(1, 13),
    "kyndelsmässodag": _candlemas,
    "alla hjärtans dag": _fixed(2, 14),
    "fettisdag": _from_easter(-47),
    "askonsdag": _from_easter(-46),
    "marie bebådelsedag": _annunciation,
    "våffeldag": _fixed(3, 25),
    "palmsöndag": _from_easter(-7),
    "skärtorsdag": _from_easter(-3),
    "långfredag": _from_easter(-2),
    "påskafton": _from_easter(-1),
    "påskdag": _from_easter(0),
    "annandag påsk": _from_easter(1),
    "valborgsmässoafton": _fixed(4, 30),
    "valborgsafton": _fixed(4, 30),
    "valborg": _fixed(4, 30),
    "sista april": _fixed(4, 30),
    "första maj": _fixed(5, 1),
    "kristi himmelfärdsdag": _from_easter(39),
    "kristi himmelsfärdsdag": _from_easter(39),
    "kristi himmelfärd": _from_easter(39),
    "kristi himmelsfärd": _from_easter(39),
    "mors dag": _last_sunday_of_may,
    "pingstafton": _from_easter(48),
    "pingstdag": _from_easter(49),
    "annandag pingst": _from_easter(50),
    "nationaldag": _fixed(6, 6),
    "sveriges nationaldag": _fixed(6, 6),
    "midsommarafton": _weekday_between(6, 20, 5, shift=-1),
    "midsommardag": _weekday_between(6, 20, 5),
    "allhelgonaafton": _weekday_between(10, 31, 5, shift=-1),
    "alla helgons afton": _weekday_between(10, 31, 5, shift=-1),
    "alla helgons dag": _weekday_between(10, 31, 5),
    "allhelgonadag": _weekday_between(10, 31, 5),
    "fars dag": _weekday_between(11, 8, 6),
    "självständighetsdag": _fixed(12, 6),  # Finland
    "luciadag": _fixed(12, 13),
    "1:a advent": _advent(1),
    "första advent": _advent(1),
    "1:a söndagen i advent": _advent(1),
    "första söndagen i advent": _advent(1),
    "2:a advent": _advent(2),
    "andra advent": _advent(2),
    "2:a söndagen i advent": _advent(2),
    "andra söndagen i advent": _advent(2),
    "3:e advent": _advent(3),
    "tredje advent": _advent(3),
    "3:e söndagen i advent": _advent(3),
    "tredje söndagen i advent": _advent(3),
    "4:e advent": _advent(4),
    "fjärde advent": _advent(4),
    "4:e söndagen i advent": _advent(4),
    "fjärde söndagen i advent": _advent(4),
}


# --- which year ----------------------------------------------------------------------


def next_occurrence(day_in: Callable[[int], date | None], today: date) -> date | None:
    """The first day ``day_in(year)`` on or after today, or in the last RECENT_PAST days.

    ``day_in`` gives the day in a year, or None where the year has none (29 februari).
    """
    earliest = today - RECENT_PAST
    for year in range(today.year - 1, today.year + 9):
        value = day_in(year)
        if value is not None and value >= earliest:
            return value
    return None


def day_of_month(month: int, day: int) -> Callable[[int], date | None]:
    def day_in(year: int) -> date | None:
        try:
            return date(year, month, day)
        except ValueError:
            return None  # 29 februari outside leap years

    return day_in


def iso_week(year: int, week: int) -> tuple[date, date] | None:
    """Monday and Sunday of ISO week ``week`` of ``year``, None when the year has no such week."""
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        return None
    return monday, monday + timedelta(days=6)


def next_week(week: int, today: date) -> tuple[date, date] | None:
    """ISO week ``week`` that ends on or after today (or ended in the last RECENT_PAST days)."""
    earliest = today - RECENT_PAST
    for year in range(today.isocalendar().year - 1, today.isocalendar().year + 6):
        days = iso_week(year, week)
        if days is not None and days[1] >= earliest:
            return days
    return None


# --- relative days -------------------------------------------------------------------


def coming(weekday: int, reference: date) -> date:
    """The next ``weekday`` after the reference day ("på lördag" written on a Saturday: a week on)."""
    return reference + timedelta(days=(weekday - reference.weekday() - 1) % 7 + 1)


def in_next_week(weekday: int, reference: date) -> date:
    """``weekday`` of the ISO week after the reference day's ("lördag nästa vecka")."""
    monday = reference - timedelta(days=reference.weekday()) + timedelta(weeks=1)
    return monday + timedelta(days=weekday)
