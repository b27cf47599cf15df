#!/usr/bin/env bash
# The README's second command and what CI runs: install what the tests need, then lint,
# check types and import boundaries, and run the whole suite on every core
# (`./run-tests.sh -n 0` runs it in one process; other arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/install-test-deps.sh
.venv/bin/ruff check aggregator tests bench
.venv/bin/ruff format --check aggregator tests bench
.venv/bin/lint-imports --no-logo --no-cache
.venv/bin/mypy
# The tests write thousands of small SQLite databases and feed folders; on a RAM disk their
# fsyncs and unlinks cost nothing (on this machine's disk a commit waits ~5 ms). They are
# still real files; only passing tests' folders are removed at the end (pyproject).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi
exec .venv/bin/python -m pytest -n auto "$@"
