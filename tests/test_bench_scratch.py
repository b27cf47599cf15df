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


def run(tail: str, tmp_path: Path, env: dict[str, str] | None = None) -> tuple[Path, int, str]:
    """(the scratch folder, the exit code, what the child wrote to stderr): its stderr
    goes to a file, so a child that fails to start says why in the test's failure."""
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", MAKE + tail],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    assert child.stdout is not None and child.stdin is not None
    line = child.stdout.readline().strip()

    def said() -> str:
        return errors.read_text(encoding="utf-8", errors="replace")

    assert line, f"the child printed no folder; its stderr:\n{said()}"
    folder = Path(line)
    assert (folder / "big.db").exists()
    child.stdin.write("\n")
    child.stdin.flush()
    if "sleep" in tail:
        assert child.stdout.readline().strip() == "sleeping", said()
        child.send_signal(signal.SIGTERM)
    code = child.wait(timeout=30)
    child.stdin.close()
    child.stdout.close()
    return folder, code, said()


@pytest.mark.parametrize(
    ("tail", "exit_code", "stderr_says"),
    [
        ("", 0, ""),
        (
            "raise RuntimeError('a benchmark that fails')\n",
            1,
            "RuntimeError: a benchmark that fails",
        ),
        ("print('sleeping', flush=True)\ntime.sleep(60)\n", 128 + signal.SIGTERM, ""),
    ],
    ids=["normal exit", "exception", "SIGTERM"],
)
def test_scratch_folder_is_removed_at_exit(
    tail: str, exit_code: int, stderr_says: str, tmp_path: Path
) -> None:
    folder, code, stderr = run(tail, tmp_path)
    assert not folder.exists(), stderr
    assert code == exit_code, stderr
    assert stderr_says in stderr
    if not stderr_says:
        assert stderr == "", "nothing to say at a clean or signalled exit"


def test_bench_keep_keeps_it(tmp_path: Path) -> None:
    folder, code, stderr = run("", tmp_path, env={**os.environ, "BENCH_KEEP": "1"})
    try:
        assert code == 0 and (folder / "big.db").exists(), stderr
        assert f"kept {folder}" in stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)
