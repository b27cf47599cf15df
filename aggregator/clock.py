"""The one clock: UTC now, or the instant in AGGREGATOR_NOW (ISO 8601) for tests and
reproducible builds. Everything below the command line takes ``now`` as a parameter."""

from __future__ import annotations

import os
from datetime import UTC, datetime


def now() -> datetime:
    fixed = os.environ.get("AGGREGATOR_NOW")
    if fixed:
        value = datetime.fromisoformat(fixed)
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC).replace(microsecond=0)
