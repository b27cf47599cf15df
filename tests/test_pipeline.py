"""pipeline.py pieces that the end-to-end tests reach only at scale."""

from __future__ import annotations

import json
from pathlib import Path

from aggregator.pipeline import day_ranges
from aggregator.publish import FeedFrame
from aggregator.publish.output import write_feed_if_changed


def test_streamed_feed_is_valid_across_batches_and_not_rewritten_when_same(tmp_path: Path) -> None:
    frame = FeedFrame('{"items":[', ",", "]}")
    items = [json.dumps({"id": i, "title": "Fika på ån"}, ensure_ascii=False) for i in range(4501)]
    path = tmp_path / "all.json"
    changed, size, count = write_feed_if_changed(path, frame, iter(items))
    assert (changed, count) == (True, 4501)
    assert size == path.stat().st_size
    assert [item["id"] for item in json.loads(path.read_text(encoding="utf-8"))["items"]] == list(
        range(4501)
    )
    mtime = path.stat().st_mtime_ns
    assert write_feed_if_changed(path, frame, iter(items))[0] is False
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".all.json.meta",
        "all.json",
        "all.json.gz",
    ], "only the feed and its sidecars (publish/sidecars.py): no temp files left behind"
    assert write_feed_if_changed(path, frame, iter(items[:-1]))[0] is True


def test_empty_feed(tmp_path: Path) -> None:
    path = tmp_path / "x" / "empty.json"
    assert write_feed_if_changed(path, FeedFrame("[", ",", "]"), iter(()))[:2] == (True, 2)
    assert json.loads(path.read_text()) == []


def test_day_ranges_cover_neighbours_and_merge() -> None:
    assert day_ranges(["2026-12-12", "2026-12-13", "2027-01-05"]) == [
        ("2026-12-11T00:00:00Z", "2026-12-15T00:00:00Z"),
        ("2027-01-04T00:00:00Z", "2027-01-07T00:00:00Z"),
    ]


def test_parallel_parse_stores_the_same_as_serial(tmp_path: Path) -> None:
    """Worker processes (used for large harvests) give the same results and errors."""
    from datetime import UTC, datetime

    from aggregator.config import load_config
    from aggregator.pipeline import harvest_all, update_events
    from aggregator.store import Store
    from tests.support import DATA, write_config

    sources = [
        {"id": "google", "name": "Google", "path": str(DATA / "ical" / "google_x_wr_timezone.ics")},
        {
            "id": "outlook",
            "name": "Outlook",
            "path": str(DATA / "ical" / "outlook_windows_tzid.ics"),
        },
        {"id": "cut", "name": "Avklippt", "path": str(DATA / "ical" / "truncated.ics")},
    ]
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    results = {}
    for mode, threshold in (("serial", 10**12), ("parallel", 0)):
        folder = tmp_path / mode
        folder.mkdir()
        config = load_config(write_config(folder, sources))
        store = Store(config.settings.database)
        reports = harvest_all(store, config, now, parallel_bytes=threshold)
        update_events(store, config, now)
        rows = store.conn.execute(
            "SELECT source_id, key, data FROM source_events ORDER BY 1, 2"
        ).fetchall()
        results[mode] = ([(r.source_id, r.outcome, r.events, r.message) for r in reports], rows)
    assert results["parallel"] == results["serial"]
    outcomes = {source: outcome for source, outcome, *_ in results["serial"][0]}
    assert outcomes == {"google": "ok", "outlook": "ok", "cut": "failed"}


def test_changed_settings_re_render_every_event(tmp_path: Path, capsys) -> None:
    """Fragments are rendered once per content change, and again when base_url changes."""
    from aggregator.cli import main
    from tests.support import DATA, read_with_icalendar, write_config

    sources = [{"id": "fest", "name": "Fest", "path": str(DATA / "ical" / "all_day_multi_day.ics")}]
    config = write_config(tmp_path, sources, base_url="https://gammal.example")
    assert main(["--config", str(config), "run", "--once"]) == 0
    uids = {e["uid"] for e in read_with_icalendar(tmp_path / "feeds" / "all.ics")}
    assert all(uid.endswith("@gammal.example") for uid in uids)
    write_config(tmp_path, sources, base_url="https://ny.example")
    assert main(["--config", str(config), "publish"]) == 0
    capsys.readouterr()
    new_uids = {e["uid"] for e in read_with_icalendar(tmp_path / "feeds" / "all.ics")}
    assert {u.split("@")[0] for u in new_uids} == {u.split("@")[0] for u in uids}
    assert all(uid.endswith("@ny.example") for uid in new_uids)
