"""The store's queries for the dedupe stage: matching, moderator overrides, identity and
the merged events it decides.

``MatchingQueries`` is a mixin that ``Store`` inherits; it relies on the connection and
the transaction helper ``Store`` provides. The rows it hands out and takes in are the
typed records below; rendering (fragments, feed membership) is the publish stage's and
lives in ``store.feeds``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aggregator.model import Event
from aggregator.store.codec import event_from_json, iso

Ref = tuple[str, str]  # (source_id, key): one harvested source event

REMOVED = "removed"  # content hash (and status) of an event with no active members


@dataclass(frozen=True, slots=True)
class Unassigned:
    """An active source event that belongs to no event yet, with its publisher UID."""

    source_id: str
    key: str
    uid: str

    @property
    def ref(self) -> Ref:
        return (self.source_id, self.key)


@dataclass(frozen=True, slots=True)
class Assignment:
    """Source event (source_id, key) belongs to event ``event_id`` from now on."""

    source_id: str
    key: str
    event_id: str


@dataclass(frozen=True, slots=True)
class Override:
    """A moderator's decision about two source events: ``merge`` or keep ``apart``."""

    kind: str
    a: Ref
    b: Ref


@dataclass(frozen=True, slots=True)
class PairRecord:
    """Why two source events were merged or sent to review: the score behind a decision."""

    a: Ref
    b: Ref
    decision: str  # merged | review
    total: float
    reason: str


@dataclass(frozen=True, slots=True)
class Revision:
    """A published event's life: when it appeared, when its content last changed, and the
    iCalendar SEQUENCE that tells subscribers' calendars to take the change."""

    created_at: str
    modified_at: str
    sequence: int


@dataclass(frozen=True, slots=True)
class EventContent:
    """What a merged event publishes, as stored: canonical JSON and the columns read from it."""

    data: str
    content_hash: str
    start_utc: str
    end_utc: str
    status: str


@dataclass(frozen=True, slots=True)
class MergedRecord:
    """A merged event whose content changed: its new revision and content, or ``content``
    None when no active member is left (the event is removed from the feeds)."""

    id: str
    revision: Revision
    content: EventContent | None
    was_published: bool  # it had content before, so its feed memberships are stale now

    @property
    def removed(self) -> bool:
        return self.content is None


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
    priority: int = 0

    @property
    def ref(self) -> Ref:
        return (self.source_id, self.key)


@dataclass(frozen=True, slots=True)
class EventRow:
    id: str
    created_at: str
    modified_at: str
    sequence: int
    content_hash: str
    removed: bool


class MatchingQueries:
    """Mixed into ``Store``, which provides ``conn`` and ``transaction``."""

    conn: sqlite3.Connection

    if TYPE_CHECKING:

        def transaction(self) -> AbstractContextManager[None]: ...

        def _bump_data_version(self) -> None: ...

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
            for (
                source_id,
                key,
                event_id,
                created_at,
                first_seen,
                data,
                priority,
            ) in self.conn.execute(
                """SELECT s.source_id, s.key, s.event_id, e.created_at, s.first_seen, s.data,
                          COALESCE(src.priority, 0)
                   FROM source_events s LEFT JOIN events e ON e.id = s.event_id
                   LEFT JOIN sources src ON src.id = s.source_id
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
                        priority,
                    )
                )
        return members

    def overrides(self) -> list[Override]:
        return [
            Override(kind, (a_source, a_key), (b_source, b_key))
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
        self, members: Sequence[Ref], pairs: Sequence[PairRecord], now: datetime
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
                [(*p.a, *p.b, p.decision, p.total, p.reason, iso(now)) for p in pairs],
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

    def unassigned_members(self) -> list[Unassigned]:
        """Active source events that belong to no event yet."""
        return [
            Unassigned(*row)
            for row in self.conn.execute(
                """SELECT source_id, key, uid FROM source_events
                   WHERE event_id IS NULL AND removed_at IS NULL"""
            )
        ]

    def member_events(self, refs: Sequence[Ref]) -> dict[Ref, Event]:
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

    def event_id_of(self, ref: Ref) -> str | None:
        row = self.conn.execute(
            "SELECT event_id FROM source_events WHERE source_id = ? AND key = ?", ref
        ).fetchone()
        return row[0] if row else None

    def assign_members(self, assignments: Sequence[Assignment], *, moving: bool = True) -> None:
        """Attach source events to event ids; the events members leave (when ``moving``)
        and join are both re-merged. A new id gets its events row when first merged."""
        with self.transaction():
            if moving:
                self.conn.executemany(
                    """UPDATE events SET dirty = 1 WHERE id = (
                         SELECT event_id FROM source_events WHERE source_id = ? AND key = ?)""",
                    [(a.source_id, a.key) for a in assignments],
                )
            self.conn.executemany(
                "UPDATE events SET dirty = 1 WHERE id = ?",
                [(event_id,) for event_id in sorted({a.event_id for a in assignments})],
            )
            self.conn.executemany(
                "UPDATE source_events SET event_id = ? WHERE source_id = ? AND key = ?",
                [(a.event_id, a.source_id, a.key) for a in assignments],
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
        self, event_ids: Sequence[str], parsed: Mapping[Ref, Event] | None = None
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

    def save_merged(
        self, records: Sequence[MergedRecord], unchanged: Sequence[str], now: datetime
    ) -> None:
        """Write the merged events whose content changed and clear every dirty flag.

        A changed event is left unrendered (``render_key`` ''), and its feed memberships
        are dropped: the publish stage renders it and records its feeds again.
        """
        now_iso = iso(now)
        gone = EventContent("{}", REMOVED, "", "", REMOVED)
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
                [
                    (
                        r.revision.created_at or now_iso,
                        r.revision.modified_at,
                        r.revision.sequence,
                        (r.content or gone).content_hash,
                        (r.content or gone).start_utc,
                        (r.content or gone).end_utc,
                        (r.content or gone).status,
                        (r.content or gone).data,
                        now_iso if r.removed else None,
                        r.id,
                    )
                    for r in records
                ],
            )
            self.conn.executemany(
                "UPDATE events SET dirty = 0 WHERE id = ?", [(i,) for i in unchanged]
            )
            self.conn.executemany(
                "DELETE FROM event_feeds WHERE event_id = ?",
                [(r.id,) for r in records if r.was_published],
            )
            if records:
                self._bump_data_version()
