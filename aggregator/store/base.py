"""The store's connection: pragmas, schema migration, transactions, counters.

Every query mixin (``sources``, ``events``, ``matching`` …) builds on ``StoreBase``'s
connection and ``transaction``; ``Store`` in ``__init__`` puts them together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from aggregator.store.schema import migrate
from aggregator.store.wrap import wrap_exceptions

# Set on every connection. busy_timeout: how long a write waits for another process's
# write (the scheduler, a CLI command, the web app) before the store reports "locked".
PRAGMAS: tuple[str, ...] = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA cache_size=-131072",  # 128 MB: bulk merges rewrite big rows
    "PRAGMA temp_store=MEMORY",
)


class StoreBase:
    """One SQLite connection in autocommit mode; writes go through ``transaction``."""

    @wrap_exceptions
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            for pragma in PRAGMAS:
                conn.execute(pragma)
            self.db = sqlite_utils.Database(conn)
            migrate(self.db)
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
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

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
