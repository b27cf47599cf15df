"""iCalendar (RFC 5545) → Events, for every producer's dialect.

Parsing is icalendar's; recurrence expansion is recurring-ical-events', only for
the series that need it (plain events take a fast path); Google's
X-WR-TIMEZONE is applied with x-wr-timezone. Everything here tolerates what
real producers write and reports what it had to skip.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar
import recurring_ical_events
import x_wr_timezone
from icalendar.error import BrokenCalendarProperty, InvalidCalendar
from icalendar.prop.broken import vBroken

from aggregator.errors import ParseError
from aggregator.harvest.context import HarvestContext
from aggregator.harvest.encoding import decode_calendar_bytes
from aggregator.harvest.recurrence import RuleTooCostly, fast_forward
from aggregator.model import (
    CANCELLED,
    CONFIRMED,
    TENTATIVE,
    WINDOW_BACK,
    Event,
    HarvestResult,
    PageFetcher,
    Place,
    Settings,
    Source,
)
from aggregator.normalize.timezones import iana_name_for_tzid, local_to_utc, zone

log = logging.getLogger(__name__)

MAX_OCCURRENCES_PER_SERIES = 500
# a file may hold this many times max_events components, past ones included; more is
# refused before parsing (icalendar needs about 5 KB per component, all at once)
COMPONENTS_PER_EVENT = 2.5
MAX_TZID = 64  # longer TZIDs name no zone, and make the zone lookup fail (file name too long)

_VALARM_RE = re.compile(
    r"^BEGIN:VALARM\r?$.*?^END:VALARM\r?\n?", re.IGNORECASE | re.MULTILINE | re.DOTALL
)
_VTIMEZONE_RE = re.compile(
    r"^BEGIN:VTIMEZONE\r?$.*?^END:VTIMEZONE\r?\n?", re.IGNORECASE | re.MULTILINE | re.DOTALL
)
_FACEBOOK_UID_RE = re.compile(r"^e(\d+)@facebook\.com$", re.IGNORECASE)
_FOLD_RE = re.compile(r"\r?\n[ \t]")
_LONG_TZID_RE = re.compile(
    rf'(;TZID=)("[^"]{{{MAX_TZID + 1},}}"|[^";:\r\n]{{{MAX_TZID + 1},}})', re.I
)
_VEVENT_RE = re.compile(r"^BEGIN:VEVENT", re.IGNORECASE | re.MULTILINE)
_STATUS = {"CANCELLED": CANCELLED, "TENTATIVE": TENTATIVE}

# Errors icalendar raises on input it cannot make sense of. AttributeError is
# here on purpose: icalendar 7.3 crashes with it on a VTIMEZONE that has two
# TZIDs (The Events Calendar 6.3 writes those; see corpus wp_the_events_calendar).
_ICALENDAR_ERRORS = (ValueError, KeyError, IndexError, TypeError, AttributeError, InvalidCalendar)
_EVENT_ERRORS = (ValueError, KeyError, IndexError, TypeError, OverflowError, BrokenCalendarProperty)
# recurring-ical-events' own errors (InvalidCalendar, BadRuleStringFormat …) are ValueErrors;
# a zone name the system cannot look up raises OSError
_SERIES_ERRORS = (*_ICALENDAR_ERRORS, OverflowError, OSError, BrokenCalendarProperty)


@dataclass(kw_only=True)
class _Context(HarvestContext):
    """One calendar of the file: ``tz`` is its X-WR-TIMEZONE, else the configured zone."""

    skipped_private: int = 0
    x_wr_zone: str = ""  # the calendar's X-WR-TIMEZONE as an IANA name, if it has one


def parse_ical(
    content: bytes,
    source: Source,
    settings: Settings,
    *,
    now: datetime,
    fetch_page: PageFetcher | None = None,
) -> HarvestResult:
    harvest = HarvestContext.create(source, settings, now, fetch_page=fetch_page)
    text = decode_calendar_bytes(content)
    _check_looks_like_ical(text, source)
    _check_size(text, harvest)
    calendars = _parse_calendars(text, harvest)
    events: list[Event] = []
    past = 0
    for calendar in calendars:
        ctx = _context_for(calendar, harvest)
        events.extend(_events_of_calendar(calendar, ctx))
        harvest.taken = ctx.taken
        if ctx.skipped_private:
            harvest.warn(
                f"{ctx.skipped_private} evenemang är markerade som privata (CLASS:PRIVATE eller "
                "CONFIDENTIAL) och visas inte; gör dem offentliga i kalenderprogrammet om de ska "
                "synas i Allt som sker."
            )
        past += ctx.skipped_old
    if past and not events:
        harvest.warn(
            f"Alla {past} evenemang i kalendern slutade för mer än {WINDOW_BACK.days} dagar "
            "sedan, och passerade evenemang visas inte; lägg in kommande evenemang."
        )
    return HarvestResult(tuple(_unique_keys(events)), tuple(harvest.warnings), kind="ical")


def _check_looks_like_ical(text: str, source: Source) -> None:
    head = text.lstrip()[:2048]
    if not head.upper().startswith("BEGIN:VCALENDAR"):
        if head.upper().startswith("BEGIN:VEVENT"):
            return  # a bare VEVENT; _parse_calendars wraps it
        if re.match(r"\s*<(!doctype|html)", head, re.IGNORECASE):
            raise ParseError(
                "Adressen gav en webbsida (HTML) i stället för en kalenderfil. Leta efter en "
                "länk som heter ”Prenumerera”, ”iCal” eller ”ICS” och registrera den adressen.",
                source_id=source.id,
            )
        if "BEGIN:VCALENDAR" not in head.upper():
            raise ParseError(
                "Filen är ingen iCalendar-fil (den börjar inte med BEGIN:VCALENDAR). Registrera "
                "kalenderns iCal-adress (.ics), eller exportera kalendern på nytt.",
                source_id=source.id,
            )
    tail = text[-4096:].upper()
    if "END:VCALENDAR" not in tail and not head.upper().startswith("BEGIN:VEVENT"):
        raise ParseError(
            "Kalenderfilen tar slut före END:VCALENDAR och verkar avklippt, så inget ändrades. "
            "Vi försöker igen vid nästa hämtning; händer det igen, exportera eller publicera "
            "kalendern på nytt.",
            source_id=source.id,
        )


def _check_size(text: str, harvest: HarvestContext) -> None:
    """Refuse, before parsing, a file with far more events than a source may bring."""
    ceiling = int(harvest.max_events * COMPONENTS_PER_EVENT)
    found = sum(1 for _ in itertools.islice(_VEVENT_RE.finditer(text), ceiling + 1))
    if found > ceiling:
        raise harvest.error(
            f"Kalenderfilen har fler än {ceiling} evenemang, passerade inräknade, och det är "
            f"fler än en källa får ge (max_events är {harvest.max_events}); inget lästes in. "
            "Ta bort gamla evenemang ur kalendern; är den verkligen så stor, be operatören "
            "höja max_events för källan i sources.yaml."
        )


_UNREADABLE = (
    "Kalenderfilen gick inte att läsa. Exportera eller publicera den på nytt från "
    "kalenderprogrammet; fortsätter felet, hör av dig till oss."
)


def _parse_calendars(text: str, harvest: HarvestContext) -> list[icalendar.Calendar]:
    # Alarms are of no use to a public calendar and some producers write broken
    # TRIGGERs (NS International: "PT-2H") that make icalendar refuse the file.
    text = _VALARM_RE.sub("", text)
    if text.lstrip().upper().startswith("BEGIN:VEVENT"):
        text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + text.strip() + "\r\nEND:VCALENDAR\r\n"
    try:
        return _from_ical(text, harvest)
    except _ICALENDAR_ERRORS as first:
        log.info("%s: retrying without VTIMEZONEs after: %s", harvest.source.id, first)
        try:
            return _from_ical(_VTIMEZONE_RE.sub("", text), harvest)
        except _ICALENDAR_ERRORS:
            log.debug("%s: the calendar file could not be read: %s", harvest.source.id, first)
            raise harvest.error(_UNREADABLE) from first


def _from_ical(text: str, harvest: HarvestContext) -> list[icalendar.Calendar]:
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except OSError:
        # a TZID too long for a file name makes the zone lookup fail; no zone is called that
        text, shortened = _shorten_tzids(text)
        if not shortened:
            raise harvest.error(_UNREADABLE) from None
        harvest.warn(
            f"Tidszonsnamn (TZID) längre än {MAX_TZID} tecken är inga tidszoner ({shortened} "
            "st.); de tiderna lästes som lokal tid. Välj tidszonen Europe/Stockholm i "
            "kalenderprogrammet."
        )
        try:
            calendars = icalendar.Calendar.from_ical(text, multiple=True)
        except OSError:
            raise harvest.error(_UNREADABLE) from None
    return [c for c in calendars if c.name == "VCALENDAR"]


def _shorten_tzids(text: str) -> tuple[str, int]:
    """Over-long TZID parameters cut to a length the zone lookup survives."""
    unfolded = _FOLD_RE.sub("", text)
    count = len(_LONG_TZID_RE.findall(unfolded))
    cut = _LONG_TZID_RE.sub(lambda m: m.group(1) + m.group(2).strip('"')[:MAX_TZID], unfolded)
    return cut, count


def _context_for(calendar: icalendar.Calendar, harvest: HarvestContext) -> _Context:
    """The calendar's own context, sharing the harvest's warnings (and their cap)."""
    tz_name = harvest.settings.timezone
    x_wr = str(calendar.get("X-WR-TIMEZONE", "")).strip()
    if x_wr:
        mapped = iana_name_for_tzid(x_wr)
        if mapped is None:
            harvest.warn(
                f"Vi känner inte igen kalenderns tidszon (X-WR-TIMEZONE) ”{x_wr[:60]}”, så "
                f"tiderna lästes som {harvest.settings.timezone}; välj tidszonen "
                "Europe/Stockholm i kalenderprogrammet."
            )
        tz_name = mapped or harvest.settings.timezone
    return _Context(
        source=harvest.source,
        settings=harvest.settings,
        now=harvest.now,
        fetch_page=harvest.fetch_page,
        tz=zone(tz_name) or UTC,
        tz_name=tz_name,
        secrets=harvest.secrets,
        max_events=harvest.max_events,
        warnings=harvest.warnings,
        taken=harvest.taken,
        x_wr_zone=tz_name if x_wr else "",
    )


def _events_of_calendar(calendar: icalendar.Calendar, ctx: _Context) -> Iterator[Event]:
    # X-WR-TIMEZONE needs no rewrite for single events: UTC times are already the
    # right instants and floating times take ctx.tz (the X-WR zone). Only
    # series are rewritten (x-wr-timezone), so a weekly 19:00 stays 19:00 across DST.
    series: dict[str, list[icalendar.Component]] = {}
    for index, component in enumerate(calendar.walk("VEVENT")):
        uid = str(component.get("UID", "")).strip() or f"no-uid-{index}"
        facebook = _FACEBOOK_UID_RE.match(uid)
        if facebook:
            # same identity as the Graph API and export harvesters give the event
            uid = f"facebook:{facebook.group(1)}"
        series.setdefault(uid, []).append(component)
    timezones = calendar.walk("VTIMEZONE")
    for uid, components in series.items():
        if len(components) == 1 and not _is_recurring(components[0]):
            events = _plain_event(components[0], uid, ctx)
        else:
            events = _expand_series(components, uid, timezones, ctx)
        for event in events:
            ctx.take()
            yield event


def _is_recurring(component: icalendar.Component) -> bool:
    return any(name in component for name in ("RRULE", "RDATE", "RECURRENCE-ID"))


def _plain_event(component: icalendar.Component, uid: str, ctx: _Context) -> Iterator[Event]:
    try:
        event = _event_from_component(component, uid, uid, ctx)
    except _EVENT_ERRORS as exc:
        ctx.warn(f"Evenemanget {_describe(component)} visas inte: {_reason(exc, ctx)}.")
        return
    if event is not None:
        yield event


def _expand_series(
    components: list[icalendar.Component],
    uid: str,
    timezones: list[icalendar.Component],
    ctx: _Context,
) -> Iterator[Event]:
    first = components[0]
    holder = _series_calendar(components, timezones, ctx)
    if holder is None:
        return
    count = 0
    try:
        query = recurring_ical_events.of(holder)
        for occurrence in _in_window(query, ctx):
            if count >= MAX_OCCURRENCES_PER_SERIES:
                ctx.warn(
                    f"Det återkommande evenemanget {_describe(first)} har fler än "
                    f"{MAX_OCCURRENCES_PER_SERIES} tillfällen i den tid vi visar; resten visas "
                    "inte. Dela upp serien eller ge den ett slutdatum (UNTIL eller COUNT)."
                )
                break
            count += 1
            key = f"{uid}/{_recurrence_key(occurrence)}"
            try:
                event = _event_from_component(occurrence, uid, key, ctx)
            except _EVENT_ERRORS as exc:
                ctx.warn(
                    f"Ett av tillfällena för {_describe(first)} visas inte: {_reason(exc, ctx)}."
                )
                continue
            if event is not None:
                yield event
    except _SERIES_ERRORS as exc:
        # the series' dates could not be worked out: an event really is lost, so say so
        if count:
            ctx.warn(
                f"Bara de {count} första datumen för det återkommande evenemanget "
                f"{_describe(first)} kunde läsas: {_reason(exc, ctx)}."
            )
        else:
            ctx.warn(
                f"Det återkommande evenemanget {_describe(first)} visas inte: {_reason(exc, ctx)}."
            )
        return
    if count == 0 and not _continues_after_window(query, ctx):
        ctx.skipped_old += 1  # a series that ended before the window: nothing is lost


def _in_window(query: Any, ctx: _Context) -> Iterator[icalendar.Component]:
    """The series' occurrences in the window, in start order, read a span at a time.

    Not ``query.after()``: it narrows its span to 15 minutes while every span holds an
    occurrence, so a weekly event lasting ten days took 40,000 queries. Spans here
    grow while they are sparse and shrink while they are crowded (a MINUTELY rule).
    """
    start, end = ctx.window_start.replace(tzinfo=None), ctx.window_end.replace(tzinfo=None)
    span = timedelta(hours=1)  # a SECONDLY rule makes 3,600 dates an hour: no more at once
    seen: set[tuple[str, datetime | None]] = set()
    while start < end:
        stop = min(start + span, end)
        found = []
        for occurrence in query.between(start, stop):
            instant = _start_instant(occurrence, ctx)
            # not the RECURRENCE-ID alone: after a RANGE=THISANDFUTURE override every
            # later occurrence carries that override's RECURRENCE-ID
            key = (_recurrence_key(occurrence), instant)
            if key not in seen:
                seen.add(key)
                found.append((instant or ctx.window_start, occurrence))
        found.sort(key=lambda pair: pair[0])
        for _, occurrence in found:
            yield occurrence
        if len(found) > 100:
            span = max(span / 4, timedelta(minutes=1))
        elif len(found) < 10:
            span = min(span * 2, timedelta(days=32))
        start = stop


def _continues_after_window(query: Any, ctx: _Context) -> bool:
    """Whether a series with nothing in the window has dates after it (it is not past)."""
    try:
        return next(iter(query.after(ctx.window_end.replace(tzinfo=None))), None) is not None
    except _SERIES_ERRORS:
        return False


def _series_calendar(
    components: list[icalendar.Component],
    timezones: list[icalendar.Component],
    ctx: _Context,
) -> icalendar.Calendar | None:
    """One series in a calendar of its own, in the calendar's X-WR-TIMEZONE, its rules
    brought to the window (``recurrence.fast_forward``); None when it is refused."""
    first = components[0]
    holder = icalendar.Calendar()
    for tz in timezones:
        holder.add_component(tz)
    for component in components:
        _repair_rrule(component, ctx)
        holder.add_component(component)
    if ctx.x_wr_zone:
        holder.add("X-WR-TIMEZONE", ctx.x_wr_zone)
        try:
            holder = x_wr_timezone.to_standard(holder)
        except (*_EVENT_ERRORS, OSError) as exc:
            log.debug("%s: X-WR-TIMEZONE on %s: %s", ctx.source.id, _describe(first), exc)
            ctx.warn(
                f"Kalenderns tidszon (X-WR-TIMEZONE) gick inte att använda för {_describe(first)}; "
                "tiderna lästes som de står. Välj tidszonen Europe/Stockholm i kalenderprogrammet."
            )
    for component in holder.walk("VEVENT"):
        if "RECURRENCE-ID" in component:
            continue
        try:
            fast_forward(component, ctx.window_start, ctx.tz)
        except RuleTooCostly as exc:
            log.debug("%s: %s: %s", ctx.source.id, _describe(first), exc)
            ctx.warn(f"Det återkommande evenemanget {_describe(first)} visas inte: {exc}.")
            return None
        except (*_EVENT_ERRORS, AttributeError) as exc:
            log.debug("%s: %s left as it is: %s", ctx.source.id, _describe(first), exc)
    return holder


def _repair_rrule(component: icalendar.Component, ctx: _Context) -> None:
    """Exchange CDO writes ``BYDAY=MO, TU, WE``; drop the spaces. An unreadable rule
    leaves the event as a single occurrence, with a warning."""
    rule = component.get("RRULE")
    if not isinstance(rule, vBroken):
        return
    del component["RRULE"]
    try:
        component.add("RRULE", icalendar.vRecur.from_ical(re.sub(r"\s+", "", str(rule))))
    except _ICALENDAR_ERRORS:
        ctx.warn(
            f"Upprepningsregeln (RRULE) för {_describe(component)} gick inte att läsa, så bara "
            "det första datumet visas; kontrollera upprepningen i kalenderprogrammet."
        )


def _start_instant(component: icalendar.Component, ctx: _Context) -> datetime | None:
    prop = _one(component, "DTSTART")
    if prop is None:
        return None
    value = prop.dt
    if isinstance(value, datetime):
        return _to_utc(value, prop.params.get("TZID"), ctx)[0]
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _recurrence_key(occurrence: icalendar.Component) -> str:
    """An occurrence's own identity within its series. A RANGE=THISANDFUTURE edit hands
    its RECURRENCE-ID to every later occurrence (recurring-ical-events copies it), so those
    are told apart by their own start."""
    prop = _one(occurrence, "RECURRENCE-ID")
    if prop is None or str(prop.params.get("RANGE", "")).upper() == "THISANDFUTURE":
        prop = _one(occurrence, "DTSTART")
    value = prop.dt
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return value.strftime("%Y%m%dT%H%M%S")
    return value.strftime("%Y%m%d")


def _event_from_component(
    component: icalendar.Component, uid: str, key: str, ctx: _Context
) -> Event | None:
    dtstart = _one(component, "DTSTART")
    if dtstart is None:
        raise ValueError("it has no start time (DTSTART)")
    start_value = dtstart.dt
    if not isinstance(start_value, date):  # a bare time, a duration or a period
        raise ValueError(f"its start (DTSTART) is not a date or date-time: {start_value!r}"[:120])
    all_day = not isinstance(start_value, datetime)
    end = _end_value(component, start_value, all_day, ctx)
    start: datetime | date
    ends_at: datetime | None
    if isinstance(start_value, datetime):
        start, tz_name = _to_utc(start_value, dtstart.params.get("TZID"), ctx)
        ends_at = end if isinstance(end, datetime) else start
    else:
        start = start_value
        tz_name = ctx.tz_name
        ends_at = (
            datetime(end.year, end.month, end.day, tzinfo=UTC) if isinstance(end, date) else None
        )
    if ends_at is not None and ends_at < ctx.window_start:
        ctx.skipped_old += 1
        return None
    if _text(component, "CLASS").upper() in ("PRIVATE", "CONFIDENTIAL"):
        ctx.skipped_private += 1  # e.g. a private Facebook invitation in an export
        return None
    status = _STATUS.get(_text(component, "STATUS").upper(), CONFIRMED)
    title = _text(component, "SUMMARY")
    description = _text(component, "DESCRIPTION")
    html = _alt_description_html(component)
    url = _url(component, uid)
    place = _geo_place(component)
    organizer_name, organizer_url = _organizer(component)
    return Event(
        source_id=ctx.source.id,
        key=key,
        title=title,
        start=start,
        end=end,
        all_day=all_day,
        timezone=tz_name,
        status=status,
        description=description,
        description_html=html,
        url=url,
        place=place,
        location_text=_text(component, "LOCATION"),
        categories=tuple(_categories(component)),
        organizer_name=organizer_name,
        organizer_url=organizer_url,
        image=_image(component),
        # an occurrence's identity across sources is UID + RECURRENCE-ID, i.e. its key
        uid=key if not uid.startswith("no-uid-") else "",
    )


def _end_value(
    component: icalendar.Component, start: datetime | date, all_day: bool, ctx: _Context
) -> datetime | date | None:
    dtend = _one(component, "DTEND")
    if dtend is not None and not isinstance(_value_or_none(dtend), date):
        ctx.warn(
            f"Sluttiden (DTEND) för {_describe(component)} är inget datum, så den visas "
            "utan sluttid; ange en riktig sluttid."
        )
        dtend = None
    if dtend is not None:
        value = dtend.dt
        if all_day:
            end_day = value.date() if isinstance(value, datetime) else value
            if end_day <= start:
                return start + timedelta(days=1)
            return end_day
        if not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        end, _ = _to_utc(value, dtend.params.get("TZID"), ctx)
        assert isinstance(start, datetime)  # not all day
        start_utc, _ = _to_utc(start, _one(component, "DTSTART").params.get("TZID"), ctx)
        if end < start_utc:
            ctx.warn(
                f"{_describe(component)} slutar innan det börjar, så det visas utan sluttid; "
                "rätta sluttiden i kalenderprogrammet."
            )
            return None
        return end
    duration = _one(component, "DURATION")
    if isinstance(_value_or_none(duration), timedelta) and duration.dt >= timedelta(0):
        if all_day:
            days = max(1, duration.dt.days)
            return start + timedelta(days=days)
        assert isinstance(start, datetime)  # not all day
        start_utc, _ = _to_utc(start, _one(component, "DTSTART").params.get("TZID"), ctx)
        return start_utc + duration.dt
    if all_day:
        return start + timedelta(days=1)
    return None


def _to_utc(value: datetime, tzid: Any, ctx: _Context) -> tuple[datetime, str]:
    """A parsed DATE-TIME as a UTC instant plus the IANA zone it was given in."""
    tzid_text = str(tzid) if isinstance(tzid, str) else ""
    tz = value.tzinfo
    name = getattr(tz, "key", None)  # a ZoneInfo has a name
    if tz is not None and name:
        if name == "UTC" and ctx.tz_name:
            return value.astimezone(UTC), ctx.tz_name
        return value.astimezone(UTC), name
    mapped = iana_name_for_tzid(tzid_text) if tzid_text else None
    wall = value.replace(tzinfo=None)
    if mapped and (mapped_zone := zone(mapped)) is not None:
        return local_to_utc(wall, mapped_zone), mapped
    if tz is not None and tz.utcoffset(value) is not None:
        # a VTIMEZONE we cannot name: trust its rules for the instant
        return value.astimezone(UTC), ctx.tz_name
    if tzid_text:
        ctx.warn(
            f"Vi känner inte igen tidszonen ”{tzid_text}” och läste tiderna som "
            f"{ctx.tz_name}; välj tidszonen Europe/Stockholm i kalenderprogrammet."
        )
    return local_to_utc(wall, ctx.tz), ctx.tz_name


def _value_or_none(prop: Any) -> Any:
    """A property's value, or None when it is missing or could not be read."""
    if prop is None:
        return None
    try:
        return prop.dt
    except BrokenCalendarProperty:
        return None


def _one(component: icalendar.Component, name: str) -> Any:
    """A property that must appear once; producers that repeat it get the first."""
    value = component.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _text(component: icalendar.Component, name: str) -> str:
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def _alt_description_html(component: icalendar.Component) -> str:
    value = component.get("X-ALT-DESC")
    if value is None:
        return ""
    values = value if isinstance(value, list) else [value]
    for item in values:
        params = getattr(item, "params", {})
        if str(params.get("FMTTYPE", "")).lower() == "text/html":
            return unescape_text(str(item))
    return ""


_ESCAPE_RE = re.compile(r"\\([\\;,nN])")


def unescape_text(value: str) -> str:
    """RFC 5545 TEXT unescaping, for X- properties icalendar leaves escaped."""
    return _ESCAPE_RE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _url(component: icalendar.Component, uid: str) -> str:
    if uid.startswith("facebook:"):
        return f"https://www.facebook.com/events/{uid.removeprefix('facebook:')}/"
    url = _text(component, "URL")
    if url.startswith(("http://", "https://")):
        return url
    return ""


def _geo_place(component: icalendar.Component) -> Place:
    geo = _one(component, "GEO")
    if geo is None:
        return Place()
    try:
        lat, lon = float(geo.latitude), float(geo.longitude)
    except (AttributeError, TypeError, ValueError, BrokenCalendarProperty):
        return Place()
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return Place(latitude=lat, longitude=lon)
    return Place()


def _organizer(component: icalendar.Component) -> tuple[str, str]:
    value = component.get("ORGANIZER")
    if value is None:
        return "", ""
    if isinstance(value, list):
        value = value[0]
    name = str(getattr(value, "params", {}).get("CN", "")).strip().strip('"')
    address = str(value).strip()
    url = address if address.lower().startswith(("http://", "https://")) else ""
    if not name and address and ":" not in address:
        name = address  # Facebook's free-text ORGANIZER
    return name, url


def _categories(component: icalendar.Component) -> Iterable[str]:
    value = component.get("CATEGORIES")
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in values:
        cats = getattr(item, "cats", None)
        if cats is None:
            cats = str(item).split(",")
        names.extend(str(c).strip() for c in cats if str(c).strip())
    return names


def _image(component: icalendar.Component) -> str:
    for name in ("IMAGE", "ATTACH"):
        value = component.get(name)
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            text = str(item).strip()
            fmt = str(getattr(item, "params", {}).get("FMTTYPE", "image/")).lower()
            if text.startswith(("http://", "https://")) and fmt.startswith("image/"):
                return text
    return ""


def _describe(component: icalendar.Component) -> str:
    summary = _text(component, "SUMMARY")[:60] or "(utan titel)"
    uid = str(component.get("UID", "")).strip()
    return f"”{summary}”" + (f" (UID {uid[:80]})" if uid else "")


def _reason(exc: BaseException, ctx: _Context) -> str:
    """What the organizer can do about an event we could not read. The library's own text
    ("Cannot access 'dt' on broken property …") helps nobody at the source: it goes to
    the debug log with the source id."""
    log.debug("%s: %s: %s", ctx.source.id, type(exc).__name__, str(exc)[:500])
    return (
        "datum, tid eller upprepning (DTSTART, DTEND, RRULE) gick inte att läsa; öppna "
        "evenemanget i kalenderprogrammet, kontrollera dem och spara det igen"
    )


def _unique_keys(events: list[Event]) -> Iterator[Event]:
    """Some producers reuse one UID for different events; keep each, keyed apart."""
    seen: dict[str, int] = {}
    for event in events:
        key = event.key
        if key.startswith("no-uid-") or not key:
            digest = hashlib.sha256(
                f"{event.title}\x00{event.start.isoformat()}".encode()
            ).hexdigest()[:20]
            key = f"hash:{digest}"
        if key in seen:
            seen[key] += 1
            key = f"{key}#{event.start.isoformat()}"
            if key in seen:
                key = f"{key}#{seen[event.key]}"
        seen.setdefault(key, 0)
        if key != event.key:
            event = replace(event, key=key)
        yield event
