"""Publish: render each merged event once per content change, write the feeds from the pieces.

feeds (the one place that names feeds) · formats (``PUBLISHERS``: ics, rss, json) ·
render (fragments and feed membership, once per content change) · output (every feed in
every format, and ``index.json``) · write (atomic, only when the bytes change).
Dedupe decides what an event says; this stage only renders it.
"""

from aggregator.publish.event import (
    SV_MONTHS,
    SV_WEEKDAYS,
    PublishedEvent,
    event_page_url,
    iso_local,
    local_time,
    published_event,
    published_from_event,
    swedish_when,
)
from aggregator.publish.feeds import feed_title

__all__ = [
    "SV_MONTHS",
    "SV_WEEKDAYS",
    "PublishedEvent",
    "event_page_url",
    "feed_title",
    "iso_local",
    "local_time",
    "published_event",
    "published_from_event",
    "swedish_when",
]
