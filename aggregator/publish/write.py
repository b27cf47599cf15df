"""Atomic feed files: streamed to a temp file, renamed over the old one only when different.

Feeds are streamed piece by piece, so a 100k-event feed never sits in memory whole, and
a feed whose bytes did not change keeps its file (and so its ETag and mtime).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

TEMP_SUFFIX = ".tmp"  # ".all.ics.<pid>.<random>.tmp" beside the feed it will replace


@dataclass(frozen=True, slots=True)
class FeedFrame:
    """What surrounds a feed's event fragments: ``head + separator.join(items) + tail``."""

    head: str
    separator: str
    tail: str


@dataclass(frozen=True, slots=True)
class Written:
    """One feed file after writing: whether it was replaced, its bytes and its fragments."""

    changed: bool
    size: int
    count: int


def write_feed_if_changed(path: Path, frame: FeedFrame, fragments: Iterable[str]) -> Written:
    """Stream one feed to disk; see ``write_feeds_if_changed``."""
    return write_feeds_if_changed([(path, frame)], ((f,) for f in fragments))[0]


def write_feeds_if_changed(
    targets: Sequence[tuple[Path, FeedFrame]], rows: Iterable[Sequence[str]]
) -> list[Written]:
    """Stream feeds to temp files, row by row (one fragment per target in each row);
    replace a target only if its bytes differ. Memory stays small whatever the feeds'
    size: old files are compared by hash, read in chunks."""
    writers = [_FeedWriter(path, frame) for path, frame in targets]
    try:
        batch: list[Sequence[str]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == 2000:  # join in batches: one encode and write per batch
                for column, writer in enumerate(writers):
                    writer.add([r[column] for r in batch])
                batch = []
        for column, writer in enumerate(writers):
            writer.add([r[column] for r in batch])
        return [writer.finish() for writer in writers]
    except BaseException:
        for writer in writers:
            writer.abandon()
        raise


class _FeedWriter:
    def __init__(self, path: Path, frame: FeedFrame) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX
        )
        self.path, self.frame, self.temp = path, frame, Path(temp)
        self.handle = os.fdopen(fd, "wb", buffering=1 << 20)
        self.digest = hashlib.sha256()
        self.size = self.count = 0
        self._put(frame.head)

    def _put(self, text: str) -> None:
        data = text.encode("utf-8")
        self.digest.update(data)
        self.handle.write(data)
        self.size += len(data)

    def add(self, fragments: list[str]) -> None:
        if fragments:
            lead = self.frame.separator if self.count else ""
            self._put(lead + self.frame.separator.join(fragments))
            self.count += len(fragments)

    def finish(self) -> Written:
        self._put(self.frame.tail)
        self.handle.close()
        if _file_digest(self.path) == self.digest.digest():
            self.temp.unlink()
            return Written(False, self.size, self.count)
        os.chmod(self.temp, 0o644)
        os.replace(self.temp, self.path)
        return Written(True, self.size, self.count)

    def abandon(self) -> None:
        self.handle.close()
        self.temp.unlink(missing_ok=True)


def _file_digest(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()
    except FileNotFoundError:
        return None


def remove_stale_files(directory: Path, extensions: Sequence[str], keep: set[str]) -> int:
    """Delete files with these extensions in ``directory`` whose names are not in ``keep``."""
    if not directory.is_dir():
        return 0
    removed = 0
    for path in directory.iterdir():
        if path.suffix.lstrip(".") in extensions and path.name not in keep:
            path.unlink()
            removed += 1
    return removed


def sweep_stale_temps(directories: Sequence[Path]) -> int:
    """Delete temp files that a killed publish left behind (``kill -9`` skips the cleanup):
    those of processes no longer running, of this process (whose earlier publish is over)
    and of unknown origin. A temp file of another live publish is left alone."""
    removed = 0
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in directory.glob(f".*{TEMP_SUFFIX}"):
            if _writer_alive(path.name) or not path.is_file():
                continue
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _writer_alive(name: str) -> bool:
    parts = name.split(".")
    pid = next((int(p) for p in reversed(parts[:-2]) if p.isdigit()), None)
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True
