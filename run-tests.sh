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
# The package compiled once, up front: where Python is told not to write bytecode
# (PYTHONDONTWRITEBYTECODE), each of the suite's ~50 `aggregator` subprocesses and parse
# workers would compile it from source again, about 0.3 s of CPU apiece.
.venv/bin/python -m compileall -q aggregator tests
exec .venv/bin/python -m pytest -n auto "$@"
