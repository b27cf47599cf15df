"""Facebook harvester: Graph API JSON (with paging), DYI exports (.zip/.json), .ics exports,
export folders, and the hostile inputs an upload invites."""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import tracemalloc
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer

from aggregator.errors import FetchError, ParseError
from aggregator.fetch.files import folder_hash, read_export_folder
from aggregator.harvest.facebook import export as facebook_export
from aggregator.harvest.facebook import graph, parse_facebook
from aggregator.harvest.facebook.export import repair_mojibake
from aggregator.harvest.facebook.redact import redact_tokens
from aggregator.model import CANCELLED, CONFIRMED, Event, HarvestResult, Settings, Source
from tests.expected import is_corpus_input

DATA = Path(__file__).parent / "data" / "facebook"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)  # every corpus event is "upcoming" then
TOKEN = "EAABwzLixnjYBO7secretTOKENvalue1234567890"
GRAPH_URL = "https://graph.facebook.com/v24.0/1234/events"
SOURCE = Source(id="fb-teater", name="Vimmerby Teaterförening", kind="facebook", url=GRAPH_URL)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def parse(content: bytes | dict[str, Any] | list[Any], **kwargs: Any) -> HarvestResult:
    if not isinstance(content, bytes):
        content = json.dumps(content).encode()
    kwargs.setdefault("now", NOW)
    source = kwargs.pop("source", SOURCE)
    settings = kwargs.pop("settings", Settings())
    return parse_facebook(content, source, settings, **kwargs)


def by_title(result: HarvestResult) -> dict[str, Event]:
    return {e.title: e for e in result.events}


def mojibake(text: str) -> str:
    """What DYI exports write: each UTF-8 byte as its own code point."""
    return text.encode("utf-8").decode("latin-1")


def make_zip(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --- corpus ----------------------------------------------------------------------------------

CORPUS = sorted(p for p in DATA.iterdir() if is_corpus_input(p))


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_every_corpus_file_gives_events_or_a_clear_error(path: Path) -> None:
    try:
        result = parse(path.read_bytes(), now=LONG_AGO)
    except ParseError as exc:
        assert exc.message and exc.source_id == SOURCE.id
        return
    assert result.events and result.kind == "facebook"
    for event in result.events:
        assert event.key and event.source_id == SOURCE.id
        if isinstance(event.start, datetime):
            assert event.start.utcoffset() is not None


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_every_corpus_file_today_is_past_not_an_error(path: Path) -> None:
    result = parse(path.read_bytes())  # all of it ended years ago
    assert result.events == ()
    if path.suffix == ".json":  # the iCal harvester drops past events silently, as for any .ics
        assert any("slutade för mer än 30 dagar sedan" in w.message for w in result.warnings)


def test_corpus_graph_search_dump_2016() -> None:
    result = parse(
        (DATA / "graph_api__event_search_stockholm_2016.json").read_bytes(), now=LONG_AGO
    )
    events = by_title(result)
    babies = events["Backyard Babies på Gröna Lund"]
    assert babies.start == utc(2016, 9, 16, 18, 0)  # 20:00+0200
    assert babies.place.name == "Gröna Lund"
    assert babies.place.street == "Lilla Allmänna Gränd 9"
    assert babies.place.locality == "Stockholm"
    assert babies.place.latitude == pytest.approx(59.323576682662)
    assert babies.key.startswith("hash:") and babies.uid == ""  # this dump has no ids
    # Pacific offsets on Stockholm events are the pre-2012 wall-time bug: read as local
    assert events["17.mai i Stockholm"].start == utc(2015, 5, 16, 22, 0)
    assert events["Påsk i Fältöversten"].start == utc(2010, 3, 29, 8, 0)
    # a real US event keeps its offset
    new_york = events[
        "Current Perspectives. Presentations and Conversations on Performing Arts from Sweden"
    ]
    assert new_york.start == utc(2015, 1, 11, 19, 0)
    assert any("Stillahavstid" in w.message for w in result.warnings)


def test_corpus_graph_single_event_2011() -> None:
    result = parse((DATA / "graph_api__single_event_2011.json").read_bytes(), now=LONG_AGO)
    (event,) = result.events
    assert event.key == "247619485255249"
    assert event.uid == "facebook:247619485255249"
    assert event.url == "https://www.facebook.com/events/247619485255249/"
    # no offset: local time in the configured zone
    assert event.start == utc(2012, 6, 26, 7, 0)
    assert event.end == utc(2012, 6, 29, 19, 0)
    assert event.organizer_name == "Open Source Bridge"
    assert event.place.street == "1226 SW Salmon Street"


def test_corpus_dyi_invitations_repaired_and_timed() -> None:
    result = parse((DATA / "dyi__event_invitations.json").read_bytes(), now=LONG_AGO)
    assert len(result.events) == 90
    first, second = result.events[0], result.events[1]
    assert first.title == "Kurz RÚT s otcom Jozefom Marettom"
    assert first.start == utc(2023, 3, 24, 16, 30)  # 1679675400
    assert first.end == utc(2023, 3, 26, 11, 30)
    assert second.title == "ROĽNIČKY A BUBNY"
    assert second.end is None  # end_timestamp 0
    assert first.key.startswith("dyi:") and first.uid == ""
    assert any("inga evenemang där du är värd" in w.message for w in result.warnings)


@pytest.mark.parametrize(
    ("name", "key", "start"),
    [
        ("facebook_v10__single_event_2018_from_test.ics", "501511573641525", utc(2018, 8, 31, 7)),
        ("facebook_v09__upcoming_events.ics", "98026796755", utc(2009, 6, 12, 15)),  # floating
    ],
)
def test_corpus_ics_exports_get_graph_identity(name: str, key: str, start: datetime) -> None:
    result = parse((DATA / name).read_bytes(), now=LONG_AGO)
    event = next(e for e in result.events if e.key == key)
    assert event.uid == f"facebook:{key}"
    assert event.url == f"https://www.facebook.com/events/{key}/"
    assert event.start == start


# --- Graph API ------------------------------------------------------------------------------

NEXT_URL = f"https://graph.facebook.com/v24.0/1234/events?access_token={TOKEN}&after=QVFI"

PAGE_1 = {
    "data": [
        {
            "id": "1001",
            "name": "Julmarknad i Lönneberga",
            "description": "Tomtar, glögg och hantverk på hembygdsgården.",
            "start_time": "2026-12-12T10:00:00+0100",
            "end_time": "2026-12-12T15:00:00+0100",
            "place": {
                "name": "Lönneberga hembygdsgård",
                "location": {
                    "street": "Hembygdsvägen 2",
                    "city": "Lönneberga",
                    "zip": "577 93",
                    "latitude": 57.5513,
                    "longitude": 15.7152,
                },
            },
            "cover": {"source": "https://scontent.xx.fbcdn.net/v/julmarknad.jpg"},
            "ticket_uri": "https://tickster.com/sv/events/julmarknad",
            "category": "FESTIVAL_EVENT",
            "owner": {"id": "555", "name": "Lönneberga hembygdsförening"},
        },
        {
            "id": "1002",
            "name": "Luciakonsert i Vimmerby kyrka",
            "start_time": "2026-12-13T18:00:00+01:00",
            "is_canceled": True,
            "place": {"name": "Vimmerby kyrka, Storgatan 1, Vimmerby"},
        },
        {
            "id": "1003",
            "name": "Sagostund på biblioteket",
            "start_time": "2026-12-05T11:00:00+0100",
            "event_times": [
                {
                    "id": "2001",
                    "start_time": "2026-12-05T11:00:00+0100",
                    "end_time": "2026-12-05T12:00:00+0100",
                },
                {
                    "id": "2002",
                    "start_time": "2027-01-09T11:00:00+0100",
                    "end_time": "2027-01-09T12:00:00+0100",
                },
            ],
        },
    ],
    "paging": {"cursors": {"after": "QVFI"}, "next": NEXT_URL},
}

PAGE_2 = {
    "data": [
        {
            "id": "1004",
            "name": "Midsommarfirande i Pelarne",
            "start_time": "2027-06-25T14:00:00+0200",
        },
        {
            "id": "1005",
            "name": "Skördefest i Hultsfred",
            "start_time": "2027-08-28",
            "end_time": "2027-08-29",
        },
        {"id": "1006", "name": "Nyårskonsert i Högsby", "start_time": "2026-12-31T23:00:00"},
        {"id": "1007", "name": "Vårmarknad 2025", "start_time": "2025-04-12T10:00:00+0200"},
        {"id": "1008", "name": "Utan tid"},
        {
            "id": "1009",
            "name": "Utkast",
            "start_time": "2027-01-01T10:00:00+0100",
            "is_draft": True,
        },
        {"id": "1010", "name": "Påsk UTC", "start_time": "2027-03-28T09:00:00Z"},
    ],
    "paging": {"previous": "https://graph.facebook.com/prev"},
}


def fake_fetcher(pages: dict[str, bytes]) -> Any:
    calls: list[str] = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        return pages[url]

    fetch.calls = calls  # type: ignore[attr-defined]
    return fetch


def test_graph_page_with_paging_swedish_events() -> None:
    fetch = fake_fetcher({NEXT_URL: json.dumps(PAGE_2).encode()})
    result = parse(PAGE_1, fetch_page=fetch)
    assert fetch.calls == [NEXT_URL]
    events = {e.key: e for e in result.events}
    julmarknad = events["1001"]
    assert julmarknad.title == "Julmarknad i Lönneberga"
    assert julmarknad.start == utc(2026, 12, 12, 9, 0)
    assert julmarknad.end == utc(2026, 12, 12, 14, 0)
    assert julmarknad.uid == "facebook:1001"
    assert julmarknad.url == "https://www.facebook.com/events/1001/"
    assert julmarknad.place.name == "Lönneberga hembygdsgård"
    assert julmarknad.place.locality == "Lönneberga"
    assert julmarknad.place.latitude == pytest.approx(57.5513)
    assert julmarknad.image.endswith("julmarknad.jpg")
    assert "Biljetter: https://tickster.com/sv/events/julmarknad" in julmarknad.description
    assert julmarknad.categories == ("Festival",)
    assert julmarknad.organizer_name == "Lönneberga hembygdsförening"
    assert julmarknad.status == CONFIRMED

    lucia = events["1002"]
    assert lucia.status == CANCELLED
    assert lucia.start == utc(2026, 12, 13, 17, 0)
    assert lucia.location_text == "Vimmerby kyrka, Storgatan 1, Vimmerby"  # normalize splits it

    # a recurring event: one event per time, keyed and linked by that time's id
    assert "1003" not in events
    assert events["2001"].start == utc(2026, 12, 5, 10, 0)
    assert events["2002"].end == utc(2027, 1, 9, 11, 0)
    assert events["2002"].uid == "facebook:2002"
    assert events["2002"].title == "Sagostund på biblioteket"

    assert events["1004"].start == utc(2027, 6, 25, 12, 0)  # summer time
    skord = events["1005"]
    assert skord.all_day and skord.start == date(2027, 8, 28) and skord.end == date(2027, 8, 30)
    assert events["1006"].start == utc(2026, 12, 31, 22, 0)  # no offset: Europe/Stockholm
    assert events["1010"].start == utc(2027, 3, 28, 9, 0)
    assert "1007" not in events  # ended long ago
    assert "1009" not in events  # a draft is not public
    assert [w.message for w in result.warnings] == [
        "Evenemanget ”Utan tid” (id 1008) visas inte: det saknar starttid (start_time)."
    ]


def test_graph_without_page_fetcher_warns_about_the_rest() -> None:
    result = parse(PAGE_1)
    assert {e.key for e in result.events} == {"1001", "1002", "2001", "2002"}
    assert any("bara den första" in w.message for w in result.warnings)


def test_graph_paging_is_bounded_and_loops_stop() -> None:
    looping = dict(PAGE_2, paging={"next": NEXT_URL})
    fetch = fake_fetcher({NEXT_URL: json.dumps(looping).encode()})
    result = parse(PAGE_1, fetch_page=fetch)
    assert fetch.calls == [NEXT_URL]
    assert any("redan läst" in w.message for w in result.warnings)

    pages = {
        f"https://graph.facebook.com/p{i}": json.dumps(
            {"data": [], "paging": {"next": f"https://graph.facebook.com/p{i + 1}"}}
        ).encode()
        for i in range(10)
    }
    first = {"data": [], "paging": {"next": "https://graph.facebook.com/p0"}}
    fetch = fake_fetcher(pages)
    result = parse(
        first, fetch_page=fetch, source=Source(id="s", name="S", url=GRAPH_URL, max_pages=3)
    )
    assert len(fetch.calls) == 2
    assert any("slutade efter 3 sidor" in w.message for w in result.warnings)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {
                "message": f"Error validating access token: Session has expired. access_token={TOKEN}",
                "type": "OAuthException",
                "code": 190,
                "error_subcode": 463,
            },
            "har gått ut",
        ),
        (
            {
                "message": f"(#10) Permission denied for token {TOKEN}",
                "type": "OAuthException",
                "code": 10,
            },
            "får inte läsa sidans evenemang",
        ),
        ({"message": "(#4) Application request limit reached", "code": 4}, "gräns för antal anrop"),
        (
            {
                "message": "Unsupported get request. Object with ID '1234' does not exist",
                "code": 100,
            },
            "känner inte till sidan",
        ),
        ({"message": "Something else", "code": 1}, "svarade med ett fel"),
    ],
    ids=["expired", "permission", "rate-limit", "unknown-object", "other"],
)
def test_graph_error_object_is_a_sentence_without_token(
    error: dict[str, Any], expected: str
) -> None:
    source = Source(id="fb", name="Fb", kind="facebook", token_env="FB_TOKEN_TEATER")
    with pytest.raises(ParseError) as info:
        parse({"error": error}, source=source)
    assert expected in info.value.message
    assert TOKEN not in str(info.value)
    if error["code"] == 190:
        assert "FB_TOKEN_TEATER" in info.value.message


def test_exact_token_from_environment_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    odd_token = "123456789|appSecretThatLooksLikeNothing"  # an app token has no EAA prefix
    monkeypatch.setenv("FB_TOKEN_X", odd_token)
    source = Source(id="fb", name="Fb", kind="facebook", token_env="FB_TOKEN_X")
    with pytest.raises(ParseError) as info:
        parse({"error": {"message": f"bad token {odd_token}", "code": 190}}, source=source)
    assert odd_token not in info.value.message and "[token]" in info.value.message


def test_next_page_failure_is_a_fetch_error_without_token(caplog: pytest.LogCaptureFixture) -> None:
    def failing(url: str) -> bytes:
        raise FetchError(f"the server answered HTTP 400 Bad Request for {url}", url=url)

    caplog.set_level(logging.DEBUG)
    with pytest.raises(FetchError) as info:
        parse(PAGE_1, fetch_page=failing)
    assert TOKEN not in info.value.message and TOKEN not in info.value.url
    assert "access_token=[token]" in info.value.message
    assert TOKEN not in caplog.text


def test_a_later_page_asking_us_to_wait_keeps_its_status_and_retry_after() -> None:
    """A 429 on page 2 is backed off as one on page 1: the scheduler reads both."""

    def busy(url: str) -> bytes:
        error = FetchError("the server answered HTTP 429 Too Many Requests", url=url)
        error.status, error.retry_after = 429, "120"
        raise error

    with pytest.raises(FetchError) as info:
        parse(PAGE_1, fetch_page=busy)
    assert (info.value.status, info.value.retry_after) == (429, "120")


def test_error_object_on_a_later_page() -> None:
    error = {"error": {"message": f"expired access_token={TOKEN}", "code": 190}}
    fetch = fake_fetcher({NEXT_URL: json.dumps(error).encode()})
    with pytest.raises(ParseError) as info:
        parse(PAGE_1, fetch_page=fetch)
    assert "har gått ut" in info.value.message and TOKEN not in info.value.message


def test_token_never_reaches_an_event_or_warning() -> None:
    page = {
        "data": [
            {
                "id": "1",
                "name": "Konsert",
                "start_time": "2027-01-01T19:00:00+0100",
                "description": f"Länk: https://x.se/?access_token={TOKEN}",
                "ticket_uri": f"https://x.se/t?access_token={TOKEN}",
            }
        ],
        "paging": {"next": NEXT_URL},
    }
    result = parse(page)
    text = repr(result)
    assert TOKEN not in text and "[token]" in text


def test_same_event_from_graph_and_ics_has_one_identity() -> None:
    graph = parse(
        {"data": [{"id": "777", "name": "Dans", "start_time": "2026-12-20T19:00:00+0100"}]}
    )
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Facebook//NONSGML Facebook Events V1.0//EN\r\n"
        "BEGIN:VEVENT\r\nUID:e777@facebook.com\r\nDTSTAMP:20261101T000000Z\r\n"
        "DTSTART:20261220T180000Z\r\nSUMMARY:Dans\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    from_ics = parse(ics.encode())
    (a,), (b,) = graph.events, from_ics.events
    assert (a.key, a.uid, a.url, a.start) == (b.key, b.uid, b.url, b.start)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-12T19:00:00+0100", utc(2026, 12, 12, 18)),
        ("2026-12-12T19:00:00+01:00", utc(2026, 12, 12, 18)),
        ("2026-12-12T18:00:00Z", utc(2026, 12, 12, 18)),
        ("2026-12-12T18:00:00+0000", utc(2026, 12, 12, 18)),
        ("2026-12-12T19:00:00", utc(2026, 12, 12, 18)),
        ("2026-07-12T19:00:00", utc(2026, 7, 12, 17)),
        ("2026-03-29T02:30:00", utc(2026, 3, 29, 1, 30)),  # spring gap: offset before it
        ("2026-12-12", date(2026, 12, 12)),
        ("2011-12-12T19:00:00-0800", utc(2011, 12, 12, 18)),  # legacy Pacific = local wall time
        ("2026-12-12T19:00:00-0500", utc(2026, 12, 13, 0)),  # any other offset is trusted
    ],
)
def test_graph_time_formats(value: str, expected: datetime | date) -> None:
    result = parse({"data": [{"id": "1", "name": "x", "start_time": value}]}, now=LONG_AGO)
    assert result.events[0].start == expected


def test_graph_time_with_timezone_field_and_pacific_place() -> None:
    items = [
        {
            "id": "1",
            "name": "a",
            "start_time": "2026-12-12T19:00:00",
            "timezone": "Europe/Helsinki",
        },
        {
            "id": "2",
            "name": "b",
            "start_time": "2026-12-12T19:00:00-0800",
            "place": {
                "name": "Fillmore",
                "location": {"city": "San Francisco", "country": "United States"},
            },
        },
    ]
    events = {e.key: e for e in parse({"data": items}).events}
    assert events["1"].start == utc(2026, 12, 12, 17) and events["1"].timezone == "Europe/Helsinki"
    assert events["2"].start == utc(2026, 12, 13, 3)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   ",
        b"<!DOCTYPE html><html><body>Logga in</body></html>",
        b"hello world",
        b'{"foo": 1}',
        b"[1, 2, 3]",
        b'{"data": [',
        b"\xff\xfe{\x00",
    ],
    ids=["empty", "blank", "html", "text", "unrelated-json", "list", "cut-off", "utf16-junk"],
)
def test_not_facebook_data_is_a_clear_error(content: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse(content)
    assert info.value.message


@pytest.mark.parametrize("bracket", ["[", '{"a":'])
def test_hostile_nesting_is_refused(bracket: str) -> None:
    with pytest.raises(ParseError) as info:
        parse((bracket * 200_000).encode())
    assert info.value.message


def test_more_events_than_the_cap_fail_the_harvest() -> None:
    items = [
        {"id": str(i), "name": f"e{i}", "start_time": "2027-01-01T10:00:00+0100"} for i in range(9)
    ]
    with pytest.raises(ParseError, match="fler än 5 evenemang"):
        parse({"data": items}, settings=Settings(max_events=5))
    capped = Source(id="fb-teater", name="Teatern", kind="facebook", max_events=5)
    with pytest.raises(ParseError, match="fler än 5 evenemang"):
        parse({"data": items}, source=capped)
    assert len(parse({"data": items}, settings=Settings(max_events=9)).events) == 9


# --- DYI exports -----------------------------------------------------------------------------

JULMARKNAD = 1797066000  # 2026-12-12 10:00 Stockholm = 09:00 UTC


def your_events() -> dict[str, Any]:
    return {
        "your_events_v2": [
            {
                "name": mojibake("Julmarknad i Lönneberga"),
                "start_timestamp": JULMARKNAD,
                "end_timestamp": JULMARKNAD + 5 * 3600,
                "place": {
                    "name": mojibake("Lönneberga hembygdsgård"),
                    "address": mojibake("Hembygdsvägen 2, 577 93 Lönneberga"),
                    "coordinate": {"latitude": 57.5513, "longitude": 15.7152},
                },
                "description": mojibake("Glögg, pepparkakor och tomtar – välkomna!"),
                "create_timestamp": 1790000000,
            },
            {"name": "Ingen tid", "start_timestamp": 0, "end_timestamp": 0},
        ]
    }


def invitations() -> dict[str, Any]:
    return {
        "events_invited_v2": [
            {"name": "Grannens 50-årsfest", "start_timestamp": JULMARKNAD, "end_timestamp": 0}
        ]
    }


def test_dyi_zip_with_mojibake_any_folder_depth() -> None:
    content = make_zip(
        {
            "your_facebook_activity/events/your_events.json": json.dumps(your_events()),
            "your_facebook_activity/events/event_invitations.json": json.dumps(invitations()),
            "your_facebook_activity/photos/photo.jpg": b"\xff\xd8",
            "index.html": "<html></html>",
        }
    )
    result = parse(content)
    (event,) = result.events  # hosted events only: invitations are other people's
    assert event.title == "Julmarknad i Lönneberga"
    assert event.start == utc(2026, 12, 12, 9, 0) and event.end == utc(2026, 12, 12, 14, 0)
    assert event.location_text == "Lönneberga hembygdsgård, Hembygdsvägen 2, 577 93 Lönneberga"
    assert event.place.latitude == pytest.approx(57.5513)
    assert event.description == "Glögg, pepparkakor och tomtar – välkomna!"
    assert event.key.startswith("dyi:") and event.uid == "" and event.url == ""
    assert [w.message for w in result.warnings] == [
        "Evenemanget ”Ingen tid” visas inte: det saknar starttid (start_timestamp)."
    ]
    # the key is stable: the same export as bare JSON, or already repaired, gives the same key
    bare = parse(json.dumps(your_events()).encode())
    assert bare.events[0].key == event.key
    repaired = {
        "your_events_v2": [dict(your_events()["your_events_v2"][0], name="Julmarknad i Lönneberga")]
    }
    assert parse(repaired).events[0].key == event.key


def test_dyi_responses_old_layout_skip_declined() -> None:
    data = {
        "event_responses": {
            "events_joined": [
                {"name": "Danskväll", "start_timestamp": JULMARKNAD, "end_timestamp": 0}
            ],
            "events_declined": [
                {"name": "Bingo", "start_timestamp": JULMARKNAD, "end_timestamp": 0}
            ],
            "events_interested": [
                {"name": "Loppis", "start_timestamp": JULMARKNAD + 86400, "end_timestamp": 0}
            ],
        }
    }
    assert {e.title for e in parse(data).events} == {"Danskväll", "Loppis"}
    declined_only = {"events_declined": [{"name": "Bingo", "start_timestamp": JULMARKNAD}]}
    result = parse(declined_only)
    assert result.events == () and "tackat nej till" in result.warnings[0].message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("LÃ¶nneberga", "Lönneberga"),
        (mojibake("Näs och Högsby – ÅÄÖ"), "Näs och Högsby – ÅÄÖ"),
        ("Lönneberga", "Lönneberga"),  # already right: kept
        ("Kurz R\u00c3\u009aT", "Kurz RÚT"),
        ("plain ascii", "plain ascii"),
        ("Smörgåsbord €5", "Smörgåsbord €5"),  # not Latin-1: kept
    ],
)
def test_repair_mojibake(raw: str, expected: str) -> None:
    assert repair_mojibake(raw) == expected


def test_zip_bomb_is_refused_without_memory() -> None:
    buffer = io.BytesIO()
    member = "your_facebook_activity/events/your_events.json"
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open(member, "w", force_zip64=True) as stream,
    ):
        zeros = b"0" * (1 << 20)
        for _ in range(200):  # 200 MB of zeros
            stream.write(zeros)
    content = buffer.getvalue()
    assert len(content) < 2_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ParseError) as info:
            parse(content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "200 MB" in info.value.message and "gränsen" in info.value.message
    assert peak < 10_000_000


def test_a_member_over_a_small_cap_is_named_in_kilobytes() -> None:
    content = make_zip(
        {"a/your_events.json": b" " * 3000, "b/event_invitations.json": json.dumps(invitations())}
    )
    result = parse(content, settings=Settings(max_bytes=2500))
    assert [e.title for e in result.events] == ["Grannens 50-årsfest"]
    [warning] = [w.message for w in result.warnings if "your_events.json" in w.message]
    assert "uppackad blir den 2,9 kB, över gränsen på 2,4 kB" in warning, warning


def test_zip_member_that_lies_about_its_size_is_cut_off() -> None:
    payload = json.dumps(your_events()).encode() + b" " * 3_000_000
    content = make_zip(
        {"your_events.json": payload, "b/event_invitations.json": json.dumps(invitations())}
    )
    size = struct.pack("<I", len(payload))
    assert content.count(size) == 2  # local header and central directory
    lying = content.replace(size, struct.pack("<I", 100))
    result = parse(lying, settings=Settings(max_bytes=1_000_000))
    assert [e.title for e in result.events] == ["Grannens 50-årsfest"]
    assert any(
        "your_events.json" in w.message and "gick inte att packa upp" in w.message
        for w in result.warnings
    )


def test_zip_path_traversal_and_encrypted_names_are_ignored() -> None:
    content = make_zip(
        {
            "../../etc/your_events.json": json.dumps(your_events()),
            "/abs/your_events.json": json.dumps(your_events()),
            "C:/win/your_events.json": json.dumps(your_events()),
            "ok/event_invitations.json": json.dumps(invitations()),
        }
    )
    result = parse(content)
    assert [e.title for e in result.events] == ["Grannens 50-årsfest"]
    assert sum("osäkert namn" in w.message for w in result.warnings) == 3


def test_zip_limits_and_damage(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ParseError, match="skadad"):
        parse(make_zip({"your_events.json": "{}"})[:40])
    with pytest.raises(ParseError, match="inga evenemangsfiler från Facebook"):
        parse(make_zip({"photos/a.jpg": b"x", "messages/inbox.json": "{}"}))
    with pytest.raises(ParseError, match="HTML-format"):
        parse(make_zip({"your_activity/events/your_events.html": "<html></html>"}))
    with pytest.raises(ParseError, match="inte giltig JSON"):
        parse(make_zip({"events/your_events.json": '{"your_events_v2": ['}))
    monkeypatch.setattr(facebook_export, "MAX_ZIP_MEMBERS", 5)
    with pytest.raises(ParseError, match="fler än de 5"):
        parse(make_zip({f"f{i}.txt": "x" for i in range(6)}))


def test_deeply_nested_member_is_skipped_and_the_rest_kept() -> None:
    content = make_zip(
        {
            "a/your_events.json": "[" * 200_000,
            "b/event_invitations.json": json.dumps(invitations()),
        }
    )
    result = parse(content)
    assert [e.title for e in result.events] == ["Grannens 50-årsfest"]
    assert any("för djupt nästlad" in w.message for w in result.warnings)


# --- export folders --------------------------------------------------------------------------


def test_export_folder_is_bundled_and_parsed(tmp_path: Path) -> None:
    folder = tmp_path / "imports" / "lonneberga"
    (folder / "old").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    (folder / "facebook-lonneberga.zip").write_bytes(
        make_zip({"your_facebook_activity/events/your_events.json": json.dumps(your_events())})
    )
    os.utime(folder / "facebook-lonneberga.zip", (2_000_000_000, 2_000_000_000))  # the newest
    (folder / "old" / "event_invitations.json").write_text(json.dumps(invitations()))
    (folder / "kalender.ics").write_bytes(
        (DATA / "facebook_v10__single_event_2018_from_test.ics").read_bytes()
    )
    (folder / "huge.json").write_bytes(b" " * 3000)  # no "event" in the name: not an export
    (folder / "huge_events.json").write_bytes(b" " * 3000)
    (folder / ".hidden" / "your_events.json").write_text(json.dumps(your_events()))
    (folder / "notes.txt").write_text("hej")

    read = read_export_folder(folder, max_bytes=2500)
    assert read.files[0][0] == "facebook-lonneberga.zip"
    assert {name for name, _ in read.files} == {
        "facebook-lonneberga.zip",
        "old/event_invitations.json",
        "kalender.ics",
    }
    assert read.skipped == (
        "huge_events.json lästes inte: den är större än gränsen på 2,4 kB. Ladda ner exporten "
        "igen med bara ”Evenemang” valt.",
    )
    assert folder_hash(read) == folder_hash(read_export_folder(folder, max_bytes=2500))

    result = parse(b"", folder=read, now=datetime(2018, 8, 1, tzinfo=UTC))
    titles = {e.title for e in result.events}
    # the export has hosted events, so the invitations file is not used
    assert titles == {"Julmarknad i Lönneberga", "Photo Comp - Prize Giving"}
    assert any("huge_events.json" in w.message for w in result.warnings)


def test_empty_export_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="ingen Facebook-export"):
        read_export_folder(tmp_path, max_bytes=1000)


# --- redaction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"https://graph.facebook.com/v24.0/1/events?access_token={TOKEN}&after=X",
            "https://graph.facebook.com/v24.0/1/events?access_token=[token]&after=X",
        ),
        (
            f"https://graph.facebook.com/x?after=X&ACCESS_TOKEN={TOKEN}",
            "https://graph.facebook.com/x?after=X&ACCESS_TOKEN=[token]",
        ),
        (f'{{"access_token": "{TOKEN}"}}', '{"access_token": "[token]"}'),
        (f"bad token {TOKEN} given", "bad token [token] given"),
        ("appsecret_proof=abc123&x=1", "appsecret_proof=[token]&x=1"),
        ("access_token%3Dabc123", "access_token%3D[token]"),
        ("nothing to hide", "nothing to hide"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact_tokens(text) == expected


# --- a real HTTP server ----------------------------------------------------------------------


def requests_fetcher(url: str) -> bytes:
    """What the pipeline's page fetcher does, reduced: requests + FetchError."""
    try:
        response = requests.get(url, timeout=5)
    except requests.RequestException as exc:
        raise FetchError(f"request failed: {exc}", url=url) from exc
    if response.status_code >= 400:
        raise FetchError(f"the server answered HTTP {response.status_code} for {url}", url=url)
    return response.content


def test_graph_paging_over_http(httpserver: HTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    page_2_url = httpserver.url_for("/v24.0/1234/events") + f"?access_token={TOKEN}&after=QVFI"
    page_3_url = httpserver.url_for("/v24.0/1234/events") + f"?access_token={TOKEN}&after=QVFJ"
    page_1 = dict(PAGE_1, paging={"next": page_2_url})
    page_2 = dict(PAGE_2, paging={"next": page_3_url})
    httpserver.expect_request(
        "/v24.0/1234/events", query_string={"access_token": TOKEN}
    ).respond_with_json(page_1)
    httpserver.expect_request(
        "/v24.0/1234/events", query_string={"access_token": TOKEN, "after": "QVFI"}
    ).respond_with_json(page_2)
    httpserver.expect_request(
        "/v24.0/1234/events", query_string={"access_token": TOKEN, "after": "QVFJ"}
    ).respond_with_json(
        {"data": [{"id": "1011", "name": "Julotta", "start_time": "2026-12-25T07:00:00+0100"}]}
    )

    first = requests_fetcher(httpserver.url_for("/v24.0/1234/events") + f"?access_token={TOKEN}")
    source = Source(
        id="fb", name="Fb", kind="facebook", url=httpserver.url_for("/v24.0/1234/events")
    )
    result = parse(first, fetch_page=requests_fetcher, source=source)
    keys = {e.key for e in result.events}
    assert {"1001", "2001", "2002", "1004", "1005", "1010", "1011"} <= keys
    assert by_title(result)["Julotta"].start == utc(2026, 12, 25, 6, 0)
    assert TOKEN not in repr(result)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("aggregator")]
    assert ours and not any(TOKEN in m for m in ours)
    # urllib3's DEBUG lines carry whole URLs: test_secrets.py runs `aggregator -v` and
    # scans everything it wrote


def test_graph_error_over_http_redacts_token(httpserver: HTTPServer) -> None:
    page_2_url = httpserver.url_for("/v24.0/1234/events") + f"?access_token={TOKEN}&after=QVFI"
    httpserver.expect_request("/v24.0/1234/events").respond_with_json(
        {
            "error": {
                "message": "Error validating access token",
                "type": "OAuthException",
                "code": 190,
            }
        },
        status=400,
    )
    source = Source(
        id="fb", name="Fb", kind="facebook", url=httpserver.url_for("/v24.0/1234/events")
    )
    with pytest.raises(FetchError) as info:
        parse(dict(PAGE_1, paging={"next": page_2_url}), fetch_page=requests_fetcher, source=source)
    assert TOKEN not in info.value.message and TOKEN not in info.value.url
    assert "HTTP 400" in info.value.message
    describe = graph.describe_graph_error(
        b'{"error": {"message": "Session has expired", "type": "OAuthException", "code": 190}}',
        Source(id="x", name="x", token_env="FB_TOKEN"),
    )
    assert describe is not None and "expired" in describe and "FB_TOKEN" in describe
