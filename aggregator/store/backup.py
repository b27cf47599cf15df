"""A consistent copy of the database while the service runs (SQLite's online backup API).

The copy is taken in one step from a read transaction, so it is one committed state even
while ``aggregator run`` keeps writing (WAL: readers never block the writer); it is
written next to the target and renamed into place, and checked before it is kept.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path

from aggregator.errors import StoreError
from aggregator.store.base import StoreBase


class BackupQueries(StoreBase):
    """The online backup of the store's database file."""

    def backup_to(self, target: Path) -> int:
        """Copy the whole database to ``target`` (replaced atomically); returns its size.

        The copy is a single file in rollback-journal mode (no -wal/-shm beside it), so
        restoring is copying it back while the service is stopped."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        os.close(fd)
        temp = Path(temp_name)
        try:
            copy = sqlite3.connect(temp)
            try:
                self.conn.backup(copy, pages=-1)  # all pages in one step: one snapshot
                copy.execute("PRAGMA journal_mode=DELETE")
                result = copy.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                copy.close()
            if result != "ok":
                raise StoreError(f"the backup copy failed its integrity check: {result}")
            os.replace(temp, target)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"could not back up the database to {target}: {exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        return target.stat().st_size
