"""Scratch folders for benchmarks that clean up after themselves.

A 100k-event run leaves 1–2 GB of database, feeds and calendars behind; a few runs
(or a few interrupted ones) fill a small server's disk. Each folder is removed when
the benchmark's process ends: normally, on an exception, on Ctrl-C or on SIGTERM.
``BENCH_KEEP=1`` keeps them, for looking at what a run wrote.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

_folders: list[Path] = []


def _remove_all() -> None:
    if os.environ.get("BENCH_KEEP"):
        for folder in _folders:
            print(f"kept {folder}", file=sys.stderr)
        return
    while _folders:
        shutil.rmtree(_folders.pop(), ignore_errors=True)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds, so atexit removes the folders


def scratch_folder(prefix: str) -> Path:
    """A new empty folder under the system's temp dir, removed at exit."""
    if not _folders and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    _folders.append(folder)
    return folder


atexit.register(_remove_all)
