"""SQLite store: the schema and every query. The only module that writes SQL.

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

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from aggregator.errors import StoreError
from aggregator.model import Event, FetchState, HarvestWarning, Place

migrations = Migrations("aggregator")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE sources (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            location TEXT NOT NULL DEFAULT '',
            kind TEXT,
            priority INTEGER NOT NULL DEFAULT 50,
            etag TEXT,
            last_modified TEXT,
            fingerprint TEXT,
            status TEXT NOT NULL DEFAULT 'never',
            message TEXT NOT NULL DEFAULT '',
            warnings TEXT NOT NULL DEFAULT '[]',
            event_count INTEGER NOT NULL DEFAULT 0,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TEXT,
            last_success_at TEXT
        );
        CREATE TABLE fetch_log (
            id INTEGER PRIMARY KEY,
            source_id TEXT NOT NULL,
            at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            http_status INTEGER,
            duration_ms INTEGER,
            events INTEGER,
            message TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX fetch_log_source ON fetch_log (source_id, at);
        CREATE TABLE source_events (
            source_id TEXT NOT NULL,
            key TEXT NOT NULL,
            event_id TEXT,
            uid TEXT NOT NULL DEFAULT '',
            start_utc TEXT NOT NULL,
            end_utc TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            data TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            removed_at TEXT,
            PRIMARY KEY (source_id, key)
        );
        CREATE INDEX source_events_event ON source_events (event_id);
        CREATE INDEX source_events_uid ON source_events (uid) WHERE uid != '';
        CREATE INDEX source_events_unassigned ON source_events (source_id) WHERE event_id IS NULL;
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            modified_at TEXT NOT NULL,
            sequence INTEGER NOT NULL DEFAULT 0,
            content_hash TEXT NOT NULL DEFAULT '',
            start_utc TEXT NOT NULL DEFAULT '',
            end_utc TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'confirmed',
            data TEXT NOT NULL DEFAULT '{}',
            dirty INTEGER NOT NULL DEFAULT 1,
            render_key TEXT NOT NULL DEFAULT '',
            ics TEXT NOT NULL DEFAULT '',
            rss TEXT NOT NULL DEFAULT '',
            json_item TEXT NOT NULL DEFAULT '',
            removed_at TEXT
        );
        CREATE INDEX events_window ON events (end_utc) WHERE removed_at IS NULL;
        CREATE INDEX events_dirty ON events (id) WHERE dirty = 1;
        CREATE TABLE event_feeds (
            feed TEXT NOT NULL,
            start_utc TEXT NOT NULL,
            event_id TEXT NOT NULL,
            PRIMARY KEY (feed, start_utc, event_id)
        ) WITHOUT ROWID;
        CREATE INDEX event_feeds_event ON event_feeds (event_id);
        CREATE TABLE feed_labels (feed TEXT PRIMARY KEY, label TEXT NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """
    )


@migrations()
def m002_matching(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE dirty_days (day TEXT PRIMARY KEY);
        CREATE TABLE match_pairs (
            a_source TEXT NOT NULL, a_key TEXT NOT NULL,
            b_source TEXT NOT NULL, b_key TEXT NOT NULL,
            decision TEXT NOT NULL,
            total REAL NOT NULL,
            reason TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (a_source, a_key, b_source, b_key)
        );
        CREATE INDEX match_pairs_b ON match_pairs (b_source, b_key);
        CREATE INDEX match_pairs_review ON match_pairs (decision) WHERE decision = 'review';
        CREATE TABLE overrides (
            kind TEXT NOT NULL CHECK (kind IN ('merge', 'apart')),
            a_source TEXT NOT NULL, a_key TEXT NOT NULL,
            b_source TEXT NOT NULL, b_key TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (kind, a_source, a_key, b_source, b_key)
        );
        """
    )


@migrations()
def m003_feed_order_index(db: sqlite_utils.Database) -> None:
    db.execute("CREATE INDEX events_feed_order ON events (start_utc, id) WHERE removed_at IS NULL")


@dataclass(frozen=True, slots=True)
class HarvestOutcome:
    new: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    held: bool = False
    message: str = ""


@dataclass(frozen=True, slots=True)
class MemberRow:
    """A source event as the merge stage sees it."""

    source_id: str
    key: str
    event: Event
    priority: int
    first_seen: str
    removed: bool


@dataclass(frozen=True, slots=True)
class MatchMember:
    """A source event as the matcher sees it, with the event it belongs to now."""

    source_id: str
    key: str
    event_id: str | None
    event_created_at: str
    first_seen: str
    event: Event

    @property
    def ref(self) -> tuple[str, str]:
        return (self.source_id, self.key)


@dataclass(frozen=True, slots=True)
class EventRow:
    id: str
    created_at: str
    modified_at: str
    sequence: int
    content_hash: str
    removed: bool


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


def iso(value: datetime) -> str:
    """UTC as 2026-12-12T18:00:00Z (sortable as text)."""
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


class Store:
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

    def sync_sources(self, sources: Iterable[Any]) -> None:
        """Make the sources table match the configuration (keeps fetch state)."""
        with self.transaction():
            for source in sources:
                self.conn.execute(
                    """INSERT INTO sources (id, name, location, kind, priority)
                       VALUES (?, ?, ?, ?, ?)
                       ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                         location = excluded.location, kind = excluded.kind,
                         priority = excluded.priority""",
                    (source.id, source.name, source.location, source.kind, source.priority),
                )

    def fetch_state(self, source_id: str) -> FetchState:
        row = self.conn.execute(
            "SELECT etag, last_modified, fingerprint FROM sources WHERE id = ?", (source_id,)
        ).fetchone()
        if row is None:
            return FetchState()
        return FetchState(etag=row[0], last_modified=row[1], content_hash=row[2])

    def source_priorities(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT id, priority FROM sources").fetchall())

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
            held = not accept_shrink and is_collapse(upcoming_before, vanished_upcoming)
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
                   consecutive_failures = 0, last_attempt_at = ?, last_success_at = ?,
                   etag = ?, last_modified = ?, fingerprint = ? WHERE id = ?""",
                (
                    "held" if held else "ok",
                    message,
                    json.dumps([w.message for w in warnings], ensure_ascii=False),
                    active,
                    now_iso,
                    now_iso,
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

    # -- matching ------------------------------------------------------------------

    def mark_days_dirty(self, days: Iterable[str]) -> None:
        """UTC dates (YYYY-MM-DD) whose events must be matched again."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO dirty_days (day) VALUES (?)", [(d,) for d in days if d]
        )

    def dirty_days(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT day FROM dirty_days ORDER BY day")]

    def clear_dirty_days(self, days: Iterable[str]) -> None:
        with self.transaction():
            self.conn.executemany("DELETE FROM dirty_days WHERE day = ?", [(d,) for d in days])

    def members_starting_between(self, ranges: Sequence[tuple[str, str]]) -> list[MatchMember]:
        """Active source events starting in any [from, to) range, with their event's age."""
        members: list[MatchMember] = []
        for start, end in ranges:
            for source_id, key, event_id, created_at, first_seen, data in self.conn.execute(
                """SELECT s.source_id, s.key, s.event_id, e.created_at, s.first_seen, s.data
                   FROM source_events s LEFT JOIN events e ON e.id = s.event_id
                   WHERE s.removed_at IS NULL AND s.start_utc >= ? AND s.start_utc < ?
                   ORDER BY s.source_id, s.key""",
                (start, end),
            ):
                members.append(
                    MatchMember(
                        source_id,
                        key,
                        event_id,
                        created_at or "",
                        first_seen,
                        event_from_json(data),
                    )
                )
        return members

    def overrides(self) -> list[tuple[str, tuple[str, str], tuple[str, str]]]:
        return [
            (kind, (a_source, a_key), (b_source, b_key))
            for kind, a_source, a_key, b_source, b_key in self.conn.execute(
                "SELECT kind, a_source, a_key, b_source, b_key FROM overrides ORDER BY rowid"
            )
        ]

    def add_overrides(
        self, kind: str, pairs: Iterable[tuple[tuple[str, str], tuple[str, str]]], now: datetime
    ) -> None:
        """Record a moderator's merge or keep-apart; the opposite order is replaced."""
        with self.transaction():
            for a, b in pairs:
                a, b = min(a, b), max(a, b)
                other = "apart" if kind == "merge" else "merge"
                self.conn.execute(
                    """DELETE FROM overrides WHERE kind = ? AND a_source = ? AND a_key = ?
                       AND b_source = ? AND b_key = ?""",
                    (other, *a, *b),
                )
                self.conn.execute(
                    "INSERT OR REPLACE INTO overrides VALUES (?, ?, ?, ?, ?, ?)",
                    (kind, *a, *b, iso(now)),
                )

    def save_match_pairs(
        self,
        members: Sequence[tuple[str, str]],
        pairs: Sequence[tuple[tuple[str, str], tuple[str, str], str, float, str]],
        now: datetime,
    ) -> None:
        """Replace the remembered scores of the re-matched members (why they merged, or not)."""
        with self.transaction():
            self.conn.executemany(
                "DELETE FROM match_pairs WHERE a_source = ? AND a_key = ?", list(members)
            )
            self.conn.executemany(
                "DELETE FROM match_pairs WHERE b_source = ? AND b_key = ?", list(members)
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO match_pairs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (*a, *b, decision, total, reason, iso(now))
                    for a, b, decision, total, reason in pairs
                ],
            )

    def match_pairs_of(self, members: Sequence[tuple[str, str]]) -> list[tuple[str, ...]]:
        """(a_source, a_key, b_source, b_key, decision, total, reason) touching these members."""
        wanted = set(members)
        rows = []
        for member in wanted:
            rows += self.conn.execute(
                """SELECT a_source, a_key, b_source, b_key, decision, total, reason FROM match_pairs
                   WHERE (a_source = ? AND a_key = ?) OR (b_source = ? AND b_key = ?)""",
                (*member, *member),
            ).fetchall()
        return sorted(set(rows))

    def review_pairs(self) -> list[tuple[str, str, str, str, float, str, str, str]]:
        """Undecided pairs whose events are still apart: (event a, title a, event b, title b,
        score, reason, a member, b member)."""
        return self.conn.execute(
            """SELECT sa.event_id, json_extract(sa.data, '$.title'), sb.event_id,
                      json_extract(sb.data, '$.title'), p.total, p.reason,
                      sa.source_id || ':' || sa.key, sb.source_id || ':' || sb.key
               FROM match_pairs p
               JOIN source_events sa ON sa.source_id = p.a_source AND sa.key = p.a_key
               JOIN source_events sb ON sb.source_id = p.b_source AND sb.key = p.b_key
               WHERE p.decision = 'review' AND sa.removed_at IS NULL AND sb.removed_at IS NULL
                 AND sa.event_id != sb.event_id
                 AND NOT EXISTS (SELECT 1 FROM overrides o WHERE o.a_source = p.a_source
                      AND o.a_key = p.a_key AND o.b_source = p.b_source AND o.b_key = p.b_key)
               ORDER BY sa.start_utc, p.total DESC"""
        ).fetchall()

    def active_members_of(self, event_id: str) -> list[tuple[str, str, str, str]]:
        """(source_id, key, start_utc, data) of an event's active members."""
        return self.conn.execute(
            """SELECT source_id, key, start_utc, data FROM source_events
               WHERE event_id = ? AND removed_at IS NULL ORDER BY source_id, key""",
            (event_id,),
        ).fetchall()

    def recently_removed(self, source_ids: Iterable[str], since: datetime) -> list[MatchMember]:
        """Members of these sources tombstoned since ``since``: a re-keyed event's old self."""
        members: list[MatchMember] = []
        for source_id in set(source_ids):
            for key, event_id, first_seen, data in self.conn.execute(
                """SELECT key, event_id, first_seen, data FROM source_events
                   WHERE source_id = ? AND removed_at >= ? AND event_id IS NOT NULL
                   ORDER BY key""",
                (source_id, iso(since)),
            ):
                members.append(
                    MatchMember(source_id, key, event_id, "", first_seen, event_from_json(data))
                )
        return members

    # -- identity ----------------------------------------------------------------

    def unassigned_members(self) -> list[tuple[str, str, str]]:
        """(source_id, key, uid) of active source events that belong to no event yet."""
        return self.conn.execute(
            "SELECT source_id, key, uid FROM source_events WHERE event_id IS NULL AND removed_at IS NULL"
        ).fetchall()

    def member_events(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Event]:
        result = {}
        for source_id, key in refs:
            row = self.conn.execute(
                "SELECT data FROM source_events WHERE source_id = ? AND key = ?", (source_id, key)
            ).fetchone()
            if row:
                result[(source_id, key)] = event_from_json(row[0])
        return result

    def event_ids_by_uid(self, uids: Iterable[str]) -> dict[str, str]:
        """For each uid, the oldest event it already belongs to."""
        result: dict[str, str] = {}
        uid_list = [u for u in set(uids) if u]
        for chunk_start in range(0, len(uid_list), 500):
            chunk = uid_list[chunk_start : chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            for uid, event_id in self.conn.execute(
                f"""SELECT s.uid, s.event_id FROM source_events s JOIN events e ON e.id = s.event_id
                    WHERE s.uid != '' AND s.uid IN ({marks})
                    ORDER BY e.created_at DESC, e.id DESC""",
                chunk,
            ):
                result[uid] = event_id
        return result

    def event_id_of(self, ref: tuple[str, str]) -> str | None:
        row = self.conn.execute(
            "SELECT event_id FROM source_events WHERE source_id = ? AND key = ?", ref
        ).fetchone()
        return row[0] if row else None

    def assign_members(
        self, assignments: Sequence[tuple[str, str, str]], now: datetime, *, moving: bool = True
    ) -> None:
        """Attach (source_id, key) to event ids; the events members leave (when ``moving``)
        and join are both re-merged. A new id gets its events row when first merged."""
        with self.transaction():
            if moving:
                self.conn.executemany(
                    """UPDATE events SET dirty = 1 WHERE id = (
                         SELECT event_id FROM source_events WHERE source_id = ? AND key = ?)""",
                    [(source_id, key) for source_id, key, _ in assignments],
                )
            self.conn.executemany(
                "UPDATE events SET dirty = 1 WHERE id = ?",
                [(event_id,) for event_id in sorted({a[2] for a in assignments})],
            )
            self.conn.executemany(
                "UPDATE source_events SET event_id = ? WHERE source_id = ? AND key = ?",
                [(event_id, source_id, key) for source_id, key, event_id in assignments],
            )

    def dirty_event_ids(self) -> list[str]:
        """Events to re-merge: flagged ones, and ids members point at that have no row yet."""
        return [
            r[0]
            for r in self.conn.execute(
                """SELECT id FROM events WHERE dirty = 1
                   UNION
                   SELECT DISTINCT s.event_id FROM source_events s
                   WHERE s.event_id IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = s.event_id)
                   ORDER BY 1"""
            )
        ]

    def id_in_use(self, event_id: str) -> bool:
        return (
            self.conn.execute(
                """SELECT 1 WHERE EXISTS (SELECT 1 FROM events WHERE id = ?)
                   OR EXISTS (SELECT 1 FROM source_events WHERE event_id = ?)""",
                (event_id, event_id),
            ).fetchone()
            is not None
        )

    def members_of(
        self,
        event_ids: Sequence[str],
        parsed: Mapping[tuple[str, str], Event] | None = None,
    ) -> dict[str, list[MemberRow]]:
        """Each event's members (removed ones too); ``parsed`` spares re-reading their JSON."""
        parsed = parsed or {}
        result: dict[str, list[MemberRow]] = {event_id: [] for event_id in event_ids}
        for chunk_start in range(0, len(event_ids), 500):
            chunk = list(event_ids[chunk_start : chunk_start + 500])
            marks = ",".join("?" * len(chunk))
            for (
                event_id,
                source_id,
                key,
                data,
                first_seen,
                removed_at,
                priority,
            ) in self.conn.execute(
                f"""SELECT s.event_id, s.source_id, s.key, s.data, s.first_seen, s.removed_at,
                    COALESCE(src.priority, 0)
                    FROM source_events s LEFT JOIN sources src ON src.id = s.source_id
                    WHERE s.event_id IN ({marks})""",
                chunk,
            ):
                result[event_id].append(
                    MemberRow(
                        source_id,
                        key,
                        parsed.get((source_id, key)) or event_from_json(data),
                        priority,
                        first_seen,
                        removed_at is not None,
                    )
                )
        return result

    def event_rows(self, event_ids: Sequence[str]) -> dict[str, EventRow]:
        rows: dict[str, EventRow] = {}
        for chunk_start in range(0, len(event_ids), 500):
            chunk = list(event_ids[chunk_start : chunk_start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"""SELECT id, created_at, modified_at, sequence, content_hash, removed_at
                    FROM events WHERE id IN ({marks})""",
                chunk,
            ):
                rows[row[0]] = EventRow(row[0], row[1], row[2], row[3], row[4], row[5] is not None)
        return rows

    def save_merged(self, updates: Sequence[MergedUpdate], now: datetime) -> None:
        """Write merged content for events whose published content changed, clear dirty flags."""
        now_iso = iso(now)
        with self.transaction():
            changed = [u for u in updates if u.changed]
            self.conn.executemany(
                """INSERT INTO events (created_at, modified_at, sequence, content_hash, start_utc,
                     end_utc, status, data, removed_at, dirty, ics, rss, json_item, render_key, id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET modified_at = excluded.modified_at,
                     sequence = excluded.sequence, content_hash = excluded.content_hash,
                     start_utc = excluded.start_utc, end_utc = excluded.end_utc,
                     status = excluded.status, data = excluded.data,
                     removed_at = excluded.removed_at, dirty = 0, ics = excluded.ics,
                     rss = excluded.rss, json_item = excluded.json_item,
                     render_key = excluded.render_key""",
                [
                    (
                        u.created_at or now_iso,
                        u.modified_at,
                        u.sequence,
                        u.content_hash,
                        u.start_utc,
                        u.end_utc,
                        u.status,
                        u.data,
                        now_iso if u.removed else None,
                        *u.fragments,
                        u.render_key,
                        u.id,
                    )
                    for u in changed
                ],
            )
            self.conn.executemany(
                "UPDATE events SET dirty = 0 WHERE id = ?",
                [(u.id,) for u in updates if not u.changed],
            )
            self.conn.executemany(
                "DELETE FROM event_feeds WHERE event_id = ?",
                [(u.id,) for u in changed if u.had_content],
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO event_feeds (feed, start_utc, event_id) VALUES (?, ?, ?)",
                [(feed, u.start_utc, u.id) for u in changed if not u.removed for feed in u.feeds],
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO feed_labels (feed, label) VALUES (?, ?)",
                sorted({label for u in changed if not u.removed for label in u.feed_labels}),
            )
            if changed:
                self._bump_data_version()

    # -- publishing ----------------------------------------------------------------

    def events_needing_render(self, render_key: str) -> list[tuple[str, str, str, str, int]]:
        """(id, data, created_at, modified_at, sequence) of active events not rendered for render_key."""
        return self.conn.execute(
            """SELECT id, data, created_at, modified_at, sequence FROM events
               WHERE removed_at IS NULL AND render_key != ?""",
            (render_key,),
        ).fetchall()

    def save_renders(self, renders: Sequence[tuple[str, str, str, str]], render_key: str) -> None:
        with self.transaction():
            self.conn.executemany(
                "UPDATE events SET ics = ?, rss = ?, json_item = ?, render_key = ? WHERE id = ?",
                [(ics, rss, item, render_key, event_id) for event_id, ics, rss, item in renders],
            )

    def feed_names(self) -> list[str]:
        return [
            r[0] for r in self.conn.execute("SELECT DISTINCT feed FROM event_feeds ORDER BY feed")
        ]

    def feed_labels(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT feed, label FROM feed_labels").fetchall())

    def iter_feed_fragments(
        self, feed: str | None, window_start: datetime
    ) -> Iterator[tuple[str, str, str]]:
        """(ics, rss, json_item) of a feed's events in feed order, lazily (one read per row)."""
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


@dataclass(frozen=True, slots=True)
class MergedUpdate:
    id: str
    changed: bool
    removed: bool = False
    modified_at: str = ""
    sequence: int = 0
    content_hash: str = ""
    start_utc: str = ""
    end_utc: str = ""
    status: str = ""
    data: str = ""
    feeds: tuple[str, ...] = ()
    feed_labels: tuple[tuple[str, str], ...] = ()
    created_at: str = ""
    event: Event | None = None  # the merged event, for rendering
    sources: tuple[tuple[str, str], ...] = ()
    fragments: tuple[str, str, str] = ("", "", "")  # ics, rss, json item
    render_key: str = ""
    had_content: bool = True


def is_collapse(upcoming_before: int, vanished_upcoming: int) -> bool:
    """A sudden collapse: at least 5 upcoming events and more than half of them gone at once."""
    return upcoming_before >= 5 and vanished_upcoming * 2 > upcoming_before


def content_digest(data: str) -> str:
    return hashlib.blake2b(data.encode(), digest_size=16).hexdigest()


def event_span(event: Event) -> tuple[str, str]:
    """Sortable UTC start and end strings; all-day dates as midnight UTC."""
    start = _as_instant(event.start)
    end = _as_instant(event.end) if event.end is not None else start
    return iso(start), iso(max(start, end))


def _as_instant(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _time_to_json(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return iso(value)
    return value.isoformat()


def _time_from_json(value: str | None) -> datetime | date | None:
    if value is None:
        return None
    if len(value) == 10:
        return date.fromisoformat(value)
    return parse_iso(value)


def event_to_json(event: Event) -> str:
    return json.dumps(event_to_dict(event), ensure_ascii=False, separators=(",", ":"))


def event_to_dict(event: Event) -> dict[str, Any]:
    place = event.place
    return {
        "source_id": event.source_id,
        "key": event.key,
        "title": event.title,
        "start": _time_to_json(event.start),
        "end": _time_to_json(event.end),
        "all_day": event.all_day,
        "timezone": event.timezone,
        "status": event.status,
        "description": event.description,
        "description_html": event.description_html,
        "url": event.url,
        "place": [
            place.name,
            place.street,
            place.locality,
            place.municipality,
            place.latitude,
            place.longitude,
        ],
        "location_text": event.location_text,
        "categories": list(event.categories),
        "organizer_name": event.organizer_name,
        "organizer_url": event.organizer_url,
        "image": event.image,
        "uid": event.uid,
    }


def event_from_json(data: str) -> Event:
    d = json.loads(data)
    start = _time_from_json(d["start"])
    assert start is not None
    return Event(
        source_id=d["source_id"],
        key=d["key"],
        title=d["title"],
        start=start,
        end=_time_from_json(d["end"]),
        all_day=d["all_day"],
        timezone=d["timezone"],
        status=d["status"],
        description=d["description"],
        description_html=d["description_html"],
        url=d["url"],
        place=Place(*d["place"]),
        location_text=d["location_text"],
        categories=tuple(d["categories"]),
        organizer_name=d["organizer_name"],
        organizer_url=d["organizer_url"],
        image=d["image"],
        uid=d["uid"],
    )
