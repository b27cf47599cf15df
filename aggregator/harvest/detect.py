"""Decide what kind of source some bytes are: sniff the content, not the name.

An explicit ``kind:`` in sources.yaml wins (the caller checks that first);
extension and Content-Type are only tie-breakers for content we cannot tell.
"""

from __future__ import annotations

import re

from aggregator.errors import ParseError
from aggregator.harvest.tribe import is_tribe_url, looks_like_tribe_json

SNIFF_BYTES = 4096
_XML_FEED = re.compile(rb"<(?:rss|feed|rdf:RDF)[\s>]", re.IGNORECASE)
_HTML = re.compile(rb"<(?:!doctype\s+html|html|head|body|div|p|script)[\s>]", re.IGNORECASE)


def detect_kind(
    content: bytes, content_type: str = "", *, source_id: str = "", url: str = ""
) -> str:
    head = content[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise ParseError("the source is empty (0 bytes of content)", source_id=source_id)
    if head[:15].upper().startswith(b"BEGIN:VCALENDAR") or b"BEGIN:VCALENDAR" in head[:512].upper():
        return "ical"
    if head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf")) and _XML_FEED.search(head):
        return "feed"
    if _HTML.search(head[:2048]):
        return "html"
    if head.startswith((b"{", b"[")):
        # The Events Calendar's REST API is JSON too, and is read by the website harvester
        if is_tribe_url(url) or looks_like_tribe_json(content):
            return "html"
        return "facebook"
    if head.startswith(b"PK\x03\x04"):
        return "facebook"  # a zip: Facebook "Download your information" export
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "text/calendar":
        return "ical"
    raise ParseError(
        "could not tell what kind of source this is (not iCalendar, RSS/Atom, HTML or JSON); "
        "it starts with " + repr(head[:40].decode("utf-8", "replace")),
        source_id=source_id,
    )
