"""Decide what kind of source some bytes are: sniff the content, not the name.

An explicit ``kind:`` in sources.yaml wins (the caller checks that first);
extension and Content-Type are only tie-breakers for content we cannot tell.
"""

from __future__ import annotations

import re

from aggregator.errors import ParseError

SNIFF_BYTES = 4096
_XML_FEED = re.compile(rb"<(?:rss|feed|rdf:RDF)[\s>]", re.IGNORECASE)
_HTML = re.compile(rb"<(?:!doctype\s+html|html|head|body|div|p|script)[\s>]", re.IGNORECASE)


def _ascii_head(head: bytes) -> bytes:
    """UTF-16 files (with a BOM) re-encoded, so the markers below can be found."""
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[2:].decode(codec, "ignore").encode("utf-8", "ignore")
    return head


def looks_like_tribe_json(content: bytes) -> bool:
    """An answer of The Events Calendar's REST API (WordPress), read by the html harvester.

    Here, not in ``html.wordpress_events``: sniffing must not import lxml."""
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return (
        head.startswith(b"{")
        and b'"events"' in content[:200_000]
        and (b'"rest_url"' in content or b'"total_pages"' in content or b'"start_date"' in content)
    )


def is_tribe_url(url: str) -> bool:
    return "/wp-json/tribe/events/v1/events" in url


def detect_kind(
    content: bytes, content_type: str = "", *, source_id: str = "", url: str = ""
) -> str:
    head = _ascii_head(content[:SNIFF_BYTES]).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise ParseError(
            "Källan är tom (0 byte innehåll). Kontrollera att adressen är rätt och att "
            "kalendern har innehåll när den öppnas i en webbläsare.",
            source_id=source_id,
        )
    upper = head[:512].upper()
    if b"BEGIN:VCALENDAR" in upper or upper.startswith(b"BEGIN:VEVENT"):
        return "ical"
    if head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf", b"<!--")) and _XML_FEED.search(head):
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
        "Vi kunde inte avgöra vilken sorts källa detta är (varken iCalendar, RSS/Atom, HTML "
        "eller JSON); den börjar med ”"
        + head[:40].decode("utf-8", "replace").replace("\n", " ").replace("\r", " ")
        + "”. Kontrollera att adressen går till kalendern eller flödet och inte till en "
        "nedladdningssida.",
        source_id=source_id,
    )
