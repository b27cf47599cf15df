"""Identity and merging (exact stage): stable ids, shared UIDs, priorities, SEQUENCE."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from aggregator import dedupe
from aggregator.config import Config
from aggregator.model import CANCELLED, Event, Place, Settings, Source
from aggregator.pipeline import update_events
from aggregator.store import EventRow, MemberRow, Store
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


def test_decide_identities_joins_shared_uids_and_keeps_existing_ids() -> None:
    unassigned = [
        ("kommun", "u1", "u1"),
        ("teater", "u1", "u1"),
        ("teater", "x", ""),
        ("fb", "u2", "u2"),
    ]
    decided = dedupe.decide_identities(unassigned, {"u2": "old-event"})
    ids = {(s, k): e for s, k, e in decided}
    assert ids[("kommun", "u1")] == ids[("teater", "u1")]
    assert ids[("fb", "u2")] == "old-event"
    assert ids[("teater", "x")] == dedupe.event_id_for("teater", "x")


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
    merged = dedupe.merge_members([listing, organizer])
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
    merged = dedupe.merge_members(members)
    assert merged is not None and merged.status == expected


def test_sequence_rises_only_when_published_content_changes() -> None:
    row = EventRow("e1", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z", 0, "", False)
    first = dedupe.refresh_event(row, [member("teater", 50)], NOW)
    assert first.changed and first.sequence == 0
    row = EventRow(
        "e1", row.created_at, first.modified_at, first.sequence, first.content_hash, False
    )
    same = dedupe.refresh_event(row, [member("teater", 50)], NOW + timedelta(hours=1))
    assert not same.changed
    moved = dedupe.refresh_event(
        row, [member("teater", 50, title="Pippi på cirkus – extra")], NOW + timedelta(hours=1)
    )
    assert moved.changed and moved.sequence == 1 and moved.modified_at == "2026-11-26T13:00:00Z"


def test_removed_event_keeps_counting_sequence_when_it_returns() -> None:
    row = EventRow("e1", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z", 3, "abc", False)
    gone = dedupe.refresh_event(row, [], NOW)
    assert gone.removed and gone.sequence == 4
    row = EventRow("e1", row.created_at, gone.modified_at, gone.sequence, gone.content_hash, True)
    back = dedupe.refresh_event(row, [member("teater", 50)], NOW)
    assert back.changed and not back.removed and back.sequence == 5


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
    put("a", [], NOW + timedelta(hours=1))  # the founding member leaves
    remaining = store.conn.execute("SELECT id, removed_at, data FROM events").fetchall()
    assert len(remaining) == 1 and remaining[0][0] == ids[0][0] and remaining[0][1] is None
    assert "JULMARKNAD" in remaining[0][2]
