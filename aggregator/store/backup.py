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
from datetime import datetime
from pathlib import Path

from aggregator.errors import StoreError
from aggregator.store.base import StoreBase


class BackupQueries(StoreBase):
    """The online backup of the store's database file."""

    def backup_to(self, target: Path, now: datetime) -> Path:
        """Copy the whole database to ``target`` (replaced atomically); returns the file
        written: ``target``, or a file named after the database and ``now`` inside it
        when ``target`` is a folder (so a nightly job can keep one copy per day).

        The copy is a single file in rollback-journal mode (no -wal/-shm beside it), so
        restoring is copying it back while the service is stopped."""
        if target.is_dir():
            stem = Path(self.path).stem
            target = target / f"{stem}-{now.strftime('%Y-%m-%d-%H%M%S')}.db"
        if self._is_live_file(target):
            raise StoreError(
                f"{target} is the database itself (or its -wal/-shm file): replacing it "
                "would lose what the running service writes; name another file"
            )
        temp: Path | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
            )
            os.close(fd)
            temp = Path(temp_name)
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
        except sqlite3.Error as exc:
            raise StoreError(f"could not back up the database to {target}: {exc}") from exc
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise StoreError(f"could not back up the database to {target}: {reason}") from exc
        finally:
            if temp is not None:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
        return target

    def _is_live_file(self, target: Path) -> bool:
        """Is ``target`` the database or its WAL/shared-memory file, by any name (a
        relative path, a symlink, a hard link)?"""
        live = Path(self.path)
        for name in (live, Path(f"{live}-wal"), Path(f"{live}-shm")):
            if target.resolve() == name.resolve():
                return True
            with contextlib.suppress(OSError):  # either one missing: no hard link of the other
                if target.samefile(name):
                    return True
        return False
