"""Bounded memory: ``run --once`` matches the touched days a batch at a time.

A first run touches every day of the season; matching them all at once held every
member's event and features (issue 11: +520 MB at 100k events). These tests run the real
CLI twice over the same calendars, once with batches large enough to take the whole
season and once with small ones, and check that the small batches really bound what the
matcher reads and that the published feeds and remembered pair scores come out the same.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from aggregator.cli import main
from aggregator.dedupe import update
from aggregator.dedupe.blocking import AnchorCounts, count_anchors
from aggregator.dedupe.features import title_tokens
from aggregator.store import Store, event_span
from tests.support import write_config

FIRST_DAY = date(2026, 11, 27)
DAYS = 30
# (local start, minutes long, title at the theatre, title in the municipality's listing)
DAILY = [
    ("1800", 120, "Julkonsert med kören", "JULKONSERT MED KÖREN"),
    ("2330", 60, "Midnattsmässa", "Midnattsmässa i kyrkan"),  # near midnight: next day too
    ("0015", 45, "Nattvandring", "Nattvandring!"),  # just after midnight, still the UTC day before
]
WORDS = ["qaxo", "qbyx", "qczu", "qdwv", "qevt", "qfus"]  # no gazetteer name, distinct anchors


def vevent(uid: str, summary: str, day: date, start: str, minutes: int, place: str) -> str:
    begin = f"{day:%Y%m%d}T{start}00"
    hour, minute = int(start[:2]), int(start[2:])
    end_minutes = hour * 60 + minute + minutes
    end_day = day + timedelta(days=end_minutes // (24 * 60))
    end_minutes %= 24 * 60
    end = f"{end_day:%Y%m%d}T{end_minutes // 60:02d}{end_minutes % 60:02d}00"
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=Europe/Stockholm:{begin}\r\nDTEND;TZID=Europe/Stockholm:{end}\r\n"
        f"SUMMARY:{summary}\r\nLOCATION:{place}\r\nEND:VEVENT\r\n"
    )


def calendar(events: list[str]) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Batches//SV\r\n"
        + "".join(events)
        + "END:VCALENDAR\r\n"
    )


def write_sources(folder: Path) -> Path:
    """A theatre, the municipality listing most of its events again (other UIDs, other
    spelling) and a library with events of its own, every day for a month."""
    teater, kommun, bibliotek = [], [], []
    for n in range(DAYS):
        day = FIRST_DAY + timedelta(days=n)
        for i, (start, minutes, title, listed) in enumerate(DAILY):
            place = "Folkets hus, Vimmerby"
            # a word of the theatre's own, one per five days: rare within a few days,
            # common in the month (a title word must be judged over the whole month)
            own = f" {WORDS[n // 5]}" if i == 0 else ""
            teater.append(
                vevent(f"t{n}-{i}@teater", f"{title} {n}{own}", day, start, minutes, place)
            )
            if (n + i) % 4:  # the listing misses some
                kommun.append(
                    vevent(f"k{n}-{i}@kommun", f"{listed} {n}", day, start, minutes, place)
                )
        bibliotek.append(
            vevent(f"b{n}@bibliotek", f"Sagostund {n}", day, "1030", 60, "Biblioteket, Vimmerby")
        )
    sources = []
    for name, events in (("teater", teater), ("kommun", kommun), ("bibliotek", bibliotek)):
        path = folder / f"{name}.ics"
        path.write_text(calendar(events), encoding="utf-8")
        sources.append(
            {"id": name, "name": name.title(), "path": str(path), "municipality": "Vimmerby"}
        )
    return write_config(folder, sources)


def record_member_reads(patch: pytest.MonkeyPatch) -> list[int]:
    """How many members each ``Store.members_starting_between`` reads, from now on."""
    loaded: list[int] = []
    real: Callable[..., list] = Store.members_starting_between

    def recording(self: Store, ranges: list[tuple[str, str]]) -> list:
        members = real(self, ranges)
        loaded.append(len(members))
        return members

    patch.setattr(Store, "members_starting_between", recording)
    return loaded


def run_recording(
    folder: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> tuple[list[int], Path]:
    """``run --once`` with ``MATCH_BATCH`` = ``batch``; the sizes of the matcher's reads."""
    folder.mkdir()
    config = write_sources(folder)
    with monkeypatch.context() as patch:
        patch.setattr(update, "MATCH_BATCH", batch)
        loaded = record_member_reads(patch)
        assert main(["--config", str(config), "-q", "run", "--once"]) == 0
    return loaded, folder


def feed_bytes(feeds: Path) -> dict[str, bytes]:
    """The published files (not the sidecars describing them, which name inodes)."""
    return {
        str(p.relative_to(feeds)): p.read_bytes()
        for p in sorted(feeds.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def table(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize(
    "common_min",
    [
        pytest.param(None, id="small-calendar"),
        # as in a big calendar: title words held by many events are "common" and left
        # out of blocking, judged over the whole set of days, not within one batch
        pytest.param(3, id="common-title-words"),
    ],
)
def test_small_match_batches_bound_what_matching_reads_and_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, common_min: int | None
) -> None:
    from aggregator.dedupe import blocking

    if common_min is not None:
        monkeypatch.setattr(blocking, "COMMON_MIN", common_min)
    whole, whole_dir = run_recording(tmp_path / "whole", monkeypatch, 10**9)
    small, small_dir = run_recording(tmp_path / "small", monkeypatch, 20)
    members = DAYS * (len(DAILY) + 1) + sum(
        1 for n in range(DAYS) for i in range(len(DAILY)) if (n + i) % 4
    )
    assert whole == [members]  # the first run matched the whole season at once
    # in batches: none read more than the limit (a day with its neighbours holds ~20),
    # together they cover every day, and neighbouring batches share the days at their edge
    assert max(small) <= 20
    assert len(small) >= members // 20 + 1
    assert sum(small) > members
    # ... and the outcome is the same: the feeds byte for byte, the events and their
    # members, the scores remembered for the moderators
    assert feed_bytes(small_dir / "feeds") == feed_bytes(whole_dir / "feeds")
    for sql in (
        "SELECT id, sequence, content_hash, start_utc FROM events ORDER BY id",
        "SELECT source_id, key, event_id FROM source_events ORDER BY 1, 2",
        "SELECT a_source, a_key, b_source, b_key, decision, total, reason FROM match_pairs"
        " ORDER BY 1, 2, 3, 4",
    ):
        found = table(small_dir / "test.db", sql)
        assert found == table(whole_dir / "test.db", sql)
        assert found  # the comparison compares something
    merged = table(
        small_dir / "test.db", "SELECT count(*) FROM match_pairs WHERE decision = 'merged'"
    )
    assert merged[0][0] >= DAYS  # the listing's copies did join the theatre's events


def test_merging_and_re_rendering_hold_a_chunk_of_events_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each merge chunk is rendered as it is merged (a first run does not keep every
    changed event for the render), and new settings re-render the calendar a chunk at a
    time; every event is rendered all the same."""
    from aggregator.publish import render
    from tests.support import read_with_icalendar

    config = write_sources(tmp_path)
    saved: list[int] = []
    real = Store.save_renders

    def recording(self: Store, renders: list, key: str) -> None:
        saved.append(len(renders))
        real(self, renders, key)

    monkeypatch.setattr(Store, "save_renders", recording)
    monkeypatch.setattr(update, "MERGE_CHUNK", 7)
    assert main(["--config", str(config), "-q", "run", "--once"]) == 0
    events = table(tmp_path / "test.db", "SELECT count(*) FROM events WHERE removed_at IS NULL")
    assert max(saved) <= 7 and sum(saved) == events[0][0] > 7

    saved.clear()
    monkeypatch.setattr(render, "RENDER_CHUNK", 5)
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["settings"]["base_url"] = "https://ny.example"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    assert main(["--config", str(config), "-q", "publish"]) == 0
    assert max(saved) <= 5 and sum(saved) == events[0][0]
    uids = {e["uid"] for e in read_with_icalendar(tmp_path / "feeds" / "all.ics")}
    assert len(uids) == events[0][0] and all(u.endswith("@ny.example") for u in uids)


@pytest.mark.parametrize(
    ("days", "per_day", "limit", "batches"),
    [
        pytest.param(["2026-12-02"], {}, 10, [["2026-12-02"]], id="one-day"),
        pytest.param(
            ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"],
            {
                "2026-11-30": 1,
                "2026-12-01": 2,
                "2026-12-02": 2,
                "2026-12-03": 2,
                "2026-12-04": 2,
                "2026-12-05": 1,
            },
            7,
            [["2026-12-01", "2026-12-02"], ["2026-12-03", "2026-12-04"]],
            id="neighbours-counted-once",
        ),
        pytest.param(
            ["2026-12-02", "2026-12-10"],
            {"2026-12-02": 50, "2026-12-10": 1},
            10,
            [["2026-12-02"], ["2026-12-10"]],
            id="a-day-over-the-limit-alone",
        ),
        pytest.param(
            ["2026-12-10", "2026-12-02"],
            {"2026-12-02": 1, "2026-12-10": 1},
            10,
            [["2026-12-02", "2026-12-10"]],
            id="sparse-days-share-a-batch",
        ),
    ],
)
def test_day_batches(
    days: list[str], per_day: dict[str, int], limit: int, batches: list[list[str]]
) -> None:
    assert update.day_batches(days, per_day, limit) == batches


def test_dedupe_caches_hold_a_match_batch_not_a_calendar() -> None:
    """Caches keyed by an event's texts (or a pair's) live for the whole run; sized to a
    calendar (65,536 titles with their places) they held 92 MB at 200k events and were
    what grew between 100k and 200k (issue 11). Each is bounded, and those keyed by
    per-event text still hold one batch's members, so a batch's repeats hit."""
    from aggregator.dedupe import features, score
    from bench.harvest import dedupe_caches  # what the memory bench reports, after a run

    caches = {name: limit for name, (_, limit) in dedupe_caches().items()}
    assert "features._text_features" in caches and "score._key_similarity" in caches
    assert all(limit is not None for limit in caches.values()), caches
    assert max(limit or 0 for limit in caches.values()) <= 6 * update.MATCH_BATCH, caches
    assert features.TEXT_CACHE >= update.MATCH_BATCH
    assert caches["features._text_features"] == features.TEXT_CACHE
    assert caches["score._key_similarity"] == score.PAIR_CACHE


def anchors_as_before(store: Store, batches: list[list[str]]) -> AnchorCounts:
    """``calendar_anchors`` as it was: each batch's whole window read and decoded, the
    members an earlier batch had counted dropped afterwards."""
    counts: dict[str, int] = {}
    events = 0
    counted_to = ""
    for batch in batches:
        ranges = update.day_ranges(batch)
        members = store.members_starting_between(ranges)
        fresh = (m.event for m in members if event_span(m.event)[0] >= counted_to)
        events += count_anchors((title_tokens(e) for e in fresh), counts)
        counted_to = ranges[-1][1]
    return AnchorCounts(counts, events)


def test_title_anchors_are_counted_once_without_reading_a_batch_overlap_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batches' windows overlap by a day or two; the later batch reads only what the
    earlier ones did not (the counts come out as before, and as for the whole month)."""
    config = write_sources(tmp_path)
    assert main(["--config", str(config), "-q", "run", "--once"]) == 0
    store = Store(tmp_path / "test.db")
    try:
        per_day = store.active_members_per_day()
        batches = update.day_batches(sorted(per_day), per_day, 20)
        assert len(batches) > 3
        read = record_member_reads(monkeypatch)
        before = anchors_as_before(store, batches)
        read_before = sum(read)
        read.clear()
        now = update.calendar_anchors(store, batches)
        monkeypatch.undo()
        whole = update.calendar_anchors(store, [sorted(per_day)])
    finally:
        store.close()
    assert now == before == whole
    assert now.events == sum(per_day.values()), "every member counted, once"
    assert sum(read) == now.events, "and read once: no overlap read again"
    assert read_before > now.events, "the overlaps were there to be cut"
