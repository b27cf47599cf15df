"""Turning whatever a producer calls a time zone into an IANA zone.

Producers write IANA names (Google, Apple), Windows names (Outlook:
``W. Europe Standard Time``), Windows display names without a VTIMEZONE
(``(UTC+01:00) Amsterdam, Berlin, … Stockholm``), bare city lists, or
``GMT+0100``-style labels. All of them are normal input.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime, tzinfo

# Outlook display names that name no city
DISPLAY_NAMES = {
    "eastern time (us & canada)": "America/New_York",
    "central time (us & canada)": "America/Chicago",
    "mountain time (us & canada)": "America/Denver",
    "pacific time (us & canada)": "America/Los_Angeles",
    "greenwich mean time": "Europe/London",
    "coordinated universal time": "UTC",
}
OFFSET_RE = re.compile(r"(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The IANA zone called ``name``, or None."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


@functools.lru_cache(maxsize=1)
def _windows_zones() -> dict[str, str]:
    """Windows zone names → IANA (CLDR's table, as icalendar ships it). Imported on first
    use: importing it imports all of icalendar (a tenth of a second), which a command
    that reads no calendar does not need."""
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

    return WINDOWS_TO_OLSON


@functools.lru_cache(maxsize=1)
def _city_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for name in sorted(zoneinfo.available_timezones()):
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/")):
            city = name.rsplit("/", 1)[1].replace("_", " ").casefold()
            index.setdefault(city, name)
    return index


@functools.lru_cache(maxsize=512)
def iana_name_for_tzid(tzid: str) -> str | None:
    """Best IANA name for a TZID as producers write it, or None when it is a mystery."""
    tzid = tzid.strip().strip('"').strip("/")
    if not tzid:
        return None
    if zone(tzid):
        return tzid
    # some producers prefix a path: /mozilla.org/20050126_1/Europe/Stockholm
    for i in range(tzid.count("/")):
        candidate = tzid.split("/", i + 1)[-1]
        if zone(candidate):
            return candidate
    windows = _windows_zones()
    if tzid in windows:
        return windows[tzid]
    folded = tzid.casefold()
    for display_name, iana in DISPLAY_NAMES.items():
        if display_name in folded:
            return iana
    # Outlook display names: "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"
    cities = _city_index()
    found = [
        cities[w]
        for w in (w.strip().casefold() for w in re.split(r"[,()&/]+", tzid))
        if w in cities
    ]
    if found:
        # "Canberra, Melbourne, Sydney": Australia/Canberra is only an old alias; the zone
        # Windows itself maps that display name to (Australia/Sydney) is the one to name
        canonical = set(windows.values())
        return next((name for name in found if name in canonical), found[0])
    match = OFFSET_RE.search(tzid)
    if match and not re.search(r"daylight|summer|dst", tzid, re.IGNORECASE):
        hours = int(match.group(2))
        minutes = int(match.group(3) or 0)
        if minutes == 0 and hours <= 14:
            # Etc/GMT signs are inverted on purpose (POSIX)
            sign = "-" if match.group(1) == "+" else "+"
            return "UTC" if hours == 0 else f"Etc/GMT{sign}{hours}"
    return None


def local_to_utc(wall: datetime, tz: tzinfo) -> datetime:
    """A wall-clock time in ``tz`` as a UTC instant.

    In the spring gap (02:30 on the switch day) the offset from before the gap is
    used, as RFC 5545 3.3.5 says, so 02:30 becomes 03:30 summer time; in the autumn
    repeat the first (summer time) occurrence is taken (fold=0).
    """
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
