"""The publishers, keyed by format: one renderer per event and one frame per feed.

Adding a format is one entry here (and a fragment column in the store): ``output``
writes every feed in every format of ``PUBLISHERS``, in this order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aggregator.model import Settings
from aggregator.publish import ical, jsonfeed, rss
from aggregator.publish.event import PublishedEvent
from aggregator.publish.write import FeedFrame


@dataclass(frozen=True, slots=True)
class Publisher:
    """One output format: an event's fragment, and the frame (title, feed URL, settings,
    now) that surrounds a feed's fragments."""

    extension: str
    render_item: Callable[[PublishedEvent, Settings], str]
    frame: Callable[[str, str, Settings, datetime], FeedFrame]


# the order is the store's fragment columns: (ics, rss, json_item)
PUBLISHERS: dict[str, Publisher] = {
    "ics": Publisher("ics", ical.render_vevent, ical.calendar_frame),
    "rss": Publisher("rss", rss.render_item, rss.rss_frame),
    "json": Publisher("json", jsonfeed.render_item, jsonfeed.json_frame),
}
FORMATS = tuple(PUBLISHERS)
