"""The store's queries for the publish stage: rendered fragments and feed membership.

``FeedQueries`` is a mixin that ``Store`` inherits; it relies on the connection and the
transaction helper ``Store`` provides. What a feed is called and which events belong to
it is decided in ``publish.feeds``; the store only keeps the answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aggregator.store.codec import iso

Fragments = tuple[str, str, str]  # one event rendered as (ics, rss, json item)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A merged event as stored, for rendering: its canonical JSON and revision."""

    id: str
    data: str
    created_at: str
    modified_at: str
    sequence: int


@dataclass(frozen=True, slots=True)
class RenderedEvent:
    """An event's feed fragments and the feeds it belongs to (feed id, label)."""

    event_id: str
    fragments: Fragments
    feeds: tuple[tuple[str, str], ...]


class FeedQueries:
    """Mixed into ``Store``, which provides ``conn`` and ``transaction``."""

    conn: sqlite3.Connection

    if TYPE_CHECKING:

        def transaction(self) -> AbstractContextManager[None]: ...

    def events_needing_render(self, render_key: str) -> list[StoredEvent]:
        """Active events not rendered under ``render_key`` (new, changed, or other settings)."""
        return [
            StoredEvent(*row)
            for row in self.conn.execute(
                """SELECT id, data, created_at, modified_at, sequence FROM events
                   WHERE removed_at IS NULL AND render_key != ?""",
                (render_key,),
            )
        ]

    def save_renders(self, renders: Sequence[RenderedEvent], render_key: str) -> None:
        """Store fragments and feed memberships; a feed's first label is the one it keeps."""
        with self.transaction():
            self.conn.executemany(
                "UPDATE events SET ics = ?, rss = ?, json_item = ?, render_key = ? WHERE id = ?",
                [(*r.fragments, render_key, r.event_id) for r in renders],
            )
            self.conn.executemany(
                """INSERT OR IGNORE INTO event_feeds (feed, start_utc, event_id)
                   SELECT ?, start_utc, id FROM events WHERE id = ?""",
                [(feed, r.event_id) for r in renders for feed, _ in r.feeds],
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO feed_labels (feed, label) VALUES (?, ?)",
                sorted({label for r in renders for label in r.feeds}),
            )

    def feed_names(self) -> list[str]:
        return [
            r[0] for r in self.conn.execute("SELECT DISTINCT feed FROM event_feeds ORDER BY feed")
        ]

    def feed_labels(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT feed, label FROM feed_labels").fetchall())

    def iter_feed_fragments(self, feed: str | None, window_start: datetime) -> Iterator[Fragments]:
        """A feed's fragments in feed order, lazily (one read per row); None: every event."""
        if feed is None:
            cursor = self.conn.execute(
                """SELECT ics, rss, json_item FROM events
                   WHERE removed_at IS NULL AND end_utc >= ? ORDER BY start_utc, id""",
                (iso(window_start),),
            )
        else:
            cursor = self.conn.execute(
                """SELECT e.ics, e.rss, e.json_item FROM event_feeds f JOIN events e ON e.id = f.event_id
                   WHERE f.feed = ? AND e.removed_at IS NULL AND e.end_utc >= ?
                   ORDER BY f.start_utc, f.event_id""",
                (feed, iso(window_start)),
            )
        yield from cursor
