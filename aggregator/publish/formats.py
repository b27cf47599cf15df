"""The publishers, keyed by format: one renderer per event and one frame per feed.

Adding a format is one entry here (and a fragment column in the store): ``output``
writes every feed in every format of ``PUBLISHERS``, in this order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aggregator.model import Settings
from aggregator.publish import ical, jsonfeed, rss
from aggregator.publish.event import PublishedEvent
from aggregator.publish.write import FeedFrame, FeedHead


@dataclass(frozen=True, slots=True)
class Publisher:
    """One output format: an event's fragment, the frame that surrounds a feed's
    fragments, and the size a feed of it must stay under (None: any)."""

    extension: str
    render_item: Callable[[PublishedEvent, Settings], str]
    frame: Callable[[FeedHead, Settings], FeedFrame]
    max_bytes: int | None = None


MAX_SUBSCRIPTION_BYTES = 1_000_000  # Google Calendar stops reading subscriptions larger than this

# the order is the store's fragment columns: (ics, rss, json_item)
PUBLISHERS: dict[str, Publisher] = {
    "ics": Publisher("ics", ical.render_vevent, ical.calendar_frame, MAX_SUBSCRIPTION_BYTES),
    "rss": Publisher("rss", rss.render_item, rss.rss_frame),
    "json": Publisher("json", jsonfeed.render_item, jsonfeed.json_frame),
}
FORMATS = tuple(PUBLISHERS)
