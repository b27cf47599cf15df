"""Times of day in Swedish listings, each with what the text says it is the time of.

"kl. 19.00", "kl:19:00", "kl: 17:30", "klockan 19", "19.00–21.00", "kl 19 till 21",
"mellan kl 18 och 20", "10–16" right after a date. A time is read with its label:
"Insläpp 18.00, start 19.00" holds a door time and a start, "Anmälan senast kl 12" a
deadline, "Fika från 18.00" a meal before the event, "avslutas ca kl 16.30" an end.
:mod:`aggregator.harvest.swedish_dates` chooses among them; this module only reads.

The text is the normalized, lowercase text of ``swedish_dates`` (dashes as "–").
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from enum import StrEnum
from itertools import accumulate


class Label(StrEnum):
    START = "start"  # "start 19.00", "konserten börjar klockan 20", "avspark 14.00"
    PLAIN = "plain"  # no label, or a neutral one ("tid:", "öppet")
    DOOR = "door"  # "insläpp 18.00", "dörrarna öppnas 18.30"
    MEAL = "meal"  # "fika från 18.00", "middag 17:30"
    END = "end"  # "avslutas ca kl 16.30"
    DEADLINE = "deadline"  # "anmälan senast kl 12", "sista tid för start kl 15"


@dataclass(frozen=True, slots=True)
class Clock:
    hour: int
    minute: int
    end_hour: int | None = None
    end_minute: int | None = None

    @property
    def minutes(self) -> int:
        return self.hour * 60 + self.minute


@dataclass(frozen=True, slots=True)
class TimeMention:
    """One time written in the text, at ``start``–``end`` of the normalized text."""

    clock: Clock
    start: int
    end: int
    label: Label
    explicit: bool  # "kl" or minutes were written: a time even far from any date
    joined: bool  # "kl 18 och 20": one of several times for the same thing
    line_start: bool  # "11.00 Mässa": a line of a day's schedule
    loose: bool = False  # a bare "11–15" with no label: a time only in the date's sentence


class TimeError(ValueError):
    """A time was written that no clock shows (25.00, 19.75)."""


_NOT_MORE = (
    r"(?!\d|[:/.,]\d)"  # a full stop or colon may follow ("kl 18.30: bokcirkel"), digits not
)
_KL = r"(?P<kl>(?:kl(?:ockan)?|klo)\b\.?\s*:?\s*)"
_CIRCA = r"(?:(?:ca|cirka|c:a|omkring)\.?\s*)"
_TIME = rf"(?P<h1>\d{{1,2}})(?:[.:](?P<m1>\d{{2}})(?::\d{{2}})?)?{_NOT_MORE}"
_END = (
    rf"(?: *(?P<sep>[–-]|till|och) *(?:kl(?:ockan)?\.? *)?{_CIRCA}?"
    rf"(?P<h2>\d{{1,2}})(?:[.:](?P<m2>\d{{2}}))?{_NOT_MORE})?"
)
_TIME_BODY = rf"(?P<mellan>(?:mellan|från)\s+)?{_CIRCA}?{_KL}?{_CIRCA}?{_TIME}{_END}"
TIME_RE = re.compile(rf"(?<![\w.:/,–-]){_TIME_BODY}")
_TIME_HERE_RE = re.compile(_TIME_BODY)  # right after a date: "2027-01-02T13:00" has a "t" before
# a time right after a date: "… kl. 13.00", "… 19.00–21.00", "2027-01-02T13:00", Events
# Manager's " - 19:00 - 23:30", "lördag 12 december 10–16"
ATTACHED_AFTER_RE = re.compile(r"\s*,?\s*(?:[-–|·/]\s*)?(?:t(?=\d))?")
ATTACHED_BEFORE_RE = re.compile(r"[\s,:–-]*$")
# "kl 18 och 20", "kl. 14, 17 och 20": one of several times for the same thing
_JOINED_RE = re.compile(
    r"\s*(?:och|eller|samt|resp\.?|,|&|/)\s*(?:kl(?:ockan)?\.?\s*)?\d{1,2}(?:[.:]\d{2})?"
    r"(?![\d/]|[.,]\d|\s*(?:[a-zåäö]{3,}\s)?(?:jan|feb|mar|apr|maj|jun|jul|aug|sep|okt|nov|dec))"
)
_AROUND_RE = re.compile(r"(?<![\w.:/,–-])(?:(?:vid|runt|omkring|ca)\s+)?(?P<h>\d{1,2})-tiden\b")
_WORDS_RE = re.compile(
    r"\b(?:kl(?:ockan)?\.?|vid|runt)\s+(?:halv\s+|kvart\s+(?:över|i)\s+)?"
    r"(?:ett|två|tre|fyra|fem|sex|sju|åtta|nio|tio|elva|tolv)(?![\wåäö])"
)
# what a number followed by these is: a price, an age, a distance, a count
_UNIT_RE = re.compile(
    r"\s*(?:kr|kronor|sek|euro|eur|€|:-|%|km|mil|meter|min|minuter|timm\w*|år|års|åringar|"
    r"-åringar|st|stycken|pers|personer|deltagare|platser|poäng|mål|kg|dl|cl|liter|sidor|"
    r"bord|knallar|utställare|lag|spelare|barn|vuxna|gäster|kapitel)(?![\wåäö])"
    r"|\s*/\s*person"
)
_BOUNDARY_RE = re.compile(r"[\n;!?(]|[.,](?:\s|$)")
_WINDOW = 60  # how far back a label is looked for, within its clause

_DEADLINE_WORDS = re.compile(
    r"\b(?:senast|anmälan|anmäl|anmälningsdag|föranmälan|osa|o\.s\.a|sista\s+tid|sista\s+dag|"
    r"deadline|bokas|biljettsläpp|släpps)\b"
)
_LABEL_WORDS = [
    (
        Label.DOOR,
        r"insläpp\w*|dörr\w*|portarna|entré\w*|kassan|biljettkassan|baren\s+öppnar",
    ),
    (
        Label.MEAL,
        r"fika\w*|middag\w*|mat|maten|måltid\w*|server\w*|buffé\w*|mingel|förfest|glögg|lunch|"
        r"kaffe\w*|\w+kaffe",
    ),
    (Label.END, r"slut\w*|avslut\w*|pågår\s+till|håller\s+på\s+till|till"),
    (
        Label.START,
        r"start\w*|\w+start|börjar|avspark|nedsläpp|uppsläpp|spelstart|gudstjänsten\s+börjar",
    ),
    (Label.PLAIN, r"tid|tider|tidpunkt|klockslag|öppet|öppen|öppettider"),
]
_LABEL_RE = re.compile(
    "|".join(rf"(?P<{label.value}>\b(?:{words})\b)" for label, words in _LABEL_WORDS)
)
# right after a time: "kl 18 insläpp", "18.00 middag"
_LABEL_AFTER_RE = re.compile(r"\s*[-–:]?\s*(?P<word>[a-zåäö]+(?:\s+[a-zåäö]+)?)")


class Spans:
    """Parts of the text already read (dates), asked "does this overlap one?" in log time."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        self._starts = [start for start, _ in ordered]
        self._max_ends = list(accumulate((end for _, end in ordered), max))

    def overlaps(self, start: int, end: int) -> bool:
        before = bisect_left(self._starts, end)  # spans that start before ``end``
        return before > 0 and self._max_ends[before - 1] > start


def find_times(text: str, taken: list[tuple[int, int]]) -> list[TimeMention]:
    """Every time in ``text`` outside the ``taken`` spans (dates); TimeError for "kl 25.00"."""
    found: list[TimeMention] = []
    spans = Spans(taken)
    for match in TIME_RE.finditer(text):
        if spans.overlaps(match.start(), match.end()):
            continue
        mention = _mention(match, text)
        if mention is not None:
            found.append(mention)
    for match in _AROUND_RE.finditer(text):  # "vid 18-tiden"
        hour = int(match["h"])
        if hour <= 23 and not spans.overlaps(match.start(), match.end()):
            label = _label(text, match.start(), match.end())
            found.append(
                TimeMention(Clock(hour, 0), match.start(), match.end(), label, True, False, False)
            )
    return found


def time_in_words(text: str) -> bool:
    """A time is given in words ("klockan sju", "kl. halv åtta"): morning or evening?"""
    return _WORDS_RE.search(text) is not None


def time_at(text: str, position: int) -> TimeMention | None:
    """The time that starts right at ``position`` (after a date), if one does.

    Here a bare hour range counts ("lördag 12 december 10–16"), a bare hour does not
    ("5 mars 2027 12 personer").
    """
    lead = ATTACHED_AFTER_RE.match(text, position)
    start = lead.end() if lead else position
    match = _TIME_HERE_RE.match(text, start)
    if match is None:
        return None
    return _mention(match, text, attached=True)


def _mention(match: re.Match[str], text: str, *, attached: bool = False) -> TimeMention | None:
    groups = match.groupdict()
    has_kl = bool(groups["kl"])
    has_minutes = groups["m1"] is not None
    is_range = groups["h2"] is not None
    if groups["sep"] == "och" and not groups["mellan"]:
        is_range = False  # "kl 18 och 20" is two times, not a range
    if _UNIT_RE.match(text, match.end()):
        return None  # "7-12 år", "12.50 euro"
    label = _label(text, match.start(), match.end())
    loose = False
    if not (has_kl or has_minutes):
        if not is_range:
            return None  # a bare number is not a time ("5 mars 2027 12 personer")
        loose = not (attached or label is not Label.PLAIN or _labelled(text, match.start()))
        if loose and not _hours(groups, text, match.start()):
            return None
    end_text = match.end() if is_range else (match.start("sep") if groups["sep"] else match.end())
    clock = _clock(groups, is_range, strict=has_kl or attached)
    if clock is None:
        return None
    line_start = _line_start(text, match.start())
    joined = bool(_JOINED_RE.match(text, end_text)) and not is_range
    joined = joined or (groups["sep"] == "och" and not groups["mellan"])
    return TimeMention(
        clock=clock,
        start=match.start(),
        end=end_text,
        label=label,
        explicit=has_kl or has_minutes,
        joined=joined,
        line_start=line_start,
        loose=loose,
    )


_NOT_HOURS_RE = re.compile(
    r"\b(?:barn|kids|ungdomar|åk|årskurs|klass|ålder|åldern|åldrarna|storlek|sid|sidan|sidorna|"
    r"nr|nummer|rad|bord|grupp|grupper|vecka|veckorna|v|mellan)\.?\s*$"
)


def _hours(groups: dict[str, str | None], text: str, start: int) -> bool:
    """Could a bare "11–15" be opening hours: daytime, forwards (or over midnight), no age?"""
    first, last = int(groups["h1"] or 0), int(groups["h2"] or 0)
    forwards = first < last <= 24 or (first >= 18 and last <= 6)
    return (
        6 <= first <= 23 and forwards and not _NOT_HOURS_RE.search(text[max(0, start - 20) : start])
    )


def _line_start(text: str, position: int) -> bool:
    """Nothing but spaces between the line's start and the time ("11.00 Mässa")."""
    newline = text.rfind("\n", max(0, position - 200), position)
    if newline < 0 and position > 200:
        return False
    return not text[newline + 1 : position].strip()


def _clock(groups: dict[str, str | None], is_range: bool, *, strict: bool) -> Clock | None:
    """The clock, None for an impossible one written loosely (a price), TimeError when strict."""
    hour, minute = int(groups["h1"] or 0), int(groups["m1"] or 0)
    end_hour = int(groups["h2"]) if is_range and groups["h2"] else None
    end_minute = int(groups["m2"] or 0) if end_hour is not None else None
    for h, m in ((hour, minute), (end_hour, end_minute)):
        if h is not None and m is not None and not _valid(h, m):
            if strict:
                raise TimeError(f"{h:02d}.{m:02d} is not a time of day")
            return None
    return Clock(hour, minute, end_hour, end_minute)


def _valid(hour: int, minute: int) -> bool:
    return hour <= 24 and minute <= 59 and not (hour == 24 and minute)


def _clause_before(text: str, position: int) -> str:
    window = text[max(0, position - _WINDOW) : position]
    cut = 0
    for boundary in _BOUNDARY_RE.finditer(window):
        cut = boundary.end()
    return window[cut:]


def _label(text: str, start: int, end: int) -> Label:
    """What the words before the time (in its clause) or right after it say it is."""
    before = _clause_before(text, start)
    if _DEADLINE_WORDS.search(before):
        return Label.DEADLINE
    labels = list(_LABEL_RE.finditer(before))
    if labels:
        return Label(labels[-1].lastgroup or "plain")
    after = _LABEL_AFTER_RE.match(text, end)
    if after is not None:
        word = _LABEL_RE.match(after.group("word"))
        if word is not None and word.lastgroup in (Label.DOOR, Label.MEAL):
            return Label(word.lastgroup)
    return Label.PLAIN


def _labelled(text: str, start: int) -> bool:
    """A neutral label ("tid:", "öppet") right before the time lets a bare "10–16" count."""
    before = _clause_before(text, start)
    return bool(re.search(r"\b(?:tid|tider|öppet|öppen|öppettider)\b\s*:?\s*$", before))
