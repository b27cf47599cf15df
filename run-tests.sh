#!/usr/bin/env bash
# Installs everything the test suite needs (venv, Python packages, ical.js) and runs it.
# This is the README's second command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
if ! command -v node >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq nodejs npm
fi
(cd tests/js && npm install --silent --no-audit --no-fund)
.venv/bin/ruff check aggregator tests bench
.venv/bin/ruff format --check aggregator tests bench
exec .venv/bin/python -m pytest "$@"
