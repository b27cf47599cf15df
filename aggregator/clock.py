"""The one clock: UTC now, or the instant in AGGREGATOR_NOW (ISO 8601) for tests and
reproducible builds. Everything below the command line takes ``now`` as a parameter.

``waits`` scales the service's own waits (polling, debounce, grace) by the factor in
AGGREGATOR_WAIT_SCALE, so tests that run the whole service as a process need not sit
through production's seconds; unset, as in production, every wait is as written."""

from __future__ import annotations

import os
from datetime import UTC, datetime


def now() -> datetime:
    fixed = os.environ.get("AGGREGATOR_NOW")
    if fixed:
        value = datetime.fromisoformat(fixed)
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC).replace(microsecond=0)


WAIT_SCALE_ENV = "AGGREGATOR_WAIT_SCALE"


def waits(seconds: float) -> float:
    """``seconds`` times AGGREGATOR_WAIT_SCALE when that is a factor in (0, 1]; anything
    else (unset, not a number, a slow-down) leaves the wait as it is."""
    try:
        factor = float(os.environ.get(WAIT_SCALE_ENV, ""))
    except ValueError:
        return seconds
    return seconds * factor if 0 < factor <= 1 else seconds
