"""The one place that names feeds: which feeds exist, what they are called, where they live.

``all`` holds every event; besides it, one feed per municipality (``municipality/eksjo``),
category (``category/teater``) and organizer (``organizer/<source id>``). Each is
written once per format (``all.ics``, ``all.rss``, ``all.json``) under ``feeds_dir`` and
served at ``/feeds/<feed>.<format>``; ``index.json`` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

from aggregator.config import Config
from aggregator.model import Settings
from aggregator.normalize import slugify
from aggregator.publish.event import PublishedEvent
from aggregator.store import Store

ALL = "all"
FOLDERS = ("municipality", "category", "organizer")  # a feed id is "<folder>/<slug>" or ALL
INDEX = "index.json"


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed to write: its id (``all``, ``municipality/eksjo``) and its title."""

    id: str
    title: str


def municipality_feed(name: str) -> str:
    return f"municipality/{slugify(name)}"


def category_feed(name: str) -> str:
    return f"category/{slugify(name)}"


def organizer_feed(source_id: str) -> str:
    return f"organizer/{source_id}"


def feeds_of(event: PublishedEvent) -> tuple[tuple[str, str], ...]:
    """(feed, label) for each feed besides ``all`` that an event belongs to."""
    feeds = []
    if event.place.municipality:
        feeds.append((municipality_feed(event.place.municipality), event.place.municipality))
    feeds.extend((category_feed(c), c) for c in event.categories if slugify(c))
    feeds.extend((organizer_feed(source_id), source_id) for source_id, _ in event.sources)
    return tuple(dict.fromkeys(feeds))


def feed_title(feed: str, label: str, settings: Settings) -> str:
    if feed == ALL:
        return settings.calendar_name
    return f"{settings.calendar_name} – {label}"


def feed_catalog(store: Store, config: Config) -> list[Feed]:
    """Every feed to write: all, plus each municipality, category and organizer.

    Configured municipalities and organizers always get a feed (empty or not), so
    subscription URLs never break; categories exist while some event has them.
    """
    settings = config.settings
    labels = store.feed_labels()
    labels.update({municipality_feed(m): m for m in settings.municipalities})
    labels.update({organizer_feed(s.id): s.name for s in config.sources})
    names = set(store.feed_names())
    names |= {organizer_feed(s.id) for s in config.sources}
    names |= {municipality_feed(m) for m in settings.municipalities}
    return [Feed(ALL, feed_title(ALL, "", settings))] + [
        Feed(feed, feed_title(feed, labels.get(feed, feed), settings)) for feed in sorted(names)
    ]


def feed_file(feed: str, extension: str) -> str:
    """The feed's path relative to ``feeds_dir`` (and to ``/feeds/``)."""
    return f"{feed}.{extension}"


def feed_url(settings: Settings, feed: str, extension: str) -> str:
    return f"{settings.base_url}/feeds/{feed_file(feed, extension)}"
