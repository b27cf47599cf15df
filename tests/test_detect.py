"""Kind detection sniffs content, never trusts names."""

from __future__ import annotations

import pytest

from aggregator.errors import ParseError
from aggregator.harvest.detect import detect_kind


@pytest.mark.parametrize(
    ("content", "content_type", "kind"),
    [
        (b"\xef\xbb\xbfBEGIN:VCALENDAR\r\nVERSION:2.0", "", "ical"),
        (b"  \r\nBEGIN:VCALENDAR", "text/html", "ical"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel>', "text/calendar", "feed"),
        (
            b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
            "",
            "feed",
        ),
        (b"<!DOCTYPE html><html lang=sv><head>", "text/calendar", "html"),
        (b'{"data": [{"id": "1", "name": "Fest"}]}', "application/json", "facebook"),
        (b"PK\x03\x04rest-of-zip", "application/zip", "facebook"),
    ],
    ids=[
        "ical-bom",
        "ical-behind-wrong-type",
        "rss",
        "atom",
        "html-behind-wrong-type",
        "json",
        "zip",
    ],
)
def test_detect_by_content(content: bytes, content_type: str, kind: str) -> None:
    assert detect_kind(content, content_type) == kind


@pytest.mark.parametrize(
    "content", [b"", b"   \n", b"just some words"], ids=["empty", "blank", "text"]
)
def test_undetectable_content_is_a_clear_error(content: bytes) -> None:
    with pytest.raises(ParseError):
        detect_kind(content)
