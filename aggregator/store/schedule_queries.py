"""The store's queries for the scheduler: backoff, pause, the feed linter's advice.

``ScheduleQueries`` is a mixin that ``Store`` inherits; it relies on the connection and
the transaction helper ``Store`` provides. The columns are added by migration m020.

A source's run of failures is described by ``consecutive_failures`` (kept by the
harvest queries), ``failing_since`` and ``retry_at``; the last two mean nothing once
``consecutive_failures`` is back at 0, so a success needs no extra write to clear them.
A paused source has ``status = 'paused'`` (every health reader shows it) and
``paused_at``; it is not harvested until resumed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aggregator.model import Outcome, SourceStatus
from aggregator.store.base import StoreBase
from aggregator.store.codec import iso, parse_iso


@dataclass(frozen=True, slots=True)
class SourceSchedule:
    """What the scheduler needs to know about one source between harvests."""

    source_id: str
    status: str
    consecutive_failures: int
    last_attempt_at: datetime | None
    failing_since: datetime | None
    retry_at: datetime | None  # our backoff, or the server's Retry-After when later
    server_retry_at: datetime | None  # what a Retry-After asked for
    retry_reason: str
    paused_at: datetime | None
    advice: tuple[str, ...]

    @property
    def paused(self) -> bool:
        return self.status == SourceStatus.PAUSED


@dataclass(frozen=True, slots=True)
class HarvestLogRow:
    at: str
    outcome: str
    http_status: int | None
    duration_ms: int | None
    events: int | None
    message: str


def _when(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


class ScheduleQueries(StoreBase):
    """The scheduler's columns of ``sources`` (m020) and its rows in ``fetch_log``."""

    _SELECT = """SELECT id, status, consecutive_failures, last_attempt_at,
        CASE WHEN consecutive_failures > 0 THEN failing_since END,
        CASE WHEN consecutive_failures > 0 THEN retry_at END,
        CASE WHEN consecutive_failures > 0 THEN server_retry_at END,
        CASE WHEN consecutive_failures > 0 THEN retry_reason ELSE '' END,
        paused_at, lint FROM sources"""

    @staticmethod
    def _schedule(row: tuple[object, ...]) -> SourceSchedule:
        (source_id, status, failures, attempt, failing, retry, server, reason, paused, lint) = row
        return SourceSchedule(
            source_id=str(source_id),
            status=str(status),
            consecutive_failures=int(failures),  # type: ignore[call-overload]
            last_attempt_at=_when(attempt),  # type: ignore[arg-type]
            failing_since=_when(failing),  # type: ignore[arg-type]
            retry_at=_when(retry),  # type: ignore[arg-type]
            server_retry_at=_when(server),  # type: ignore[arg-type]
            retry_reason=str(reason or ""),
            paused_at=_when(paused) if status == SourceStatus.PAUSED else None,  # type: ignore[arg-type]
            advice=tuple(json.loads(str(lint))),
        )

    def schedule_state(self, source_id: str) -> SourceSchedule | None:
        row = self.conn.execute(self._SELECT + " WHERE id = ?", (source_id,)).fetchone()
        return self._schedule(row) if row else None

    def schedule_states(self) -> dict[str, SourceSchedule]:
        return {
            row[0]: self._schedule(row)
            for row in self.conn.execute(self._SELECT + " ORDER BY id").fetchall()
        }

    def record_harvest_failure(
        self,
        source_id: str,
        message: str,
        now: datetime,
        *,
        http_status: int | None,
        duration_ms: int | None,
        retry_at: datetime,
        server_retry_at: datetime | None,
        retry_reason: str,
        pause_message: str | None = None,
        advice: Sequence[str] | None = None,
    ) -> None:
        """One failed harvest, in one transaction: health, the run of failures, when to
        try again and why, a pause when ``pause_message`` is given, the fetch log."""
        now_iso = iso(now)
        with self.transaction():
            self.conn.execute(
                """UPDATE sources SET
                     status = ?, message = ?, last_attempt_at = ?,
                     failing_since = CASE WHEN consecutive_failures = 0 OR failing_since IS NULL
                                     THEN ? ELSE failing_since END,
                     consecutive_failures = consecutive_failures + 1,
                     retry_at = ?, server_retry_at = ?, retry_reason = ?,
                     paused_at = CASE WHEN ? THEN ? ELSE paused_at END,
                     lint = COALESCE(?, lint)
                   WHERE id = ?""",
                (
                    SourceStatus.PAUSED if pause_message else SourceStatus.FAILED,
                    pause_message or message,
                    now_iso,
                    now_iso,
                    iso(retry_at),
                    iso(server_retry_at) if server_retry_at else None,
                    retry_reason,
                    pause_message is not None,
                    now_iso,
                    json.dumps(list(advice), ensure_ascii=False) if advice is not None else None,
                    source_id,
                ),
            )
            self.conn.execute(
                """INSERT INTO fetch_log (source_id, at, outcome, http_status, duration_ms, events, message)
                   VALUES (?, ?, ?, ?, ?, NULL, ?)""",
                (source_id, now_iso, Outcome.FAILED, http_status, duration_ms, message),
            )
            if pause_message:
                self.conn.execute(
                    """INSERT INTO fetch_log (source_id, at, outcome, events, message)
                       VALUES (?, ?, ?, NULL, ?)""",
                    (source_id, now_iso, Outcome.PAUSED, pause_message),
                )

    def save_advice(self, source_id: str, advice: Sequence[str]) -> None:
        """The feed linter's sentences for a source's latest successful parse."""
        self.conn.execute(
            "UPDATE sources SET lint = ? WHERE id = ?",
            (json.dumps(list(advice), ensure_ascii=False), source_id),
        )

    def pause_source(self, source_id: str, now: datetime, message: str) -> bool:
        """Stop harvesting a source until it is resumed. False when there is no such source."""
        with self.transaction():
            cursor = self.conn.execute(
                "UPDATE sources SET status = ?, paused_at = ?, message = ? WHERE id = ?",
                (SourceStatus.PAUSED, iso(now), message, source_id),
            )
            if cursor.rowcount:
                self.conn.execute(
                    """INSERT INTO fetch_log (source_id, at, outcome, message)
                       VALUES (?, ?, ?, ?)""",
                    (source_id, iso(now), Outcome.PAUSED, message),
                )
        return cursor.rowcount > 0

    def resume_source(self, source_id: str, now: datetime) -> bool:
        """Harvest a paused source again, right away; a new run of failures starts from now
        (so it is not paused again at its next failure). False when it was not paused."""
        with self.transaction():
            cursor = self.conn.execute(
                """UPDATE sources SET
                     status = CASE WHEN consecutive_failures > 0 THEN 'failed'
                                   WHEN last_success_at IS NULL THEN 'never' ELSE 'ok' END,
                     message = '', paused_at = NULL, retry_at = NULL, server_retry_at = NULL,
                     retry_reason = '',
                     failing_since = CASE WHEN consecutive_failures > 0 THEN ? END
                   WHERE id = ? AND status = ?""",
                (iso(now), source_id, SourceStatus.PAUSED),
            )
            if cursor.rowcount:
                self.conn.execute(
                    """INSERT INTO fetch_log (source_id, at, outcome, message)
                       VALUES (?, ?, ?, '')""",
                    (source_id, iso(now), Outcome.RESUMED),
                )
        return cursor.rowcount > 0

    def rekeyed_count(self, source_id: str, now: datetime) -> int:
        """Events of a source that vanished at ``now`` while an event with the same title
        and start appeared under another key: the producer changed their UIDs."""
        now_iso = iso(now)
        row = self.conn.execute(
            """SELECT count(DISTINCT n.key) FROM source_events n JOIN source_events o
                 ON o.source_id = n.source_id AND o.start_utc = n.start_utc
                AND o.key != n.key
                AND json_extract(o.data, '$.title') = json_extract(n.data, '$.title')
               WHERE n.source_id = ? AND n.first_seen = ? AND n.removed_at IS NULL
                 AND o.removed_at = ?""",
            (source_id, now_iso, now_iso),
        ).fetchone()
        return int(row[0])

    def harvest_log(self, source_id: str, limit: int = 10) -> list[HarvestLogRow]:
        """A source's latest harvests, newest first."""
        return [
            HarvestLogRow(*row)
            for row in self.conn.execute(
                """SELECT at, outcome, http_status, duration_ms, events, message FROM fetch_log
                   WHERE source_id = ? ORDER BY id DESC LIMIT ?""",
                (source_id, limit),
            )
        ]
