"""store.py on a real SQLite file: harvest transactions, tombstones, the shrink guard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.model import Event, HarvestWarning, Source
from aggregator.store import Store, event_from_json, event_to_json, is_collapse
from tests.support import utc

NOW = utc(2026, 11, 26, 12)


def ev(key: str, title: str = "Evenemang", day: int = 10, **kw: object) -> Event:
    return Event(
        source_id="s",
        key=key,
        title=title,
        start=utc(2026, 12, day, 18),
        end=utc(2026, 12, day, 20),
        uid=key,
        **kw,
    )  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "t.db")
    s.sync_sources([Source(id="s", name="Källa", url="https://x.se/a.ics")])
    return s


def harvest(store: Store, events: list[Event], now=NOW, **kw: object):
    return store.apply_harvest(
        "s", events, [], now, etag=None, last_modified=None, fingerprint="f", **kw
    )  # type: ignore[arg-type]


def active_keys(store: Store) -> set[str]:
    return {
        r[0] for r in store.conn.execute("SELECT key FROM source_events WHERE removed_at IS NULL")
    }


def test_wal_mode_and_migrations(store: Store) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = [r[0] for r in store.conn.execute("SELECT name FROM _sqlite_migrations")]
    assert applied[:3] == ["m001_initial", "m002_matching", "m003_feed_order_index"]
    assert "m030_registrations" in applied


def test_upsert_and_tombstone(store: Store) -> None:
    first = harvest(store, [ev("a"), ev("b"), ev("c")])
    assert (first.new, first.changed, first.removed) == (3, 0, 0)
    second = harvest(store, [ev("a", "Ny titel"), ev("b")], now=NOW + timedelta(hours=1))
    assert (second.new, second.changed, second.removed, second.unchanged) == (0, 1, 1, 1)
    assert active_keys(store) == {"a", "b"}
    tomb = store.conn.execute("SELECT removed_at FROM source_events WHERE key = 'c'").fetchone()
    assert tomb[0] == "2026-11-26T13:00:00Z", "vanished events are tombstoned, not deleted"
    back = harvest(store, [ev("a", "Ny titel"), ev("b"), ev("c")], now=NOW + timedelta(hours=2))
    assert back.changed == 1 and active_keys(store) == {"a", "b", "c"}


def test_failure_changes_no_events(store: Store) -> None:
    harvest(store, [ev("a"), ev("b")])
    store.record_failure("s", "the server answered HTTP 500", NOW)
    assert active_keys(store) == {"a", "b"}
    health = store.source_health()[0]
    assert (health.status, health.consecutive_failures) == ("failed", 1)
    assert health.message == "the server answered HTTP 500"


def test_a_crash_inside_a_harvest_rolls_everything_back(store: Store) -> None:
    harvest(store, [ev("a")])

    bad = ev("b")
    object.__setattr__(bad, "start", "not a date")  # event_to_json fails half-way through
    with pytest.raises(AttributeError):
        harvest(store, [ev("a", "Ändrad"), bad])
    assert active_keys(store) == {"a"}
    assert (
        store.conn.execute("SELECT data FROM source_events WHERE key='a'")
        .fetchone()[0]
        .count("Ändrad")
        == 0
    )


def test_collapse_is_held_and_can_be_accepted(store: Store) -> None:
    harvest(store, [ev(f"e{i}", day=10 + i) for i in range(10)])
    held = harvest(store, [ev("e0", day=10)], now=NOW + timedelta(hours=1))
    assert held.held and held.removed == 0
    assert "9 of 10 upcoming events vanished" in held.message
    assert len(active_keys(store)) == 10
    assert store.source_health()[0].status == "held"
    accepted = harvest(store, [ev("e0", day=10)], now=NOW + timedelta(hours=2), accept_shrink=True)
    assert not accepted.held and accepted.removed == 9


def test_past_events_vanishing_is_not_a_collapse(store: Store) -> None:
    harvest(store, [ev(f"e{i}", day=1 + i) for i in range(10)], now=utc(2026, 11, 30))
    later = harvest(store, [ev("e9", day=10)], now=utc(2026, 12, 9, 21))
    assert not later.held and later.removed == 9


@pytest.mark.parametrize(
    ("before", "vanished", "after", "held"),
    [
        (0, 0, 0, False),
        (4, 4, 0, True),  # a small calendar emptied by mistake
        (4, 4, 4, False),  # all re-keyed: new events replace the old
        (1, 1, 0, True),
        (5, 3, 2, True),
        (10, 5, 5, False),
        (10, 6, 4, True),
        (100, 20, 80, False),
    ],
)
def test_is_collapse(before: int, vanished: int, after: int, held: bool) -> None:
    assert is_collapse(before, vanished, after) is held


def test_small_calendar_emptied_by_mistake_is_held(store: Store) -> None:
    harvest(store, [ev("a"), ev("b")])
    held = harvest(store, [], now=NOW + timedelta(hours=1))
    assert held.held and active_keys(store) == {"a", "b"}
    health = store.source_health()[0]
    assert (health.status, health.last_success_at) == ("held", "2026-11-26T12:00:00Z")


def test_retired_source_leaves_the_feeds(store: Store) -> None:
    harvest(store, [ev("a"), ev("b")])
    assert store.sync_sources([], NOW + timedelta(hours=1)) == ["s"]
    assert active_keys(store) == set()
    assert store.source_health() == []


def test_warnings_reach_source_health(store: Store) -> None:
    store.apply_harvest(
        "s",
        [ev("a")],
        [HarvestWarning("s", "skipped event 'X': no start")],
        NOW,
        etag='"e"',
        last_modified=None,
        fingerprint="f",
    )
    health = store.source_health()[0]
    assert health.warnings == ("skipped event 'X': no start",)
    assert store.fetch_state("s").etag == '"e"'


def test_event_json_round_trip() -> None:
    from datetime import date

    from aggregator.model import Place

    original = Event(
        source_id="s",
        key="k",
        title="Å",
        start=date(2027, 6, 5),
        end=date(2027, 6, 7),
        all_day=True,
        place=Place("Lada", "Väg 1", "Berga", "Högsby", 57.1, 16.0),
        categories=("A", "B"),
    )
    assert event_from_json(event_to_json(original)) == original
