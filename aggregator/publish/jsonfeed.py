"""JSON Feed 1.1 output; each item carries the event in an ``_event`` extension object."""

from __future__ import annotations

import json

from aggregator.model import Settings
from aggregator.publish.event import (
    PublishedEvent,
    cut_note,
    event_page_url,
    home_url,
    iso_local,
    summary_line,
)
from aggregator.publish.write import FeedFrame, FeedHead

VERSION = "https://jsonfeed.org/version/1.1"


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False)


def render_item(event: PublishedEvent, settings: Settings) -> str:
    place = event.place
    address = ", ".join(p for p in (place.street, place.locality) if p)
    item: dict[str, object] = {
        "id": event.id,
        "url": event.url or event_page_url(event, settings),
        "title": event.title,
        # never "": JSON Feed wants content; without a description, when and where
        "content_text": event.description or summary_line(event, settings),
    }
    if event.description_html:
        item["content_html"] = event.description_html
    if event.image:
        item["image"] = event.image
    item["date_published"] = iso_local(event.created_at, settings)
    item["date_modified"] = iso_local(event.modified_at, settings)
    if event.categories:
        item["tags"] = list(event.categories)
    item["_event"] = {
        "start": iso_local(event.start, settings),
        "end": iso_local(event.end, settings) if event.end is not None else None,
        "all_day": event.all_day,
        "timezone": settings.timezone,  # the zone of the offsets above, not the source's
        "status": event.status,
        "location": {
            "name": place.name or event.location_text,
            "address": address,
            "locality": place.locality,
            "municipality": place.municipality,
            "latitude": place.latitude,
            "longitude": place.longitude,
        },
        "organizer": {"name": event.organizer_name, "url": event.organizer_url or None},
        "categories": list(event.categories),
        "sources": [{"id": source_id, "url": url or None} for source_id, url in event.sources],
    }
    return _dump(item)


def json_frame(feed: FeedHead, settings: Settings) -> FeedFrame:
    head = {
        "version": VERSION,
        "title": feed.title,
        "home_page_url": home_url(settings),
        "feed_url": feed.url,
        "language": "sv",
    }
    if feed.horizon is not None:
        head["description"] = cut_note(feed.horizon, settings)
    return FeedFrame(_dump(head)[:-1] + ',"items":[\n', ",\n", "\n]}\n")
