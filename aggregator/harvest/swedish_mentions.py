"""The dates a Swedish text writes, each with where it is written: the grammar.

Written dates ("5 december", "12.12", "18/12", "2026-12-05", "22-apr", "fre–sön 2–4
juli", "5 och 6 december"), named days ("julafton", "2:a advent"), weeks ("vecka 9") and
relative days ("på lördag", "i morgon", "i helgen"), read from the normalized text of
:mod:`aggregator.harvest.swedish_dates`, which decides which of them is the event's.
A number is a date only where the text says so: "1/2" is a half, "10.10" ten past ten,
"lördag 9-12" opening hours, "sal 3.12" a room.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from itertools import pairwise

from aggregator.harvest.swedish_calendar import (
    MONTH_NAMES,
    MONTHS,
    NAMED_DAYS,
    SHORT_WEEKDAYS,
    WEEKDAY_NAMES,
    WEEKDAYS,
    alternatives,
    coming,
    day_of_month,
    describe,
    in_next_week,
    iso_week,
    month_name,
    next_occurrence,
    next_week,
)
from aggregator.harvest.swedish_times import Spans, time_at


class SwedishDateError(ValueError):
    """A date was written, but it cannot be the right one (say which and why)."""

    verdict = "datumet i texten kan inte stämma"


class AmbiguousSwedishDate(SwedishDateError):
    """The text gives more than one date or time the event could have; no guess is made."""

    verdict = "texten säger inte vilket datum eller klockslag som är evenemangets"


class Kind(StrEnum):
    WRITTEN = "written"  # "5 december", "12.12", "2026-12-05"
    NAMED = "named"  # "julafton", "3:e advent"
    WEEK = "week"  # "vecka 9"
    RELATIVE = "relative"  # "på lördag", "i morgon"


@dataclass(frozen=True, slots=True)
class Mention:
    """One date (or range of days) written at ``start``–``end`` of the normalized text."""

    first: date
    last: date
    start: int
    end: int
    kind: Kind
    all_day: bool = False  # "heldag" written right after it
    weak: bool = False  # a bare weekday before a time ("lördag kl 17"): only when nothing else


@dataclass(frozen=True, slots=True)
class _Form:
    """A date as written, before its year is known: "5 december", "12.12", "18/12"."""

    day: int
    month: int
    year: int | None


@dataclass(frozen=True, slots=True)
class Context:
    today: date
    reference: date  # the day relative words count from
    published: bool  # the reference is a publication time, not the harvest time


# --- the grammar -------------------------------------------------------------------


_WD = alternatives(WEEKDAYS)
_MON = alternatives(MONTHS)
_ORDINAL = r"(?::?[ae](?![\wåäö]))?"  # "1:a maj", "den 28e oktober"
# "5 och 6 december", "lör 5 & sön 6 dec", "4, 5 och 6 juni": the days after the first
# (a bounded repeat: an unbounded one backtracks quadratically over "5, 5, 5, …")
_LISTED_DAY = rf"(?:(?:{_WD})(?:en)?\.? +)?\d{{1,2}}{_ORDINAL}\.?"
_DAY_LIST = rf"(?: *, *{_LISTED_DAY}){{0,6}}(?: +och +| *& *){_LISTED_DAY}"


def _date_forms(p: str) -> str:
    """The written date forms, with group names prefixed by ``p`` (a range's end has "e")."""
    return (
        rf"(?P<{p}iy>20\d\d)-(?P<{p}im>\d{{1,2}})-(?P<{p}id>\d{{1,2}})(?!\d)"
        rf"|(?P<{p}d1>\d{{1,2}}){_ORDINAL}\.?(?: *[–-] *(?P<{p}d2>\d{{1,2}}){_ORDINAL}\.?"
        rf"|(?P<{p}dl>{_DAY_LIST}))?"
        rf" *-? *(?P<{p}mon>{_MON})\b(?P<{p}mdot>\.)?(?:,? +(?P<{p}y>20\d\d)\b)?"
        rf"|(?P<{p}sd>\d{{1,2}})(?: *[–-] *(?P<{p}sd2>\d{{1,2}}))?/(?P<{p}sm>\d{{1,2}})"
        rf"(?:/(?P<{p}sy>20\d\d|\d\d))?(?![\d/])"
        rf"|(?P<{p}pd>\d{{1,2}})(?: *[–-] *(?P<{p}pd2>\d{{1,2}}))?\.(?P<{p}pm>\d{{1,2}})"
        rf"(?:\.(?P<{p}py>20\d\d|\d\d)(?!\d)|(?P<{p}pdot>\.)(?!\d))?(?![\wåäö]|[.:]\d)"
        rf"|(?P<{p}hd>\d{{1,2}})-(?P<{p}hm>\d{{1,2}})(?:-(?P<{p}hy>20\d\d))?(?![\d/.:]| *[–-] *\d)"
    )


_SHORT = alternatives(SHORT_WEEKDAYS)
_LEAD = (
    rf"(?:(?P<wd>{_WD})(?:en)?\.?(?:(?:\s*[–&-]\s*| +och +)(?P<wd2>{_WD})(?:en)?\.?)?,?\s*"
    rf"|(?P<swd>{_SHORT})\.?\s+(?=\d{{1,2}}[./]\d))?(?P<den>den\s+)?"
)
_DATE_RE = re.compile(rf"(?<![\w/.:,-]){_LEAD}(?:{_date_forms('')})")
# a second date closing a range: "5 mars – 7 april", "2/7-30/7", "26/6 t.o.m. 28/8"
_RANGE_END_RE = re.compile(
    rf" *(?:[–-]|till(?: +och +med)?|t\. ?o\. ?m\.?|tom) *"
    rf"(?:(?P<ewd>{_WD})(?:en)?\.?,? +|(?P<eswd>{_SHORT})\.? +(?=\d{{1,2}}[./]\d))?"
    rf"(?:den +)?(?:{_date_forms('e')})"
)
_ALL_DAY_RE = re.compile(r"\s*[-–,]?\s*(?:heldag|hela dagen)\b")
_NAMED_RE = re.compile(
    rf"(?<![\w:])(?P<named>{alternatives(NAMED_DAYS)})"
    r"(?:en|s(?:morgon|kväll|eftermiddag|natt)(?:en)?)?(?![\wåäö])(?:,? +(?P<ny>20\d\d)\b)?"
)
_WEEK_RE = re.compile(
    r"(?<![\w.])(?:vecka|veckan|veckorna|v\.?) ?(?P<wk>\d{1,2})(?: *[–-] *(?P<wk2>\d{1,2}))?"
    r"(?!\d|[.:/]\d)(?:,? +(?P<wy>20\d\d)\b)?"
)
_DAY_WORDS = {
    "idag": 0,
    "i dag": 0,
    "ikväll": 0,
    "i kväll": 0,
    "i eftermiddag": 0,
    "i förmiddag": 0,
    "i natt": 0,
    "inatt": 0,
    "imorgon": 1,
    "i morgon": 1,
    "imorron": 1,
    "i morron": 1,
    "i övermorgon": 2,
    "iövermorgon": 2,
}
_RELATIVE_RE = re.compile(
    rf"(?<![\wåäö])(?:(?P<day>{alternatives(_DAY_WORDS)})(?: *,? *(?P<dwd>{_WD}))?(?![\wåäö])"
    rf"|(?P<pre>nu +på|på|kommande|nästkommande|denna|nästa) +(?P<pwd>{_WD})(?:en)?"
    rf"(?P<nv> +nästa +vecka)?(?![\wåäö])"
    rf"|(?P<bwd>{_WD})(?:en)?(?P<bnv> +nästa +vecka)?,? +(?=kl\b|klockan|\d{{1,2}}[.:]\d\d)"
    rf"|(?P<helg>(?:nu +)?i +helgen|till +helgen|kommande +helg|nästa +helg)(?![\wåäö]))"
)
_RECURRING_RE = re.compile(
    rf"(?:\b(?:varje|varannan|alla|udda|jämna|till|och|eller|samt|från)|[–&/-]|{_WD}) *,? *$"
)
_BEFORE_NAMED_RE = re.compile(r"\b(?:till|inför|före|efter|innan|tills|sedan|mot)\s+$")


# --- written dates -------------------------------------------------------------------


def written_dates(text: str, ctx: Context) -> tuple[list[Mention], list[SwedishDateError]]:
    """Every written date, left to right, each with the range it closes; impossible ones apart."""
    found: list[Mention] = []
    errors: list[SwedishDateError] = []
    position = 0
    while (match := _DATE_RE.search(text, position)) is not None:
        try:
            mention = _written(match, text, ctx)
        except SwedishDateError as exc:
            errors.append(exc)
            position = match.end()
            continue
        if mention is None:
            position = match.start() + 1
            continue
        found.append(mention)
        position = mention.end
    return found, errors


def _written(match: re.Match[str], text: str, ctx: Context) -> Mention | None:
    groups = match.groupdict()
    weekday = _weekday(groups["wd"] or groups["swd"])
    if not _accepted(match, text, weekday):
        return None
    start, end_form, end_weekday, end = _forms(match, text)
    first, last = _placed(start, end_form, ctx)
    if groups["hd"] is not None and weekday is not None and first.weekday() != weekday:
        return None  # "lördag 9-12" are hours, not the ninth of December
    _check_weekday(first, weekday)
    if groups["wd2"]:
        if last == first:
            if groups["hd"] is not None:
                return None
            raise SwedishDateError(
                f"'{groups['wd']}–{groups['wd2']}' is several days but only one date is written"
            )
        _check_weekday(last, _weekday(groups["wd2"]))
    _check_weekday(last, end_weekday)
    all_day = bool(_ALL_DAY_RE.match(text, end))
    return Mention(first, last, match.start(), end, Kind.WRITTEN, all_day)


def _weekday(name: str | None) -> int | None:
    if not name:
        return None
    return WEEKDAYS.get(name, SHORT_WEEKDAYS.get(name))


_LOOK_BACK = 80  # how much text before a number is read to tell a date from a time or a fraction
# a number after these is one of a list of dates ("6.12, 3.1 och 7.2") or a date field
_LISTED_RE = re.compile(r"(?:\b(?:och|samt|eller)|[,&]|\b(?:datum|när)\s*:?)\s*$")
_TIME_CONTEXT_RE = re.compile(
    r"\b(?:kl(?:ockan)?|klo|tid|tider|starttid|start|börjar|insläpp|avspark)\b\.?\s*:?\s*$"
)
# "sal 3.12", "nr 12/8", "version 2.1": numbers that look like dates and are not
_NOT_A_DATE_BEFORE_RE = re.compile(
    r"\b(?:sal|salen|rum|plan|nr|nummer|version|kapitel|avsnitt|sid|sidan|bilaga|punkt|"
    r"paragraf|tel|telefon|mobil|volym|vol|utgåva|rad|lgh|lägenhet)\.? *$|§ *$"
)


def _accepted(match: re.Match[str], text: str, weekday: int | None) -> bool:
    """Numbers that only sometimes are dates: "1/2" (half), "10.10" (a time), "9-16" (hours)."""
    groups = match.groupdict()
    before = text[max(0, match.start() - _LOOK_BACK) : match.start()]
    after = _date_end(match)
    dated = weekday is not None or bool(groups["den"])
    if not dated and not groups["mon"] and _NOT_A_DATE_BEFORE_RE.search(before[-20:]):
        return False
    if groups["sd"] is not None:  # 18/12
        listed = _line_start(text, match.start()) or _LISTED_RE.search(before)
        return bool(
            dated
            or groups["sy"]
            or groups["sd2"]
            or _time_follows(text, after)
            or _range_follows(text, after)
            or listed
        ) and not re.match(r"\s*(?:priset|pris|av\b|liter|kg|dl|tsk|msk|del)", text[after:])
    if groups["pd"] is not None:  # 12.12
        if _TIME_CONTEXT_RE.search(before) or not 1 <= int(groups["pm"]) <= 12:
            return False  # "kl. 10.10", "19.00", "18.30"
        return bool(
            dated
            or groups["py"]
            or groups["pd2"]
            or groups["pdot"]
            or _time_follows(text, after)
            or _range_follows(text, after)
            or _NAMED_RE.search(before[-30:])
            or _LISTED_RE.search(before)
            # alone, "12.12" and "25.1" are dates, "1.2" may be a decimal, "11.10" ten past eleven
            or (
                (len(groups["pd"]) == 2 or len(groups["pm"]) == 2)
                and groups["pm"] not in ("05", "10")
            )
        )
    if groups["hd"] is not None:  # 16-4
        if _TIME_CONTEXT_RE.search(before) or not 1 <= int(groups["hm"]) <= 12:
            return False
        return bool(groups["den"] or groups["hy"] or weekday is not None) or _time_follows(
            text, after
        )
    return True


def _time_follows(text: str, position: int) -> bool:
    found = time_at(text, position)
    return found is not None and found.explicit and "\n" not in text[position : found.start]


def _range_follows(text: str, position: int) -> bool:
    return _RANGE_END_RE.match(text, position) is not None


def _line_start(text: str, position: int) -> bool:
    """Only spaces or a bullet between the line's start and ``position``."""
    window = text[max(0, position - _LOOK_BACK) : position]
    if "\n" not in window and position > _LOOK_BACK:
        return False
    return not window.rsplit("\n", 1)[-1].strip(" •*·-–")


def _forms(match: re.Match[str], text: str) -> tuple[_Form, _Form | None, int | None, int]:
    """The start as written, the end of a range if one is written, its weekday, the text's end."""
    groups = match.groupdict()
    start = _form(groups, "")
    closing = _RANGE_END_RE.match(text, _date_end(match))
    if closing is not None and _same_form(groups, closing.groupdict()):
        ends = closing.groupdict()
        end_weekday = _weekday(ends["ewd"] or ends["eswd"])
        return start, _form(ends, "e"), end_weekday, _date_end(closing, "e")
    if groups["dl"]:
        return (*_listed_days(start, groups["dl"]), _date_end(match))
    day2 = groups["d2"] or groups["sd2"] or groups["pd2"]
    if day2:  # "5–7 mars", "4–21/12", "6–8.12"
        return start, _Form(int(day2), start.month, start.year), None, _date_end(match)
    return start, None, None, _date_end(match)


def _listed_days(start: _Form, listed: str) -> tuple[_Form, _Form | None, int | None]:
    """One event over two days ("5 och 6 december"), or two events ("5 och 12 december")."""
    items = re.findall(rf"(?:({_WD})(?:en)?\.? +)?(\d{{1,2}})", listed)
    days = [start.day] + [int(day) for _, day in items]
    if any(later != earlier + 1 for earlier, later in pairwise(days)):
        written = ", ".join(str(day) for day in days)
        raise AmbiguousSwedishDate(
            f"it lists {len(days)} days ({written} {month_name(start.month)})"
        )
    return start, _Form(days[-1], start.month, start.year), _weekday(items[-1][0] or None)


def _date_end(match: re.Match[str], p: str = "") -> int:
    """Where the date's text ends: "5 dec." takes its dot, "8 augusti." ends a sentence."""
    month = match[f"{p}mon"]
    if match[f"{p}mdot"] and month in MONTH_NAMES and not match[f"{p}y"]:
        return match.end() - 1
    return match.end()


def _form(groups: dict[str, str | None], p: str) -> _Form:
    """Day, month and year (or None) of one date form; group names prefixed by ``p``."""
    if (iso_year := groups[f"{p}iy"]) is not None:
        return _Form(int(groups[f"{p}id"] or 0), int(groups[f"{p}im"] or 0), int(iso_year))
    if groups[f"{p}d1"] is not None:
        day, month, year = groups[f"{p}d1"], MONTHS[groups[f"{p}mon"] or ""], groups[f"{p}y"]
    elif groups[f"{p}sd"] is not None:
        day, month, year = groups[f"{p}sd"], int(groups[f"{p}sm"] or 0), groups[f"{p}sy"]
    elif groups[f"{p}pd"] is not None:
        day, month, year = groups[f"{p}pd"], int(groups[f"{p}pm"] or 0), groups[f"{p}py"]
    else:
        day, month, year = groups[f"{p}hd"], int(groups[f"{p}hm"] or 0), groups[f"{p}hy"]
    full_year = int(year) + (2000 if len(year) == 2 else 0) if year else None
    return _Form(int(day or 0), month, full_year)


def _same_form(start: dict[str, str | None], end: dict[str, str | None]) -> bool:
    """A range is written in one form ("2/7-30/7", "5 mars – 7 april"), not "5 mars - 10.12"."""
    for form in ("iy", "d1", "sd", "pd"):
        if start[form] is not None:
            return end[f"e{form}"] is not None
    return False


def _placed(start: _Form, end: _Form | None, ctx: Context) -> tuple[date, date]:
    """First and last day. A range is placed by its last day, so an exhibition that opened
    last month and closes next month is this one, not next year's."""
    if end is None:
        first = _infer(start, ctx)
        return first, first
    wraps = (start.month, start.day) > (end.month, end.day)  # "30 dec – 2 jan"
    if start.year is not None:
        first = _checked(start.year, start.month, start.day)
        last = _checked(end.year or start.year + wraps, end.month, end.day)
    else:
        last = _infer(end, ctx)
        first = _checked(last.year - wraps, start.month, start.day)
    if last < first:
        raise SwedishDateError(f"the date range ends ({last}) before it starts ({first})")
    return first, last


def _infer(form: _Form, ctx: Context) -> date:
    day, month = form.day, form.month
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise SwedishDateError(f"{day}/{month} is not a date")
    if form.year is not None:
        return _checked(form.year, month, day)
    value = next_occurrence(day_of_month(month, day), ctx.today)
    if value is None:
        raise SwedishDateError(f"{day} {month_name(month)} does not exist")
    return value


def _checked(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise SwedishDateError(f"{day} {month_name(month)} {year} does not exist") from None


def _check_weekday(value: date, weekday: int | None) -> date:
    if weekday is not None and value.weekday() != weekday:
        raise SwedishDateError(
            f"the weekday does not match: {value.day} {month_name(value.month)} {value.year} "
            f"is a {WEEKDAY_NAMES[value.weekday()]}, not a {WEEKDAY_NAMES[weekday]}"
        )
    return value


# --- named days, weeks, relative days --------------------------------------------------


def named_days(text: str, ctx: Context, taken: list[tuple[int, int]]) -> Iterator[Mention]:
    spans = Spans(taken)
    for match in _NAMED_RE.finditer(text):
        if spans.overlaps(match.start(), match.end()):
            continue
        if _BEFORE_NAMED_RE.search(text[max(0, match.start() - 12) : match.start()]):
            continue  # "risinlämning till valborg": not the day of the event
        name = re.sub(r"\s+", " ", match["named"])
        day_in = NAMED_DAYS[name]
        if match["ny"]:
            value = day_in(int(match["ny"]))
        else:
            found = next_occurrence(day_in, ctx.today)
            if found is None:  # pragma: no cover - every named day exists every year
                continue
            value = found
        yield Mention(value, value, match.start(), match.end(), Kind.NAMED)


def weeks(text: str, ctx: Context, taken: list[tuple[int, int]]) -> Iterator[Mention]:
    spans = Spans(taken)
    for match in _WEEK_RE.finditer(text):
        if spans.overlaps(match.start(), match.end()):
            continue
        week, last_week = int(match["wk"]), int(match["wk2"] or match["wk"])
        if not 1 <= week <= last_week <= 53:
            continue
        if match["wy"]:
            days, end_days = iso_week(int(match["wy"]), week), iso_week(int(match["wy"]), last_week)
        else:
            end_days = next_week(last_week, ctx.today)
            days = iso_week(end_days[0].isocalendar().year, week) if end_days else None
        if days is None or end_days is None:
            raise SwedishDateError(f"week {last_week} does not exist in that year")
        yield Mention(days[0], end_days[1], match.start(), match.end(), Kind.WEEK)


def relative_days(
    text: str, ctx: Context, taken: list[tuple[int, int]]
) -> tuple[list[Mention], list[SwedishDateError]]:
    """Relative days, and those that contradict themselves ("i morgon lördag" on a Thursday)."""
    found: list[Mention] = []
    errors: list[SwedishDateError] = []
    spans = Spans(taken)
    for match in _RELATIVE_RE.finditer(text):
        if spans.overlaps(match.start(), match.end()):
            continue
        if match["bwd"] and _RECURRING_RE.search(text[max(0, match.start() - 20) : match.start()]):
            continue  # "varje söndag kl 11", "måndag till fredag kl 9–16": no one day
        try:
            days = _relative(match, ctx.reference)
        except SwedishDateError as exc:
            errors.append(exc)
            continue
        weak = bool(match["bwd"])
        found.append(
            Mention(days[0], days[1], match.start(), match.end(), Kind.RELATIVE, weak=weak)
        )
    return found, errors


def _relative(match: re.Match[str], reference: date) -> tuple[date, date]:
    groups = match.groupdict()
    if groups["day"]:
        value = reference + timedelta(days=_DAY_WORDS[re.sub(r"\s+", " ", groups["day"])])
        weekday = _weekday(groups["dwd"])
        if weekday is not None and value.weekday() != weekday:
            raise SwedishDateError(
                f"'{groups['day']}' is {describe(value)}, not a {WEEKDAY_NAMES[weekday]}"
            )
        return value, value
    if groups["helg"]:
        return _weekend(re.sub(r"\s+", " ", groups["helg"]), reference)
    weekday = _weekday(groups["pwd"] or groups["bwd"])
    assert weekday is not None
    if groups["nv"] or groups["bnv"]:
        value = in_next_week(weekday, reference)
    elif (groups["pre"] or "").startswith("nästa") and groups["pre"] != "nästkommande":
        value = coming(weekday, reference)
        if value != in_next_week(weekday, reference):
            raise AmbiguousSwedishDate(
                f"'nästa {WEEKDAY_NAMES[weekday]}' written on {describe(reference)} may be "
                f"{describe(value)} or {describe(in_next_week(weekday, reference))}"
            )
    else:
        value = coming(weekday, reference)
    return value, value


def _weekend(words: str, reference: date) -> tuple[date, date]:
    """The coming Saturday–Sunday ("i helgen"); written on a Sunday it may be either weekend."""
    saturday = coming(5, reference - timedelta(days=1))
    if words == "nästa helg" and reference.weekday() < 5:
        raise AmbiguousSwedishDate(
            f"'nästa helg' written on {describe(reference)} may be this weekend or the next"
        )
    if words in ("nästa helg", "kommande helg") and reference.weekday() >= 5:
        saturday = coming(5, reference)
    elif reference.weekday() == 6:
        raise AmbiguousSwedishDate(
            f"'{words}' written on a Sunday ({describe(reference)}) may be today or next weekend"
        )
    return saturday, saturday + timedelta(days=1)


def disagreements(
    text: str, written: list[Mention], named: list[Mention]
) -> list[SwedishDateError]:
    """A named day written right next to a date must be that date ("1:a advent 3 december")."""
    errors = []
    for day in named:
        for other in written:
            gap = text[min(day.end, other.end) : max(day.start, other.start)]
            beside = len(gap) <= 12 and re.fullmatch(r"[\s,:–-]*(?:den\s+)?", gap)
            if beside and (other.first, other.last) != (day.first, day.last):
                errors.append(
                    SwedishDateError(
                        f"'{text[day.start : day.end]}' is {describe(day.first)}, "
                        f"not {describe(other.first)}"
                    )
                )
    return errors
