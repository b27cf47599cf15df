"""Sources organizers registered themselves (``/registrera``), and how they join the
configured ones.

A registration is a source in waiting: ``pending`` until a moderator approves it
(``active``), or ``rejected``; an active one can be ``paused`` and resumed, and the
organizer can ``withdraw`` it. Only active registrations are harvested and published:
``merge_registered_sources`` adds them to the configuration, where a source of the same
id in ``sources.yaml`` wins (the operator's file is the authority).

The organizer's status token is stored as its SHA-256: the token is random and long, so
a fast hash is enough, and a copy of the database gives nobody a working status link.

``RegistrationQueries`` is a mixin of ``Store`` (which provides ``conn`` and
``transaction``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from aggregator.config import SLUG_RE, Config
from aggregator.errors import AggregatorError
from aggregator.model import Event, Source
from aggregator.store.codec import event_from_json, iso, json_value
from aggregator.store.schedule_queries import MODERATOR_PAUSE

log = logging.getLogger(__name__)

REGISTERED_INTERVAL = 3600  # seconds between harvests of an approved registration
REGISTERED_MAX_PAGES = 30  # detail pages a registered website may have followed
UPLOADS_DIR = "uploads"  # beside the database: approved Facebook exports, as harvest files


class RegistrationStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    PAUSED = "paused"
    WITHDRAWN = "withdrawn"


# which status may follow which; rejected and withdrawn are final (a new registration
# starts over, so a rejected organizer is never silently re-activated)
TRANSITIONS: dict[RegistrationStatus, frozenset[RegistrationStatus]] = {
    RegistrationStatus.PENDING: frozenset(
        {RegistrationStatus.ACTIVE, RegistrationStatus.REJECTED, RegistrationStatus.WITHDRAWN}
    ),
    RegistrationStatus.ACTIVE: frozenset({RegistrationStatus.PAUSED, RegistrationStatus.WITHDRAWN}),
    RegistrationStatus.PAUSED: frozenset({RegistrationStatus.ACTIVE, RegistrationStatus.WITHDRAWN}),
    RegistrationStatus.REJECTED: frozenset(),
    RegistrationStatus.WITHDRAWN: frozenset(),
}
# a registration in one of these still "has" its calendar address
HOLDING = (RegistrationStatus.PENDING, RegistrationStatus.ACTIVE, RegistrationStatus.PAUSED)

SWEDISH_STATUS = {
    RegistrationStatus.PENDING: "väntar på granskning",
    RegistrationStatus.ACTIVE: "godkänd och aktiv",
    RegistrationStatus.REJECTED: "avvisad",
    RegistrationStatus.PAUSED: "pausad av en moderator",
    RegistrationStatus.WITHDRAWN: "återkallad",
}


class RegistrationError(AggregatorError):
    """A request about a registration that cannot be done; the message says why."""

    def __init__(self, message: str, *, field: str = "") -> None:
        self.message = message
        self.field = field
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Upload:
    """An uploaded Facebook export as the organizer sent it."""

    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class NewRegistration:
    id: str
    name: str
    email: str
    url: str  # what to fetch ("" for an upload)
    url_key: str  # source_urls.url_key, for recognising the calendar again
    kind: str | None
    municipality: str
    categories: tuple[str, ...]
    preview: str  # JSON of what the preview found, shown to moderators
    token_hash: str
    upload: Upload | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    id: str
    name: str
    email: str
    url: str
    url_key: str
    kind: str | None
    municipality: str
    categories: tuple[str, ...]
    priority: int
    status: RegistrationStatus
    reason: str
    preview: str
    upload_name: str
    upload_sha: str
    created_at: str
    updated_at: str
    last_refresh_at: str | None

    @property
    def has_upload(self) -> bool:
        return bool(self.upload_sha)

    @property
    def location(self) -> str:
        return self.url or f"uppladdad fil {self.upload_name}"


_COLUMNS = (
    "id, name, email, url, url_key, kind, municipality, categories, priority, status, "
    "reason, preview, upload_name, upload_sha, created_at, updated_at, last_refresh_at"
)


def _registration(row: tuple[object, ...]) -> Registration:
    values = list(row)
    values[7] = tuple(json_value(str(values[7])))
    values[9] = RegistrationStatus(str(values[9]))
    return Registration(*values)  # type: ignore[arg-type]


def new_token() -> str:
    """A status token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class RegistrationQueries:
    """Mixed into ``Store``, which provides ``conn``, ``path`` and ``transaction``."""

    conn: sqlite3.Connection
    path: str

    if TYPE_CHECKING:

        def transaction(self) -> AbstractContextManager[None]: ...

        # ScheduleQueries: a registration's pause is its source's pause (one model)
        def _pause_row(self, source_id: str, now: datetime, message: str) -> bool: ...

        def _resume_row(self, source_id: str, now: datetime) -> object: ...

    def add_registration(self, new: NewRegistration, now: datetime) -> Registration:
        at = iso(now)
        upload = new.upload
        with self.transaction():
            if self._registration_exists(new.id):
                raise RegistrationError(f"det finns redan en registrering med id {new.id}")
            self.conn.execute(
                """INSERT INTO registrations (id, name, email, url, url_key, kind, municipality,
                     categories, status, preview, token_hash, upload, upload_name, upload_sha,
                     created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)""",
                (
                    new.id,
                    new.name,
                    new.email,
                    new.url,
                    new.url_key,
                    new.kind,
                    new.municipality,
                    json.dumps(list(new.categories), ensure_ascii=False),
                    new.preview,
                    new.token_hash,
                    upload.data if upload else None,
                    upload.name if upload else "",
                    hashlib.sha256(upload.data).hexdigest() if upload else "",
                    at,
                    at,
                ),
            )
            self._log_registration(new.id, now, "registered", new.url or "uppladdad fil")
        found = self.registration(new.id)
        assert found is not None
        return found

    def _registration_exists(self, registration_id: str) -> bool:
        return (
            self.conn.execute(
                "SELECT 1 FROM registrations WHERE id = ?", (registration_id,)
            ).fetchone()
            is not None
        )

    def registration(self, registration_id: str) -> Registration | None:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM registrations WHERE id = ?", (registration_id,)
        ).fetchone()
        return _registration(row) if row else None

    def registration_by_token(self, token: str) -> Registration | None:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM registrations WHERE token_hash = ?", (hash_token(token),)
        ).fetchone()
        return _registration(row) if row else None

    def registrations(self, *statuses: RegistrationStatus) -> list[Registration]:
        """Registrations in these statuses (all without), oldest first."""
        wanted = [str(s) for s in statuses] or [str(s) for s in RegistrationStatus]
        marks = ", ".join("?" for _ in wanted)
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM registrations WHERE status IN ({marks}) "
            "ORDER BY created_at, id",
            wanted,
        ).fetchall()
        return [_registration(r) for r in rows]

    def registration_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT id FROM registrations")}

    def registration_holding(self, url_key: str) -> Registration | None:
        """The registration that already has this calendar (pending, active or paused)."""
        if not url_key:
            return None
        marks = ", ".join("?" for _ in HOLDING)
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM registrations WHERE url_key = ? AND status IN ({marks}) "
            "ORDER BY created_at LIMIT 1",
            (url_key, *map(str, HOLDING)),
        ).fetchone()
        return _registration(row) if row else None

    def registration_upload(self, registration_id: str) -> bytes | None:
        row = self.conn.execute(
            "SELECT upload FROM registrations WHERE id = ?", (registration_id,)
        ).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def change_registration_status(
        self,
        registration_id: str,
        status: RegistrationStatus,
        now: datetime,
        *,
        reason: str = "",
        actor: str = "moderator",
    ) -> Registration:
        """Move a registration to ``status`` if TRANSITIONS allow it; the reason is kept
        (shown to the organizer for a rejection)."""
        with self.transaction():
            current = self._current(registration_id)
            if status not in TRANSITIONS[current.status]:
                raise RegistrationError(
                    f"registreringen {registration_id} är {SWEDISH_STATUS[current.status]} "
                    f"och kan inte bli {SWEDISH_STATUS[status]}"
                )
            self.conn.execute(
                "UPDATE registrations SET status = ?, reason = ?, updated_at = ? WHERE id = ?",
                (str(status), reason, iso(now), registration_id),
            )
            self._log_registration(registration_id, now, str(status), f"{actor}: {reason}".strip())
            # the source row follows: paused by a moderator (events out of the feeds) or
            # resumed (harvested again); one pause, as ``sources list`` and /kallor show it
            if status is RegistrationStatus.PAUSED:
                self._pause_row(registration_id, now, MODERATOR_PAUSE.format(id=registration_id))
            elif (
                status is RegistrationStatus.ACTIVE and current.status is RegistrationStatus.PAUSED
            ):
                self._resume_row(registration_id, now)
        return self._fresh(registration_id)

    def approve_registration(
        self,
        registration_id: str,
        now: datetime,
        *,
        new_id: str | None = None,
        municipality: str | None = None,
        categories: Sequence[str] | None = None,
        priority: int | None = None,
        taken_ids: Iterable[str] = (),
    ) -> Registration:
        """Pending → active, optionally under another id or with edited defaults.

        ``taken_ids`` are the configured sources' ids: a registration never takes one.
        """
        target = new_id or registration_id
        if not SLUG_RE.match(target):
            raise RegistrationError(
                f"id '{target}' måste vara små bokstäver, siffror och bindestreck "
                "(som 'vimmerby-teater')",
                field="id",
            )
        if target in set(taken_ids):
            raise RegistrationError(f"id '{target}' används redan i sources.yaml", field="id")
        if priority is not None and not 0 <= priority <= 100:
            raise RegistrationError("prioriteten måste vara 0–100", field="priority")
        with self.transaction():
            current = self._current(registration_id)
            if current.status is not RegistrationStatus.PENDING:
                raise RegistrationError(
                    f"registreringen {registration_id} är {SWEDISH_STATUS[current.status]}; "
                    "bara väntande registreringar kan godkännas"
                )
            if target != registration_id and self._registration_exists(target):
                raise RegistrationError(f"id '{target}' används redan", field="id")
            self.conn.execute(
                """UPDATE registrations SET id = ?, status = 'active', municipality = ?,
                     categories = ?, priority = ?, reason = '', updated_at = ? WHERE id = ?""",
                (
                    target,
                    municipality if municipality is not None else current.municipality,
                    json.dumps(
                        list(categories if categories is not None else current.categories),
                        ensure_ascii=False,
                    ),
                    priority if priority is not None else current.priority,
                    iso(now),
                    registration_id,
                ),
            )
            self.conn.execute(
                "UPDATE registration_log SET registration_id = ? WHERE registration_id = ?",
                (target, registration_id),
            )
            renamed = f" som {target}" if target != registration_id else ""
            self._log_registration(target, now, "active", f"godkänd{renamed}")
        return self._fresh(target)

    def save_registration_preview(
        self,
        registration_id: str,
        preview: str,
        kind: str | None,
        now: datetime,
        *,
        upload: Upload | None = None,
    ) -> Registration:
        """A fresh preview (and, for an export, the file it was made from)."""
        with self.transaction():
            self._current(registration_id)
            self.conn.execute(
                "UPDATE registrations SET preview = ?, kind = COALESCE(?, kind), updated_at = ? "
                "WHERE id = ?",
                (preview, kind, iso(now), registration_id),
            )
            if upload is not None:
                self.conn.execute(
                    "UPDATE registrations SET upload = ?, upload_name = ?, upload_sha = ? "
                    "WHERE id = ?",
                    (
                        upload.data,
                        upload.name,
                        hashlib.sha256(upload.data).hexdigest(),
                        registration_id,
                    ),
                )
                self._log_registration(registration_id, now, "upload", upload.name)
        return self._fresh(registration_id)

    def claim_registration_refresh(
        self, registration_id: str, now: datetime, not_before: datetime
    ) -> bool:
        """Record a "hämta nu" unless one was made after ``not_before`` (the rate limit
        lives in the database, so a restart or a second process does not reset it)."""
        with self.transaction():
            cursor = self.conn.execute(
                """UPDATE registrations SET last_refresh_at = ?
                   WHERE id = ? AND (last_refresh_at IS NULL OR last_refresh_at <= ?)""",
                (iso(now), registration_id, iso(not_before)),
            )
        return cursor.rowcount == 1

    def registration_history(self, registration_id: str) -> list[tuple[str, str, str]]:
        """(at, action, detail) of a registration, oldest first."""
        return self.conn.execute(
            """SELECT at, action, detail FROM registration_log WHERE registration_id = ?
               ORDER BY id""",
            (registration_id,),
        ).fetchall()

    def upcoming_source_events(self, source_id: str, now: datetime, limit: int) -> list[Event]:
        """A source's own events (as harvested, before merging) that have not ended."""
        rows = self.conn.execute(
            """SELECT data FROM source_events WHERE source_id = ? AND removed_at IS NULL
               AND end_utc >= ? ORDER BY start_utc, key LIMIT ?""",
            (source_id, iso(now), limit),
        ).fetchall()
        return [event_from_json(r[0]) for r in rows]

    def upload_file(self, registration: Registration) -> Path:
        """The approved export as a file the harvest reads (``path:``), written from the
        database when missing: the database is the copy that backups keep."""
        folder = Path(self.path).resolve().parent / UPLOADS_DIR
        suffix = ".zip" if registration.upload_name.lower().endswith(".zip") else ".json"
        target = folder / f"{registration.id}-{registration.upload_sha[:16]}{suffix}"
        if not target.is_file():
            data = self.registration_upload(registration.id) or b""
            folder.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(".tmp")
            temporary.write_bytes(data)
            os.replace(temporary, target)
        return target

    def _current(self, registration_id: str) -> Registration:
        found = self.registration(registration_id)
        if found is None:
            raise RegistrationError(f"det finns ingen registrering med id {registration_id}")
        return found

    def _fresh(self, registration_id: str) -> Registration:
        found = self.registration(registration_id)
        assert found is not None
        return found

    def _log_registration(
        self, registration_id: str, now: datetime, action: str, detail: str
    ) -> None:
        self.conn.execute(
            "INSERT INTO registration_log (registration_id, at, action, detail) VALUES (?, ?, ?, ?)",
            (registration_id, iso(now), action, detail[:500]),
        )


def registered_source(registration: Registration, path: Path | None = None) -> Source:
    """The Source an approved registration is harvested as."""
    return Source(
        id=registration.id,
        name=registration.name,
        url=registration.url or None,
        path=str(path) if path is not None else None,
        kind="facebook" if path is not None else registration.kind,
        municipality=registration.municipality or None,
        categories=registration.categories,
        interval=REGISTERED_INTERVAL,
        priority=registration.priority,
        max_pages=REGISTERED_MAX_PAGES,
    )


def merge_registered_sources(config: Config, store: RegistrationQueries) -> Config:
    """The configuration plus every active or paused registration; on the same id the
    source in sources.yaml wins (and the registration is left out, with a warning). A
    paused one stays a source (paused, its events out of the feeds), so every list of
    sources shows it as paused rather than forgetting it."""
    configured = {source.id for source in config.sources}
    added: list[Source] = []
    for registration in store.registrations(RegistrationStatus.ACTIVE, RegistrationStatus.PAUSED):
        if registration.id in configured:
            log.warning(
                "%s: registered and in sources.yaml; the sources.yaml entry is used",
                registration.id,
            )
            continue
        path = store.upload_file(registration) if registration.has_upload else None
        added.append(registered_source(registration, path))
    if not added:
        return config
    return replace(config, sources=(*config.sources, *added))
