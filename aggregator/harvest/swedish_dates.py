"""Event dates as Swedish organizers write them in prose.

"lördag 2 januari 2027 kl. 13.00", "lör 12/12 kl 19", "lö 16.11 kl. 16", "12.12.2026",
"22-apr kl 11-13", "fre–sön 2–4 juli", "julafton kl 15", "3:e advent", "vecka 9",
"i morgon lördag kl 14", "Starttid: 19:00, lördag 5 december". dateparser gets these
wrong (years from "19.00", no weekday check, no time ranges), so this is a grammar of
our own with a table of tests (``tests/data/swedish_dates/cases.tsv``).

A wrong answer is worse than none. The rules, in the order they are applied:

* Dates. A date is written out ("5 december", "2026-12-05"), numeric ("12.12",
  "6.11–12.11.2027", "18/12" at the start of a line or with a weekday or time,
  "4–21/12", "16-4" with a time), a named day ("julafton", "midsommarafton",
  "2:a advent", see :mod:`swedish_calendar`), a week ("vecka 9", "v. 49": Monday to
  Sunday) or relative ("på lördag", "i morgon", "ikväll", "i helgen"). Relative days
  count from ``reference`` (the item's publication time) or else from ``now``.
* A date without a year is the next such date on or after today, except a date up to
  ``RECENT_PAST`` (7 days) back, which keeps its year; a range is placed by its last day.
* A weekday written with a date must be that date's weekday, and a named day written
  next to a date must be that date; otherwise no answer (SwedishDateError says why).
* Dates that are not the event's are left out: deadlines and notices ("anmälan senast
  17/8", "uppdaterad 2026-11-20", "biljetter släpps 1/12") and a named day after "till",
  "inför" ("ris till valborg"). When more than one date is left, there is no answer
  (AmbiguousSwedishDate): a list of performances is not one event. A relative day is
  used only when no date is written, or, with a publication time, when it agrees.
* Times (:mod:`swedish_times`). A time labelled as the start ("start 19.00", "börjar
  klockan 20", "avspark 14.00") wins; else the time written right at the date (same
  line); else, of the times in the text, the earliest (a day's programme: "kl 13.30
  pyntar vi stången. Kl 14 reser vi stången."). Door and meal times ("insläpp 18.00",
  "fika från 18.00") count only when no other time is given, deadline times never.
  Several times for one thing ("kl 18.00 och kl 20.00") or two lines of a schedule
  ("14.00 Barnföreställning" / "19.00 Kvällsföreställning") give no answer, and so does
  an end time alone. A date whose text gives no time is all-day.

Wall times are read in the given zone and returned as UTC instants; a time in the
spring DST gap takes the offset before the gap and an autumn repeat the first
occurrence (see ``timezones.local_to_utc``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo

from aggregator.harvest.swedish_calendar import (
    MONTH_NAMES,
    MONTHS,
    NAMED_DAYS,
    RECENT_PAST,
    SHORT_WEEKDAYS,
    WEEKDAY_NAMES,
    WEEKDAYS,
    coming,
    day_of_month,
    describe,
    in_next_week,
    iso_week,
    month_name,
    next_occurrence,
    next_week,
)
from aggregator.harvest.swedish_times import (
    ATTACHED_BEFORE_RE,
    Clock,
    Label,
    TimeError,
    TimeMention,
    find_times,
    time_at,
    time_in_words,
)
from aggregator.timezones import local_to_utc

STOCKHOLM = ZoneInfo("Europe/Stockholm")
__all__ = [
    "RECENT_PAST",
    "STOCKHOLM",
    "AmbiguousSwedishDate",
    "SwedishDate",
    "SwedishDateError",
    "find_swedish_datetime",
    "parse_swedish_datetime",
]


class SwedishDateError(ValueError):
    """A date was written, but it cannot be the right one (say which and why)."""

    verdict = "the date in its text cannot be right"


class AmbiguousSwedishDate(SwedishDateError):
    """The text gives more than one date or time the event could have; no guess is made."""

    verdict = "its text does not say which date or time is the event's"


@dataclass(frozen=True, slots=True)
class SwedishDate:
    """``start``/``end`` as UTC datetimes, or dates for all-day events (``end`` exclusive)."""

    start: datetime | date
    end: datetime | date | None
    all_day: bool


class _Kind(StrEnum):
    WRITTEN = "written"  # "5 december", "12.12", "2026-12-05"
    NAMED = "named"  # "julafton", "3:e advent"
    WEEK = "week"  # "vecka 9"
    RELATIVE = "relative"  # "på lördag", "i morgon"


@dataclass(frozen=True, slots=True)
class _Mention:
    """One date (or range of days) written at ``start``–``end`` of the normalized text."""

    first: date
    last: date
    start: int
    end: int
    kind: _Kind
    all_day: bool = False  # "heldag" written right after it
    weak: bool = False  # a bare weekday before a time ("lördag kl 17"): only when nothing else


@dataclass(frozen=True, slots=True)
class _Form:
    """A date as written, before its year is known: "5 december", "12.12", "18/12"."""

    day: int
    month: int
    year: int | None


@dataclass(frozen=True, slots=True)
class _Context:
    today: date
    reference: date  # the day relative words count from
    published: bool  # the reference is a publication time, not the harvest time


# --- the grammar -------------------------------------------------------------------


def _alternatives(words: Iterable[str]) -> str:
    """A regex alternation, longest first ("fredag" before "fre"), spaces as any spacing."""
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(re.escape(word).replace(r"\ ", " +") for word in ordered)


_WD = _alternatives(WEEKDAYS)
_MON = _alternatives(MONTHS)
_ORDINAL = r"(?::?[ae](?![\wåäö]))?"  # "1:a maj", "den 28e oktober"
# "5 och 6 december", "lör 5 & sön 6 dec", "4, 5 och 6 juni": the days after the first
_LISTED_DAY = rf"(?:(?:{_WD})(?:en)?\.? +)?\d{{1,2}}{_ORDINAL}\.?"
_DAY_LIST = rf"(?: *, *{_LISTED_DAY})*(?: +och +| *& *){_LISTED_DAY}"


def _date_forms(p: str) -> str:
    """The written date forms, with group names prefixed by ``p`` (a range's end has "e")."""
    return (
        rf"(?P<{p}iy>20\d\d)-(?P<{p}im>\d{{1,2}})-(?P<{p}id>\d{{1,2}})(?!\d)"
        rf"|(?P<{p}d1>\d{{1,2}}){_ORDINAL}\.?(?: *[–-] *(?P<{p}d2>\d{{1,2}}){_ORDINAL}\.?"
        rf"|(?P<{p}dl>{_DAY_LIST}))?"
        rf" *-? *(?P<{p}mon>{_MON})\b(?P<{p}mdot>\.)?(?: +(?P<{p}y>20\d\d)\b)?"
        rf"|(?P<{p}sd>\d{{1,2}})(?: *[–-] *(?P<{p}sd2>\d{{1,2}}))?/(?P<{p}sm>\d{{1,2}})"
        rf"(?:/(?P<{p}sy>20\d\d|\d\d))?(?![\d/])"
        rf"|(?P<{p}pd>\d{{1,2}})(?: *[–-] *(?P<{p}pd2>\d{{1,2}}))?\.(?P<{p}pm>\d{{1,2}})"
        rf"(?:\.(?P<{p}py>20\d\d|\d\d)(?!\d)|(?P<{p}pdot>\.)(?!\d))?(?![\wåäö]|[.:]\d)"
        rf"|(?P<{p}hd>\d{{1,2}})-(?P<{p}hm>\d{{1,2}})(?:-(?P<{p}hy>20\d\d))?(?![\d/.:]| *[–-] *\d)"
    )


_SHORT = _alternatives(SHORT_WEEKDAYS)
_LEAD = (
    rf"(?:(?P<wd>{_WD})(?:en)?\.?(?:(?:\s*[–&-]\s*| +och +)(?P<wd2>{_WD})(?:en)?\.?)?,?\s*"
    rf"|(?P<swd>{_SHORT})\.?\s+(?=\d{{1,2}}[./]\d))?(?P<den>den\s+)?"
)
_DATE_RE = re.compile(rf"(?<![\w/.:,-]){_LEAD}(?:{_date_forms('')})")
# a second date closing a range: "5 mars – 7 april", "2/7-30/7", "26/6 t.o.m. 28/8"
_RANGE_END_RE = re.compile(
    rf" *(?:[–-]|till(?: +och +med)?|t\. ?o\. ?m\.?|tom) *(?:(?P<ewd>{_WD})(?:en)?\.?,? +)?"
    rf"(?:den +)?(?:{_date_forms('e')})"
)
_ALL_DAY_RE = re.compile(r"\s*[-–,]?\s*(?:heldag|hela dagen)\b")
_NAMED_RE = re.compile(
    rf"(?<![\w:])(?P<named>{_alternatives(NAMED_DAYS)})"
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
    rf"(?<![\wåäö])(?:(?P<day>{_alternatives(_DAY_WORDS)})(?: *,? *(?P<dwd>{_WD}))?(?![\wåäö])"
    rf"|(?P<pre>nu +på|på|kommande|nästkommande|denna|nästa) +(?P<pwd>{_WD})(?:en)?"
    rf"(?P<nv> +nästa +vecka)?(?![\wåäö])"
    rf"|(?P<bwd>{_WD})(?:en)?(?P<bnv> +nästa +vecka)?,? +(?=kl\b|klockan|\d{{1,2}}[.:]\d\d)"
    rf"|(?P<helg>(?:nu +)?i +helgen|till +helgen|kommande +helg|nästa +helg)(?![\wåäö]))"
)
_RECURRING_RE = re.compile(
    rf"(?:\b(?:varje|varannan|alla|udda|jämna|till|och|eller|samt|från)|[–&/-]|{_WD}) *,? *$"
)
# before a date: it is not the event's ("anmälan senast 17/8", "uppdaterad 2026-11-20")
_NOT_THE_EVENT_RE = re.compile(
    r"\b(?:senast|anmälan|anmäl|anmälningsdag|föranmälan|osa|o\.s\.a|deadline|betala\w*|"
    r"inbetalning|biljettsläpp|släpps|förköp\w*|publicerad|publicerat|uppdaterad|uppdaterat|"
    r"ändrad|inlagd|skapad|postad|skrivet|sista\s+dag)\b"
)
_ONLY_AN_END_RE = re.compile(
    r"(?:\b(?:till|tills|fram\s+till|till\s+och\s+med|pågår|t\.\s?o\.\s?m\.?|sedan|fr\.\s?o\.\s?m\.?|"
    r"från\s+och\s+med)\s*)$"
)
_BEFORE_NAMED_RE = re.compile(r"\b(?:till|inför|före|efter|innan|tills|sedan|mot)\s+$")
_CLAUSE_BOUNDARY_RE = re.compile(r"[\n;!?]|[.,](?:\s|$)")
_SENTENCE_END_RE = re.compile(r"\n|[.!?](?:\s|$)")
# words that say a date is meant, for a field whose date is otherwise known
_DATE_WORD_RE = re.compile(
    rf"(?<![\wåäö])(?:{_WD}|{_MON}|\w*dag(?:en|ar)?|\w*afton(?:en)?|advent|påsk\w*|pingst\w*|datum|"
    r"midsommar\w*|helg\w*|vecka\w*|morgon|morron|kväll|natt|eftermiddag|förmiddag)(?![\wåäö])"
    r"|\d{1,2}/\d{1,2}"
)
_URL_RE = re.compile(r"(?:https?://|www\.)\S+")
_DASHES = str.maketrans(
    {"\u2013": "–", "\u2014": "–", "\u2012": "–", "\u2011": "-", "\u2212": "–", "\u2010": "-"}
)
_SPACES_RE = re.compile(r"[ \t\xa0\u2000-\u200b\u202f]+")
_BARE_TIME_RE = re.compile(
    r"\s*(?:(?:från|mellan)\s+)?(?:kl(?:ockan)?\.?\s*:?\s*)?(?P<h1>\d{1,2})(?:[.:](?P<m1>\d{2}))?"
    r"(?:\s*(?:[–-]|till|och)\s*(?:kl(?:ockan)?\.?\s*)?(?P<h2>\d{1,2})(?:[.:](?P<m2>\d{2}))?)?"
    r"\s*[.,]?\s*"
)


# --- the public functions ------------------------------------------------------------


def parse_swedish_datetime(
    text: str,
    *,
    now: datetime,
    tz: tzinfo = STOCKHOLM,
    default_date: date | None = None,
    reference: datetime | None = None,
) -> SwedishDate | None:
    """A date/time *field* ("lör 12/12 kl 19", or just "18.30" when ``default_date`` is known).

    None when nothing date-like is there; SwedishDateError when a date is there but
    impossible (a weekday that does not fit, 31 februari, 25.00) or ambiguous.
    """
    if default_date is not None:
        bare = _BARE_TIME_RE.fullmatch(_normalize(text))
        if bare:
            clock = _bare_clock(bare)
            return _timed(default_date, default_date, clock, tz)
    return find_swedish_datetime(
        text, now=now, tz=tz, default_date=default_date, reference=reference
    )


def find_swedish_datetime(
    text: str,
    *,
    now: datetime,
    tz: tzinfo = STOCKHOLM,
    default_date: date | None = None,
    reference: datetime | None = None,
) -> SwedishDate | None:
    """The event date written somewhere in prose (a title, a description, a field).

    ``reference`` is when the text was published ("på lördag" counts from it); without
    it relative days count from ``now``. With no date in the text, ``default_date``
    gives the day of a time, unless the text names a day that could not be read
    ("söndagen före pingst kl 11" is not ``default_date`` at 11).
    """
    normalized = _normalize(text)
    local_now = now.astimezone(tz)
    ctx = _Context(
        today=local_now.date(),
        reference=(reference.astimezone(tz) if reference else local_now).date(),
        published=reference is not None,
    )
    try:
        return _read(normalized, ctx, tz, default_date)
    except TimeError as exc:
        raise SwedishDateError(str(exc)) from None


def _normalize(text: str) -> str:
    """Lowercase, entities decoded ("Lördag&nbsp;5&nbsp;december"), one kind of dash, no URLs."""
    if "&" in text:
        text = html.unescape(text)
    text = _URL_RE.sub(" ", text.translate(_DASHES).replace("\r\n", "\n").replace("\r", "\n"))
    return _SPACES_RE.sub(" ", text.lower())


def _read(text: str, ctx: _Context, tz: tzinfo, default_date: date | None) -> SwedishDate | None:
    written, errors = _written_dates(text, ctx)
    taken = [(m.start, m.end) for m in written]
    named = [m for m in _named_days(text, ctx, taken) if m is not None]
    weeks = list(_weeks(text, ctx, taken + [(m.start, m.end) for m in named]))
    errors += _disagreements(text, written, named)
    if errors:
        raise errors[0]
    absolute = sorted(written + named + weeks, key=lambda m: m.start)
    spans = [(m.start, m.end) for m in absolute]
    relative, relative_errors = _relative_days(text, ctx, spans)
    roles = [(m, _role(text, m)) for m in absolute]
    events = [m for m, role in roles if role is _Role.EVENT]
    untils = [m for m, role in roles if role is _Role.UNTIL]
    spans += [(m.start, m.end) for m in relative]
    strong = [m for m in relative if not m.weak]
    if relative_errors and (not events or ctx.published):
        raise relative_errors[0]  # without a publication time a written date outranks them
    if events:
        chosen = _one(events)
        if ctx.published and strong:
            _agree(chosen, _one(strong))
    elif relative:
        chosen = _one(relative)
    elif default_date is not None and not _DATE_WORD_RE.search(text):
        return _on_known_day(text, default_date, tz)
    else:
        return None
    if chosen.all_day:
        return SwedishDate(chosen.first, chosen.last + timedelta(days=1), True)
    clock = _choose_time(text, chosen, spans)
    if clock is None:
        last = _until(chosen, untils)
        return SwedishDate(chosen.first, last + timedelta(days=1), True)
    return _timed(chosen.first, chosen.last, clock, tz)


def _until(chosen: _Mention, untils: list[_Mention]) -> date:
    """ "Öppnar 5 december och visas till 10 januari": a day, then how long it goes on."""
    later = {m.last for m in untils if chosen.last < m.last <= chosen.first + timedelta(days=400)}
    return later.pop() if len(later) == 1 and chosen.first == chosen.last else chosen.last


# --- written dates -------------------------------------------------------------------


def _written_dates(text: str, ctx: _Context) -> tuple[list[_Mention], list[SwedishDateError]]:
    """Every written date, left to right, each with the range it closes; impossible ones apart."""
    found: list[_Mention] = []
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


def _written(match: re.Match[str], text: str, ctx: _Context) -> _Mention | None:
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
    return _Mention(first, last, match.start(), end, _Kind.WRITTEN, all_day)


def _weekday(name: str | None) -> int | None:
    if not name:
        return None
    return WEEKDAYS.get(name, SHORT_WEEKDAYS.get(name))


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
    before = text[: match.start()]
    after = _date_end(match)
    dated = weekday is not None or bool(groups["den"])
    if not dated and not groups["mon"] and _NOT_A_DATE_BEFORE_RE.search(before[-20:]):
        return False
    if groups["sd"] is not None:  # 18/12
        listed = _line_start(before) or _LISTED_RE.search(before)
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


def _line_start(before: str) -> bool:
    line = before.rsplit("\n", 1)[-1]
    return not line.strip(" •*·-–")


def _forms(match: re.Match[str], text: str) -> tuple[_Form, _Form | None, int | None, int]:
    """The start as written, the end of a range if one is written, its weekday, the text's end."""
    groups = match.groupdict()
    start = _form(groups, "")
    closing = _RANGE_END_RE.match(text, _date_end(match))
    if closing is not None and _same_form(groups, closing.groupdict()):
        ends = closing.groupdict()
        return start, _form(ends, "e"), _weekday(ends["ewd"]), _date_end(closing, "e")
    if groups["dl"]:
        return (*_listed_days(start, groups["dl"]), _date_end(match))
    day2 = groups["d2"] or groups["sd2"] or groups["pd2"]
    if day2:  # "5–7 mars", "4–21/12", "6–8.12"
        return start, _Form(int(day2), start.month, start.year), None, _date_end(match)
    return start, None, None, _date_end(match)


def _listed_days(start: _Form, listed: str) -> tuple[_Form, _Form | None, int | None]:
    """ "5 och 6 december" is one event over two days; "5 och 12 december" are two events."""
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
    if groups[f"{p}iy"] is not None:
        return _Form(int(groups[f"{p}id"] or 0), int(groups[f"{p}im"] or 0), int(groups[f"{p}iy"]))
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
    """ "2/7-30/7" and "5 mars – 7 april" are ranges; "5 mars - 10.12" is not."""
    for form in ("iy", "d1", "sd", "pd"):
        if start[form] is not None:
            return end[f"e{form}"] is not None
    return False


def _placed(start: _Form, end: _Form | None, ctx: _Context) -> tuple[date, date]:
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


def _infer(form: _Form, ctx: _Context) -> date:
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


def _named_days(text: str, ctx: _Context, taken: list[tuple[int, int]]) -> Iterator[_Mention]:
    for match in _NAMED_RE.finditer(text):
        if _overlaps(match.start(), match.end(), taken):
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
        yield _Mention(value, value, match.start(), match.end(), _Kind.NAMED)


def _weeks(text: str, ctx: _Context, taken: list[tuple[int, int]]) -> Iterator[_Mention]:
    for match in _WEEK_RE.finditer(text):
        if _overlaps(match.start(), match.end(), taken):
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
        yield _Mention(days[0], end_days[1], match.start(), match.end(), _Kind.WEEK)


def _relative_days(
    text: str, ctx: _Context, taken: list[tuple[int, int]]
) -> tuple[list[_Mention], list[SwedishDateError]]:
    """Relative days, and those that contradict themselves ("i morgon lördag" on a Thursday)."""
    found: list[_Mention] = []
    errors: list[SwedishDateError] = []
    for match in _RELATIVE_RE.finditer(text):
        if _overlaps(match.start(), match.end(), taken):
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
            _Mention(days[0], days[1], match.start(), match.end(), _Kind.RELATIVE, weak=weak)
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
    """ "i helgen": the coming Saturday–Sunday; written on a Sunday it may be either."""
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


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


# --- which date is the event's -------------------------------------------------------


def _disagreements(
    text: str, written: list[_Mention], named: list[_Mention]
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


def _on_known_day(text: str, day: date, tz: tzinfo) -> SwedishDate | None:
    """A field with a time and no date ("kl. 18.30"), on the day the page gave elsewhere."""
    times = [t for t in find_times(text, []) if t.explicit and t.label is not Label.DEADLINE]
    if not times:
        return None
    return _timed(day, day, _with_end(_start_clock(times, None), times), tz)


class _Role(StrEnum):
    EVENT = "event"
    NOTICE = "notice"  # "anmälan senast 17/8", "uppdaterad 2026-11-20"
    UNTIL = "until"  # "visas till 10 januari": only the end of something


def _role(text: str, mention: _Mention) -> _Role:
    """What a date is to the event: its day, a deadline or notice, or only an end."""
    before = _clause_before(text, mention.start)
    if _NOT_THE_EVENT_RE.search(before):
        return _Role.NOTICE
    if mention.first == mention.last and _ONLY_AN_END_RE.search(before):
        return _Role.UNTIL
    return _Role.EVENT


def _clause_before(text: str, position: int) -> str:
    window = text[max(0, position - 40) : position]
    cut = 0
    for boundary in _CLAUSE_BOUNDARY_RE.finditer(window):
        cut = boundary.end()
    return window[cut:]


def _one(mentions: list[_Mention]) -> _Mention:
    """The one date the mentions name (the same day written twice is one), or no answer.

    A week or a weekend that holds the other date is only its setting ("i helgen, lördag
    kl 14", "vecka 49: lördag 5 december").
    """
    distinct = {(m.first, m.last): m for m in mentions}
    broad = [m for m in distinct.values() if m.kind is _Kind.WEEK or m.first != m.last]
    narrow = [m for m in distinct.values() if m not in broad]
    if len(narrow) == 1 and all(b.first <= narrow[0].first <= b.last for b in broad):
        broad_kinds = {b.kind for b in broad}
        if broad_kinds <= {_Kind.WEEK, _Kind.RELATIVE}:
            return narrow[0]
    if len(distinct) == 1:
        return next(iter(distinct.values()))
    days = ", ".join(_days(first, last) for first, last in distinct)
    raise AmbiguousSwedishDate(f"it gives {len(distinct)} dates ({days})")


def _agree(written: _Mention, relative: _Mention) -> None:
    if (written.first, written.last) != (relative.first, relative.last):
        raise AmbiguousSwedishDate(
            f"it says {_days(relative.first, relative.last)} counted from its publication, "
            f"but {_days(written.first, written.last)} in writing"
        )


def _days(first: date, last: date) -> str:
    return describe(first) if first == last else f"{describe(first)}–{describe(last)}"


def _choose_time(text: str, chosen: _Mention, taken: list[tuple[int, int]]) -> Clock | None:
    times = find_times(text, taken)
    attached = time_at(text, chosen.end)
    if attached is not None and "\n" not in text[chosen.end : attached.start]:
        times = [t for t in times if t.start != attached.start] + [attached]
    else:
        attached = None
    sentence = _sentence(text, chosen)
    usable = [
        t
        for t in times
        if t.label is not Label.DEADLINE and (not t.loose or sentence[0] <= t.start < sentence[1])
    ]
    if not usable:
        if time_in_words(text):
            raise AmbiguousSwedishDate("its time is written in words (morning or evening?)")
        return None
    before = [t for t in usable if t.end <= chosen.start and _just_before(text, t, chosen)]
    clock = _start_clock(usable, attached or (before[0] if before else None))
    return _with_end(clock, usable)


def _sentence(text: str, chosen: _Mention) -> tuple[int, int]:
    """Where the sentence holding the date starts and ends (a bare "11–15" must be in it)."""
    starts = [m.end() for m in _SENTENCE_END_RE.finditer(text, 0, chosen.start)]
    after = _SENTENCE_END_RE.search(text, chosen.end)
    return (starts[-1] if starts else 0), (after.start() if after else len(text))


def _just_before(text: str, time: TimeMention, chosen: _Mention) -> bool:
    gap = text[time.end : chosen.start]
    return len(gap) <= 3 and bool(ATTACHED_BEFORE_RE.fullmatch(gap)) and "\n" not in gap


def _start_clock(usable: list[TimeMention], attached: TimeMention | None) -> Clock:
    starts = [t for t in usable if t.label is Label.START]
    if starts:
        return _single(starts, "start times")
    if attached is not None and attached.label is Label.PLAIN:
        return _single([attached], "times")
    plain = [t for t in usable if t.label is Label.PLAIN]
    if plain:
        schedule = {t.clock for t in plain if t.line_start}
        if len(schedule) > 1:
            raise AmbiguousSwedishDate(f"it lists {len(schedule)} times, one per line")
        return _single(plain, "times", earliest=True)
    before = [t for t in usable if t.label in (Label.DOOR, Label.MEAL)]
    if before:
        return _single(before, "times", earliest=True)
    raise AmbiguousSwedishDate("it gives an end time but no start time")


def _single(times: list[TimeMention], what: str, *, earliest: bool = False) -> Clock:
    if any(t.joined for t in times):
        raise AmbiguousSwedishDate(f"it gives several {what} for the same thing")
    distinct = {(t.clock.hour, t.clock.minute): t.clock for t in times}
    if len(distinct) > 1 and not earliest:
        listed = ", ".join(f"{h:02d}.{m:02d}" for h, m in sorted(distinct))
        raise AmbiguousSwedishDate(f"it gives {len(distinct)} {what} ({listed})")
    return min(distinct.values(), key=lambda c: c.minutes)


def _with_end(clock: Clock, usable: list[TimeMention]) -> Clock:
    """An end written apart ("besöket avslutas ca kl 16.30") closes a start without one."""
    ends = {t.clock for t in usable if t.label is Label.END and t.clock.minutes > clock.minutes}
    if clock.end_hour is None and len(ends) == 1:
        end = next(iter(ends))
        return Clock(clock.hour, clock.minute, end.hour, end.minute)
    return clock


# --- instants -------------------------------------------------------------------------


def _bare_clock(match: re.Match[str]) -> Clock:
    groups = match.groupdict()
    hour, minute = int(groups["h1"]), int(groups["m1"] or 0)
    end_hour = int(groups["h2"]) if groups["h2"] else None
    end_minute = int(groups["m2"] or 0) if end_hour is not None else None
    for h, m in ((hour, minute), (end_hour, end_minute)):
        if h is not None and m is not None and (h > 24 or m > 59 or (h == 24 and m)):
            raise SwedishDateError(f"{h:02d}.{m:02d} is not a time of day")
    return Clock(hour, minute, end_hour, end_minute)


def _timed(first: date, last: date, clock: Clock, tz: tzinfo) -> SwedishDate:
    start = _instant(first, clock.hour, clock.minute, tz)
    end: datetime | None = None
    if clock.end_hour is not None and clock.end_minute is not None:
        end = _instant(last, clock.end_hour, clock.end_minute, tz)
        if end <= start and last == first:  # "kl 22–02": past midnight
            end = _instant(first + timedelta(days=1), clock.end_hour, clock.end_minute, tz)
    return SwedishDate(start, end, False)


def _instant(day: date, hour: int, minute: int, tz: tzinfo) -> datetime:
    if hour == 24:  # "till 24.00": midnight at the end of the day
        day, hour = day + timedelta(days=1), 0
    wall = datetime(day.year, day.month, day.day, hour, minute)
    return local_to_utc(wall, tz).astimezone(UTC)
