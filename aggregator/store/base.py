"""The store's connection: pragmas, schema migration, transactions, counters.

Every query mixin (``sources``, ``events``, ``matching`` …) builds on ``StoreBase``'s
connection and ``transaction``; ``Store`` in ``__init__`` puts them together.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from aggregator.store.schema import migrate
from aggregator.store.wrap import SQLITE_BUSY, wrap_exceptions

log = logging.getLogger("aggregator")

# How long (seconds) a write waits for another process's write (the scheduler, a CLI
# command, the web app) before the store reports the database as locked.
BUSY_TIMEOUT = 10.0

# Set on every connection.
PRAGMAS: tuple[str, ...] = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    # 16 MB: memory must follow the largest source, not the calendar (issue 11). The
    # 128 MB this was held ~110 MB more at 100k events; publishing them took the same CPU
    # (8.1 s against 8.2–8.7 s with 128 MB)
    "PRAGMA cache_size=-16384",
    "PRAGMA temp_store=MEMORY",
    # what sqlite-utils' Database set on every connection while it wrapped ours; kept so
    # that triggers behave as the schema was written for
    "PRAGMA recursive_triggers=ON",
)


class StoreBase:
    """One SQLite connection in autocommit mode; writes go through ``transaction``."""

    @wrap_exceptions
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        try:
            _prepare(conn, self.path)
        except BaseException:
            conn.close()
            raise
        self.conn: sqlite3.Connection = conn

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction that takes the write lock up front (no upgrade deadlocks)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._before_commit()
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def _before_commit(self) -> None:
        """Work a mixin must do inside every write transaction (``super()`` first)."""

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _bump_data_version(self) -> None:
        """Publishing compares this counter with the one it last published."""
        self.conn.execute(
            """INSERT INTO meta (key, value) VALUES ('data_version', '1')
               ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"""
        )

    def _mark_events_dirty(self, source_id: str, keys: Sequence[str]) -> None:
        """The published events these source events belong to must be merged again."""
        self.conn.executemany(
            """UPDATE events SET dirty = 1 WHERE id = (
                 SELECT event_id FROM source_events WHERE source_id = ? AND key = ?)""",
            [(source_id, key) for key in keys],
        )


def _prepare(conn: sqlite3.Connection, path: str) -> None:
    """Pragmas and migrations, retried while another process sets up the same new file.

    Switching a fresh file to WAL needs the file to itself, and SQLite answers "locked"
    at once instead of waiting (the busy timeout does not apply): a second process
    starting at the same moment retries for up to ``BUSY_TIMEOUT``. A database another
    program really keeps locked still fails after that time, with the usual sentence.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT
    for attempt in itertools.count(1):
        try:
            for pragma in PRAGMAS:
                conn.execute(pragma)
            migrate(conn)
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF == SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise
            log.debug("database %s busy while opening (attempt %d); retrying", path, attempt)
            time.sleep(min(0.01 * attempt, 0.2))
