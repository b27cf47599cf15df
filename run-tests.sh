#!/usr/bin/env bash
# The README's second command and what CI runs: install what the tests need, then
# lint and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/install-test-deps.sh
.venv/bin/ruff check aggregator tests bench
.venv/bin/ruff format --check aggregator tests bench
exec .venv/bin/python -m pytest "$@"
