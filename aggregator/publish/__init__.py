"""Publish: render each merged event once per content change, write the feeds from the pieces.

feeds (the one place that names feeds) · formats (``PUBLISHERS``: ics, rss, json) ·
render (fragments and feed membership, once per content change) · output (every feed in
every format, and ``index.json``) · write (atomic, only when the bytes change).
Dedupe decides what an event says; this stage only renders it.
"""

from aggregator.publish.event import (
    PublishedEvent,
    event_page_url,
    iso_local,
    local_time,
    published_event,
    swedish_when,
)

__all__ = [
    "PublishedEvent",
    "event_page_url",
    "iso_local",
    "local_time",
    "published_event",
    "swedish_when",
]
