"""The store's queries for the web: event listings, the changes feed, counts, successors.

``WebQueries`` is a mixin that ``Store`` inherits; it relies on the connection ``Store``
provides. Read-only: the web never writes events. Listings page by keyset
``(start_utc, id)``, so a page deep in the cursor costs the same as the first.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from dataclasses import dataclass


class Fragment(enum.StrEnum):
    """Which pre-rendered form of an event a listing returns (columns of ``events``)."""

    JSON = "json_item"
    ICS = "ics"
    RSS = "rss"


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A filtered listing. Feed names as in ``event_feeds`` (``municipality/eksjo``).

    Within a group (municipalities, categories, organizers, statuses) any value
    matches; the groups are combined with AND. ``ids`` restricts to a search result.
    """

    ends_after: str | None = None  # UTC ISO: events running after this (or starting at it)
    starts_before: str | None = None  # UTC ISO: events starting before this
    municipalities: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    organizers: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    ids: tuple[str, ...] | None = None
    after: tuple[str, str] | None = None  # keyset cursor: (start_utc, id) of the last row
    limit: int = 50


@dataclass(frozen=True, slots=True)
class ListedEvent:
    id: str
    start_utc: str
    fragment: str


@dataclass(frozen=True, slots=True)
class ChangedEvent:
    """One entry of the changes feed: the event's state now (item empty when removed)."""

    seq: int
    id: str
    removed: bool
    fragment: str


@dataclass(frozen=True, slots=True)
class EventState:
    """What ``/api/events/{id}`` needs to know about one id: its JSON Feed item."""

    id: str
    removed: bool
    json_item: str


@dataclass(frozen=True, slots=True)
class FeedCount:
    feed: str
    label: str
    upcoming: int


@dataclass(frozen=True, slots=True)
class SourcePublic:
    """A source's health as the public may see it (no URLs with tokens, no warnings)."""

    id: str
    name: str
    status: str
    last_success_at: str | None
    events: int


MAX_SUCCESSOR_HOPS = 8


class WebQueries:
    """Mixed into ``Store``, which provides ``conn``."""

    conn: sqlite3.Connection

    def list_events(self, query: EventQuery, fragment: Fragment) -> list[ListedEvent]:
        """Events matching ``query`` in start order, at most ``query.limit``."""
        where, params = ["e.removed_at IS NULL", "e.content_hash != ''"], []
        if query.ends_after is not None:
            # still running after the instant, or starting at it (zero-length events)
            where.append("(e.end_utc > ? OR e.start_utc >= ?)")
            params += [query.ends_after, query.ends_after]
        if query.starts_before is not None:
            where.append("e.start_utc < ?")
            params.append(query.starts_before)
        for group in (query.municipalities, query.categories, query.organizers):
            if group:
                where.append(
                    "EXISTS (SELECT 1 FROM event_feeds f WHERE f.event_id = e.id"
                    " AND f.feed IN (SELECT value FROM json_each(?)))"
                )
                params.append(json.dumps(list(group)))
        if query.statuses:
            where.append("e.status IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(query.statuses)))
        if query.ids is not None:
            where.append("e.id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(query.ids)))
        if query.after is not None:
            where.append("(e.start_utc, e.id) > (?, ?)")
            params.extend(query.after)
        sql = (
            f"SELECT e.id, e.start_utc, e.{fragment.value} FROM events e"
            f" WHERE {' AND '.join(where)} ORDER BY e.start_utc, e.id LIMIT ?"
        )
        rows = self.conn.execute(sql, [*params, query.limit]).fetchall()
        return [ListedEvent(*row) for row in rows]

    def event_state(self, event_id: str) -> EventState | None:
        row = self.conn.execute(
            """SELECT id, removed_at IS NOT NULL, json_item FROM events
               WHERE id = ? AND content_hash != ''""",
            (event_id,),
        ).fetchone()
        return None if row is None else EventState(row[0], bool(row[1]), row[2])

    def successor(self, event_id: str) -> str | None:
        """The active event that replaced a merged-away one (following chains), or None
        when the event was simply removed."""
        seen = {event_id}
        current = event_id
        for _ in range(MAX_SUCCESSOR_HOPS):
            row = self.conn.execute(
                """SELECT m.to_id, e.removed_at IS NULL AND e.content_hash != ''
                   FROM event_moves m LEFT JOIN events e ON e.id = m.to_id
                   WHERE m.from_id = ? AND m.remaining = 0 ORDER BY m.id DESC LIMIT 1""",
                (current,),
            ).fetchone()
            if row is None or row[0] in seen:
                return None
            if row[1]:
                return str(row[0])
            seen.add(row[0])
            current = row[0]
        return None

    def changes_after(self, seq: int, limit: int, fragment: Fragment) -> list[ChangedEvent]:
        """Events whose latest change is after ``seq``, oldest change first."""
        rows = self.conn.execute(
            f"""SELECT c.seq, e.id, e.removed_at IS NOT NULL, e.{fragment.value}
                FROM event_changes c JOIN events e ON e.id = c.event_id
                WHERE c.seq > ? ORDER BY c.seq LIMIT ?""",
            (seq, limit),
        ).fetchall()
        return [ChangedEvent(r[0], r[1], bool(r[2]), r[3]) for r in rows]

    def last_change(self) -> int:
        return int(
            self.conn.execute("SELECT coalesce(max(seq), 0) FROM event_changes").fetchone()[0]
        )

    def feed_counts(self, prefix: str, ends_after: str) -> list[FeedCount]:
        """Every feed under ``prefix`` (``municipality/``) with its upcoming events."""
        rows = self.conn.execute(
            """SELECT l.feed, l.label, (
                   SELECT count(*) FROM event_feeds f JOIN events e ON e.id = f.event_id
                   WHERE f.feed = l.feed AND e.removed_at IS NULL AND e.end_utc >= ?)
               FROM feed_labels l WHERE l.feed >= ? AND l.feed < ? ORDER BY l.feed""",
            (ends_after, prefix, prefix + "\uffff"),
        ).fetchall()
        return [FeedCount(*row) for row in rows]

    def upcoming_count(self, feed: str, ends_after: str) -> int:
        return int(
            self.conn.execute(
                """SELECT count(*) FROM event_feeds f JOIN events e ON e.id = f.event_id
                   WHERE f.feed = ? AND e.removed_at IS NULL AND e.end_utc >= ?""",
                (feed, ends_after),
            ).fetchone()[0]
        )

    def public_sources(self) -> list[SourcePublic]:
        rows = self.conn.execute(
            """SELECT id, name, status, last_success_at, event_count
               FROM sources ORDER BY name, id"""
        ).fetchall()
        return [SourcePublic(*row) for row in rows]

    def text_search_ids(self, text: str) -> list[str]:
        """Interim: until the store's FTS5 search lands, a LIKE over the event JSON."""
        pattern = "%" + text.replace("\\", "").replace("%", "").replace("_", "") + "%"
        rows = self.conn.execute(
            "SELECT id FROM events WHERE removed_at IS NULL AND data LIKE ?", (pattern,)
        ).fetchall()
        return [r[0] for r in rows]

    def event_fragment(self, event_id: str, fragment: Fragment) -> str:
        row = self.conn.execute(
            f"SELECT {fragment.value} FROM events WHERE id = ?", (event_id,)
        ).fetchone()
        return str(row[0]) if row else ""
