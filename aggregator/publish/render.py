"""Rendering: each event's feed fragments, once per content change, and its feeds.

Feeds are assembled from stored fragments, so a run that changed ten events renders
ten events, not the whole calendar. Fragments are valid for one ``render_key``
(renderer version and the settings they use); other settings re-render everything.
"""

from __future__ import annotations

from collections.abc import Sequence

from aggregator.dedupe.merge import EventChange
from aggregator.model import Settings
from aggregator.publish.event import (
    PublishedEvent,
    published_event,
    published_from_change,
    render_key,
)
from aggregator.publish.feeds import feeds_of
from aggregator.publish.formats import PUBLISHERS
from aggregator.store import Fragments, RenderedEvent, Store

RENDER_CHUNK = 5000  # events rendered per store transaction


def render_fragments(event: PublishedEvent, settings: Settings) -> Fragments:
    ics, rss, json_item = (PUBLISHERS[f].render_item(event, settings) for f in PUBLISHERS)
    return ics, rss, json_item


def rendered(event: PublishedEvent, settings: Settings) -> RenderedEvent:
    return RenderedEvent(event.id, render_fragments(event, settings), feeds_of(event))


def render_changes(store: Store, changes: Sequence[EventChange], settings: Settings) -> int:
    """Render the events dedupe just changed, from the merged events still in memory."""
    key = render_key(settings)
    live = [c for c in changes if c.event is not None]
    for start in range(0, len(live), RENDER_CHUNK):
        chunk = live[start : start + RENDER_CHUNK]
        store.save_renders([rendered(published_from_change(c), settings) for c in chunk], key)
    return len(live)


def render_pending(store: Store, settings: Settings) -> int:
    """Render every active event not rendered under the current settings (a changed
    base_url or timezone, or a run stopped between merging and rendering)."""
    key = render_key(settings)
    count = 0
    after = ""
    # a chunk at a time: new settings re-render the whole calendar
    while chunk := store.events_needing_render(key, after=after, limit=RENDER_CHUNK):
        store.save_renders([rendered(published_event(e), settings) for e in chunk], key)
        count += len(chunk)
        after = chunk[-1].id
    return count
