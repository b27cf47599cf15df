"""Shared test helpers: config files, and reading published feeds with icalendar, ical.js, feedparser."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import feedparser
import icalendar
import yaml

TESTS = Path(__file__).parent
DATA = TESTS / "data"
JS_DIR = TESTS / "js"


def write_config(folder: Path, sources: list[dict[str, Any]], **settings: Any) -> Path:
    base = {
        "database": str(folder / "test.db"),
        "feeds_dir": str(folder / "feeds"),
        "timezone": "Europe/Stockholm",
        "base_url": "https://alltsomsker.test",
        "calendar_name": "Allt som sker",
        "allow_private_hosts": True,
    }
    base.update(settings)
    path = folder / "sources.yaml"
    path.write_text(
        yaml.safe_dump({"settings": base, "sources": sources}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return path


def read_with_icaljs(paths: list[Path]) -> dict[str, Any]:
    """Every VEVENT of each file as ical.js reads it (UTC instants)."""
    node = shutil.which("node")
    assert node, "node is required for the ical.js cross-check (.ci/run installs it)"
    assert (JS_DIR / "node_modules" / "ical.js").exists(), "run `npm install` in tests/js"
    out = subprocess.run(
        [node, str(JS_DIR / "read_ics.mjs"), *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def _instant_python(value: datetime | date) -> dict[str, str]:
    if isinstance(value, datetime):
        assert value.tzinfo is not None, f"floating time in published feed: {value}"
        return {"utc": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {"date": value.isoformat()}


def read_with_icalendar(path: Path) -> list[dict[str, Any]]:
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    events = []
    for vevent in calendar.walk("VEVENT"):
        end = vevent.get("DTEND")
        events.append(
            {
                "uid": str(vevent["UID"]),
                "summary": str(vevent.get("SUMMARY", "")),
                "start": _instant_python(vevent["DTSTART"].dt),
                "end": _instant_python(end.dt) if end is not None else None,
                "status": str(vevent.get("STATUS", "")),
                "sequence": int(vevent.get("SEQUENCE", 0)),
            }
        )
    return events


def assert_feeds_valid(feeds_dir: Path) -> int:
    """Every .ics read by icalendar and ical.js at the same instants; every .rss without bozo."""
    ics_files = sorted(feeds_dir.rglob("*.ics"))
    assert ics_files
    js = read_with_icaljs(ics_files)
    checked = 0
    for path in ics_files:
        ours = read_with_icalendar(path)
        theirs = js[str(path)]
        assert theirs["error"] is None, f"ical.js could not read {path}: {theirs['error']}"
        assert len(theirs["events"]) == len(ours), path
        for a, b in zip(ours, theirs["events"], strict=True):
            assert "floating" not in b["start"], f"ical.js saw a floating time in {path}"
            assert a["uid"] == b["uid"]
            assert a["start"] == b["start"], (
                f"{path} {a['summary']}: icalendar {a['start']} ical.js {b['start']}"
            )
            if a["end"] is not None:
                assert a["end"] == b["end"], f"{path} {a['summary']}: end differs"
            checked += 1
    for path in sorted(feeds_dir.rglob("*.rss")):
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, f"{path}: {parsed.get('bozo_exception')}"
    for path in sorted(feeds_dir.rglob("*.json")):
        json.loads(path.read_text(encoding="utf-8"))
    return checked


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
