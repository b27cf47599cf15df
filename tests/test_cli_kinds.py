"""End to end for every source kind: the CLI against a real local HTTP server.

RSS items → their linked pages, a listing page → its detail pages, Graph API paging
with a token that must never be stored or published.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aggregator.cli import main
from tests.support import DATA, assert_feeds_valid, read_with_icalendar, write_config

TOKEN = "EAAGtestTOKENvalue1234567890abcdef"


def graph_page(events: list[dict], next_url: str | None) -> bytes:
    body: dict = {"data": events}
    if next_url:
        body["paging"] = {"cursors": {"after": "QVFI"}, "next": next_url}
    return json.dumps(body).encode()


@pytest.fixture
def sites(httpserver: HTTPServer) -> HTTPServer:
    base = httpserver.url_for("").rstrip("/")
    # a WordPress The Events Calendar RSS feed whose items only say when on their pages
    rss = DATA / "rss"
    httpserver.expect_request("/events/feed/").respond_with_data(
        (rss / "tec_events.rss.tmpl").read_text(encoding="utf-8").replace("{base}", base),
        content_type="application/rss+xml",
    )
    for path, name in (
        ("/event/vernissage-ljus-i-morker/", "tec_event_page.html"),
        ("/event/konstnarssamtal/", "tec_event_page_2.html"),
    ):
        httpserver.expect_request(path).respond_with_data(
            (rss / name).read_text(encoding="utf-8").replace("{base}", base),
            content_type="text/html",
        )
    httpserver.expect_request("/event/trasig/").respond_with_data("borta", status=404)
    # a listing page linking to one page per event
    listing = DATA / "html" / "listing"
    httpserver.expect_request("/evenemang/").respond_with_data(
        (listing / "index.html")
        .read_text(encoding="utf-8")
        .replace("https://kultur.example.se", base),
        content_type="text/html",
    )
    for name in ("vinterkonsert", "bokcirkel", "julspel"):
        httpserver.expect_request(f"/evenemang/{name}/").respond_with_data(
            (listing / f"{name}.html").read_bytes(), content_type="text/html"
        )
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")

    # the Graph API, two pages, answering only with the right bearer token
    page_two = f"{base}/v24.0/1234/events?access_token={TOKEN}&after=QVFI"

    def graph(request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Response(
                json.dumps({"error": {"message": "Invalid OAuth access token.", "code": 190}}), 400
            )
        if request.args.get("after") == "QVFI":
            return Response(
                graph_page(
                    [
                        {
                            "id": "222",
                            "name": "Julmarknad i Lönneberga",
                            "start_time": "2026-12-12T10:00:00+0100",
                            "end_time": "2026-12-12T15:00:00+0100",
                            "place": {"name": "Hembygdsgården, Lönneberga"},
                        }
                    ],
                    None,
                ),
                content_type="application/json",
            )
        return Response(
            graph_page(
                [
                    {
                        "id": "111",
                        "name": "Luciafirande",
                        "start_time": "2026-12-13T17:00:00+0100",
                        "place": {"name": "Bygdegården", "location": {"city": "Lönneberga"}},
                        "is_canceled": False,
                    }
                ],
                page_two,
            ),
            content_type="application/json",
        )

    httpserver.expect_request("/v24.0/1234/events").respond_with_handler(graph)
    return httpserver


@pytest.mark.icaljs
def test_every_kind_through_the_cli(
    sites: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AGGREGATOR_NOW", "2026-11-26T12:00:00+00:00")
    monkeypatch.setenv("FB_TOKEN_HEMBYGD", TOKEN)
    config_file = write_config(
        tmp_path,
        [
            {
                "id": "konsthall",
                "name": "Oskarshamns konsthall",
                "url": sites.url_for("/events/feed/"),
                "municipality": "Oskarshamn",
            },
            {
                "id": "kultur",
                "name": "Nässjö kulturförening",
                "url": sites.url_for("/evenemang/"),
                "municipality": "Nässjö",
            },
            {
                "id": "fb-hembygd",
                "name": "Lönneberga hembygdsförening",
                "kind": "facebook",
                "url": sites.url_for("/v24.0/1234/events"),
                "token_env": "FB_TOKEN_HEMBYGD",
            },
        ],
    )
    assert main(["--config", str(config_file), "run", "--once"]) == 0
    out = capsys.readouterr().out
    assert "Sources: 3 ok, 0 unchanged, 0 failed" in out, out
    feeds = tmp_path / "feeds"
    assert_feeds_valid(feeds)
    titles = {e["summary"]: e for e in read_with_icalendar(feeds / "all.ics")}
    assert {"Vernissage: Ljus i mörker", "INSTÄLLT: Konstnärssamtal"} <= set(titles), (
        "RSS items read from their pages"
    )
    assert titles["Vernissage: Ljus i mörker"]["start"] == {"utc": "2026-12-05T13:00:00Z"}
    assert titles["INSTÄLLT: Konstnärssamtal"]["status"] == "CANCELLED"
    assert {
        "Vinterkonsert med Nässjö kammarkör",
        "Bokcirkel: Astrid Lindgren",
        "Julspel för barn",
    } <= set(titles)
    assert {"Luciafirande", "Julmarknad i Lönneberga"} <= set(titles), "both Graph pages read"
    assert titles["Julmarknad i Lönneberga"]["start"] == {"utc": "2026-12-12T09:00:00Z"}
    hultsfred = {
        e["summary"] for e in read_with_icalendar(feeds / "municipality" / "hultsfred.ics")
    }
    assert hultsfred == {"Luciafirande", "Julmarknad i Lönneberga"}, "Lönneberga is in Hultsfred"
    items = json.loads((feeds / "all.json").read_text())["items"]
    lucia = next(i for i in items if i["title"] == "Luciafirande")
    assert lucia["url"] == "https://www.facebook.com/events/111/"

    # the token is nowhere: not in the database, the feeds, or anything printed
    everything = (tmp_path / "test.db").read_bytes() + b"".join(
        p.read_bytes() for p in feeds.rglob("*") if p.is_file()
    )
    for wal in tmp_path.glob("test.db-*"):
        everything += wal.read_bytes()
    assert TOKEN.encode() not in everything
    assert TOKEN not in out


def test_graph_error_is_a_sentence_without_the_token(
    sites: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FB_TOKEN_HEMBYGD", "EAAGwrongTOKEN0000000000000000")
    config_file = write_config(
        tmp_path,
        [
            {
                "id": "fb-hembygd",
                "name": "Lönneberga hembygdsförening",
                "kind": "facebook",
                "url": sites.url_for("/v24.0/1234/events"),
                "token_env": "FB_TOKEN_HEMBYGD",
            }
        ],
    )
    assert main(["--config", str(config_file), "run", "--once"]) == 0
    out = capsys.readouterr().out
    assert "Sources: 0 ok, 0 unchanged, 1 failed" in out
    message = (
        sqlite3.connect(tmp_path / "test.db").execute("SELECT message FROM sources").fetchone()[0]
    )
    assert "access token" in message and "FB_TOKEN_HEMBYGD" in message, message
    assert "EAAGwrong" not in message and "EAAGwrong" not in out
