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
exec .venv/bin/python -m pytest -n auto "$@"
