"""Benchmarks leave no gigabytes behind: their scratch folders go at every kind of exit."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE = (
    "import sys, time\n"
    "from bench.scratch import scratch_folder\n"
    "folder = scratch_folder('bench-test-')\n"
    "(folder / 'big.db').write_bytes(b'x' * 1000)\n"
    "print(folder, flush=True)\n"
    "sys.stdin.readline()\n"  # the test has seen the folder
)


def run(tail: str, env: dict[str, str] | None = None) -> tuple[Path, int]:
    child = subprocess.Popen(
        [sys.executable, "-c", MAKE + tail],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert child.stdout is not None and child.stdin is not None
    folder = Path(child.stdout.readline().strip())
    assert (folder / "big.db").exists()
    child.stdin.write("\n")
    child.stdin.flush()
    if "sleep" in tail:
        child.send_signal(signal.SIGTERM)
    return folder, child.wait(timeout=30)


@pytest.mark.parametrize(
    "tail",
    ["", "raise RuntimeError('a benchmark that fails')\n", "time.sleep(60)\n"],
    ids=["normal exit", "exception", "SIGTERM"],
)
def test_scratch_folder_is_removed_at_exit(tail: str) -> None:
    folder, _ = run(tail)
    assert not folder.exists()


def test_bench_keep_keeps_it() -> None:
    folder, code = run("", env={**os.environ, "BENCH_KEEP": "1"})
    try:
        assert code == 0 and (folder / "big.db").exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
