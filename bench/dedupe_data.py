"""Loader for the labelled dedupe dataset in ``tests/data/dedupe/`` (bench and tests only)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from aggregator.model import Event, Place

DATASET = Path(__file__).resolve().parents[1] / "tests" / "data" / "dedupe" / "events.jsonl"


def _when(value: str | None, all_day: bool) -> datetime | date | None:
    if value is None:
        return None
    if all_day:
        return date.fromisoformat(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def load_dataset(path: Path | str = DATASET) -> list[tuple[Event, str]]:
    """(event, true group id) per line; extra fields (``note``) are dropped here."""
    rows = []
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            d = json.loads(line)
            start = _when(d["start"], d["all_day"])
            assert start is not None
            event = Event(
                source_id=d["source_id"],
                key=d["key"],
                title=d["title"],
                start=start,
                end=_when(d["end"], d["all_day"]),
                all_day=d["all_day"],
                timezone=d["timezone"],
                status=d["status"],
                description=d["description"],
                url=d["url"],
                place=Place(**d["place"]),
                location_text=d["location_text"],
                categories=tuple(d["categories"]),
                organizer_name=d["organizer_name"],
                uid=d["uid"],
            )
            rows.append((event, d["group"]))
    return rows


def load_notes(path: Path | str = DATASET) -> list[str]:
    """The ``note`` of each line, in the same order as ``load_dataset``."""
    with Path(path).open(encoding="utf-8") as lines:
        return [json.loads(line)["note"] for line in lines if line.strip()]
