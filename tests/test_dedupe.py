"""Identity and merging (exact stage): stable ids, shared UIDs, priorities, SEQUENCE."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.config import Config
from aggregator.dedupe import identity as dedupe
from aggregator.dedupe.merge import merge_members, refresh_event
from aggregator.model import CANCELLED, Event, Place, Settings, Source
from aggregator.pipeline import update_events
from aggregator.store import Assignment, EventRow, MemberRow, Store
from tests.support import utc

NOW = utc(2026, 11, 26, 12)
CONFIG = Config(path=Path("sources.yaml"), settings=Settings(), sources=())


def member(source_id: str, priority: int, **kw: object) -> MemberRow:
    event = Event(
        source_id=source_id,
        key="k",
        title=kw.pop("title", "Pippi på cirkus"),  # type: ignore[arg-type]
        start=utc(2026, 12, 12, 18),
        **kw,
    )  # type: ignore[arg-type]
    return MemberRow(
        source_id, "k", event, priority, kw.get("first_seen", "2026-11-01T00:00:00Z"), False
    )  # type: ignore[arg-type]


def test_new_identities_are_named_after_their_founding_member() -> None:
    """Rebuilding the database from the same sources gives the same published ids."""
    decided = dedupe.new_identities([("teater", "x"), ("kommun", "u1")])
    assert decided == [
        Assignment("kommun", "u1", dedupe.event_id_for("kommun", "u1")),
        Assignment("teater", "x", dedupe.event_id_for("teater", "x")),
    ]
    assert dedupe.event_id_for("teater", "x") != dedupe.event_id_for("kommun", "x")


def test_merge_takes_each_field_from_the_highest_priority_source_that_has_it() -> None:
    organizer = member("teater", 50, url="", description="Teaterns egen text")
    listing = member(
        "kommun",
        20,
        title="PIPPI PÅ CIRKUS",
        url="https://kommun.se/e/1",
        description="Kort",
        image="https://kommun.se/bild.jpg",
        place=Place("Folkets hus", locality="Vimmerby"),
    )
    merged = merge_members([listing, organizer])
    assert merged is not None
    assert merged.title == "Pippi på cirkus"
    assert merged.description == "Teaterns egen text"
    assert merged.url == "https://kommun.se/e/1" and merged.image == "https://kommun.se/bild.jpg"
    assert merged.place.name == "Folkets hus"


@pytest.mark.parametrize(
    ("cancelled_priority", "expected"),
    [(50, CANCELLED), (60, CANCELLED), (20, "confirmed")],
    ids=["same-priority", "higher", "lower-listing-cannot-cancel"],
)
def test_cancellation_wins_only_from_a_source_as_trusted_as_the_best(
    cancelled_priority: int, expected: str
) -> None:
    members = [member("teater", 50), member("kommun", cancelled_priority, status=CANCELLED)]
    merged = merge_members(members)
    assert merged is not None and merged.status == expected


def test_sequence_rises_only_when_published_content_changes() -> None:
    row = EventRow("e1", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z", 0, "", False)
    first = refresh_event(row, [member("teater", 50)], NOW)
    assert first is not None and first.record.content is not None
    assert first.record.revision.sequence == 0 and not first.record.was_published
    revision = first.record.revision
    row = EventRow(
        "e1",
        row.created_at,
        revision.modified_at,
        revision.sequence,
        first.record.content.content_hash,
        False,
    )
    same = refresh_event(row, [member("teater", 50)], NOW + timedelta(hours=1))
    assert same is None
    moved = refresh_event(
        row, [member("teater", 50, title="Pippi på cirkus – extra")], NOW + timedelta(hours=1)
    )
    assert moved is not None and moved.event is not None
    assert moved.event.title == "Pippi på cirkus – extra" and moved.record.was_published
    assert moved.record.revision.sequence == 1
    assert moved.record.revision.modified_at == "2026-11-26T13:00:00Z"


def test_removed_event_keeps_counting_sequence_when_it_returns() -> None:
    row = EventRow("e1", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z", 3, "abc", False)
    gone = refresh_event(row, [], NOW)
    assert gone is not None and gone.record.removed and gone.event is None
    assert gone.record.revision.sequence == 4
    row = EventRow("e1", row.created_at, gone.record.revision.modified_at, 4, "removed", True)
    assert refresh_event(row, [], NOW) is None, "a removed event is not removed again"
    back = refresh_event(row, [member("teater", 50)], NOW)
    assert back is not None and not back.record.removed and back.record.revision.sequence == 5


def test_never_published_event_without_members_changes_nothing() -> None:
    row = EventRow("e1", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z", 0, "", False)
    assert refresh_event(row, [], NOW) is None


def test_event_id_survives_the_founding_member_leaving(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.sync_sources(
        [Source(id="a", name="A", priority=50), Source(id="b", name="B", priority=20)]
    )

    def put(source_id: str, events: list[Event], now) -> None:
        store.apply_harvest(
            source_id, events, [], now, etag=None, last_modified=None, fingerprint=None
        )
        update_events(store, CONFIG, now)

    shared = Event(
        source_id="a", key="uid-1", title="Julmarknad", start=utc(2026, 12, 5, 10), uid="uid-1"
    )
    put("a", [shared], NOW)
    put(
        "b",
        [
            Event(
                source_id="b",
                key="uid-1",
                title="JULMARKNAD",
                start=utc(2026, 12, 5, 10),
                uid="uid-1",
            )
        ],
        NOW,
    )
    ids = store.conn.execute("SELECT DISTINCT event_id FROM source_events").fetchall()
    assert len(ids) == 1
    put(
        "a",
        [
            Event(
                source_id="a", key="other", title="Annat", start=utc(2026, 12, 20, 10), uid="other"
            )
        ],
        NOW + timedelta(hours=1),
    )  # the founding member leaves
    remaining = {r[0]: r for r in store.conn.execute("SELECT id, removed_at, data FROM events")}
    kept = remaining[ids[0][0]]
    assert kept[1] is None and "JULMARKNAD" in kept[2], "the cluster kept its id"


def test_a_merge_cut_short_after_identity_is_finished_by_the_next_run(tmp_path: Path) -> None:
    """A run that died between giving members new event ids and merging them (a kill,
    a full disk) leaves ids with no events row: the next run merges them, and a run
    with nothing left to do is seen as such."""
    from aggregator.dedupe.update import assign_new_members

    store = Store(tmp_path / "t.db")
    store.sync_sources([Source(id="a", name="A")])
    events = [
        Event(source_id="a", key=f"k{i}", title=f"Konsert {i}", start=utc(2026, 12, 5 + i, 18))
        for i in range(3)
    ]
    store.apply_harvest("a", events, [], NOW, etag=None, last_modified=None, fingerprint=None)
    assert store.merge_pending()
    assign_new_members(store, NOW)  # … and the run stops here
    given = sorted({r[0] for r in store.conn.execute("SELECT event_id FROM source_events")})
    assert len(given) == 3 and store.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    assert store.dirty_event_ids() == given
    store.close()
    store = Store(tmp_path / "t.db")  # the next run
    assert store.merge_pending()
    update_events(store, CONFIG, NOW)
    merged = sorted(r[0] for r in store.conn.execute("SELECT id FROM events"))
    assert merged == given and store.dirty_event_ids() == [] and not store.merge_pending()


def test_ids_left_unmerged_before_the_pending_table_are_found_on_upgrade(tmp_path: Path) -> None:
    """m080 finds the ids a run of an older version left without an events row."""
    import sqlite3

    import sqlite_utils

    from aggregator.store import build_migrations

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    build_migrations().apply(db, stop_before="m080_pending_events")
    db.execute("INSERT INTO sources (id, name) VALUES ('a', 'A')")
    db.execute(
        """INSERT INTO source_events (source_id, key, event_id, start_utc, end_utc,
             content_hash, data, first_seen, last_seen, changed_at)
           VALUES ('a', 'k', 'e-halvklar', '2026-12-05T18:00:00Z', '2026-12-05T20:00:00Z',
             '', '{}', '2026-12-01', '2026-12-01', '2026-12-01')"""
    )
    db.conn.close()
    store = Store(path)
    assert store.dirty_event_ids() == ["e-halvklar"] and store.merge_pending()


# -- fuzzy stage, stable ids, re-keyed events, moderators -------------------------------

from aggregator.store import MatchMember  # noqa: E402


def mm(
    source_id: str, key: str, event_id: str | None, created: str = "", first_seen: str = ""
) -> MatchMember:
    event = Event(source_id=source_id, key=key, title="x", start=utc(2026, 12, 12, 18))
    return MatchMember(
        source_id, key, event_id, created, first_seen or "2026-11-01T00:00:00Z", event
    )


def test_reconcile_older_id_survives_a_join() -> None:
    members = [
        mm("a", "1", "old", "2026-10-01T00:00:00Z"),
        mm("b", "1", "new", "2026-11-20T00:00:00Z"),
    ]
    assert dedupe.reconcile(members, [[0, 1]], lambda _: False) == [Assignment("b", "1", "old")]


def test_reconcile_cluster_keeps_its_id_when_a_member_leaves() -> None:
    members = [
        mm("a", "1", "e1", "2026-10-01T00:00:00Z", "2026-10-01T00:00:00Z"),
        mm("b", "1", "e1", "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z"),
        mm("c", "1", "e1", "2026-10-01T00:00:00Z", "2026-10-03T00:00:00Z"),
    ]
    moved = dedupe.reconcile(members, [[0, 1]], lambda _: False)
    assert moved == [Assignment("c", "1", dedupe.event_id_for("c", "1"))]


def test_reconcile_new_ids_never_collide() -> None:
    taken = {dedupe.event_id_for("c", "1")}
    members = [mm("a", "1", "e1"), mm("c", "1", "e1", first_seen="2027-01-01T00:00:00Z")]
    moved = dedupe.reconcile(members, [], lambda e: e in taken)
    assert len(moved) == 1 and moved[0].event_id not in taken | {"e1"}


def ev_at(
    source_id: str, key: str, title: str, start, place: str = "Folkets hus, Virserum", **kw
) -> Event:
    return Event(
        source_id=source_id,
        key=key,
        title=title,
        start=start,
        end=start + timedelta(hours=2),
        location_text=place,
        place=Place(name=place.split(",")[0], locality=place.split(", ")[-1]),
        **kw,
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("new", "old", "inherits"),
    [
        (
            dict(title="Julkonsert", url="https://x.se/e/1"),
            dict(title="Julkonsert", url="https://x.se/e/1"),
            True,
        ),
        (dict(title="Julkonsert"), dict(title="JULKONSERT!"), True),
        (dict(title="Julkonsert"), dict(title="Vårkonsert"), False),
        (dict(title="Julkonsert", place="Kyrkan, Målilla"), dict(title="Julkonsert"), False),
    ],
    ids=["same-url", "same-title-and-place", "other-title", "other-place"],
)
def test_inherit_rekeyed(new: dict, old: dict, inherits: bool) -> None:
    def member(key: str, event_id: str | None, fields: dict, hour: int) -> MatchMember:
        fields = dict(fields)
        event = ev_at("tec", key, fields.pop("title"), utc(2026, 12, 12, hour), **fields)
        return MatchMember("tec", key, event_id, "", "", event)

    found = dedupe.inherit_rekeyed(
        [member("uid-2", None, new, 19)], [member("uid-1", "e-old", old, 18)]
    )
    assert found == ({("tec", "uid-2"): "e-old"} if inherits else {})


class Region:
    """A real store and the pipeline's update step, for multi-harvest stories."""

    def __init__(self, tmp_path: Path) -> None:
        self.store = Store(tmp_path / "region.db")
        self.sources = [
            Source(id=i, name=i, priority=p)
            for i, p in (("teater", 50), ("fb", 40), ("kommun", 20))
        ]
        self.config = Config(
            path=tmp_path / "sources.yaml", settings=Settings(), sources=tuple(self.sources)
        )
        self.store.sync_sources(self.sources)
        self.now = NOW

    def harvest(self, source_id: str, events: list[Event]) -> None:
        self.now += timedelta(hours=1)
        self.store.apply_harvest(
            source_id, events, [], self.now, etag=None, last_modified=None, fingerprint=None
        )
        update_events(self.store, self.config, self.now)

    def published(self) -> dict[str, str]:
        """title → event id of every published event."""
        return {
            json.loads(data)["title"]: event_id
            for event_id, data in self.store.conn.execute(
                "SELECT id, data FROM events WHERE removed_at IS NULL"
            )
        }

    def event_of(self, source_id: str, key: str) -> str:
        return self.store.event_id_of((source_id, key)) or ""

    def cli(self, *args: str) -> int:
        return main_with_store(self, *args)


def main_with_store(region: Region, *args: str) -> int:
    from aggregator.cli import events as moderation

    parser = __import__("aggregator.cli", fromlist=["build_parser"]).build_parser()
    parsed = parser.parse_args(["events", *args])
    region.now += timedelta(hours=1)
    return moderation.run(parsed, region.config, region.store, region.now)


import json  # noqa: E402

PIPPI = utc(2026, 12, 12, 18)


def test_same_show_from_three_sources_is_one_event_but_the_matinee_is_not(tmp_path: Path) -> None:
    region = Region(tmp_path)
    region.harvest(
        "teater",
        [
            ev_at("teater", "t1", "Pippi Långstrump på cirkus", PIPPI),
            ev_at("teater", "t2", "Pippi Långstrump på cirkus", PIPPI - timedelta(hours=5)),
        ],
    )
    region.harvest(
        "fb",
        [
            ev_at(
                "fb",
                "f1",
                "PIPPI LÅNGSTRUMP PÅ CIRKUS – premiär!",
                PIPPI,
                place="Virserums Folkets hus, Virserum",
            )
        ],
    )
    region.harvest(
        "kommun",
        [ev_at("kommun", "k1", "Pippi Långstrump på cirkus", PIPPI + timedelta(minutes=15))],
    )
    evening = region.event_of("teater", "t1")
    assert region.event_of("fb", "f1") == evening == region.event_of("kommun", "k1")
    assert region.event_of("teater", "t2") != evening, "the 2 pm matinée is its own event"
    assert (
        region.store.conn.execute(
            "SELECT count(*) FROM events WHERE removed_at IS NULL"
        ).fetchone()[0]
        == 2
    )


def test_older_published_id_survives_when_two_events_turn_out_to_be_one(tmp_path: Path) -> None:
    region = Region(tmp_path)
    region.harvest("teater", [ev_at("teater", "t1", "Julkonsert med kören", PIPPI)])
    region.harvest("kommun", [ev_at("kommun", "k1", "Konsert", PIPPI, place="Kyrkan, Målilla")])
    older, newer = region.event_of("teater", "t1"), region.event_of("kommun", "k1")
    assert older != newer and len(region.published()) == 2
    region.harvest("kommun", [ev_at("kommun", "k1", "Julkonsert med kören", PIPPI)])
    assert region.event_of("kommun", "k1") == older
    assert set(region.published().values()) == {older}, "the newer id left the feeds"
    region.harvest("teater", [])  # the organizer's own member leaves: the cluster keeps its id
    assert region.event_of("kommun", "k1") == older


def test_rekeyed_event_of_one_source_keeps_its_published_id(tmp_path: Path) -> None:
    region = Region(tmp_path)
    region.harvest("teater", [ev_at("teater", "2101-20261212T1900", "Vernissage", PIPPI)])
    first = region.event_of("teater", "2101-20261212T1900")
    region.harvest(
        "teater", [ev_at("teater", "2101-20261213T1500", "Vernissage", PIPPI + timedelta(hours=20))]
    )
    assert region.event_of("teater", "2101-20261213T1500") == first
    sequence = region.store.conn.execute(
        "SELECT sequence FROM events WHERE id = ?", (first,)
    ).fetchone()[0]
    assert sequence == 1 and list(region.published().values()) == [first]


def test_moderator_merge_split_and_apart_are_honoured_later(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    region = Region(tmp_path)
    region.harvest("teater", [ev_at("teater", "t1", "Julkonsert", PIPPI)])
    region.harvest(
        "kommun", [ev_at("kommun", "k1", "Adventsmusik i kyrkan", PIPPI, place="Kyrkan, Virserum")]
    )
    a, b = region.event_of("teater", "t1"), region.event_of("kommun", "k1")
    assert a != b
    assert region.cli("merge", a, b) == 0
    assert region.event_of("kommun", "k1") == a
    region.harvest(
        "kommun",
        [
            ev_at(
                "kommun",
                "k1",
                "Adventsmusik i kyrkan",
                PIPPI,
                place="Kyrkan, Virserum",
                description="ändrad text",
            )
        ],
    )
    assert region.event_of("kommun", "k1") == a, "a merge is remembered across harvests"
    assert region.cli("show", a) == 0
    shown = capsys.readouterr().out
    assert "teater:t1" in shown and "kommun:k1" in shown and "joined by a moderator" in shown
    assert region.cli("split", a) == 0
    assert region.event_of("kommun", "k1") != a and region.event_of("teater", "t1") == a
    region.harvest("kommun", [ev_at("kommun", "k1", "Julkonsert", PIPPI)])
    assert region.event_of("kommun", "k1") != a, "kept apart even when the titles now agree"


def test_review_queue_lists_uncertain_pairs_with_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    region = Region(tmp_path)
    region.harvest("teater", [ev_at("teater", "t1", "Luciatåg", PIPPI, place="Kyrkan, Virserum")])
    region.harvest(
        "kommun",
        [
            ev_at(
                "kommun",
                "k1",
                "Luciatåg med kör och fika",
                PIPPI + timedelta(minutes=30),
                place="Virserum",
            )
        ],
    )
    capsys.readouterr()
    assert region.cli("review") == 0
    out = capsys.readouterr().out
    a, b = region.event_of("teater", "t1"), region.event_of("kommun", "k1")
    assert a != b, "a 0.75 score is uncertain: not merged"
    assert "review 0.75" in out
    assert f"aggregator events merge {a} {b}" in out or f"aggregator events merge {b} {a}" in out
    assert region.cli("apart", a, b) == 0
    capsys.readouterr()
    region.cli("review")
    assert "aggregator events merge" not in capsys.readouterr().out, (
        "a decided pair leaves the queue"
    )


def test_matching_is_incremental_by_day(tmp_path: Path) -> None:
    region = Region(tmp_path)
    region.harvest(
        "teater",
        [
            ev_at("teater", "dec", "Julkonsert", PIPPI),
            ev_at("teater", "mar", "Vårkonsert", utc(2027, 3, 20, 18)),
        ],
    )
    region.harvest(
        "kommun",
        [
            ev_at("kommun", "dec", "Julkonsert", PIPPI),
            ev_at("kommun", "mar", "Vårkonsert", utc(2027, 3, 20, 18)),
        ],
    )
    assert region.store.dirty_days() == []
    stamp = "SELECT at FROM match_pairs WHERE a_key = ? OR b_key = ?"
    march_before = region.store.conn.execute(stamp, ("mar", "mar")).fetchone()[0]
    region.harvest(
        "kommun",
        [
            ev_at("kommun", "dec", "Julkonsert!", PIPPI),
            ev_at("kommun", "mar", "Vårkonsert", utc(2027, 3, 20, 18)),
        ],
    )
    assert region.store.conn.execute(stamp, ("mar", "mar")).fetchone()[0] == march_before
    assert region.store.conn.execute(stamp, ("dec", "dec")).fetchone()[0] != march_before


def test_evening_event_is_matched_on_the_local_day_across_utc_midnight(tmp_path: Path) -> None:
    region = Region(tmp_path)
    late = utc(2026, 12, 31, 23, 30)  # 00:30 on 1 January in Stockholm
    region.harvest("teater", [ev_at("teater", "t1", "Nyårsdans", late)])
    region.harvest("kommun", [ev_at("kommun", "k1", "Nyårsdans", late + timedelta(minutes=15))])
    assert region.event_of("teater", "t1") == region.event_of("kommun", "k1")


def test_a_uid_reused_within_one_source_does_not_merge_its_events(tmp_path: Path) -> None:
    region = Region(tmp_path)
    region.harvest(
        "teater",
        [
            ev_at("teater", "same-uid", "Julkonsert", PIPPI, uid="same-uid"),
            ev_at("teater", "same-uid#2", "Barnteater", PIPPI + timedelta(days=3), uid="same-uid"),
        ],
    )
    region.harvest("kommun", [ev_at("kommun", "k", "Julkonsert", PIPPI, uid="same-uid")])
    assert region.event_of("teater", "same-uid") != region.event_of("teater", "same-uid#2")
    assert region.event_of("kommun", "k") == region.event_of("teater", "same-uid")


def test_moderator_cannot_merge_two_events_of_one_source_or_an_event_with_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    region = Region(tmp_path)
    region.harvest(
        "teater",
        [
            ev_at("teater", "matine", "Julrevy – matiné", PIPPI - timedelta(days=6)),
            ev_at("teater", "premiar", "Julrevy", PIPPI),
        ],
    )
    a, b = region.event_of("teater", "matine"), region.event_of("teater", "premiar")
    assert region.cli("merge", a, b) == 1
    assert "never merged" in capsys.readouterr().err
    assert region.cli("apart", a, a) == 1
    assert region.event_of("teater", "matine") == a and region.event_of("teater", "premiar") == b


def test_after_a_split_the_most_trusted_source_keeps_the_published_id(tmp_path: Path) -> None:
    region = Region(tmp_path)
    region.harvest("kommun", [ev_at("kommun", "k1", "JULREVY – PREMIÄR", PIPPI)])  # founds the id
    region.harvest("teater", [ev_at("teater", "t1", "Julrevy – premiär", PIPPI)])
    published = region.event_of("kommun", "k1")
    assert region.event_of("teater", "t1") == published
    assert region.cli("split", published) == 0
    assert region.event_of("teater", "t1") == published, "the organizer's own version keeps the id"
    assert region.event_of("kommun", "k1") != published


# -- a publisher UID is evidence, not proof (issue 8) -------------------------------------

OSKARSHAMN_30_DEC = utc(2026, 12, 30, 18)


@pytest.mark.parametrize(
    ("other", "one_event"),
    [
        (dict(title="Julkonsert med kören", start=PIPPI), True),
        (dict(title="Konsert", start=PIPPI + timedelta(minutes=15)), True),
        (
            dict(
                title="Helt annan händelse",
                start=OSKARSHAMN_30_DEC,
                place="Kulturhuset, Oskarshamn",
            ),
            False,
        ),
        (dict(title="Julkonsert med kören", start=PIPPI, place="Kulturhuset, Oskarshamn"), False),
        (dict(title="Julkonsert med kören", start=PIPPI + timedelta(hours=3)), False),
        (dict(title="Julkonsert med kören", start=PIPPI + timedelta(days=1)), False),
    ],
    ids=[
        "same-time-and-place",
        "other-title-15-min",
        "other-day-other-town",
        "same-time-other-town",
        "same-place-3-hours-later",
        "same-place-next-day",
    ],
)
def test_a_uid_shared_across_sources_joins_only_when_time_and_place_agree(
    tmp_path: Path, other: dict, one_event: bool
) -> None:
    """Small CMSs write UIDs like ``1@`` on every site; a shared one alone proves nothing."""
    region = Region(tmp_path)
    region.harvest(
        "teater",
        [ev_at("teater", "1@", "Julkonsert med kören", PIPPI, place="Kyrkan, Vimmerby", uid="1@")],
    )
    fields = dict(other)
    region.harvest(
        "kommun",
        [
            ev_at(
                "kommun",
                "1@",
                fields.pop("title"),
                fields.pop("start"),
                place=fields.pop("place", "Kyrkan, Vimmerby"),
                uid="1@",
            )
        ],
    )
    same = region.event_of("teater", "1@") == region.event_of("kommun", "1@")
    assert same is one_event
    active = region.store.conn.execute("SELECT count(*) FROM events WHERE removed_at IS NULL")
    assert active.fetchone()[0] == (1 if one_event else 2), "no event is lost"


def test_a_shared_uid_for_two_events_loses_neither_from_the_feeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case, through the CLI: each organizer's feed shows its own event."""
    from aggregator.cli import main
    from tests.support import write_config

    def calendar(name: str, summary: str, start: str, location: str) -> Path:
        path = tmp_path / f"{name}.ics"
        path.write_text(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Liten CMS//SV\r\nBEGIN:VEVENT\r\n"
            f"UID:event-12\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:{start}\r\n"
            f"SUMMARY:{summary}\r\nLOCATION:{location}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            encoding="utf-8",
        )
        return path

    a = calendar("a", "Julkonsert", "20261215T180000Z", "Kyrkan\\, Vimmerby")
    b = calendar("b", "Helt annan händelse", "20261230T180000Z", "Kulturhuset\\, Oskarshamn")
    config = write_config(
        tmp_path,
        [{"id": "a", "name": "A", "path": str(a)}, {"id": "b", "name": "B", "path": str(b)}],
    )
    monkeypatch.setenv("AGGREGATOR_NOW", "2026-12-01T12:00:00+00:00")
    assert main(["--config", str(config), "-q", "run", "--once"]) == 0
    feeds = tmp_path / "feeds"
    assert "SUMMARY:Helt annan händelse" in (feeds / "organizer" / "b.ics").read_text("utf-8")
    assert "SUMMARY:Julkonsert" not in (feeds / "organizer" / "b.ics").read_text("utf-8")
    assert (feeds / "all.ics").read_text("utf-8").count("BEGIN:VEVENT") == 2


def test_a_published_id_survives_when_a_second_source_lists_the_event(tmp_path: Path) -> None:
    """Subscribers must not see the event vanish and come back under a new UID."""
    region = Region(tmp_path)
    region.harvest("teater", [ev_at("teater", "t1", "Pippi Långstrump på cirkus", PIPPI)])
    published = region.event_of("teater", "t1")
    region.harvest("fb", [ev_at("fb", "f1", "PIPPI LÅNGSTRUMP PÅ CIRKUS", PIPPI)])
    assert region.event_of("fb", "f1") == published == region.event_of("teater", "t1")
    removed = region.store.conn.execute(
        "SELECT count(*) FROM events WHERE removed_at IS NOT NULL"
    ).fetchone()[0]
    assert removed == 0


def test_sunday_services_in_two_churches_of_one_municipality_stay_two_events(
    tmp_path: Path,
) -> None:
    """The venue's parish is the evidence: "X kyrka" is not every other "Y kyrka"."""
    region = Region(tmp_path)
    sunday = utc(2027, 1, 10, 10)
    region.harvest(
        "teater", [ev_at("teater", "p", "Gudstjänst", sunday, place="Pelarne kyrka, Vimmerby")]
    )
    region.harvest(
        "kommun",
        [
            ev_at("kommun", "t", "Gudstjänst", sunday, place="Tuna kyrka, Vimmerby"),
            ev_at("kommun", "p", "GUDSTJÄNST", sunday, place="Kyrkan, Pelarne"),
        ],
    )
    assert region.event_of("teater", "p") != region.event_of("kommun", "t")
    assert region.event_of("teater", "p") == region.event_of("kommun", "p")
