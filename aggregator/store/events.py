"""Published (merged) events: saving merges, the render queue, feeds and listings.

The ``events`` table holds one row per published event with its JSON content
(``codec.merged_to_dict``) and its pre-rendered feed fragments; ``event_feeds`` says
which feeds it is in. Rows come back decoded (``StoredEvent``), never as JSON text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from aggregator.store.base import StoreBase
from aggregator.store.codec import iso, merged_from_json
from aggregator.store.rows import (
    REMOVED,
    MergedRecord,
    RemovedEvent,
    RenderedEvent,
    StoredEvent,
)
from aggregator.store.search import SearchQuery, search_filter


class EventQueries(StoreBase):
    """The ``events``, ``event_feeds`` and ``feed_labels`` tables."""

    def save_merged(
        self, records: Sequence[MergedRecord], unchanged: Sequence[str], now: datetime
    ) -> None:
        """Write the merged events whose content changed and clear every dirty flag.

        A changed event is left unrendered (``render_key`` ''), and its feed memberships
        are dropped: the publish stage renders it and records its feeds again.
        """
        now_iso = iso(now)
        with self.transaction():
            self.conn.executemany(
                """INSERT INTO events (created_at, modified_at, sequence, content_hash, start_utc,
                     end_utc, status, data, removed_at, dirty, render_key, id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?)
                   ON CONFLICT (id) DO UPDATE SET modified_at = excluded.modified_at,
                     sequence = excluded.sequence, content_hash = excluded.content_hash,
                     start_utc = excluded.start_utc, end_utc = excluded.end_utc,
                     status = excluded.status, data = excluded.data,
                     removed_at = excluded.removed_at, dirty = 0, render_key = ''""",
                [_merged_columns(r, now_iso) for r in records],
            )
            self.conn.executemany(
                "UPDATE events SET dirty = 0 WHERE id = ?", [(i,) for i in unchanged]
            )
            # a new id whose merge wrote nothing (its members gone before it was merged)
            self.conn.executemany(
                "DELETE FROM pending_events WHERE id = ?", [(i,) for i in unchanged]
            )
            self.conn.executemany(
                "DELETE FROM event_feeds WHERE event_id = ?",
                [(r.id,) for r in records if r.was_published],
            )
            if records:
                self._bump_data_version()

    # -- publishing ----------------------------------------------------------------

    def events_needing_render(
        self, render_key: str, *, after: str = "", limit: int = -1
    ) -> list[StoredEvent]:
        """Active events whose fragments were rendered under other settings than
        ``render_key``, by id: the first ``limit`` of those after id ``after``."""
        return [
            _stored_event(*row)
            for row in self.conn.execute(
                """SELECT id, data, created_at, modified_at, sequence FROM events
                   WHERE removed_at IS NULL AND render_key != ? AND id > ?
                   ORDER BY id LIMIT ?""",
                (render_key, after, limit),
            )
        ]

    def save_renders(self, renders: Sequence[RenderedEvent], render_key: str) -> None:
        """Store fragments rendered under ``render_key`` and the events' feed memberships;
        a feed keeps the first label it was given."""
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

    def iter_feed_fragments(
        self, feed: str | None, window_start: datetime
    ) -> Iterator[tuple[str, str, str, str]]:
        """(ics, rss, json_item, start_utc) of a feed's events in feed order (by start),
        lazily (one read per row); ``feed`` None: every event."""
        if feed is None:
            cursor = self.conn.execute(
                """SELECT ics, rss, json_item, start_utc FROM events
                   WHERE removed_at IS NULL AND end_utc >= ? ORDER BY start_utc, id""",
                (iso(window_start),),
            )
        else:
            cursor = self.conn.execute(
                """SELECT e.ics, e.rss, e.json_item, f.start_utc
                   FROM event_feeds f JOIN events e ON e.id = f.event_id
                   WHERE f.feed = ? AND e.removed_at IS NULL AND e.end_utc >= ?
                   ORDER BY f.start_utc, f.event_id""",
                (feed, iso(window_start)),
            )
        yield from cursor

    # -- listings ------------------------------------------------------------------

    def published_events(
        self,
        *,
        start_from: datetime | None = None,
        start_to: datetime | None = None,
        feed: str | None = None,
        query: SearchQuery | None = None,
    ) -> list[StoredEvent]:
        """Active events, ordered by start, for listings: those not ended by ``start_from``,
        starting before ``start_to``, in ``feed``, matching the full-text ``query``."""
        sql = "SELECT e.id, e.data, e.created_at, e.modified_at, e.sequence FROM events e"
        where, params = ["e.removed_at IS NULL"], []
        if feed:
            sql += " JOIN event_feeds f ON f.event_id = e.id AND f.feed = ?"
            params.append(feed)
        if start_from:
            where.append("e.end_utc >= ?")
            params.append(iso(start_from))
        if start_to:
            where.append("e.start_utc < ?")
            params.append(iso(start_to))
        if query is not None:
            clause, clause_params = search_filter(query, "e.id")
            where.append(clause)
            params.extend(clause_params)
        sql += " WHERE " + " AND ".join(where) + " ORDER BY e.start_utc, e.id"
        return [_stored_event(*row) for row in self.conn.execute(sql, params)]

    def event_record(self, event_id: str) -> StoredEvent | RemovedEvent | None:
        """One published event by id: as stored, removed (its id stays taken), or None."""
        row = self.conn.execute(
            """SELECT id, data, created_at, modified_at, sequence, removed_at FROM events
               WHERE id = ? AND content_hash != ''""",
            (event_id,),
        ).fetchone()
        if row is None:
            return None
        if row[5] is not None:
            return RemovedEvent(id=row[0], removed_at=row[5])
        return _stored_event(*row[:5])


def _merged_columns(record: MergedRecord, now_iso: str) -> tuple[object, ...]:
    """The ``events`` columns ``save_merged`` writes; a removed event keeps its id and
    revision, with an empty body (status and hash ``removed``)."""
    revision, content = record.revision, record.content
    body: tuple[object, ...] = (REMOVED, "", "", REMOVED, "{}", now_iso)
    if content is not None:
        body = (
            content.content_hash,
            content.start_utc,
            content.end_utc,
            content.status,
            content.data,
            None,
        )
    return (
        revision.created_at or now_iso,
        revision.modified_at,
        revision.sequence,
        *body,
        record.id,
    )


def _stored_event(
    event_id: str, data: str, created_at: str, modified_at: str, sequence: int
) -> StoredEvent:
    event, sources = merged_from_json(event_id, data)
    return StoredEvent(
        id=event_id,
        event=event,
        sources=sources,
        created_at=created_at,
        modified_at=modified_at,
        sequence=sequence,
    )
