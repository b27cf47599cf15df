"""The JSON API over real HTTP (uvicorn on a free port) against a real published store."""

from __future__ import annotations

import json
import re

import icalendar
import pytest
import requests

from tests.web_server import running
from tests.web_site import HOSTILE, TEATER, Site, build_site, calendar, vevent


def events(base: str, **params: object) -> list[dict[str, object]]:
    answer = requests.get(f"{base}/api/events", params=params, timeout=10)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]  # type: ignore[no-any-return]


def titles(items: list[dict[str, object]]) -> list[object]:
    return [item["title"] for item in items]


def test_upcoming_events_in_start_order_shaped_as_the_json_feed(base: str, site: Site) -> None:
    items = events(base)
    assert titles(items) == [
        "Morgonläsning",
        "Jazzkväll på teatern",
        "Julmarknad i Lönneberga",
        HOSTILE,
        "Nyårsrevy",
    ]
    feed = json.loads((site.folder / "feeds" / "all.json").read_text(encoding="utf-8"))
    published = {item["id"]: item for item in feed["items"]}
    for item in items:
        assert item == published[item["id"]], "the same item as in the published JSON feed"
    assert items[1]["_event"]["start"] == "2026-12-05T19:00:00+01:00"  # type: ignore[index]


def test_dates_are_local_days_and_to_includes_its_day(base: str) -> None:
    assert titles(events(base, **{"from": "2026-12-12", "to": "2026-12-12"})) == [
        "Julmarknad i Lönneberga"
    ]
    assert titles(events(base, **{"from": "2026-12-05T21:30", "to": "2026-12-06"})) == [
        "Jazzkväll på teatern"
    ], "still running at 21:30 local"
    late = events(base, **{"from": "2026-12-05T22:00:00+01:00", "to": "2026-12-06"})
    assert late == [], "ended at 22:00 local"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"municipality": "vimmerby"}, ["Morgonläsning", "Jazzkväll på teatern", "Nyårsrevy"]),
        (
            {"municipality": ["hultsfred", "vimmerby"], "category": "jazz"},
            ["Jazzkväll på teatern"],
        ),
        (
            {"category": ["jazz", "marknad"]},
            ["Jazzkväll på teatern", "Julmarknad i Lönneberga", HOSTILE],
        ),
        ({"organizer": "kommun"}, ["Julmarknad i Lönneberga"]),
        ({"status": "cancelled"}, [HOSTILE]),
        (
            {"municipality": "Vimmerby", "to": "2026-12-31"},
            ["Morgonläsning", "Jazzkväll på teatern"],
        ),
        ({"municipality": "eksjo"}, []),
    ],
)
def test_filters(base: str, params: dict[str, object], expected: list[str]) -> None:
    assert titles(events(base, **params)) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("lonneberga", ["Julmarknad i Lönneberga", HOSTILE]),  # the organizer's name too
        ("jul*", ["Julmarknad i Lönneberga"]),
        ("LÖNNEBERGA tomte", ["Julmarknad i Lönneberga"]),
        ("teater", ["Jazzkväll på teatern", "Nyårsrevy"]),  # the place: Vimmerby teater
        ('jazz OR "unbalanced', []),
        ("hembygdsförening", ["Julmarknad i Lönneberga", HOSTILE]),
    ],
)
def test_full_text_search_is_the_cli_search(base: str, q: str, expected: list[str]) -> None:
    assert titles(events(base, q=q)) == expected


def test_search_combines_with_filters_and_refuses_nothing_to_search(base: str) -> None:
    assert titles(events(base, q="vimmerby", municipality="vimmerby", to="2026-12-31")) == [
        "Morgonläsning",
        "Jazzkväll på teatern",
    ]
    answer = requests.get(f"{base}/api/events?q=***", timeout=10)
    assert answer.status_code == 422 and answer.json()["field"] == "q"


def test_cursor_pages_through_everything_once(base: str) -> None:
    seen: list[object] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        answer = requests.get(f"{base}/api/events", params=params, timeout=10).json()  # type: ignore[arg-type]
        seen += [item["id"] for item in answer["events"]]
        pages += 1
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [item["id"] for item in events(base)]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("limit=0", 422, "limit"),
        ("limit=501", 422, "limit"),
        ("limit=many", 422, "limit"),
        ("cursor=garbage", 400, "cursor"),
        ("cursor=WyJ4IiwieSJd", 400, "cursor"),
        ("from=yesterday", 422, "from"),
        ("from=2026-02-30", 422, "from"),
        ("from=2026-03-29T02:30", 422, "from"),
        ("from=2026-10-25T02:30", 422, "from"),
        ("from=2026-12-10&to=2026-12-01", 422, "to"),
        ("municipality=stockholm", 422, "municipality"),
        ("municipality=%C3%A5%C3%A4", 422, "municipality"),
        ("organizer=nobody", 422, "organizer"),
        ("category=finns-inte", 422, "category"),
        ("category=jazz&category=nope", 422, "category"),
        ("status=maybe", 422, "status"),
        ("q=" + "x" * 501, 422, "q"),
    ],
)
def test_bad_parameters_say_which_and_why(base: str, query: str, status: int, field: str) -> None:
    answer = requests.get(f"{base}/api/events?{query}", timeout=10)
    assert answer.status_code == status
    body = answer.json()
    assert set(body) == {"error", "field"}
    assert body["field"] == field and body["error"]
    assert not ENGLISH.search(body["error"]), body["error"]
    assert "Traceback" not in answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


ENGLISH = re.compile(r"\b(should|Input|required|valid|least|most|characters)\b")


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("limit=501", "limit får vara högst 500."),
        ("limit=0", "limit måste vara minst 1."),
        ("limit=many", "limit måste vara ett heltal."),
        ("q=" + "x" * 501, "Söktexten är längre än 500 tecken."),
        ("status=maybe", "status måste vara något av: 'confirmed', 'tentative' eller 'cancelled'."),
    ],
)
def test_refusals_are_said_in_swedish(base: str, query: str, sentence: str) -> None:
    """FastAPI's own checks (bounds, types, choices) answer in the API's language too."""
    answer = requests.get(f"{base}/api/events?{query}", timeout=10)
    assert answer.json()["error"] == sentence


def test_dst_gap_with_an_offset_is_fine(base: str) -> None:
    answer = requests.get(f"{base}/api/events?from=2026-03-29T02:30:00%2B01:00", timeout=10)
    assert answer.status_code == 200


def test_listing_etag_and_304(base: str) -> None:
    first = requests.get(f"{base}/api/events?municipality=vimmerby", timeout=10)
    assert first.headers["ETag"] and "max-age" in first.headers["Cache-Control"]
    again = requests.get(
        f"{base}/api/events?municipality=vimmerby",
        headers={"If-None-Match": first.headers["ETag"]},
        timeout=10,
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    other = requests.get(
        f"{base}/api/events?municipality=hultsfred",
        headers={"If-None-Match": first.headers["ETag"]},
        timeout=10,
    )
    assert other.status_code == 200


def test_any_filtered_view_is_a_feed(base: str) -> None:
    url = f"{base}/api/events.ics?municipality=vimmerby&municipality=hultsfred&category=jazz"
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/calendar; charset=utf-8"
    cal = icalendar.Calendar.from_ical(answer.content)
    assert [str(e["SUMMARY"]) for e in cal.walk("VEVENT")] == ["Jazzkväll på teatern"]
    assert "X-WR-CALNAME:Allt som sker – Vimmerby\\, Hultsfred · Jazz" in answer.text
    again = requests.get(url, headers={"If-None-Match": answer.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
    rss = requests.get(f"{base}/api/events.rss?organizer=kommun", timeout=10)
    assert rss.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert "Julmarknad i Lönneberga" in rss.text
    feed = requests.get(f"{base}/api/events.json?status=cancelled", timeout=10).json()
    assert [item["title"] for item in feed["items"]] == [HOSTILE]
    assert requests.get(f"{base}/api/events.ics?cursor=x", timeout=10).status_code == 422


def test_one_event_and_unknown_ids(base: str, site: Site) -> None:
    event_id = site.ids["Jazzkväll på teatern"]
    answer = requests.get(f"{base}/api/events/{event_id}", timeout=10)
    assert answer.status_code == 200 and answer.json()["id"] == event_id
    for unknown in ("0000000000000000", "nope", "x" * 500):
        missing = requests.get(f"{base}/api/events/{unknown}", timeout=10)
        assert missing.status_code == 404 and missing.json()["field"] == "event_id"


def test_facets_count_upcoming_events(base: str) -> None:
    municipalities = requests.get(f"{base}/api/municipalities", timeout=10).json()
    counts = {m["slug"]: m["upcoming"] for m in municipalities}
    assert counts["vimmerby"] == 3 and counts["hultsfred"] == 2 and counts["eksjo"] == 0
    assert [m["name"] for m in municipalities][:2] == ["Nässjö", "Eksjö"], "as configured"
    vimmerby = next(m for m in municipalities if m["slug"] == "vimmerby")
    assert vimmerby["feeds"]["ics"] == "https://alltsomsker.test/feeds/municipality/vimmerby.ics"
    categories = {c["slug"]: c for c in requests.get(f"{base}/api/categories", timeout=10).json()}
    assert categories["jazz"]["upcoming"] == 1 and categories["teater"]["name"] == "Teater"


def test_sources_show_public_health(base: str) -> None:
    rows = requests.get(f"{base}/api/sources", timeout=10).json()
    assert {r["id"] for r in rows} == {"forening", "kommun", "teater"}
    teater = next(r for r in rows if r["id"] == "teater")
    assert teater == {
        "id": "teater",
        "name": "Vimmerby Teaterförening",
        "status": "ok",
        "pause_reason": None,
        "last_success": "2026-11-26T12:00:00Z",
        "events": 3,
    }


def test_openapi_document(base: str) -> None:
    document = requests.get(f"{base}/openapi.json", timeout=10).json()
    paths = set(document["paths"])
    assert {
        "/api/events",
        "/api/events/{event_id}",
        "/api/events.ics",
        "/api/events.rss",
        "/api/events.json",
        "/api/changes",
        "/api/municipalities",
        "/api/categories",
        "/api/sources",
    } <= paths
    assert not any(p.startswith(("/evenemang", "/prenumerera")) for p in paths)


LUCIA_TEATER = vevent(
    "lucia@teater.se",
    "20261213T180000",
    "20261213T193000",
    "Luciakonsert i Vimmerby kyrka",
    LOCATION="Vimmerby kyrka",
)


def test_changes_since_a_token_include_removed_and_merged_ids(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    site = build_site(tmp_path_factory.mktemp("changes"))
    kommun_before = vevent(
        "kommun-jul@hultsfred.se",
        "20261212T100000",
        "20261212T150000",
        "Julmarknad i Lönneberga",
        LOCATION="Hembygdsgården\\, Lönneberga",
    )
    site.write("teater.ics", TEATER.replace("END:VCALENDAR", LUCIA_TEATER + "END:VCALENDAR"))
    site.write(
        "kommun.ics",
        calendar(
            kommun_before,
            vevent(
                "lucia@hultsfred.se",
                "20261214T100000",
                "20261214T110000",
                "Kommunens möte om vägar",
                LOCATION="Stadshuset",
            ),
        ),
    )
    site.rerun()
    with running(site.config) as base:
        full = requests.get(f"{base}/api/changes", timeout=10).json()
        assert full["more"] is False
        assert {c["change"] for c in full["changes"]} == {"updated"}
        token = full["next_since"]
        assert requests.get(f"{base}/api/changes?since={token}", timeout=10).json()["changes"] == []

        ids_before = {c["id"]: c["event"]["title"] for c in full["changes"]}
        meeting = next(i for i, t in ids_before.items() if t == "Kommunens möte om vägar")
        lucia = next(i for i, t in ids_before.items() if t == "Luciakonsert i Vimmerby kyrka")
        revy = next(i for i, t in ids_before.items() if t == "Nyårsrevy")
        # the municipality re-announces its meeting as the concert (a merge), the
        # theatre drops its revue (a removal) and moves its jazz night (a change)
        site.write(
            "kommun.ics",
            calendar(
                kommun_before,
                vevent(
                    "lucia@hultsfred.se",
                    "20261213T180000",
                    "20261213T193000",
                    "Luciakonsert i Vimmerby kyrka",
                    LOCATION="Vimmerby kyrka",
                ),
            ),
        )
        teater = TEATER.replace("END:VCALENDAR", LUCIA_TEATER + "END:VCALENDAR")
        teater = teater.replace("20261205T190000", "20261205T200000")
        start = teater.index("BEGIN:VEVENT\r\nUID:revy@teater.se")
        teater = teater[:start] + teater[teater.index("END:VEVENT\r\n", start) + 12 :]
        site.write("teater.ics", teater)
        site.rerun()

        since = requests.get(f"{base}/api/changes?since={token}", timeout=10).json()
        by_id = {c["id"]: c for c in since["changes"]}
        assert by_id[revy] == {"id": revy, "change": "removed", "successor": None, "event": None}
        merged_away = (
            meeting if meeting in by_id and by_id[meeting]["change"] == "merged" else lucia
        )
        survivor = lucia if merged_away == meeting else meeting
        assert by_id[merged_away]["change"] == "merged"
        assert by_id[merged_away]["successor"] == survivor
        jazz = [
            c
            for c in since["changes"]
            if c["event"] and c["event"]["title"] == "Jazzkväll på teatern"
        ]
        assert jazz and jazz[0]["event"]["_event"]["start"] == "2026-12-05T20:00:00+01:00"
        assert "Julmarknad i Lönneberga" not in [
            c["event"]["title"] for c in since["changes"] if c["event"]
        ], "unchanged events are not repeated"

        moved = requests.get(f"{base}/api/events/{merged_away}", timeout=10, allow_redirects=False)
        assert moved.status_code == 301
        assert moved.headers["Location"] == f"/api/events/{survivor}"
        gone = requests.get(f"{base}/api/events/{revy}", timeout=10)
        assert gone.status_code == 410 and gone.json()["field"] == "event_id"

        page = requests.get(f"{base}/api/changes?since={token}&limit=1", timeout=10).json()
        assert page["more"] is True and len(page["changes"]) == 1
        for bad in ("x", "c-1", "c99999999"):
            answer = requests.get(f"{base}/api/changes?since={bad}", timeout=10)
            assert answer.status_code == 400 and answer.json()["field"] == "since"


def test_events_already_running_come_first(tmp_path_factory: pytest.TempPathFactory) -> None:
    """An exhibition running for months and a night that began the evening before are
    both on at midnight: they must be listed, before what starts that day."""
    site = build_site(tmp_path_factory.mktemp("running"))
    exhibition = (
        "BEGIN:VEVENT\r\nUID:utst@teater.se\r\nDTSTART;VALUE=DATE:20261101\r\n"
        "DTEND;VALUE=DATE:20270201\r\nSUMMARY:Utställning om Astrid\r\nEND:VEVENT\r\n"
    )
    night = vevent("natt@teater.se", "20261204T220000", "20261205T020000", "Nattbio")
    site.write("teater.ics", TEATER.replace("END:VCALENDAR", exhibition + night + "END:VCALENDAR"))
    site.rerun()
    with running(site.config) as base:
        listed = titles(events(base, **{"from": "2026-12-05", "to": "2026-12-05"}))
        assert listed == ["Utställning om Astrid", "Nattbio", "Jazzkväll på teatern"]
        first = requests.get(
            f"{base}/api/events", params={"from": "2026-12-05", "limit": 1}, timeout=10
        ).json()
        rest = requests.get(
            f"{base}/api/events",
            params={"from": "2026-12-05", "limit": 2, "cursor": first["next_cursor"]},
            timeout=10,
        ).json()
        assert titles(first["events"] + rest["events"]) == listed, "the cursor crosses parts"
        searched = titles(events(base, **{"from": "2026-12-05", "q": "astrid"}))
        assert searched == ["Utställning om Astrid"]
        assert titles(events(base, **{"from": "2026-12-05T02:00", "to": "2026-12-05"})) == [
            "Utställning om Astrid",
            "Jazzkväll på teatern",
        ], "the night ended at 02:00"


def test_an_internal_error_is_a_sentence_with_cors_never_a_trace(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    site = build_site(tmp_path_factory.mktemp("broken"))
    with running(site.config) as base:
        store = site.store()
        store.conn.execute("DROP TABLE event_changes")  # a bug in our SQL, as seen from outside
        store.close()
        answer = requests.get(f"{base}/api/changes", timeout=10)
        assert answer.status_code == 500
        assert answer.json() == {"error": answer.json()["error"], "field": None}
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        for leak in ("Traceback", "sqlite", "event_changes", str(site.folder)):
            assert leak not in answer.text
        assert requests.get(f"{base}/api/events", timeout=10).status_code == 200
