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
missing=""
command -v node >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
(cd tests/js && npm install --silent --no-audit --no-fund)
.venv/bin/ruff check aggregator tests bench
.venv/bin/ruff format --check aggregator tests bench
exec .venv/bin/python -m pytest "$@"
