"""Atomic feed files: streamed to a temp file, renamed over the old one only when different.

Feeds are streamed piece by piece, so a 100k-event feed never sits in memory whole, and
a feed whose bytes did not change keeps its file (and so its ETag and mtime).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

from aggregator.publish.sidecars import refresh_sidecars, remove_sidecars

TEMP_SUFFIX = ".tmp"  # ".all.ics.<pid>.<random>.tmp" beside the feed it will replace


@dataclass(frozen=True, slots=True)
class FeedFrame:
    """What surrounds a feed's event fragments: ``head + separator.join(items) + tail``."""

    head: str
    separator: str
    tail: str

    def assemble(self, fragments: Sequence[str]) -> str:
        """The whole feed in memory: for the web app's small ones (one event, a filter)."""
        return self.head + self.separator.join(fragments) + self.tail


@dataclass(frozen=True, slots=True)
class FeedHead:
    """What a feed's frame says about the feed: its title and URL, the publishing time,
    and for a feed cut to its size limit the last local day it holds."""

    title: str
    url: str
    now: datetime
    horizon: date | None = None


@dataclass(frozen=True, slots=True)
class Written:
    """One feed file after writing: whether it was replaced, its bytes, its fragments, and
    for a feed cut to its size limit the last local day it still holds in full."""

    changed: bool
    size: int
    count: int
    horizon: date | None = None


def write_feed_if_changed(path: Path, frame: FeedFrame, fragments: Iterable[str]) -> Written:
    """Stream one feed to disk; see ``write_feeds``."""
    return write_feeds([FeedWriter(path, frame)], ((f, "") for f in fragments))[0]


def write_feeds(writers: Sequence[Writer], rows: Iterable[Sequence[str]]) -> list[Written]:
    """Feed rows to the writers: row[i] is writer i's fragment, the row's last column the
    event's start (UTC ISO) in feed order. Each target is replaced only if its bytes
    differ; memory stays small whatever the feeds' size (old files are compared by hash,
    read in chunks)."""
    try:
        batch: list[Sequence[str]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == 2000:  # join in batches: one encode and write per batch
                _add(writers, batch)
                batch = []
        _add(writers, batch)
        return [writer.finish() for writer in writers]
    except BaseException:
        for writer in writers:
            writer.abandon()
        raise


def _add(writers: Sequence[Writer], batch: list[Sequence[str]]) -> None:
    starts = [r[-1] for r in batch]
    for column, writer in enumerate(writers):
        writer.add([r[column] for r in batch], starts)


class _Temp:
    """A temp file beside ``path`` that replaces it on ``commit`` only if the bytes differ."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX
        )
        self.path, self.temp = path, Path(temp)
        self.handle = os.fdopen(fd, "wb", buffering=1 << 20)
        self.digest = hashlib.sha256()
        self.size = 0

    def put(self, data: bytes) -> None:
        self.digest.update(data)
        self.handle.write(data)
        self.size += len(data)

    def commit(self) -> bool:
        """Replace the target if the bytes differ; either way its sidecars (gzip copy,
        ETags) describe the file now on disk."""
        self.handle.close()
        changed = _file_digest(self.path) != self.digest.digest()
        if changed:
            os.chmod(self.temp, 0o644)
            os.replace(self.temp, self.path)
        else:
            self.temp.unlink()
        refresh_sidecars(self.path, self.digest.hexdigest())
        return changed

    def abandon(self) -> None:
        self.handle.close()
        self.temp.unlink(missing_ok=True)


class FeedWriter:
    """Streams a feed to its temp file as fragments arrive."""

    def __init__(self, path: Path, frame: FeedFrame) -> None:
        self.frame = frame
        self.file = _Temp(path)
        self.count = 0
        self.file.put(frame.head.encode("utf-8"))

    def add(self, fragments: list[str], starts: list[str]) -> None:
        if fragments:
            lead = self.frame.separator if self.count else ""
            self.file.put((lead + self.frame.separator.join(fragments)).encode("utf-8"))
            self.count += len(fragments)

    def finish(self) -> Written:
        self.file.put(self.frame.tail.encode("utf-8"))
        return Written(self.file.commit(), self.file.size, self.count)

    def abandon(self) -> None:
        self.file.abandon()


class Writer(Protocol):
    def add(self, fragments: list[str], starts: list[str]) -> None: ...

    def finish(self) -> Written: ...

    def abandon(self) -> None: ...


class DayCut:
    """The cut of a feed that must not exceed ``limit`` bytes (a subscription calendar:
    Google stops reading at 1 MB). It keeps whole local days from the start of the feed,
    nearest first, and drops the farthest future; ``frame_for(horizon)`` frames it and
    says the last day it holds (None when nothing was cut). For frames that join
    fragments with no separator (iCalendar). Shared by the published feed files
    (``CappedFeedWriter``) and the web's filtered calendars (``cut_to_size``)."""

    def __init__(
        self,
        frame_for: Callable[[date | None], FeedFrame],
        limit: int,
        local_day: Callable[[str], date],
    ) -> None:
        self.frame_for, self.limit, self.local_day = frame_for, limit, local_day
        sample = frame_for(date(2000, 9, 30))  # the longest horizon text, for the budget
        self.budget = limit - len(sample.head.encode()) - len(sample.tail.encode())
        self.days: list[tuple[date, list[bytes]]] = []
        self.kept = 0
        self.day: date | None = None
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.cut = False

    def add(self, fragments: Sequence[str], starts: Sequence[str]) -> None:
        for fragment, start in zip(fragments, starts, strict=True):
            if self.cut:
                return
            day = self.local_day(start)
            if day != self.day:
                self._close_day()
                self.day = day
            data = fragment.encode("utf-8")
            self.pending.append(data)
            self.pending_size += len(data)
            if self.kept + self.pending_size > self.budget:
                self.cut = True  # this day does not fit whole: it and all after it go

    def _close_day(self) -> None:
        if self.day is not None and not self.cut and self.pending:
            self.days.append((self.day, self.pending))
            self.kept += self.pending_size
        self.pending, self.pending_size = [], 0

    def finish(self) -> tuple[FeedFrame, list[bytes], date | None]:
        """The frame, the fragments kept, and the horizon (None: nothing was cut)."""
        self._close_day()
        while True:
            horizon = self.days[-1][0] if self.cut and self.days else None
            frame = self.frame_for(horizon if self.cut else None)
            body = [b for _, day in self.days for b in day]
            size = len(frame.head.encode()) + sum(map(len, body)) + len(frame.tail.encode())
            if size <= self.limit or not self.days:
                break
            self.days.pop()  # the horizon text was longer than the sample: one day less
            self.cut = True
        assert frame.separator == "", "a capped feed joins its fragments directly"
        return frame, body, horizon


def cut_to_size(
    frame_for: Callable[[date | None], FeedFrame],
    limit: int,
    local_day: Callable[[str], date],
    fragments: Sequence[str],
    starts: Sequence[str],
) -> tuple[bytes, date | None]:
    """A whole capped feed in memory (the web's filtered calendars): its bytes, at most
    ``limit``, and the last local day it holds when it was cut."""
    cut = DayCut(frame_for, limit, local_day)
    cut.add(fragments, starts)
    frame, body, horizon = cut.finish()
    return frame.head.encode() + b"".join(body) + frame.tail.encode(), horizon


class CappedFeedWriter:
    """A feed file that must not exceed ``limit`` bytes, cut by ``DayCut``."""

    def __init__(
        self,
        path: Path,
        frame_for: Callable[[date | None], FeedFrame],
        limit: int,
        local_day: Callable[[str], date],
    ) -> None:
        self.path = path
        self.cutter = DayCut(frame_for, limit, local_day)
        self.file: _Temp | None = None

    def add(self, fragments: list[str], starts: list[str]) -> None:
        self.cutter.add(fragments, starts)

    def finish(self) -> Written:
        frame, body, horizon = self.cutter.finish()
        self.file = file = _Temp(self.path)
        file.put(frame.head.encode("utf-8"))
        for data in body:
            file.put(data)
        file.put(frame.tail.encode("utf-8"))
        return Written(file.commit(), file.size, len(body), horizon)

    def abandon(self) -> None:
        if self.file is not None:
            self.file.abandon()


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
            remove_sidecars(path)
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
