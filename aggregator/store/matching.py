"""The store's queries for the dedupe stage: matching, moderator overrides and identity.

``MatchingQueries`` is a mixin that ``Store`` inherits. The merged events the stage
decides are written by ``events.save_merged``; what moderators read is in ``moderation``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aggregator.model import Event, OverrideKind
from aggregator.store.base import StoreBase
from aggregator.store.codec import event_from_json, iso
from aggregator.store.rows import MatchPair, MemberRef


@dataclass(frozen=True, slots=True)
class Assignment:
    """Source event (source_id, key) belongs to event ``event_id`` from now on."""

    source_id: str
    key: str
    event_id: str


@dataclass(frozen=True, slots=True)
class Override:
    """A moderator's decision about two source events: merge them, or keep them apart."""

    kind: OverrideKind
    a: MemberRef
    b: MemberRef


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
    def ref(self) -> MemberRef:
        return (self.source_id, self.key)


@dataclass(frozen=True, slots=True)
class EventRow:
    id: str
    created_at: str
    modified_at: str
    sequence: int
    content_hash: str
    removed: bool


class MatchingQueries(StoreBase):
    """Reads and writes over ``source_events``, ``dirty_days``, ``match_pairs`` and
    ``overrides`` for the dedupe stage."""

    # -- matching ------------------------------------------------------------------

    def mark_days_dirty(self, days: Iterable[str]) -> None:
        """UTC dates (YYYY-MM-DD) whose events must be matched again."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO dirty_days (day) VALUES (?)", [(d,) for d in days if d]
        )

    def dirty_days(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT day FROM dirty_days ORDER BY day")]

    def active_members_per_day(self) -> dict[str, int]:
        """How many active source events start on each UTC date (YYYY-MM-DD): the matcher
        sizes its batches of days by it."""
        return dict(
            self.conn.execute(
                """SELECT substr(start_utc, 1, 10), count(*) FROM source_events
                   WHERE removed_at IS NULL GROUP BY 1"""
            ).fetchall()
        )

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
            Override(OverrideKind(kind), (a_source, a_key), (b_source, b_key))
            for kind, a_source, a_key, b_source, b_key in self.conn.execute(
                "SELECT kind, a_source, a_key, b_source, b_key FROM overrides ORDER BY rowid"
            )
        ]

    def add_overrides(
        self, kind: OverrideKind, pairs: Iterable[tuple[MemberRef, MemberRef]], now: datetime
    ) -> None:
        """Record a moderator's merge or keep-apart; the opposite order is replaced."""
        with self.transaction():
            for a, b in pairs:
                a, b = min(a, b), max(a, b)
                other = OverrideKind.APART if kind is OverrideKind.MERGE else OverrideKind.MERGE
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
        self, members: Sequence[MemberRef], pairs: Sequence[MatchPair], now: datetime
    ) -> None:
        """Replace the remembered scores (why they merged, or not) of the pairs the matcher
        just looked at again: both members among ``members``. A pair with a member outside
        them (the day before a batch of days) keeps its score, unless that member is gone."""
        with self.transaction():
            self.conn.execute(
                """CREATE TEMP TABLE IF NOT EXISTS rematched (
                     source_id TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (source_id, key)
                   ) WITHOUT ROWID"""
            )
            self.conn.execute("DELETE FROM temp.rematched")
            self.conn.executemany(
                "INSERT OR IGNORE INTO temp.rematched VALUES (?, ?)", list(members)
            )
            self.conn.execute(
                """DELETE FROM match_pairs
                   WHERE ((a_source, a_key) IN (SELECT * FROM temp.rematched)
                          AND ((b_source, b_key) IN (SELECT * FROM temp.rematched) OR NOT EXISTS (
                            SELECT 1 FROM source_events s WHERE s.source_id = b_source
                              AND s.key = b_key AND s.removed_at IS NULL)))
                      OR ((b_source, b_key) IN (SELECT * FROM temp.rematched) AND NOT EXISTS (
                            SELECT 1 FROM source_events s WHERE s.source_id = a_source
                              AND s.key = a_key AND s.removed_at IS NULL))"""
            )
            self.conn.execute("DELETE FROM temp.rematched")
            self.conn.executemany(
                "INSERT OR REPLACE INTO match_pairs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        p.a_source,
                        p.a_key,
                        p.b_source,
                        p.b_key,
                        p.decision,
                        p.total,
                        p.reason,
                        iso(now),
                    )
                    for p in pairs
                ],
            )

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

    def unassigned_members(self) -> list[MemberRef]:
        """Active source events that belong to no event yet."""
        return [
            (source_id, key)
            for source_id, key in self.conn.execute(
                """SELECT source_id, key FROM source_events
                   WHERE event_id IS NULL AND removed_at IS NULL"""
            )
        ]

    def member_events(self, refs: Sequence[MemberRef]) -> dict[MemberRef, Event]:
        result = {}
        for source_id, key in refs:
            row = self.conn.execute(
                "SELECT data FROM source_events WHERE source_id = ? AND key = ?", (source_id, key)
            ).fetchone()
            if row:
                result[(source_id, key)] = event_from_json(row[0])
        return result

    def event_id_of(self, ref: MemberRef) -> str | None:
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

    def merge_pending(self) -> bool:
        """Whether the dedupe stage has anything to do: members without an event, days to
        match again, events to re-merge (a run that changed nothing skips the stage)."""
        return (
            self.conn.execute(
                """SELECT EXISTS (SELECT 1 FROM source_events
                                  WHERE event_id IS NULL AND removed_at IS NULL)
                       OR EXISTS (SELECT 1 FROM dirty_days)
                       OR EXISTS (SELECT 1 FROM events WHERE dirty = 1)
                       OR EXISTS (SELECT 1 FROM pending_events)"""
            ).fetchone()[0]
            == 1
        )

    def dirty_event_ids(self) -> list[str]:
        """Events to re-merge: flagged ones, and ids members point at that have no row yet
        (``pending_events``, kept by triggers)."""
        return [
            r[0]
            for r in self.conn.execute(
                """SELECT id FROM events WHERE dirty = 1
                   UNION
                   SELECT id FROM pending_events
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

    def members_of(self, event_ids: Sequence[str]) -> dict[str, list[MemberRow]]:
        """Each event's members (removed ones too)."""
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
                        event_from_json(data),
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
