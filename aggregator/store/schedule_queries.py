"""The store's queries for the scheduler: backoff, pause, the feed linter's advice.

``ScheduleQueries`` is a mixin that ``Store`` inherits; it relies on the connection and
the transaction helper ``Store`` provides. The columns are added by migration m020.

A source's run of failures is described by ``consecutive_failures`` (kept by the
harvest queries), ``failing_since`` and ``retry_at``; the last two mean nothing once
``consecutive_failures`` is back at 0, so a success needs no extra write to clear them.
A paused source has ``status = 'paused'`` (every health reader shows it), ``paused_at``
and a ``pause_reason`` (``model.PauseReason``): ``failing`` keeps its events in the
feeds, ``moderator`` takes them out; ``resume_source`` lifts either and says which. A
registered source's pause by a moderator is also its registration's status, kept in
step here (``registrations.status = 'paused'``), so the organizer's page says the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aggregator.model import Outcome, PauseReason, SourceStatus
from aggregator.store.base import StoreBase
from aggregator.store.codec import iso, json_value, parse_iso


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
    pause_reason: str = ""  # a PauseReason while paused, else ""

    @property
    def paused(self) -> bool:
        return self.status == SourceStatus.PAUSED

    @property
    def paused_by_moderator(self) -> bool:
        """A person paused it: not harvested, not even when named, until resumed."""
        return self.paused and self.pause_reason == PauseReason.MODERATOR


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


MODERATOR_PAUSE = (
    "Pausad av en moderator: evenemangen är borttagna ur flödena tills källan återupptas "
    "(aggregator sources resume {id})."
)


def _pause_reason(status: str, stored: str) -> str:
    """The reason of a pause ('' when not paused; a pause from before m060 failed)."""
    if status != SourceStatus.PAUSED:
        return ""
    return stored or PauseReason.FAILING


class ScheduleQueries(StoreBase):
    """The scheduler's columns of ``sources`` (m020, m060) and its rows in ``fetch_log``."""

    if TYPE_CHECKING:  # from SourceQueries and RegistrationQueries, mixed into Store too

        def _hide_events(self, source_id: str, now: datetime) -> int: ...

        def _log_registration(
            self, registration_id: str, now: datetime, action: str, detail: str
        ) -> None: ...

    _SELECT = """SELECT id, status, consecutive_failures, last_attempt_at,
        CASE WHEN consecutive_failures > 0 THEN failing_since END,
        CASE WHEN consecutive_failures > 0 THEN retry_at END,
        CASE WHEN consecutive_failures > 0 THEN server_retry_at END,
        CASE WHEN consecutive_failures > 0 THEN retry_reason ELSE '' END,
        paused_at, lint, pause_reason FROM sources"""

    @staticmethod
    def _schedule(row: tuple[object, ...]) -> SourceSchedule:
        (
            source_id,
            status,
            failures,
            attempt,
            failing,
            retry,
            server,
            reason,
            paused,
            lint,
            why,
        ) = row
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
            advice=tuple(json_value(str(lint))),
            pause_reason=_pause_reason(str(status), str(why or "")),
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
                     pause_reason = CASE WHEN status = 'paused' AND pause_reason = 'moderator'
                                    THEN pause_reason WHEN ? THEN 'failing' ELSE '' END,
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
                    pause_message is not None,
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

    def pause_source(
        self, source_id: str, now: datetime, message: str, *, actor: str = "cli"
    ) -> bool:
        """A person's pause: not harvested until resumed, and its events leave the feeds
        at the next publish (they come back with the first harvest after the resume). A
        registered source's registration is paused with it. False when there is no such
        source."""
        with self.transaction():
            paused = self._pause_row(source_id, now, message)
            if paused:
                cursor = self.conn.execute(
                    """UPDATE registrations SET status = 'paused', updated_at = ?
                       WHERE id = ? AND status = 'active'""",
                    (iso(now), source_id),
                )
                if cursor.rowcount:
                    self._log_registration(source_id, now, "paused", actor)
        return paused

    def _pause_row(self, source_id: str, now: datetime, message: str) -> bool:
        """(in a transaction) The source row of a moderator's pause: its events hidden,
        its validators dropped (a 304 after the resume would leave the events out)."""
        cursor = self.conn.execute(
            """UPDATE sources SET status = ?, pause_reason = ?, paused_at = ?, message = ?,
                 etag = NULL, last_modified = NULL, fingerprint = NULL
               WHERE id = ?""",
            (SourceStatus.PAUSED, PauseReason.MODERATOR, iso(now), message, source_id),
        )
        if not cursor.rowcount:  # a registration approved but never harvested: its row now
            cursor = self.conn.execute(
                """INSERT INTO sources (id, name, location, kind, priority, status,
                     pause_reason, paused_at, message)
                   SELECT id, name, url, kind, priority, ?, ?, ?, ? FROM registrations
                   WHERE id = ? AND status IN ('active', 'paused')""",
                (SourceStatus.PAUSED, PauseReason.MODERATOR, iso(now), message, source_id),
            )
            if not cursor.rowcount:
                return False
        self.conn.execute(
            "INSERT INTO fetch_log (source_id, at, outcome, message) VALUES (?, ?, ?, ?)",
            (source_id, iso(now), Outcome.PAUSED, message),
        )
        self._hide_events(source_id, now)
        return True

    def resume_source(
        self, source_id: str, now: datetime, *, actor: str = "cli"
    ) -> PauseReason | None:
        """Lift a pause of either kind, to be harvested right away: returns which it was
        (None when the source was not paused). A new run of failures starts from now (so
        it is not paused again at its next failure); a paused registration is active again."""
        with self.transaction():
            reason = self._resume_row(source_id, now)
            cursor = self.conn.execute(
                """UPDATE registrations SET status = 'active', updated_at = ?
                   WHERE id = ? AND status = 'paused'""",
                (iso(now), source_id),
            )
            if cursor.rowcount:
                self._log_registration(source_id, now, "active", f"{actor}: återupptagen")
                reason = reason or PauseReason.MODERATOR
        return reason

    def _resume_row(self, source_id: str, now: datetime) -> PauseReason | None:
        """(in a transaction) The source row of a resume; the reason it was paused for."""
        row = self.conn.execute(
            "SELECT status, pause_reason FROM sources WHERE id = ?", (source_id,)
        ).fetchone()
        if row is None or row[0] != SourceStatus.PAUSED:
            return None
        self.conn.execute(
            """UPDATE sources SET
                 status = CASE WHEN consecutive_failures > 0 THEN 'failed'
                               WHEN last_success_at IS NULL THEN 'never' ELSE 'ok' END,
                 message = '', paused_at = NULL, pause_reason = '', retry_at = NULL,
                 server_retry_at = NULL, retry_reason = '',
                 failing_since = CASE WHEN consecutive_failures > 0 THEN ? END
               WHERE id = ?""",
            (iso(now), source_id),
        )
        self.conn.execute(
            "INSERT INTO fetch_log (source_id, at, outcome, message) VALUES (?, ?, ?, '')",
            (source_id, iso(now), Outcome.RESUMED),
        )
        return PauseReason(_pause_reason(str(row[0]), str(row[1] or "")))

    def pause_reasons(self) -> dict[str, PauseReason]:
        """Why each paused source is paused (the pages show it beside the status)."""
        return {
            str(source_id): PauseReason(_pause_reason(SourceStatus.PAUSED, str(why or "")))
            for source_id, why in self.conn.execute(
                "SELECT id, pause_reason FROM sources WHERE status = 'paused'"
            )
        }

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
