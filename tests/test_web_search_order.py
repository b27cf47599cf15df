"""Full-text search listings in start order (docids by start, migration m042): over real
HTTP, many events sharing a start second, paged by cursor, and an old database migrated."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

import pytest
import requests
import sqlite_utils

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.store import SearchQuery, Store, build_migrations, merged_to_json
from aggregator.store.codec import event_from_json
from aggregator.store.web_queries import EventQuery, Fragment
from tests.support import write_config
from tests.web_server import running
from tests.web_site import Site, calendar, titles, vevent

NOW = "2026-11-26T12:00:00+00:00"
# (local start, how many concerts start then): ties on one second are the hard case,
# because within a second the index's order is not the listing's (start, id) order
STARTS = [("20261210T180000", 7), ("20261203T190000", 6), ("20261217T180000", 5)]


def concerts(moved: bool = False, edited: bool = False) -> str:
    """``edited``: every other concert gets a description, so it is indexed again
    (numbered after the others of its second, out of id order)."""
    events = []
    for start, count in STARTS:
        day, hour = start.split("T")
        for n in range(count):
            end = f"{day}T{int(hour[:2]) + 2:02d}0000"
            extra = {"DESCRIPTION": "Nu med luciatåg"} if edited and n % 2 == 0 else {}
            events.append(
                vevent(f"jul-{start}-{n}@kor.se", start, end, f"Julkonsert nr {n}", **extra)
            )
            events.append(vevent(f"loppis-{start}-{n}@kor.se", start, end, f"Loppis nr {n}"))
    first = "20261201T120000" if not moved else "20261220T120000"
    events.append(vevent("flytt@kor.se", first, first[:9] + "230000", "Julkonsert som flyttar"))
    return calendar(*events)


def build(folder: Path) -> Site:
    (folder / "kor.ics").write_text(concerts(), encoding="utf-8")
    config_file = write_config(
        folder,
        [
            {
                "id": "kor",
                "name": "Kyrkokören",
                "path": str(folder / "kor.ics"),
                "municipality": "Eksjö",
            }
        ],
    )
    assert main(["--config", str(config_file), "run", "--once"]) == 0
    config = load_config(config_file)
    return Site(folder, config, titles(config))


def listing(base: str, **params: object) -> list[dict[str, object]]:
    """Every event of a listing, page by page along next_cursor."""
    items: list[dict[str, object]] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = requests.get(f"{base}/api/events", params=query, timeout=10)  # type: ignore[arg-type]
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["events"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def ids(items: list[dict[str, object]]) -> list[str]:
    return [str(item["id"]) for item in items]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    monkeypatch.setenv("AGGREGATOR_NOW", NOW)
    return build(tmp_path)


def docids_out_of_id_order(site: Site) -> bool:
    """Whether, within some second, the index's order differs from the id order."""
    store = site.store()
    try:
        rows = store.conn.execute(
            "SELECT docid >> 24, event_id FROM search_docs ORDER BY docid"
        ).fetchall()
    finally:
        store.close()
    return any(a[0] == b[0] and a[1] > b[1] for a, b in itertools.pairwise(rows))


def test_search_pages_are_the_listing_in_start_order(site: Site) -> None:
    """Paged 1, 2, 3, 4 and 5 at a time, the search gives exactly the plain listing's
    concerts, in its order (start, then id), each once, across ties in one second."""
    site.write("kor.ics", concerts(edited=True))
    site.rerun()
    assert docids_out_of_id_order(site), "the case to test: index order is not id order"
    with running(site.config) as base:
        everything = listing(base, limit=500)
        wanted = [item for item in everything if "Julkonsert" in str(item["title"])]
        assert len(wanted) == sum(count for _, count in STARTS) + 1
        for limit in (1, 2, 3, 4, 5, 50):
            found = listing(base, q="julkonsert", limit=limit)
            assert ids(found) == ids(wanted), f"limit={limit}"
        in_eksjo = listing(base, q="jul*", municipality="eksjo", limit=4)
        assert ids(in_eksjo) == ids(wanted), "with a feed filter too"
        assert listing(base, q="julkonsert", municipality="vimmerby") == []
        day = {"from": "2026-12-10", "to": "2026-12-10"}
        one_day = listing(base, q="julkonsert", limit=2, **day)
        assert ids(one_day) == ids(
            [i for i in wanted if str(i["_event"]["start"]).startswith("2026-12-10")]  # type: ignore[index]
        )
        assert len(one_day) == 7


def test_an_event_that_moves_moves_in_the_search(site: Site) -> None:
    """The docid follows the start: a concert moved from first to last is listed last."""
    with running(site.config) as base:
        before = listing(base, q="julkonsert", limit=3)
        assert before[0]["title"] == "Julkonsert som flyttar"
    site.write("kor.ics", concerts(moved=True))
    site.rerun()
    with running(site.config) as base:
        after = listing(base, q="julkonsert", limit=3)
        assert after[-1]["title"] == "Julkonsert som flyttar"
        assert sorted(ids(after)) == sorted(ids(before)), "same events, none lost or doubled"
        plain = [i for i in listing(base, limit=500) if "Julkonsert" in str(i["title"])]
        assert ids(after) == ids(plain)
    store = site.store()
    try:
        docs = store.conn.execute("SELECT count(*) FROM search_docs").fetchone()[0]
        indexed = store.conn.execute("SELECT count(*) FROM event_search").fetchone()[0]
    finally:
        store.close()
    assert docs == indexed == len(plain) * 2 - 1, "one index row per published event"


def _old_event(key: str, title: str, start: str) -> str:
    return merged_to_json(
        event_from_json(
            json.dumps(
                {
                    "source_id": "",
                    "key": key,
                    "title": title,
                    "start": start,
                    "end": start,
                    "all_day": False,
                    "timezone": "Europe/Stockholm",
                    "status": "confirmed",
                    "description": "",
                    "description_html": "",
                    "url": "",
                    "place": ["Kyrkan", "", "Lönneberga", "Hultsfred", None, None],
                    "location_text": "",
                    "categories": [],
                    "organizer_name": "",
                    "organizer_url": "",
                    "image": "",
                    "uid": "",
                }
            )
        ),
        [("kor", "")],
    )


def test_an_old_database_gets_its_index_numbered_in_start_order(tmp_path: Path) -> None:
    """A database indexed before m042 (docids in the order events were first saved)
    is re-indexed on upgrade: searches then come in start order, still fold å/ä/ö."""
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    build_migrations().apply(db, stop_before="m042_search_in_start_order")
    starts = ["2026-12-24T16:00:00Z", "2026-12-05T17:00:00Z", "2026-12-13T07:00:00Z"]
    for n, start in enumerate(starts):  # saved latest first: old docids are the reverse
        db.execute(
            """INSERT INTO events (id, created_at, modified_at, content_hash, start_utc,
                                   end_utc, data) VALUES (?, 'x', 'x', 'h', ?, ?, ?)""",
            (f"e{n}", start, start, _old_event(f"k{n}", f"Julkonsert {n} i Lönneberga", start)),
        )
    db.execute("DELETE FROM search_pending")  # as the old store's commit left it
    db.execute("INSERT INTO search_docs (event_id) SELECT id FROM events ORDER BY id")
    db.execute(
        """INSERT INTO event_search (rowid, title, description, place, organizer)
           SELECT d.docid, json_extract(e.data, '$.title'), '', 'Lönneberga', ''
           FROM events e JOIN search_docs d ON d.event_id = e.id"""
    )
    db.conn.close()

    store = Store(path)
    try:
        query = EventQuery(
            ends_after="2026-11-26T12:00:00Z", search=SearchQuery.parse("lonneberga jul*")
        )
        listed = [row.id for row in store.list_events(query, Fragment.JSON)]
        assert listed == ["e1", "e2", "e0"]
        assert sorted(store.search_event_ids("lönneberga")) == ["e0", "e1", "e2"]
        docids = store.conn.execute("SELECT docid FROM search_docs ORDER BY docid").fetchall()
        assert len(docids) == 3
    finally:
        store.close()
