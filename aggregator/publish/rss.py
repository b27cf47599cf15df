"""RSS 2.0 output with the RSS 1.0 event module (ev:startdate, ev:enddate, ev:location …)."""

from __future__ import annotations

import re
from email.utils import format_datetime
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from aggregator.model import CANCELLED, Settings
from aggregator.publish.event import (
    CANCELLED_PREFIX,
    PublishedEvent,
    cut_note,
    description_html,
    event_page_url,
    home_url,
    iso_local,
    marks_cancelled,
    swedish_when,
    uid_domain,
)
from aggregator.publish.write import FeedFrame, FeedHead

_IMAGE_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "svg": "image/svg+xml",
}
EVENT_NS = "http://purl.org/rss/1.0/modules/event/"
ATOM_NS = "http://www.w3.org/2005/Atom"
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> str:
    return escape(_XML_INVALID.sub("", value))


def _image_type(url: str) -> str:
    """The image's media type from its file name, or "" when the URL does not say (then
    no enclosure: a wrong type makes readers drop or mangle it)."""
    path = urlsplit(url).path if url else ""
    extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return _IMAGE_TYPES.get(extension, "")


def render_item(event: PublishedEvent, settings: Settings) -> str:
    title = f"{swedish_when(event, settings)} – {event.title}"
    if event.status == CANCELLED and not marks_cancelled(event.title):
        title = CANCELLED_PREFIX + title
    link = event.url or event_page_url(event, settings)
    parts = [
        "<item>",
        f"<title>{xml_text(title)}</title>",
        f"<link>{xml_text(link)}</link>",
        f'<guid isPermaLink="false">{xml_text(event.id)}@{xml_text(uid_domain(settings))}</guid>',
        f"<pubDate>{format_datetime(event.created_at, usegmt=True)}</pubDate>",
    ]
    # sanitised HTML, escaped for XML: readers decode it as HTML, so plain text goes in
    # escaped paragraphs and markup from a source can never run
    parts.append(f"<description>{xml_text(description_html(event, settings))}</description>")
    parts.extend(f"<category>{xml_text(c)}</category>" for c in event.categories)
    parts.append(f"<ev:startdate>{iso_local(event.start, settings)}</ev:startdate>")
    if event.end is not None:
        parts.append(f"<ev:enddate>{iso_local(event.end, settings)}</ev:enddate>")
    if event.location:
        parts.append(f"<ev:location>{xml_text(event.location)}</ev:location>")
    if event.organizer_name:
        parts.append(f"<ev:organizer>{xml_text(event.organizer_name)}</ev:organizer>")
    if event.categories:
        parts.append(f"<ev:type>{xml_text(', '.join(event.categories))}</ev:type>")
    image_type = _image_type(event.image)
    if image_type:  # length 0: unknown, as the RSS Best Practices Profile says
        parts.append(
            f'<enclosure url={quoteattr(event.image)} type={quoteattr(image_type)} length="0"/>'
        )
    parts.append("</item>")
    return "\n".join(parts) + "\n"


def rss_frame(feed: FeedHead, settings: Settings) -> FeedFrame:
    about = "Evenemang: " + feed.title
    if feed.horizon is not None:
        about += ". " + cut_note(feed.horizon, settings)
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<rss version="2.0" xmlns:ev="{EVENT_NS}" xmlns:atom="{ATOM_NS}">\n'
        "<channel>\n"
        f"<title>{xml_text(feed.title)}</title>\n"
        f"<link>{xml_text(home_url(settings))}</link>\n"
        f"<description>{xml_text(about)}</description>\n"
        "<language>sv-SE</language>\n"
        f'<atom:link href={quoteattr(feed.url)} rel="self" type="application/rss+xml"/>\n'
        "<ttl>60</ttl>\n"
    )
    return FeedFrame(head, "", "</channel>\n</rss>\n")
