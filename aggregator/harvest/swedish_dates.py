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
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

from aggregator.harvest.swedish_calendar import (
    MONTHS,
    RECENT_PAST,
    WEEKDAYS,
    alternatives,
    describe,
)
from aggregator.harvest.swedish_mentions import (
    AmbiguousSwedishDate,
    Context,
    Kind,
    Mention,
    SwedishDateError,
    disagreements,
    named_days,
    relative_days,
    weeks,
    written_dates,
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
from aggregator.normalize.timezones import local_to_utc

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


@dataclass(frozen=True, slots=True)
class SwedishDate:
    """``start``/``end`` as UTC datetimes, or dates for all-day events (``end`` exclusive)."""

    start: datetime | date
    end: datetime | date | None
    all_day: bool


# before a date: it is not the event's ("anmälan senast 17/8", "uppdaterad 2026-11-20")
_NOT_THE_EVENT_RE = re.compile(
    r"\b(?:senast|anmälan|anmäl|anmälningsdag|föranmälan|osa|o\.s\.a|deadline|betala\w*|"
    r"inbetalning|biljettsläpp|släpps|säljs|förköp\w*|biljettförsäljning\w*|publicerad|"
    r"publicerat|uppdaterad|uppdaterat|ändrad|inlagd|skapad|postad|skrivet|sista\s+dag)\b"
)
_ONLY_AN_END_RE = re.compile(
    r"(?:\b(?:till|tills|fram\s+till|till\s+och\s+med|pågår|t\.\s?o\.\s?m\.?|sedan|fr\.\s?o\.\s?m\.?|"
    r"från\s+och\s+med)\s*)$"
)
# "konserten flyttas från 5 december till 12 december": not a range
_MOVED_RE = re.compile(r"\b(?:flytta\w*|ändra\w*|nytt\s+datum|byter\s+datum)\b")
_LIST_JOIN_RE = re.compile(r"\b(?:och|eller|samt|resp)\b")
_END_DATE_RE = re.compile(r"\b(?:slutdatum|slutdag|slutar|slut)\s*:?\s*$")
_CLAUSE_BOUNDARY_RE = re.compile(r"[\n;!?]|[.,](?:\s|$)")
_SENTENCE_END_RE = re.compile(r"\n|[.!?](?:\s|$)")
# words that say a date is meant, for a field whose date is otherwise known
_DATE_WORD_RE = re.compile(
    rf"(?<![\wåäö])(?:{alternatives(WEEKDAYS)}|{alternatives(MONTHS)}|\w*dag(?:en|ar)?|"
    r"\w*afton(?:en)?|advent|påsk\w*|pingst\w*|datum|midsommar\w*|helg\w*|vecka\w*|"
    r"morgon|morron|kväll|natt|eftermiddag|förmiddag)(?![\wåäö])|\d{1,2}/\d{1,2}"
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
    ctx = Context(
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


def _read(text: str, ctx: Context, tz: tzinfo, default_date: date | None) -> SwedishDate | None:
    written, errors = written_dates(text, ctx)
    taken = [(m.start, m.end) for m in written]
    named = list(named_days(text, ctx, taken))
    week_days = list(weeks(text, ctx, taken + [(m.start, m.end) for m in named]))
    errors += disagreements(text, written, named)
    if errors:
        raise errors[0]
    absolute = sorted(written + named + week_days, key=lambda m: m.start)
    spans = [(m.start, m.end) for m in absolute]
    relative, relative_errors = relative_days(text, ctx, spans)
    roles = [(m, _role(text, m)) for m in absolute]
    events = [m for m, role in roles if role is _Role.EVENT]
    untils = [m for m, role in roles if role is _Role.UNTIL]
    ends = [m for m, role in roles if role is _Role.END]
    spans += [(m.start, m.end) for m in relative]
    strong = [m for m in relative if not m.weak]
    if relative_errors and (not events or ctx.published):
        raise relative_errors[0]  # without a publication time a written date outranks them
    if events:
        chosen = _ended(_one(events), ends)
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


def _ended(chosen: Mention, ends: list[Mention]) -> Mention:
    """ "Startdatum: 2026-12-12 … Slutdatum: 2026-12-13": one event over both days."""
    later = {m.last for m in ends if chosen.last < m.last <= chosen.first + timedelta(days=400)}
    if chosen.first != chosen.last or len(later) != 1:
        return chosen
    return replace(chosen, last=later.pop())


def _until(chosen: Mention, untils: list[Mention]) -> date:
    """A day, then how long it goes on: "öppnar 5 december och visas till 10 januari"."""
    later = {m.last for m in untils if chosen.last < m.last <= chosen.first + timedelta(days=400)}
    return later.pop() if len(later) == 1 and chosen.first == chosen.last else chosen.last


# --- which date is the event's -------------------------------------------------------


def _on_known_day(text: str, day: date, tz: tzinfo) -> SwedishDate | None:
    """A field with a time and no date ("kl. 18.30"), on the day the page gave elsewhere."""
    times = [t for t in find_times(text, []) if t.explicit and t.label is not Label.DEADLINE]
    if not times:
        return None
    return _timed(day, day, _with_end(_start_clock(text, times, None), times), tz)


class _Role(StrEnum):
    EVENT = "event"
    NOTICE = "notice"  # "anmälan senast 17/8", "uppdaterad 2026-11-20"
    UNTIL = "until"  # "visas till 10 januari": only the end of something going on
    END = "end"  # "slutdatum: 2026-12-13": the last day of this event


def _role(text: str, mention: Mention) -> _Role:
    """What a date is to the event: its day, a deadline or notice, or only an end."""
    before = _clause_before(text, mention.start)
    if mention.first != mention.last and _MOVED_RE.search(before):
        raise AmbiguousSwedishDate("it moves the event from one date to another")
    if _NOT_THE_EVENT_RE.search(before):
        return _Role.NOTICE
    if mention.first == mention.last and _END_DATE_RE.search(before):
        return _Role.END
    if mention.first == mention.last and _ONLY_AN_END_RE.search(before):
        return _Role.UNTIL
    return _Role.EVENT


def _clause_before(text: str, position: int) -> str:
    window = text[max(0, position - 40) : position]
    cut = 0
    for boundary in _CLAUSE_BOUNDARY_RE.finditer(window):
        cut = boundary.end()
    return window[cut:]


def _one(mentions: list[Mention]) -> Mention:
    """The one date the mentions name (the same day written twice is one), or no answer.

    A week or a weekend that holds the other date is only its setting ("i helgen, lördag
    kl 14", "vecka 49: lördag 5 december").
    """
    distinct = {(m.first, m.last): m for m in mentions}
    broad = [m for m in distinct.values() if m.kind is Kind.WEEK or m.first != m.last]
    narrow = [m for m in distinct.values() if m not in broad]
    if len(narrow) == 1 and all(b.first <= narrow[0].first <= b.last for b in broad):
        broad_kinds = {b.kind for b in broad}
        if broad_kinds <= {Kind.WEEK, Kind.RELATIVE}:
            return narrow[0]
    if len(distinct) == 1:
        return next(iter(distinct.values()))
    days = ", ".join(_days(first, last) for first, last in distinct)
    raise AmbiguousSwedishDate(f"it gives {len(distinct)} dates ({days})")


def _agree(written: Mention, relative: Mention) -> None:
    if (written.first, written.last) != (relative.first, relative.last):
        raise AmbiguousSwedishDate(
            f"it says {_days(relative.first, relative.last)} counted from its publication, "
            f"but {_days(written.first, written.last)} in writing"
        )


def _days(first: date, last: date) -> str:
    return describe(first) if first == last else f"{describe(first)}–{describe(last)}"


def _choose_time(text: str, chosen: Mention, taken: list[tuple[int, int]]) -> Clock | None:
    times = find_times(text, taken)
    attached = time_at(text, chosen.end)
    if attached is not None and "\n" not in text[chosen.end : attached.start]:
        times = [t for t in times if t.start != attached.start] + [attached]
    else:
        attached = None
    sentence = _sentence(text, chosen.start, chosen.end)
    usable = [t for t in times if t.label is not Label.DEADLINE]
    near = [t for t in usable if not t.loose or sentence[0] <= t.start < sentence[1]]
    # a bare "14–16" away from the date counts only when no other time is given
    usable = near or usable
    if not usable:
        if time_in_words(text):
            raise AmbiguousSwedishDate("its time is written in words (morning or evening?)")
        return None
    before = [t for t in usable if t.end <= chosen.start and _just_before(text, t, chosen)]
    clock = _start_clock(text, usable, attached or (before[0] if before else None))
    return _with_end(clock, usable)


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """Where the sentence holding ``start``–``end`` (a date, a time) starts and ends."""
    window_start = max(0, start - 2000)  # sentences are short; hostile text must stay linear
    starts = [m.end() for m in _SENTENCE_END_RE.finditer(text, window_start, start)]
    after = _SENTENCE_END_RE.search(text, end)
    return (starts[-1] if starts else window_start), (after.start() if after else len(text))


def _just_before(text: str, time: TimeMention, chosen: Mention) -> bool:
    gap = text[time.end : chosen.start]
    return len(gap) <= 3 and bool(ATTACHED_BEFORE_RE.fullmatch(gap)) and "\n" not in gap


def _start_clock(text: str, usable: list[TimeMention], attached: TimeMention | None) -> Clock:
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
        clock = _single(plain, "times", earliest=True)
        _not_a_list(text, clock, plain)
        return clock
    before = [t for t in usable if t.label in (Label.DOOR, Label.MEAL)]
    if before:
        return _single(before, "times", earliest=True)
    raise AmbiguousSwedishDate("it gives an end time but no start time")


def _not_a_list(text: str, clock: Clock, plain: list[TimeMention]) -> None:
    """A programme starts with its first time ("Kl 13.30 pyntar vi stången. Kl 14 reser vi
    stången.", "samling kl 9.30, vi går kl 10"), but "julbön kl 14 i Vimmerby kyrka och kl
    16 i Pelarne kyrka" are two services: the first time and the next one in its sentence,
    joined by "och", are a list (unless the next falls inside the first: "10–15 och kl 13")."""
    first = next(t for t in plain if t.clock == clock)
    sentence_end = _sentence(text, first.start, first.end)[1]
    later = sorted((t for t in plain if first.end <= t.start < sentence_end), key=lambda t: t.start)
    if not later or later[0].clock.minutes == clock.minutes:
        return
    between = text[first.end : later[0].start]
    inside = clock.end_hour is not None and later[0].clock.minutes <= clock.end_hour * 60
    if _LIST_JOIN_RE.search(between) and "," not in between and not inside:
        raise AmbiguousSwedishDate(
            f"it lists times for more than one occasion "
            f"({clock.hour:02d}.{clock.minute:02d}, "
            f"{later[0].clock.hour:02d}.{later[0].clock.minute:02d})"
        )


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
