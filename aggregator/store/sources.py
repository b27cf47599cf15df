"""Sources and their harvests: configuration sync, fetch state, health, storing a harvest.

A harvest is one transaction: a failure changes nothing stored. What a harvest may do
to a source's events is decided by ``decide.decide_harvest``; ``apply_harvest`` only
carries the decision out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aggregator.model import Event, FetchState, HarvestWarning, Outcome, Source, SourceStatus
from aggregator.store.base import StoreBase
from aggregator.store.codec import (
    checked_iso,
    content_digest,
    event_span,
    event_to_json,
    iso,
    json_value,
)
from aggregator.store.decide import Decision, IncomingVersion, StoredVersion, decide_harvest
from aggregator.store.rows import HarvestOutcome, SourceHealth


class SourceQueries(StoreBase):
    """The ``sources``, ``fetch_log`` and ``source_events`` tables, as harvests write them."""

    if TYPE_CHECKING:  # from MatchingQueries, mixed into Store beside this class

        def mark_days_dirty(self, days: Iterable[str]) -> None: ...

    def sync_sources(self, sources: Iterable[Source], now: datetime | None = None) -> list[str]:
        """Make the sources table match the configuration (keeps fetch state).

        With ``now``, sources no longer configured are retired: their events are
        tombstoned (and so leave the feeds) and the source row is deleted. Returns their ids.

        A source whose address changed starts afresh: no ETag or Last-Modified of the old
        address is sent to the new one, and the old address's run of failures (its
        backoff, a pause for failing, a Retry-After of another host) no longer holds it
        back. A source a moderator paused keeps no events in the feeds.
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
            located = dict(self.conn.execute("SELECT id, location FROM sources").fetchall())
            for source in sources:
                before = located.get(source.id)
                if before is not None and before != source.location:
                    self._moved(source.id, before, source.location)
                self.conn.execute(
                    """INSERT INTO sources (id, name, location, kind, priority)
                       VALUES (?, ?, ?, ?, ?)
                       ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                         location = excluded.location, kind = excluded.kind,
                         priority = excluded.priority""",
                    (source.id, source.name, source.location, source.kind, source.priority),
                )
            if now is not None:
                self._hide_paused_events(now)
        return retired

    def _moved(self, source_id: str, before: str, after: str) -> None:
        """(in a transaction) A new address: forget the old one's validators, and a pause
        for failing. On another host its run of failures is forgotten too; on the same
        host the server's Retry-After and our backoff stand (they are the host's), and a
        new run of failures counts from the last attempt."""
        lifted = "status = 'paused' AND pause_reason = 'failing'"
        if _host(before) != "" and _host(before) == _host(after):
            self.conn.execute(
                f"""UPDATE sources SET etag = NULL, last_modified = NULL,
                     status = CASE WHEN {lifted} THEN 'failed' ELSE status END,
                     message = CASE WHEN {lifted} THEN '' ELSE message END,
                     paused_at = CASE WHEN {lifted} THEN NULL ELSE paused_at END,
                     pause_reason = CASE WHEN {lifted} THEN '' ELSE pause_reason END,
                     failing_since = CASE WHEN consecutive_failures > 0
                                     THEN last_attempt_at END
                   WHERE id = ?""",
                (source_id,),
            )
            return
        self.conn.execute(
            f"""UPDATE sources SET etag = NULL, last_modified = NULL,
                 status = CASE WHEN status = 'failed' OR ({lifted}) THEN 'never'
                               ELSE status END,
                 message = CASE WHEN status = 'failed' OR ({lifted}) THEN '' ELSE message END,
                 paused_at = CASE WHEN {lifted} THEN NULL ELSE paused_at END,
                 pause_reason = CASE WHEN {lifted} THEN '' ELSE pause_reason END,
                 consecutive_failures = 0, failing_since = NULL, retry_at = NULL,
                 retry_reason = '', server_retry_at = NULL
               WHERE id = ?""",
            (source_id,),
        )

    def _hide_paused_events(self, now: datetime) -> int:
        """(in a transaction) Tombstone the live events of sources a moderator paused (a
        harvest that was already running when the pause came may have stored some)."""
        paused = [
            row[0]
            for row in self.conn.execute(
                """SELECT s.id FROM sources s WHERE s.status = 'paused'
                     AND s.pause_reason = 'moderator' AND EXISTS (
                       SELECT 1 FROM source_events e
                       WHERE e.source_id = s.id AND e.removed_at IS NULL)"""
            )
        ]
        return sum(self._hide_events(source_id, now) for source_id in paused)

    def _hide_events(self, source_id: str, now: datetime) -> int:
        """(in a transaction) Tombstone every live event of a source, so it leaves the
        feeds at the next publish; the rows stay (a harvest brings them back)."""
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
        if rows:
            self._bump_data_version()
        return len(rows)

    def _retire_source(self, source_id: str, now: datetime) -> None:
        count = self._hide_events(source_id, now)
        self.conn.execute("DELETE FROM sources WHERE id = ?", (source_id,))
        self._log(source_id, now, Outcome.RETIRED, None, None, count, "removed from sources.yaml")

    def fetch_state(self, source_id: str) -> FetchState:
        row = self.conn.execute(
            "SELECT etag, last_modified, fingerprint FROM sources WHERE id = ?", (source_id,)
        ).fetchone()
        if row is None:
            return FetchState()
        return FetchState(etag=row[0], last_modified=row[1], content_hash=row[2])

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
        """The source sends what was last stored (a 304, or the same bytes)."""
        with self.transaction():
            self.conn.execute(
                """UPDATE sources SET status = CASE WHEN status = 'held' THEN 'held'
                     WHEN status = 'paused' AND pause_reason = 'moderator' THEN status
                     ELSE 'ok' END,
                   message = CASE WHEN status = 'held'
                     OR (status = 'paused' AND pause_reason = 'moderator')
                     THEN message ELSE '' END,
                   last_attempt_at = ?, last_success_at = ?, consecutive_failures = 0,
                   etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified)
                   WHERE id = ?""",
                (iso(now), iso(now), etag, last_modified, source_id),
            )
            self._log(source_id, now, Outcome.UNCHANGED, http_status, duration_ms, None, "")

    def _log(
        self,
        source_id: str,
        now: datetime,
        outcome: Outcome,
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
            old = {
                key: StoredVersion(content_hash, removed_at is not None, start_utc, end_utc)
                for key, content_hash, removed_at, start_utc, end_utc in self.conn.execute(
                    """SELECT key, content_hash, removed_at, start_utc, end_utc
                       FROM source_events WHERE source_id = ?""",
                    (source_id,),
                )
            }
            incoming: dict[str, tuple[Event, str]] = {}
            new: dict[str, IncomingVersion] = {}
            for event in events:
                data = event_to_json(event)
                incoming[event.key] = (event, data)
                new[event.key] = IncomingVersion(content_digest(data), *event_span(event))
            decision = decide_harvest(old, new, now=now_iso, accept_shrink=accept_shrink)
            self.conn.executemany(
                """INSERT INTO source_events (source_id, key, uid, start_utc, end_utc, content_hash, data,
                   first_seen, last_seen, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    (
                        source_id,
                        key,
                        incoming[key][0].uid,
                        new[key].start_utc,
                        new[key].end_utc,
                        new[key].content_hash,
                        incoming[key][1],
                        now_iso,
                        now_iso,
                        now_iso,
                    )
                    for key in decision.insert
                ],
            )
            self.conn.executemany(
                """UPDATE source_events SET uid = ?, start_utc = ?, end_utc = ?, content_hash = ?, data = ?,
                   last_seen = ?, changed_at = ?, removed_at = NULL WHERE source_id = ? AND key = ?""",
                [
                    (
                        incoming[key][0].uid,
                        new[key].start_utc,
                        new[key].end_utc,
                        new[key].content_hash,
                        incoming[key][1],
                        now_iso,
                        now_iso,
                        source_id,
                        key,
                    )
                    for key in decision.update
                ],
            )
            self.conn.executemany(
                "UPDATE source_events SET removed_at = ?, changed_at = ? WHERE source_id = ? AND key = ?",
                [(now_iso, now_iso, source_id, key) for key in decision.tombstone],
            )
            touched = [*decision.update, *decision.tombstone]
            self._mark_events_dirty(source_id, touched)
            days = {new[key].start_utc[:10] for key in (*decision.insert, *decision.update)}
            days |= {old[key].start_utc[:10] for key in touched}
            self.mark_days_dirty(days)
            self._record_harvest(
                source_id,
                now,
                decision,
                warnings,
                event_count=len(incoming) + len(decision.kept),
                validators=(etag, last_modified, fingerprint),
            )
            self._log(
                source_id,
                now,
                decision.outcome,
                http_status,
                duration_ms,
                len(incoming),
                decision.message,
            )
            if decision.insert or decision.update or decision.tombstone:
                self._bump_data_version()
        return HarvestOutcome(
            outcome=decision.outcome,
            new=len(decision.insert),
            changed=len(decision.update),
            removed=len(decision.tombstone),
            unchanged=decision.unchanged,
            message=decision.message,
        )

    def _record_harvest(
        self,
        source_id: str,
        now: datetime,
        decision: Decision,
        warnings: Sequence[HarvestWarning],
        *,
        event_count: int,
        validators: tuple[str | None, str | None, str | None],
    ) -> None:
        """The source's health after a harvest.

        A held harvest is not a success yet, and stores no validators: with the new
        calendar's ETag the next request would get a 304 and ``--accept-shrink`` could
        never take effect; with the old one, a 304 for the restored calendar would skip
        undoing what the held harvest changed. So the next request is unconditional.
        """
        etag, last_modified, fingerprint = (None, None, None) if decision.held else validators
        now_iso = iso(now)
        self.conn.execute(
            """UPDATE sources SET
               status = CASE WHEN status = 'paused' AND pause_reason = 'moderator'
                 THEN status ELSE ? END,
               message = CASE WHEN status = 'paused' AND pause_reason = 'moderator'
                 THEN message ELSE ? END,
               warnings = ?, event_count = ?,
               consecutive_failures = 0, last_attempt_at = ?,
               last_success_at = COALESCE(?, last_success_at),
               etag = ?, last_modified = ?, fingerprint = ? WHERE id = ?""",
            (
                SourceStatus.HELD if decision.held else SourceStatus.OK,
                decision.message,
                json.dumps([w.message for w in warnings], ensure_ascii=False),
                event_count,
                now_iso,
                None if decision.held else now_iso,
                etag,
                last_modified,
                fingerprint,
                source_id,
            ),
        )

    def source_health(self) -> list[SourceHealth]:
        rows = self.conn.execute(
            """SELECT id, name, location, kind, status, message, event_count, warnings,
               consecutive_failures, last_attempt_at, last_success_at FROM sources ORDER BY id"""
        ).fetchall()
        return [
            SourceHealth(
                id=r[0],
                name=r[1],
                location=r[2],
                kind=r[3],
                status=SourceStatus(r[4]),
                message=r[5],
                event_count=r[6],
                warnings=tuple(json_value(r[7])),
                consecutive_failures=r[8],
                last_attempt_at=checked_iso(r[9]),
                last_success_at=checked_iso(r[10]),
            )
            for r in rows
        ]


def _host(location: str) -> str:
    """The host of a URL location ('' for a path): a Retry-After belongs to a host."""
    try:
        return urlsplit(location).netloc.lower() if "://" in location else ""
    except ValueError:
        return ""
