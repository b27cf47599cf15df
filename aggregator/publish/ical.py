"""iCalendar (RFC 5545) output: one VEVENT per event, rendered once, feeds assembled from them.

Written by hand instead of with icalendar's serializer: rendering 100k events
through icalendar took ~14 s; this is a few string joins. Every feed the test
suite publishes is read back by icalendar and by ical.js.
"""

from __future__ import annotations

import calendar as calendar_module
import functools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.model import CANCELLED, TENTATIVE, Settings
from aggregator.publish.event import (
    PublishedEvent,
    display_title,
    event_page_url,
    home_url,
    local_time,
    swedish_date,
    uid_domain,
    utc_stamp,
)
from aggregator.publish.write import FeedFrame, FeedHead

CRLF = "\r\n"
PRODID = "-//Allt som sker//Aggregator 0.1//SV"
REFRESH = "PT1H"


def escape_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character."""
    if len(line) <= 75 and line.isascii():
        return line
    encoded = line.encode("utf-8")
    if len(encoded) <= 75:
        return line
    parts: list[bytes] = []
    start, limit = 0, 75
    while len(encoded) - start > limit:
        cut = start + limit
        while encoded[cut] & 0xC0 == 0x80:  # never cut inside a character
            cut -= 1
        parts.append(encoded[start:cut])
        start, limit = cut, 74
    parts.append(encoded[start:])
    return (CRLF + " ").join(part.decode("utf-8") for part in parts)


def _prop(name: str, value: str) -> str:
    return fold(f"{name}:{value}")


def _time_prop(name: str, value: datetime | date, settings: Settings) -> str:
    if isinstance(value, datetime):
        if settings.timezone == "UTC":
            return f"{name}:{utc_stamp(value)}"
        local = local_time(value, settings)
        if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
            # a wall time that happens twice (autumn switch): RFC 5545 means the first,
            # ical.js reads the second; UTC leaves no room for either reading
            return f"{name}:{utc_stamp(value)}"
        return fold(f"{name};TZID={settings.timezone}:{local.strftime('%Y%m%dT%H%M%S')}")
    return f"{name};VALUE=DATE:{value.strftime('%Y%m%d')}"


def render_vevent(event: PublishedEvent, settings: Settings) -> str:
    lines = [
        "BEGIN:VEVENT",
        _prop("UID", f"{event.id}@{uid_domain(settings)}"),
        f"DTSTAMP:{utc_stamp(event.modified_at)}",
        f"CREATED:{utc_stamp(event.created_at)}",
        f"LAST-MODIFIED:{utc_stamp(event.modified_at)}",
        f"SEQUENCE:{event.sequence}",
        _time_prop("DTSTART", event.start, settings),
    ]
    if event.end is not None:
        lines.append(_time_prop("DTEND", event.end, settings))
    lines.append(_prop("SUMMARY", escape_text(display_title(event))))
    description = event.description
    if event.organizer_name:
        description = f"{description}\n\nArrangör: {event.organizer_name}".strip()
    if description:
        lines.append(_prop("DESCRIPTION", escape_text(description)))
    if event.location:
        lines.append(_prop("LOCATION", escape_text(event.location)))
    if event.place.latitude is not None and event.place.longitude is not None:
        lines.append(f"GEO:{event.place.latitude:.6f};{event.place.longitude:.6f}")
    lines.append(_prop("URL", event.url or event_page_url(event, settings)))
    if event.categories:
        lines.append(_prop("CATEGORIES", ",".join(escape_text(c) for c in event.categories)))
    if event.image:
        lines.append(_prop("IMAGE;VALUE=URI;DISPLAY=BADGE", event.image))
    status = {CANCELLED: "CANCELLED", TENTATIVE: "TENTATIVE"}.get(event.status, "CONFIRMED")
    lines.append(f"STATUS:{status}")
    lines.append("TRANSP:OPAQUE")
    lines.append("END:VEVENT")
    return CRLF.join(lines) + CRLF


def calendar_frame(feed: FeedHead, settings: Settings) -> FeedFrame:
    """VCALENDAR head (with the VTIMEZONE of this year's rules) and tail of a feed.

    No METHOD: METHOD:PUBLISH (RFC 5546) requires an ORGANIZER on every VEVENT, which
    most sources do not give; a subscription calendar needs none. A feed cut to its
    size limit says in its description how far it reaches.
    """
    head = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        _prop("X-WR-CALNAME", escape_text(feed.title)),
        _prop("NAME", escape_text(feed.title)),
        _prop("X-WR-TIMEZONE", settings.timezone),
        f"REFRESH-INTERVAL;VALUE=DURATION:{REFRESH}",
        f"X-PUBLISHED-TTL:{REFRESH}",
    ]
    if feed.horizon is not None:
        text = escape_text(horizon_note(feed.horizon, settings))
        head += [_prop("X-WR-CALDESC", text), _prop("DESCRIPTION", text)]
    body = CRLF.join(head) + CRLF
    if settings.timezone != "UTC":
        body += vtimezone(settings.timezone, feed.now.year)
    return FeedFrame(body, "", "END:VCALENDAR" + CRLF)


def horizon_note(horizon: date, settings: Settings) -> str:
    """What a calendar cut to Google's 1 MB says of itself."""
    return (
        f"Evenemang till och med {swedish_date(horizon)}. Kalendern hålls under 1 MB, som "
        "Google Kalender kräver, så senare evenemang kommer med allteftersom datumet "
        f"närmar sig. Alla evenemang: {home_url(settings)}"
    )


# -- VTIMEZONE ---------------------------------------------------------------------


def _transitions(tz: ZoneInfo, year: int) -> list[tuple[datetime, timedelta, timedelta]]:
    """(UTC instant, offset before, offset after) of each offset change in ``year``."""
    found = []
    start = datetime(year, 1, 1, tzinfo=UTC)
    previous = start.astimezone(tz).utcoffset()
    for day in range(1, 367):
        probe = start + timedelta(days=day)
        offset = probe.astimezone(tz).utcoffset()
        if offset != previous:
            low, high = probe - timedelta(days=1), probe
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == previous:
                    low = middle
                else:
                    high = middle
            if high.year == year:
                assert previous is not None and offset is not None
                found.append((high, previous, offset))
            previous = offset
    return found


def _rule(instant: datetime, before: timedelta) -> tuple[datetime, int, int, int]:
    """(local wall time before the change, month, weekday, week) with week -1 for 'last'."""
    wall = (instant + before).replace(tzinfo=None)
    days_in_month = calendar_module.monthrange(wall.year, wall.month)[1]
    week = -1 if wall.day + 7 > days_in_month else (wall.day - 1) // 7 + 1
    return wall, wall.month, wall.weekday(), week


def _nth_weekday(year: int, month: int, weekday: int, week: int) -> int:
    days = [
        d
        for d in range(1, calendar_module.monthrange(year, month)[1] + 1)
        if date(year, month, d).weekday() == weekday
    ]
    return days[week - 1] if week > 0 else days[-1]


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@functools.lru_cache(maxsize=16)
def vtimezone(name: str, year: int) -> str:
    """A compact RRULE-based VTIMEZONE, the form Outlook and Google emit.

    The rule is read off the zone's transitions in ``year`` and checked against
    the following years; DAYLIGHT starts at the local wall time before the change
    (02:00 for Europe/Stockholm).
    """
    tz = ZoneInfo(name)
    transitions = _transitions(tz, year)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{name}"]
    if len(transitions) != 2:
        offset = datetime(year, 7, 1, tzinfo=UTC).astimezone(tz).utcoffset()
        assert offset is not None
        tzname = datetime(year, 7, 1, tzinfo=UTC).astimezone(tz).tzname() or name
        lines += [
            "BEGIN:STANDARD",
            "DTSTART:19700101T000000",
            f"TZOFFSETFROM:{_offset_text(offset)}",
            f"TZOFFSETTO:{_offset_text(offset)}",
            f"TZNAME:{tzname}",
            "END:STANDARD",
        ]
    else:
        for instant, before, after in transitions:
            wall, month, weekday, week = _rule(instant, before)
            for check_year in (year + 1, year + 2):
                if not any(
                    _rule(i, b)[1:] == (month, weekday, week)
                    for i, b, _ in _transitions(tz, check_year)
                ):
                    raise ValueError(f"time zone {name} has no fixed yearly rule")
            kind = "DAYLIGHT" if after > before else "STANDARD"
            first_day = _nth_weekday(1970, month, weekday, week)
            tzname = (instant + timedelta(hours=1)).astimezone(tz).tzname() or name
            lines += [
                f"BEGIN:{kind}",
                f"DTSTART:1970{month:02d}{first_day:02d}T{wall.strftime('%H%M%S')}",
                f"RRULE:FREQ=YEARLY;BYMONTH={month};BYDAY={week}{BYDAY[weekday]}",
                f"TZOFFSETFROM:{_offset_text(before)}",
                f"TZOFFSETTO:{_offset_text(after)}",
                f"TZNAME:{tzname}",
                f"END:{kind}",
            ]
    lines.append("END:VTIMEZONE")
    return CRLF.join(lines) + CRLF
