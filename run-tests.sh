#!/usr/bin/env bash
# The README's second command and what CI runs: install what the tests need, then lint,
# check types and import boundaries, and run the whole suite on every core
# (`./run-tests.sh -n 0` runs it in one process; other arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/install-test-deps.sh
# pytest keeps each test module's assertion-rewritten code in __pycache__, but writes it
# only where PYTHONDONTWRITEBYTECODE is unset (these sessions, and maybe CI, set it), so
# every worker would rewrite every test module again (~1.5 s of CPU each). One collection
# writes that cache on the core mypy leaves idle; the workers read it, whatever the
# variable says. Its failures show again in the real run.
PYTHONDONTWRITEBYTECODE='' .venv/bin/python -m pytest --collect-only -q -p no:cacheprovider \
    >/dev/null 2>&1 &
rewrite_cache=$!
.venv/bin/ruff check aggregator tests bench
.venv/bin/ruff format --check aggregator tests bench
.venv/bin/lint-imports --no-logo --no-cache
.venv/bin/mypy
wait "$rewrite_cache" || true
# The tests write thousands of small SQLite databases and feed folders; on a RAM disk their
# fsyncs and unlinks cost nothing (on this machine's disk a commit waits ~5 ms). They are
# still real files; only passing tests' folders are removed at the end (pyproject).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi
exec .venv/bin/python -m pytest -n auto "$@"
