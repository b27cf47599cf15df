"""SQLite store: the public face of the store*.py modules, the only ones that write SQL.

The schema lives in ``store_schema`` (numbered migrations), the text encoding of events in
``store_codec``, the dedupe stage's queries in ``store.matching`` and the publish stage's
in ``store.feeds`` (mixins of ``Store``).

Tables
    sources        one row per configured source: fetch state (ETag, Last-Modified,
                   content fingerprint) and health (status, message, counts)
    fetch_log      one row per harvest attempt
    source_events  harvested events keyed by (source_id, key); vanished ones get
                   ``removed_at`` (tombstones), never deleted
    events         merged events: stable id, SEQUENCE, content hash and the
                   pre-rendered feed fragments (ics, rss, json)
    event_feeds    which feeds (``municipality/eksjo``, ``category/teater`` …) an event is in
    meta           counters (data version, last publish)

A harvest is one transaction: a failure changes nothing stored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from aggregator.errors import StoreError
from aggregator.model import Event, FetchState, HarvestWarning
from aggregator.store.codec import (
    content_digest,
    event_from_dict,
    event_from_json,
    event_span,
    event_to_dict,
    event_to_json,
    iso,
    parse_iso,
)
from aggregator.store.feeds import FeedQueries, Fragments, RenderedEvent, StoredEvent
from aggregator.store.matching import (
    REMOVED,
    Assignment,
    EventContent,
    EventRow,
    MatchingQueries,
    MatchMember,
    MemberRow,
    MergedRecord,
    Override,
    PairRecord,
    Ref,
    Revision,
    Unassigned,
)
from aggregator.store.schema import migrations

__all__ = [
    "REMOVED",
    "Assignment",
    "EventContent",
    "EventRow",
    "Fragments",
    "HarvestOutcome",
    "MatchMember",
    "MemberRow",
    "MergedRecord",
    "Override",
    "PairRecord",
    "Ref",
    "RenderedEvent",
    "Revision",
    "SourceHealth",
    "Store",
    "StoredEvent",
    "Unassigned",
    "content_digest",
    "event_from_dict",
    "event_from_json",
    "event_span",
    "event_to_dict",
    "event_to_json",
    "is_collapse",
    "iso",
    "migrations",
    "parse_iso",
]


@dataclass(frozen=True, slots=True)
class HarvestOutcome:
    new: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    held: bool = False
    message: str = ""


@dataclass(frozen=True, slots=True)
class SourceHealth:
    id: str
    name: str
    location: str
    kind: str | None
    status: str
    message: str
    event_count: int
    warnings: tuple[str, ...]
    consecutive_failures: int
    last_attempt_at: str | None
    last_success_at: str | None


class Store(MatchingQueries, FeedQueries):
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA busy_timeout=10000")
            self.db.execute("PRAGMA cache_size=-131072")  # 128 MB: bulk merges rewrite big rows
            self.db.execute("PRAGMA temp_store=MEMORY")
            migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        self.conn: sqlite3.Connection = conn

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # -- sources ---------------------------------------------------------------

    def sync_sources(self, sources: Iterable[Any], now: datetime | None = None) -> list[str]:
        """Make the sources table match the configuration (keeps fetch state).

        With ``now``, sources no longer configured are retired: their events are
        tombstoned (and so leave the feeds) and the source row is deleted. Returns their ids.
        """
        sources = list(sources)
        retired: list[str] = []
        with self.transaction():
            if now is not None:
                configured = {source.id for source in sources}
                retired = [
                    row[0]
                    for row in self.conn.execute("SELECT id FROM sources ORDER BY id")
                    if row[0] not in configured
                ]
                for source_id in retired:
                    self._retire_source(source_id, now)
            for source in sources:
                self.conn.execute(
                    """INSERT INTO sources (id, name, location, kind, priority)
                       VALUES (?, ?, ?, ?, ?)
                       ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                         location = excluded.location, kind = excluded.kind,
                         priority = excluded.priority""",
                    (source.id, source.name, source.location, source.kind, source.priority),
                )
        return retired

    def _retire_source(self, source_id: str, now: datetime) -> None:
        now_iso = iso(now)
        rows = self.conn.execute(
            "SELECT key, start_utc FROM source_events WHERE source_id = ? AND removed_at IS NULL",
            (source_id,),
        ).fetchall()
        self._mark_events_dirty(source_id, [key for key, _ in rows])
        self.mark_days_dirty({start[:10] for _, start in rows})
        self.conn.execute(
            """UPDATE source_events SET removed_at = ?, changed_at = ?
               WHERE source_id = ? AND removed_at IS NULL""",
            (now_iso, now_iso, source_id),
        )
        self.conn.execute("DELETE FROM sources WHERE id = ?", (source_id,))
        self._log(source_id, now, "retired", None, None, len(rows), "removed from sources.yaml")
        if rows:
            self._bump_data_version()

    def fetch_state(self, source_id: str) -> FetchState:
        row = self.conn.execute(
            "SELECT etag, last_modified, fingerprint FROM sources WHERE id = ?", (source_id,)
        ).fetchone()
        if row is None:
            return FetchState()
        return FetchState(etag=row[0], last_modified=row[1], content_hash=row[2])

    def record_failure(
        self,
        source_id: str,
        message: str,
        now: datetime,
        *,
        http_status: int | None = None,
        duration_ms: int | None = None,
    ) -> None:
        with self.transaction():
            self.conn.execute(
                """UPDATE sources SET status = 'failed', message = ?, last_attempt_at = ?,
                   consecutive_failures = consecutive_failures + 1 WHERE id = ?""",
                (message, iso(now), source_id),
            )
            self._log(source_id, now, "failed", http_status, duration_ms, None, message)

    def record_unchanged(
        self,
        source_id: str,
        now: datetime,
        *,
        http_status: int | None,
        duration_ms: int | None,
        etag: str | None,
        last_modified: str | None,
    ) -> None:
        with self.transaction():
            self.conn.execute(
                """UPDATE sources SET status = CASE WHEN status = 'held' THEN 'held' ELSE 'ok' END,
                   message = CASE WHEN status = 'held' THEN message ELSE '' END,
                   last_attempt_at = ?, last_success_at = ?, consecutive_failures = 0,
                   etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified)
                   WHERE id = ?""",
                (iso(now), iso(now), etag, last_modified, source_id),
            )
            self._log(source_id, now, "unchanged", http_status, duration_ms, None, "")

    def _log(
        self,
        source_id: str,
        now: datetime,
        outcome: str,
        http_status: int | None,
        duration_ms: int | None,
        events: int | None,
        message: str,
    ) -> None:
        self.conn.execute(
            """INSERT INTO fetch_log (source_id, at, outcome, http_status, duration_ms, events, message)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (source_id, iso(now), outcome, http_status, duration_ms, events, message),
        )

    def apply_harvest(
        self,
        source_id: str,
        events: Sequence[Event],
        warnings: Sequence[HarvestWarning],
        now: datetime,
        *,
        etag: str | None,
        last_modified: str | None,
        fingerprint: str | None,
        http_status: int | None = None,
        duration_ms: int | None = None,
        accept_shrink: bool = False,
    ) -> HarvestOutcome:
        """Store one successful harvest: upsert, tombstone what vanished, guard against collapse."""
        now_iso = iso(now)
        with self.transaction():
            existing = {}
            old_starts = {}
            for key, content_hash, removed_at, end_utc, start_utc in self.conn.execute(
                """SELECT key, content_hash, removed_at, end_utc, start_utc
                   FROM source_events WHERE source_id = ?""",
                (source_id,),
            ):
                existing[key] = (content_hash, removed_at, end_utc)
                old_starts[key] = start_utc
            incoming: dict[str, tuple[Event, str, str]] = {}
            for event in events:
                data = event_to_json(event)
                incoming[event.key] = (event, data, content_digest(data))
            vanished = [
                key
                for key, (_, removed_at, _) in existing.items()
                if removed_at is None and key not in incoming
            ]
            upcoming_before = sum(
                1
                for _, removed_at, end_utc in existing.values()
                if removed_at is None and end_utc >= now_iso
            )
            vanished_upcoming = sum(1 for key in vanished if existing[key][2] >= now_iso)
            upcoming_after = sum(
                1 for event, *_ in incoming.values() if event_span(event)[1] >= now_iso
            )
            held = not accept_shrink and is_collapse(
                upcoming_before, vanished_upcoming, upcoming_after
            )
            inserts, updates, unchanged = [], [], 0
            for key, (event, data, digest) in incoming.items():
                start_utc, end_utc = event_span(event)
                old = existing.get(key)
                if old is None:
                    inserts.append(
                        (
                            source_id,
                            key,
                            event.uid,
                            start_utc,
                            end_utc,
                            digest,
                            data,
                            now_iso,
                            now_iso,
                            now_iso,
                        )
                    )
                elif old[0] != digest or old[1] is not None:
                    updates.append(
                        (
                            event.uid,
                            start_utc,
                            end_utc,
                            digest,
                            data,
                            now_iso,
                            now_iso,
                            source_id,
                            key,
                        )
                    )
                else:
                    unchanged += 1
            self.conn.executemany(
                """INSERT INTO source_events (source_id, key, uid, start_utc, end_utc, content_hash, data,
                   first_seen, last_seen, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                inserts,
            )
            self.conn.executemany(
                """UPDATE source_events SET uid = ?, start_utc = ?, end_utc = ?, content_hash = ?, data = ?,
                   last_seen = ?, changed_at = ?, removed_at = NULL WHERE source_id = ? AND key = ?""",
                updates,
            )
            removed = 0
            if not held and vanished:
                self.conn.executemany(
                    "UPDATE source_events SET removed_at = ?, changed_at = ? WHERE source_id = ? AND key = ?",
                    [(now_iso, now_iso, source_id, key) for key in vanished],
                )
                removed = len(vanished)
            touched = [update[-1] for update in updates] + (vanished if not held else [])
            self._mark_events_dirty(source_id, touched)
            days = {row[3][:10] for row in inserts} | {row[1][:10] for row in updates}
            days |= {old_starts[key][:10] for key in touched}
            self.mark_days_dirty(days)
            message = ""
            if held:
                message = (
                    f"{vanished_upcoming} of {upcoming_before} upcoming events vanished at once; "
                    "kept them and held the source for review (harvest with --accept-shrink to accept)"
                )
            active = len(incoming) + (len(vanished) if held else 0)
            self.conn.execute(
                """UPDATE sources SET status = ?, message = ?, warnings = ?, event_count = ?,
                   consecutive_failures = 0, last_attempt_at = ?,
                   last_success_at = COALESCE(?, last_success_at),
                   etag = ?, last_modified = ?, fingerprint = ? WHERE id = ?""",
                (
                    "held" if held else "ok",
                    message,
                    json.dumps([w.message for w in warnings], ensure_ascii=False),
                    active,
                    now_iso,
                    None if held else now_iso,  # a held harvest is not a success yet
                    etag,
                    last_modified,
                    None if held else fingerprint,
                    source_id,
                ),
            )
            self._log(
                source_id,
                now,
                "held" if held else "ok",
                http_status,
                duration_ms,
                len(incoming),
                message,
            )
            if inserts or updates or removed:
                self._bump_data_version()
        return HarvestOutcome(
            new=len(inserts),
            changed=len(updates),
            removed=removed,
            unchanged=unchanged,
            held=held,
            message=message,
        )

    def _mark_events_dirty(self, source_id: str, keys: Sequence[str]) -> None:
        self.conn.executemany(
            """UPDATE events SET dirty = 1 WHERE id = (
                 SELECT event_id FROM source_events WHERE source_id = ? AND key = ?)""",
            [(source_id, key) for key in keys],
        )

    def _bump_data_version(self) -> None:
        self.conn.execute(
            """INSERT INTO meta (key, value) VALUES ('data_version', '1')
               ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"""
        )

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- listings ----------------------------------------------------------------

    def published_events(
        self,
        *,
        start_from: datetime | None = None,
        start_to: datetime | None = None,
        feed: str | None = None,
        query: str | None = None,
    ) -> list[tuple[str, str]]:
        """(id, data) of active events, ordered by start, for listings."""
        sql = "SELECT e.id, e.data FROM events e"
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
        if query:
            where.append("e.data LIKE ?")
            params.append(f"%{query}%")
        sql += " WHERE " + " AND ".join(where) + " ORDER BY e.start_utc, e.id"
        return self.conn.execute(sql, params).fetchall()

    def event_record(self, event_id: str) -> tuple[str, str, str, int, str | None] | None:
        """(data, created_at, modified_at, sequence, removed_at) of one merged event."""
        return self.conn.execute(
            """SELECT data, created_at, modified_at, sequence, removed_at FROM events
               WHERE id = ? AND content_hash != ''""",
            (event_id,),
        ).fetchone()

    def source_health(self) -> list[SourceHealth]:
        rows = self.conn.execute(
            """SELECT id, name, location, kind, status, message, event_count, warnings,
               consecutive_failures, last_attempt_at, last_success_at FROM sources ORDER BY id"""
        ).fetchall()
        return [
            SourceHealth(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(json.loads(r[7])), r[8], r[9], r[10]
            )
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        one = lambda sql: self.conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "events": one("SELECT count(*) FROM events WHERE removed_at IS NULL"),
            "source_events": one("SELECT count(*) FROM source_events WHERE removed_at IS NULL"),
            "removed": one("SELECT count(*) FROM source_events WHERE removed_at IS NOT NULL"),
        }


def is_collapse(upcoming_before: int, vanished_upcoming: int, upcoming_after: int = 1) -> bool:
    """A sudden collapse: a calendar emptied of every upcoming event (by mistake, as
    sources do), or more than half of at least 5 upcoming events gone at once."""
    if upcoming_before >= 1 and vanished_upcoming and upcoming_after == 0:
        return True
    return upcoming_before >= 5 and vanished_upcoming * 2 > upcoming_before
