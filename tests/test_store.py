"""store.py on a real SQLite file: harvest transactions, tombstones, the shrink guard."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.model import Event, HarvestWarning, Source
from aggregator.store import (
    MIGRATIONS,
    IncomingVersion,
    Store,
    StoredVersion,
    build_migrations,
    decide_harvest,
    event_from_json,
    event_to_json,
    pending_migrations,
)
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
    assert applied[:4] == [
        "m001_initial",
        "m002_matching",
        "m003_feed_order_index",
        "m004_event_search",
    ]
    assert "m030_registrations" in applied
    assert "m020_schedule_state" in applied
    assert sorted(applied) == sorted(m.__name__ for m in MIGRATIONS)
    # what sqlite-utils' Database set while it wrapped the connection: triggers still see it
    assert store.conn.execute("PRAGMA recursive_triggers").fetchone()[0] == 1


def test_what_is_pending_is_what_sqlite_utils_would_apply(tmp_path: Path) -> None:
    """The pending check of our own (no sqlite-utils on an up-to-date open) agrees with
    sqlite-utils' on a new file, an old schema, one whose record lost a row, and a
    current one; the old and the damaged one are brought up to date by opening them."""
    import sqlite_utils

    def both(path: Path) -> tuple[list[str], list[str]]:
        conn = sqlite3.connect(path, isolation_level=None)
        ours = pending_migrations(conn)
        theirs = [m.name for m in build_migrations().pending(sqlite_utils.Database(conn))]
        conn.close()
        return ours, theirs

    new = tmp_path / "new.db"
    ours, theirs = both(new)
    assert ours == theirs == [m.__name__ for m in MIGRATIONS]
    old = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(old, isolation_level=None))
    build_migrations().apply(db, stop_before="m030_registrations")
    db.conn.close()
    ours, theirs = both(old)
    assert ours == theirs and ours[0] == "m030_registrations" and len(ours) < len(MIGRATIONS)
    lost = tmp_path / "lost.db"
    Store(lost).close()
    conn = sqlite3.connect(lost, isolation_level=None)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm070_robots_files'")
    conn.execute("DROP TABLE robots_files")
    conn.close()
    assert both(lost) == (["m070_robots_files"], ["m070_robots_files"])
    for path in (old, lost):
        Store(path).close()
        assert both(path) == ([], [])


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
    store.record_harvest_failure(
        "s",
        "the server answered HTTP 500",
        NOW,
        http_status=500,
        duration_ms=3,
        retry_at=NOW,
        server_retry_at=None,
        retry_reason="",
    )
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


NOW_ISO = "2026-11-26T12:00:00Z"
PAST, FUTURE = (
    ("2026-11-01T18:00:00Z", "2026-11-01T20:00:00Z"),
    ("2026-12-10T18:00:00Z", "2026-12-10T20:00:00Z"),
)


def stored(n: int, *, when: tuple[str, str] = FUTURE, removed: bool = False, prefix: str = "e"):
    return {f"{prefix}{i}": StoredVersion("h", removed, *when) for i in range(n)}


def incoming(n: int, *, when: tuple[str, str] = FUTURE, digest: str = "h", prefix: str = "e"):
    return {f"{prefix}{i}": IncomingVersion(digest, *when) for i in range(n)}


# (old, new, accept_shrink) -> (held, inserted, updated, tombstoned, unchanged)
DECISIONS = [
    pytest.param({}, {}, False, (False, 0, 0, 0, 0), id="nothing before, nothing now"),
    pytest.param({}, incoming(3), False, (False, 3, 0, 0, 0), id="first harvest"),
    pytest.param(stored(3), incoming(3), False, (False, 0, 0, 0, 3), id="same again"),
    pytest.param(stored(3), incoming(3, digest="x"), False, (False, 0, 3, 0, 0), id="all changed"),
    pytest.param(
        stored(3, removed=True), incoming(3), False, (False, 0, 3, 0, 0), id="tombstoned come back"
    ),
    pytest.param(
        stored(3, removed=True), {}, False, (False, 0, 0, 0, 0), id="tombstoned stay tombstoned"
    ),
    pytest.param(stored(10), incoming(9), False, (False, 0, 0, 1, 9), id="one of ten vanished"),
    pytest.param(stored(10), incoming(5), False, (False, 0, 0, 5, 5), id="half of ten vanished"),
    pytest.param(stored(10), incoming(4), False, (True, 0, 0, 0, 4), id="six of ten vanished"),
    pytest.param(stored(5), incoming(2), False, (True, 0, 0, 0, 2), id="three of five vanished"),
    pytest.param(
        stored(4), incoming(2), False, (False, 0, 0, 2, 2), id="two of four: too few to judge"
    ),
    pytest.param(stored(4), {}, False, (True, 0, 0, 0, 0), id="small calendar emptied"),
    pytest.param(stored(1), {}, False, (True, 0, 0, 0, 0), id="the only event vanished"),
    pytest.param(
        stored(4), incoming(4, prefix="new"), False, (False, 4, 0, 4, 0), id="all re-keyed"
    ),
    pytest.param(
        stored(100), incoming(80), False, (False, 0, 0, 20, 80), id="a fifth of a hundred"
    ),
    pytest.param(
        stored(10, when=PAST), incoming(1), False, (False, 0, 0, 9, 1), id="past events dropped"
    ),
    pytest.param(
        stored(10, when=PAST),
        {},
        False,
        (False, 0, 0, 10, 0),
        id="a calendar of past events emptied",
    ),
    pytest.param(
        {**stored(10), **stored(2, prefix="x")},
        {**incoming(3), **incoming(2, prefix="x", digest="new")},
        False,
        (True, 0, 2, 0, 3),
        id="held still stores the changes",
    ),
    pytest.param(stored(10), incoming(1), True, (False, 0, 0, 9, 1), id="shrink accepted"),
    pytest.param(stored(4), {}, True, (False, 0, 0, 4, 0), id="emptying accepted"),
]


@pytest.mark.parametrize(("old", "new", "accept_shrink", "expected"), DECISIONS)
def test_decide_harvest(old, new, accept_shrink: bool, expected: tuple) -> None:
    decision = decide_harvest(old, new, now=NOW_ISO, accept_shrink=accept_shrink)
    held, inserted, updated, tombstoned, unchanged = expected
    assert decision.held is held
    assert (len(decision.insert), len(decision.update), len(decision.tombstone)) == (
        inserted,
        updated,
        tombstoned,
    )
    assert decision.unchanged == unchanged
    vanished = {k for k, v in old.items() if not v.removed} - set(new)
    assert set(decision.tombstone) | set(decision.kept) == vanished, (
        "every vanished key accounted for"
    )
    assert bool(decision.message) is held


def test_held_message_counts_upcoming_events() -> None:
    decision = decide_harvest(
        {**stored(10), **stored(5, when=PAST, prefix="p")}, incoming(2), now=NOW_ISO
    )
    assert decision.held
    assert decision.message.startswith("8 of 10 upcoming events vanished at once")


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


def _open_each(paths: list[str], barrier, failures) -> None:  # in a child process
    for path in paths:
        barrier.wait()  # both processes open the same fresh file at the same moment
        try:
            Store(path).close()
        except Exception as exc:  # reported to the test, which fails on any
            failures.put(f"{Path(path).name}: {type(exc).__name__}: {exc}")


def test_two_first_runs_on_a_fresh_database_do_not_race(tmp_path: Path) -> None:
    """Cron and a hand-started command on a new install: both migrate the same new file."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    paths = [str(tmp_path / f"fresh-{i}.db") for i in range(24)]
    barrier, failures = context.Barrier(2), context.Queue()
    children = [context.Process(target=_open_each, args=(paths, barrier, failures)) for _ in "ab"]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)
    assert [child.exitcode for child in children] == [0, 0]
    problems = []
    while not failures.empty():
        problems.append(failures.get())
    assert problems == []
    for path in paths:  # every migration recorded once, every table there
        store = Store(path)
        names = [r[0] for r in store.conn.execute("SELECT name FROM _sqlite_migrations")]
        assert len(names) == len(set(names)) == len(MIGRATIONS)
        store.close()


def test_a_migration_script_splits_only_where_statements_end(tmp_path: Path) -> None:
    """Semicolons inside a string, a comment and a trigger's body end no statement; the
    statements run inside the caller's transaction (a rollback undoes them all)."""
    import sqlite_utils

    from aggregator.store.schema import execute_script

    db = sqlite_utils.Database(tmp_path / "script.db")
    db.conn.execute("BEGIN IMMEDIATE")
    execute_script(
        db,
        """
        CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT NOT NULL DEFAULT 'a; b');
        -- a comment; with a semicolon
        CREATE TABLE log (note TEXT);
        CREATE TRIGGER t_logged AFTER INSERT ON t BEGIN
            INSERT INTO log VALUES ('inserted; ' || new.note);
            INSERT INTO log VALUES ('twice');
        END;
        INSERT INTO t (note) VALUES ('x;y')
        """,
    )
    assert db.conn.in_transaction
    assert db.conn.execute("SELECT note FROM log ORDER BY rowid").fetchall() == [
        ("inserted; x;y",),
        ("twice",),
    ]
    db.conn.execute("INSERT INTO t DEFAULT VALUES")
    assert db.conn.execute("SELECT note FROM t ORDER BY id").fetchall() == [("x;y",), ("a; b",)]
    db.conn.execute("ROLLBACK")
    assert db.table_names() == []


def test_the_harvest_log_keeps_90_days_of_each_source(store: Store) -> None:
    """A service that runs for months keeps a bounded log: a new attempt takes its own
    source's attempts older than 90 days with it, and leaves other sources' alone."""
    from aggregator.model import Source

    store.sync_sources([Source(id="a", name="A"), Source(id="b", name="B")])
    now = utc(2026, 12, 1, 12)
    for source_id, days_ago in (("a", 100), ("a", 89), ("b", 100)):
        store.record_unchanged(
            source_id,
            now - timedelta(days=days_ago),
            http_status=304,
            duration_ms=1,
            etag=None,
            last_modified=None,
        )
    store.record_unchanged("a", now, http_status=304, duration_ms=1, etag=None, last_modified=None)
    kept = store.conn.execute(
        "SELECT source_id, at FROM fetch_log ORDER BY source_id, at"
    ).fetchall()
    assert kept == [
        ("a", "2026-09-03T12:00:00Z"),
        ("a", "2026-12-01T12:00:00Z"),
        ("b", "2026-08-23T12:00:00Z"),  # b has not been harvested since: nothing taken
    ]
    assert [row.at for row in store.harvest_log("a")] == [
        "2026-12-01T12:00:00Z",
        "2026-09-03T12:00:00Z",
    ]
