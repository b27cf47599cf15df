"""The store's queries for the web: event listings, the changes feed, counts, successors.

``WebQueries`` is a mixin that ``Store`` inherits; it relies on the connection ``Store``
provides. Read-only: the web never writes events. Listings page by keyset
``(start_utc, id)``, so a page deep in the cursor costs the same as the first.
"""

from __future__ import annotations

import enum
import heapq
import json
import sqlite3
from dataclasses import dataclass
from datetime import timedelta

from aggregator.store.codec import checked_iso, iso, parse_iso
from aggregator.store.search import SearchQuery, matches_in_start_order, search_match


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
    search: SearchQuery | None = None  # full-text search (the store's FTS5 index)
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
class SourcePublic:
    """A source's health as the public may see it (no URLs with tokens, no warnings)."""

    id: str
    name: str
    status: str
    last_success_at: str | None
    events: int


MAX_SUCCESSOR_HOPS = 8
LONG_EVENT = timedelta(days=1)
# the condition of the partial index events_long (migration m041), written the same
# way in queries: SQLite uses a partial index only when the query repeats its WHERE
LONG_EVENT_SQL = "julianday(e.end_utc) - julianday(e.start_utc) > 1"


class WebQueries:
    """Mixed into ``Store``, which provides ``conn``."""

    conn: sqlite3.Connection

    def list_events(self, query: EventQuery, fragment: Fragment) -> list[ListedEvent]:
        """Events matching ``query`` in start order, at most ``query.limit``.

        Two parts, each served by an index: events already running at ``ends_after``
        (they sort first), then events starting from it. A page deep in the cursor
        seeks straight to its place; a municipality or other feed filter reads that
        feed's rows of ``event_feeds``, already in start order.
        """
        lower = query.ends_after
        rows: list[ListedEvent] = []
        if lower is not None and (query.after is None or query.after[0] < lower):
            rows = self._running_at(query, fragment, lower)
        if len(rows) < query.limit:
            rows += self._starting(query, fragment, query.limit - len(rows))
        return rows

    def _filters(
        self, query: EventQuery, driving: tuple[str, ...] = ()
    ) -> tuple[list[str], list[object]]:
        """Every condition of ``query`` but the full-text search (which drives its own
        queries, see ``matches_in_start_order``) and the lower bound of start."""
        where = ["e.removed_at IS NULL", "e.content_hash != ''"]
        params: list[object] = []
        for group in (query.municipalities, query.categories, query.organizers):
            if group and group is not driving:
                where.append(
                    "EXISTS (SELECT 1 FROM event_feeds g WHERE g.event_id = e.id"
                    " AND g.feed IN (SELECT value FROM json_each(?)))"
                )
                params.append(json.dumps(list(group)))
        if query.statuses:
            where.append("e.status IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(query.statuses)))
        if query.starts_before is not None:
            where.append("e.start_utc < ?")
            params.append(query.starts_before)
        if query.after is not None:
            where.append("(e.start_utc, e.id) > (?, ?)")
            params += list(query.after)
        return where, params

    def _running_at(self, query: EventQuery, fragment: Fragment, moment: str) -> list[ListedEvent]:
        """Events that started before ``moment`` and end after it: the last day's in
        start order (as any listing, ``_in_start_order``), longer ones through the
        ``events_long`` index (few: festivals, exhibitions), tested one by one."""
        day_before = iso(parse_iso(moment) - LONG_EVENT)
        recent = self._in_start_order(
            query, fragment, (day_before, moment), query.limit, ("e.end_utc > ?", moment)
        )
        where, params = self._filters(query)
        where += [LONG_EVENT_SQL, "e.end_utc > ?", "e.start_utc < ?"]
        params += [moment, day_before]
        if query.search is not None:
            condition, search_params = search_match(query.search, "e.id")
            where.append(condition)
            params += search_params
        long = self.conn.execute(
            f"SELECT e.id, e.start_utc, e.{fragment.value} FROM events e INDEXED BY events_long"
            f" WHERE {' AND '.join(where)} ORDER BY 2, 1 LIMIT ?",
            [*params, query.limit],
        ).fetchall()
        if not long:
            return recent
        rows = sorted(
            [*recent, *(ListedEvent(*row) for row in long)], key=lambda r: (r.start_utc, r.id)
        )
        return rows[: query.limit]

    def _starting(self, query: EventQuery, fragment: Fragment, limit: int) -> list[ListedEvent]:
        """Events starting at or after the lower bound (and after the cursor)."""
        bound = max(
            filter(None, (query.ends_after, query.after[0] if query.after else None)), default=""
        )
        return self._in_start_order(query, fragment, (bound, query.starts_before), limit)

    def _in_start_order(
        self,
        query: EventQuery,
        fragment: Fragment,
        starts: tuple[str, str | None],
        limit: int,
        extra: tuple[str, str] | None = None,
    ) -> list[ListedEvent]:
        """Events of ``query`` starting in ``starts`` = [from, before) and meeting the
        ``extra`` condition (SQL, its one parameter), in (start, id) order, at most
        ``limit``. The most selective ordered source drives: the full-text index
        (its docids are in start order), a feed filter's rows of ``event_feeds``, or
        the start index; the other conditions are tested on the rows it yields."""
        low, before = starts
        columns = f"e.id, e.start_utc, e.{fragment.value}"
        driving = next(
            (g for g in (query.municipalities, query.organizers, query.categories) if g), ()
        )
        if query.search is not None:
            driving = ()
        where, params = self._filters(query, driving)
        if extra is not None:
            where.append(extra[0])
            params.append(extra[1])
        if query.search is not None:
            found = matches_in_start_order(
                self.conn, query.search, columns, where, params, starts, limit
            )
            return [ListedEvent(*row) for row in found]
        if before is not None:
            where.append("e.start_utc < ?")
            params.append(before)
        if not driving:
            sql = (
                f"SELECT {columns} FROM events e INDEXED BY events_listing"
                f" WHERE e.start_utc >= ? AND {' AND '.join(where)}"
                " ORDER BY e.start_utc, e.id LIMIT ?"
            )
            rows = self.conn.execute(sql, [low, *params, limit]).fetchall()
            return [ListedEvent(*row) for row in rows]
        span = "f.start_utc >= ?" + (" AND f.start_utc < ?" if before is not None else "")
        bounds = [low] if before is None else [low, before]
        sql = (
            f"SELECT {columns} FROM event_feeds f"
            " JOIN events e ON e.id = f.event_id"
            f" WHERE f.feed = ? AND {span} AND {' AND '.join(where)}"
            " ORDER BY f.start_utc, f.event_id LIMIT ?"
        )
        per_feed = [
            self.conn.execute(sql, [feed, *bounds, *params, limit]).fetchall() for feed in driving
        ]
        if len(per_feed) == 1:
            return [ListedEvent(*row) for row in per_feed[0]]
        merged: list[ListedEvent] = []
        seen: set[str] = set()
        for row in heapq.merge(*per_feed, key=lambda r: (r[1], r[0])):
            if row[0] not in seen:  # an event in two of the feeds asked for
                seen.add(row[0])
                merged.append(ListedEvent(*row))
                if len(merged) == limit:
                    break
        return merged

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

    def feed_labels_under(self, prefix: str) -> list[tuple[str, str]]:
        """(feed, label) of every feed under ``prefix`` (``category/``) an event was in."""
        return self.conn.execute(
            "SELECT feed, label FROM feed_labels WHERE feed >= ? AND feed < ? ORDER BY feed",
            (prefix, prefix + "\uffff"),
        ).fetchall()

    def upcoming_count(self, feed: str, ends_after: str) -> int:
        """Events of ``feed`` running after ``ends_after``: those starting from it, counted
        on ``event_feeds``' key alone, plus those already running (as ``_running_at``)."""
        starting = self.conn.execute(
            "SELECT count(*) FROM event_feeds WHERE feed = ? AND start_utc >= ?",
            (feed, ends_after),
        ).fetchone()[0]
        day_before = iso(parse_iso(ends_after) - LONG_EVENT)
        running = self.conn.execute(
            f"""SELECT (SELECT count(*) FROM event_feeds f
                        JOIN events e INDEXED BY events_listing_id ON e.id = f.event_id
                        WHERE f.feed = ? AND f.start_utc >= ? AND f.start_utc < ?
                          AND e.removed_at IS NULL AND e.content_hash != ''
                          AND e.end_utc > ?)
                     + (SELECT count(*) FROM events e INDEXED BY events_long
                        WHERE e.removed_at IS NULL AND e.content_hash != '' AND {LONG_EVENT_SQL}
                          AND e.end_utc > ? AND e.start_utc < ?
                          AND EXISTS (SELECT 1 FROM event_feeds g
                                      WHERE g.event_id = e.id AND g.feed = ?))""",
            (feed, day_before, ends_after, ends_after, ends_after, day_before, feed),
        ).fetchone()[0]
        return int(starting) + int(running)

    def public_sources(self) -> list[SourcePublic]:
        rows = self.conn.execute(
            """SELECT id, name, status, last_success_at, event_count
               FROM sources ORDER BY name, id"""
        ).fetchall()
        return [SourcePublic(a, b, c, checked_iso(d), e) for a, b, c, d, e in rows]

    def event_fragment(self, event_id: str, fragment: Fragment) -> str:
        row = self.conn.execute(
            f"SELECT {fragment.value} FROM events WHERE id = ?", (event_id,)
        ).fetchone()
        return str(row[0]) if row else ""
