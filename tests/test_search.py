"""Full-text search of published events (FTS5): `events list --q` through main, and the
store's one search function that the web API shares, on a real SQLite file."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from aggregator.cli import main
from aggregator.store import SearchProblem, SearchQuery, Store, build_migrations, merged_to_json
from aggregator.store.codec import event_from_json
from tests.support import write_config


def vevent(uid: str, summary: str, day: int, *lines: str) -> str:
    extra = "".join(f"{line}\r\n" for line in lines)
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=Europe/Stockholm:202612{day:02d}T180000\r\n"
        f"DTEND;TZID=Europe/Stockholm:202612{day:02d}T200000\r\n"
        f"SUMMARY:{summary}\r\n{extra}END:VEVENT\r\n"
    )


def calendar(*events: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Search//SV\r\n"
        + "".join(events)
        + ("END:VCALENDAR\r\n")
    )


HEMBYGD = calendar(
    vevent(
        "jul@hembygd.se",
        "Julmarknad i Lönneberga",
        5,
        "LOCATION:Hembygdsgården\\, Lönneberga",
        "ORGANIZER;CN=Lönneberga hembygdsförening:mailto:info@hembygd.se",
    ),
    vevent(
        "kafe@hembygd.se",
        "Café-kväll",
        8,
        "DESCRIPTION:Kaffe\\, kaka och 100% hemlagat. Ta med en vän_",
        "LOCATION:Folkets hus\\, Storgatan 3\\, Hultsfred",
    ),
    vevent("lucia@hembygd.se", "Luciatåg", 13, "LOCATION:Kyrkan\\, Mariannelund"),
)
BIO = calendar(
    vevent("film@bio.se", "Filmkväll: Tomten är far till alla barnen", 12, "LOCATION:Bion"),
    vevent("title@bio.se", "Stockholmsnatt", 19, "DESCRIPTION:Film om en natt i huvudstaden"),
)


def site_config(folder: Path) -> Path:
    return write_config(
        folder,
        [
            {"id": "hembygd", "name": "Hembygden", "path": str(folder / "hembygd.ics")},
            {"id": "bio", "name": "Bion", "path": str(folder / "bio.ics")},
        ],
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two calendars harvested and published; read-only for the tests that share it."""
    folder = tmp_path_factory.mktemp("search")
    (folder / "hembygd.ics").write_text(HEMBYGD, encoding="utf-8")
    (folder / "bio.ics").write_text(BIO, encoding="utf-8")
    config = site_config(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGGREGATOR_NOW", "2026-11-26T12:00:00+00:00")
        assert main(["--config", str(config), "run", "--once"]) == 0
    return config


@pytest.fixture
def own_site(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A copy of ``site`` this test may change."""
    shutil.copytree(site.parent, tmp_path, dirs_exist_ok=True)
    capsys.readouterr()
    return site_config(tmp_path)


def titles(config: Path, capsys: pytest.CaptureFixture[str], query: str) -> set[str]:
    assert main(["--config", str(config), "events", "list", "--json", f"--q={query}"]) == 0
    return {json.loads(line)["title"] for line in capsys.readouterr().out.splitlines()}


JUL, CAFE, LUCIA = "Julmarknad i Lönneberga", "Café-kväll", "Luciatåg"
FILM, NATT = "Filmkväll: Tomten är far till alla barnen", "Stockholmsnatt"

FOUND = [
    pytest.param("lonneberga", {JUL}, id="without diacritics"),
    pytest.param("LÖNNEBERGA", {JUL}, id="upper case"),
    pytest.param("jul*", {JUL}, id="prefix finds the compound"),
    pytest.param("Jul*", {JUL}, id="prefix in any case"),
    pytest.param("jul", set(), id="a word is a whole word"),
    pytest.param("cafe", {CAFE}, id="cafe finds café"),
    pytest.param("kaka", {CAFE}, id="description"),
    pytest.param("storgatan", {CAFE}, id="street"),
    pytest.param("hultsfred", {CAFE, JUL}, id="locality and municipality"),
    pytest.param("mariannelund", {LUCIA}, id="place text"),
    pytest.param("hembygdsforening", {JUL}, id="organizer"),
    pytest.param("kväll", {CAFE}, id="word after a hyphen"),
    pytest.param("kvall*", {CAFE}, id="accent-free prefix"),
    pytest.param("film* tomten", {FILM}, id="every word must match"),
    pytest.param("kväll*", {CAFE}, id="a prefix is the start of a word"),
    pytest.param('"far till alla"', {FILM}, id="a quoted phrase"),
    pytest.param('"alla till far"', set(), id="a phrase in another order"),
    pytest.param("lucia lonneberga", set(), id="words of two events"),
    pytest.param("title", set(), id="a JSON key is not content"),
    pytest.param("Stockholm", set(), id="the time zone is not content"),
    pytest.param("stockholm*", {NATT}, id="but a word starting so is"),
    pytest.param("100%", {CAFE}, id="percent is not a wildcard"),
    pytest.param("vän_", {CAFE}, id="underscore is not a wildcard"),
    pytest.param("confirmed", set(), id="the status is not content"),
]


@pytest.mark.parametrize(("query", "expected"), FOUND)
def test_events_list_q_searches_the_text(
    site: Path, capsys: pytest.CaptureFixture[str], query: str, expected: set[str]
) -> None:
    assert titles(site, capsys, query) == expected


HOSTILE = [
    "title:jul*",
    "jul* OR lucia",
    "NEAR(jul lucia)",
    '"unterminated phrase',
    'a"b"c',
    "-lucia",
    "^jul",
    "jul AND",
    "(lucia",
    "lucia)",
    "{title}:jul",
    "jul NOT",
    "'; DROP TABLE events; --",
    "ju*l",
    '"" jul*',
]


@pytest.mark.parametrize("query", HOSTILE)
def test_search_syntax_is_never_injected(
    site: Path, capsys: pytest.CaptureFixture[str], query: str
) -> None:
    """Operators and quotes are searched as text: no SQLite error, never more than the words."""
    found = titles(site, capsys, query)
    assert found <= {JUL, LUCIA}
    store = Store(site.parent / "test.db")
    assert set(store.search_event_ids(query)) <= {
        row.id for row in store.published_events() if row.event.title in {JUL, LUCIA}
    }
    store.close()


@pytest.mark.parametrize("query", ["%", "_", "*", '""', "   ", "- + ^", "\x00"])
def test_text_without_words_is_refused_with_a_sentence(
    site: Path, capsys: pytest.CaptureFixture[str], query: str
) -> None:
    assert main(["--config", str(site), "events", "list", f"--q={query}"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "aggregator: --q: Söktexten innehåller inga bokstäver eller siffror att söka efter."
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("jul", None),
        ("%", SearchProblem.NO_WORDS),
        (" ".join(["ord"] * 17), SearchProblem.TOO_MANY_WORDS),
        ("a" * 501, SearchProblem.TOO_LONG),
    ],
    ids=["fine", "no words", "too many words", "too long"],
)
def test_parse_says_what_cannot_be_searched(text: str, problem: SearchProblem | None) -> None:
    query = SearchQuery.parse(text)
    assert query.problem is problem
    assert bool(query.sentence()) is (problem is not None)


def test_parse_quotes_every_term() -> None:
    query = SearchQuery.parse('jul* "folkets hus" NEAR(a')
    assert query.expression == '"jul"* "folkets hus" "NEAR(a"'


def test_search_event_ids_ranks_title_matches_first(site: Path) -> None:
    store = Store(site.parent / "test.db")
    by_title = {row.event.title: row.id for row in store.published_events()}
    # "film" begins a word of one title and a word of another event's description
    assert store.search_event_ids("film*") == [by_title[FILM], by_title[NATT]]
    assert store.search_event_ids("film*", limit=1) == [by_title[FILM]]
    store.close()


def test_the_index_follows_changes_and_removals(
    own_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calendar_file = own_site.parent / "hembygd.ics"
    calendar_file.write_text(
        HEMBYGD.replace("Julmarknad i Lönneberga", "Adventsmarknad i Lönneberga").replace(
            vevent("lucia@hembygd.se", "Luciatåg", 13, "LOCATION:Kyrkan\\, Mariannelund"), ""
        ),
        encoding="utf-8",
    )
    assert main(["--config", str(own_site), "run", "--once"]) == 0
    capsys.readouterr()
    assert titles(own_site, capsys, "jul*") == set()
    assert titles(own_site, capsys, "advent*") == {"Adventsmarknad i Lönneberga"}
    assert titles(own_site, capsys, "mariannelund") == set(), "a removed event is not found"
    store = Store(own_site.parent / "test.db")
    indexed = store.conn.execute("SELECT count(*) FROM event_search").fetchone()[0]
    published = len(store.published_events())
    store.close()
    assert indexed == published == 4


def test_the_same_event_from_two_sources_is_found_once(
    own_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Merged events are searched, not the sources' copies of them."""
    (own_site.parent / "kommun.ics").write_text(
        calendar(vevent("jul@hembygd.se", "JULMARKNAD I LÖNNEBERGA", 5)), encoding="utf-8"
    )
    config = write_config(
        own_site.parent,
        [
            {"id": "hembygd", "name": "Hembygden", "path": str(own_site.parent / "hembygd.ics")},
            {"id": "bio", "name": "Bion", "path": str(own_site.parent / "bio.ics")},
            {"id": "kommun", "name": "Kommunen", "path": str(own_site.parent / "kommun.ics")},
        ],
    )
    assert main(["--config", str(config), "run", "--once"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "events", "list", "--q", "lonneberga"]) == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 1 and out.err.strip() == "1 events"


def test_migration_indexes_the_events_already_published(tmp_path: Path) -> None:
    """A database from before the search (m001–m003) gets its events indexed on upgrade."""
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    build_migrations().apply(db, stop_before="m004_event_search")
    event = event_from_json(
        json.dumps(
            {
                "source_id": "",
                "key": "e1",
                "title": "Julmarknad i Lönneberga",
                "start": "2026-12-05T17:00:00Z",
                "end": "2026-12-05T19:00:00Z",
                "all_day": False,
                "timezone": "Europe/Stockholm",
                "status": "confirmed",
                "description": "",
                "description_html": "",
                "url": "",
                "place": ["Hembygdsgården", "", "Lönneberga", "Hultsfred", None, None],
                "location_text": "",
                "categories": [],
                "organizer_name": "",
                "organizer_url": "",
                "image": "",
                "uid": "",
            }
        )
    )
    db.execute(
        """INSERT INTO events (id, created_at, modified_at, content_hash, start_utc, end_utc, data)
           VALUES ('e1', 'x', 'x', 'h', '2026-12-05T17:00:00Z', '2026-12-05T19:00:00Z', ?)""",
        (merged_to_json(event, [("hembygd", "")]),),
    )
    db.execute(
        """INSERT INTO events (id, created_at, modified_at, content_hash, data, removed_at)
           VALUES ('gone', 'x', 'x', 'removed', '{}', 'x')"""
    )
    db.conn.close()
    store = Store(path)
    assert store.search_event_ids("lonneberga") == ["e1"]
    assert store.search_event_ids("hultsfred") == ["e1"]
    assert store.conn.execute("SELECT count(*) FROM event_search").fetchone()[0] == 1
    store.close()
