#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine: Debian's nodejs/npm and
# chromium (apt, as root, only if missing), the venv with the package and its test
# extras, and Mozilla's ical.js (npm). Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
missing=""
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
# an editable install leaves the package as source, and where PYTHONDONTWRITEBYTECODE is
# set (as in these sessions) every `python -m aggregator` a test starts compiles it again
# (~0.15 s of CPU each); bytecode written once here is used until a file changes
.venv/bin/python -m compileall -q aggregator tests
(cd tests/js && npm install --silent --no-audit --no-fund)
