"""The feed linter: what we had to repair in a source, or could not use, told to its
organizer as Swedish sentences they can act on.

Harvesters tolerate what real producers write (DESIGN: "Failure is normal"); the
linter says afterwards what that cost, so the organizer can fix it at the source. It
reads the raw bytes once more with cheap line patterns (never a second full parse) and
looks at the events the harvest produced. Findings that need history (UIDs that change
between fetches, a collapse) are built by the pipeline with the functions at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from aggregator.harvest.encoding import decode_calendar_bytes
from aggregator.model import HarvestResult, Settings
from aggregator.normalize.text import human_size
from aggregator.normalize.timezones import iana_name_for_tzid, zone


class Finding(StrEnum):
    FLOATING_TIMES = "floating-times"
    NO_VTIMEZONE = "no-vtimezone"
    WINDOWS_ZONE = "windows-zone"
    UNKNOWN_ZONE = "unknown-zone"
    INCLUSIVE_END = "inclusive-end"
    NO_START = "no-start"
    NO_TIME = "no-time"
    NO_PLACE = "no-place"
    PRIVATE_SKIPPED = "private-skipped"
    CHANGING_UIDS = "changing-uids"
    COLLAPSED = "collapsed"
    OVERSIZE = "oversize"


@dataclass(frozen=True, slots=True)
class Advice:
    finding: Finding
    text: str  # one Swedish sentence for the organizer


NEAR_LIMIT = 0.8  # of settings.max_bytes: warn while the calendar can still be read

_UNFOLD_RE = re.compile(r"\r?\n[ \t]")
_LINE_RE = re.compile(
    r"^(BEGIN:VEVENT|END:VEVENT|BEGIN:VTIMEZONE|X-WR-TIMEZONE[;:]|"
    r"(?:DTSTART|DTEND|CLASS|RECURRENCE-ID|EXDATE|RDATE)(?=[;:]))([^\r\n]*)",
    re.IGNORECASE | re.MULTILINE,
)
_TZID_RE = re.compile(r';TZID=("[^"]*"|[^;:]*)', re.IGNORECASE)


def _zone_phrase(settings: Settings) -> str:
    return "svensk tid" if settings.timezone == "Europe/Stockholm" else settings.timezone


def _events(count: int) -> str:
    return "1 evenemang" if count == 1 else f"{count} evenemang"


@dataclass
class _IcalScan:
    """What the raw lines of a calendar say, counted per VEVENT."""

    floating: int = 0
    no_start: int = 0
    inclusive_end: int = 0
    private: int = 0
    has_vtimezone: bool = False
    has_x_wr_timezone: bool = False
    tzids: set[str] | None = None


def _scan_ical(text: str) -> _IcalScan:
    scan = _IcalScan(tzids=set())
    assert scan.tzids is not None
    in_event = False
    start: str | None = None
    end: str | None = None
    for match in _LINE_RE.finditer(_UNFOLD_RE.sub("", text)):
        name, rest = match.group(1).upper(), match.group(2)
        if name == "BEGIN:VEVENT":
            in_event, start, end = True, None, None
        elif name == "END:VEVENT":
            if in_event and start is None:
                scan.no_start += 1
            if start and end and _value(start) == _value(end) and _is_date_value(start):
                scan.inclusive_end += 1
            in_event = False
        elif name == "BEGIN:VTIMEZONE":
            scan.has_vtimezone = True
        elif name.startswith("X-WR-TIMEZONE"):
            scan.has_x_wr_timezone = True
        else:
            tzid = _TZID_RE.search(_params(rest))
            if tzid:
                scan.tzids.add(tzid.group(1).strip().strip('"'))
            if not in_event:
                continue
            if name == "DTSTART" and start is None:
                start = rest
                if _is_floating(rest):
                    scan.floating += 1
            elif name == "DTEND" and end is None:
                end = rest
            elif name == "CLASS" and rest.split(":", 1)[-1].strip().upper() in (
                "PRIVATE",
                "CONFIDENTIAL",
            ):
                scan.private += 1
    return scan


def _params(rest: str) -> str:
    """The parameters of a content line: up to the first colon outside double quotes
    (``TZID="(GMT+10:00) Canberra, Melbourne, Sydney"`` holds a colon of its own)."""
    quoted = False
    for index, char in enumerate(rest):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return rest[:index]
    return rest


def _quote(name: str, limit: int = 120) -> str:
    """A zone name for advice: whole, or cut at a word boundary with an ellipsis."""
    if len(name) <= limit:
        return name
    cut = name[:limit].rsplit(" ", 1)[0].rstrip(",;")
    return cut + " …"


def _is_date_value(rest: str) -> bool:
    """A DATE (all-day) value: ``;VALUE=DATE:20261212`` or a bare 8-digit value."""
    params, _, value = rest.partition(":")
    value = value.strip()
    if "VALUE=DATE-TIME" in params.upper():
        return False
    return "VALUE=DATE" in params.upper() or (len(value) == 8 and value.isdigit())


def _value(rest: str) -> str:
    return rest.partition(":")[2].strip()


def _is_floating(rest: str) -> bool:
    params, _, value = rest.partition(":")
    value = value.strip()
    return (
        "TZID=" not in params.upper() and "T" in value.upper() and not value.upper().endswith("Z")
    )


def _ical_advice(scan: _IcalScan, settings: Settings) -> Iterable[Advice]:
    here = _zone_phrase(settings)
    if scan.floating and not scan.has_x_wr_timezone:
        yield Advice(
            Finding.FLOATING_TIMES,
            f"Din kalender saknar tidszon för {_events(scan.floating)}; vi tolkar tiderna som "
            f"{here} – välj tidszonen Europe/Stockholm i kalenderprogrammet, så blir det rätt.",
        )
    windows, unknown, named = [], [], []
    for tzid in sorted(scan.tzids or ()):
        mapped = iana_name_for_tzid(tzid)
        if mapped is None:
            unknown.append(tzid)
        elif zone(tzid) is None and not tzid.endswith("/" + mapped):
            windows.append((tzid, mapped))
        else:
            named.append(tzid)
    if windows:
        tzid, mapped = windows[0]
        yield Advice(
            Finding.WINDOWS_ZONE,
            f"Din kalender anger tidszonen med ett Windows-namn (”{_quote(tzid)}”); vi har översatt "
            f"det till {mapped}, men andra kalenderprogram kan visa fel tid – välj hellre "
            "tidszonen Europe/Stockholm.",
        )
    if unknown:
        yield Advice(
            Finding.UNKNOWN_ZONE,
            f"Vi känner inte igen tidszonen ”{_quote(unknown[0])}” i din kalender och tolkar "
            f"tiderna som {here}; välj tidszonen Europe/Stockholm i kalenderprogrammet.",
        )
    if (named or windows) and not scan.has_vtimezone:
        yield Advice(
            Finding.NO_VTIMEZONE,
            "Din kalender nämner tidszoner men saknar deras beskrivning (VTIMEZONE); vi läser "
            "tiderna ändå, men exportera gärna kalendern med tidszonsinformation så att alla "
            "kalenderprogram visar rätt tid.",
        )
    if scan.inclusive_end:
        yield Advice(
            Finding.INCLUSIVE_END,
            f"Din kalender har {scan.inclusive_end} heldagsevenemang som slutar samma dag som de "
            "börjar; vi visar dem som endagsevenemang – slutdatumet (DTEND) ska vara dagen efter "
            "sista dagen.",
        )
    if scan.no_start:
        yield Advice(
            Finding.NO_START,
            f"Din kalender har {_events(scan.no_start)} utan starttid (DTSTART) som inte kunde "
            "visas; ange datum och tid för dem.",
        )
    if scan.private:
        yield Advice(
            Finding.PRIVATE_SKIPPED,
            f"Din kalender har {_events(scan.private)} som är markerade som privata och inte "
            "visas; gör dem offentliga i kalenderprogrammet om de ska synas i Allt som sker.",
        )


def lint_harvest(content: bytes, result: HarvestResult, settings: Settings) -> list[Advice]:
    """Advice from one successful harvest's bytes and events."""
    advice: list[Advice] = []
    if result.kind == "ical":
        advice += _ical_advice(_scan_ical(decode_calendar_bytes(content)), settings)
    events = result.events
    without_place = sum(1 for e in events if not (e.place.text or e.location_text))
    if without_place:
        advice.append(
            Advice(
                Finding.NO_PLACE,
                f"I din kalender saknas plats för {without_place} av {_events(len(events))}; skriv "
                "var de äger rum (till exempel ”Folkets hus, Vimmerby”) så hittar besökarna dit.",
            )
        )
    if result.kind in ("feed", "html"):
        without_time = sum(1 for e in events if e.all_day)
        if without_time:
            advice.append(
                Advice(
                    Finding.NO_TIME,
                    f"I din kalender saknas klockslag för {_events(without_time)}, som därför visas "
                    "som heldagsevenemang; skriv ut starttiden (till exempel ”kl. 19.00”).",
                )
            )
    if len(content) > NEAR_LIMIT * settings.max_bytes:
        advice.append(
            Advice(
                Finding.OVERSIZE,
                f"Din kalender är {_mb(len(content))}, nära gränsen på {_mb(settings.max_bytes)}; "
                "ta bort gamla evenemang ur den, annars kan vi snart inte läsa den.",
            )
        )
    return advice


def _mb(size: int) -> str:
    return human_size(size)


def changing_uids_advice(count: int) -> Advice:
    return Advice(
        Finding.CHANGING_UIDS,
        f"I din kalender fick {_events(count)} ett nytt UID sedan förra hämtningen; ge varje "
        "evenemang ett UID som aldrig ändras, annars kan prenumeranter se dem två gånger.",
    )


def collapsed_advice(upcoming_now: int) -> Advice:
    return Advice(
        Finding.COLLAPSED,
        f"Nästan alla kommande evenemang försvann på en gång ur din kalender (nu {upcoming_now} "
        "kvar); vi visar de tidigare tills en moderator har kontrollerat ändringen – hör av dig "
        "om du tog bort dem med flit.",
    )


def oversize_advice(max_bytes: int) -> Advice:
    return Advice(
        Finding.OVERSIZE,
        f"Din kalender är större än gränsen på {_mb(max_bytes)} och kunde inte läsas; ta bort "
        "gamla evenemang ur den eller dela upp den i flera kalendrar.",
    )
