"""How a calendar's bytes become text: one rule for the iCal harvester, the feed linter
and Facebook's iCal export.

A module of its own so that the linter and the sniffing around a harvest can decode a
calendar without importing icalendar and its friends.
"""

from __future__ import annotations


def decode_calendar_bytes(content: bytes) -> str:
    """UTF-8 (with or without BOM); Latin-1 era files fall back to cp1252."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")
