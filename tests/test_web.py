"""``/feeds/…`` as a CDN serves it: one test per RFC 9110 rule, through a real uvicorn."""

from __future__ import annotations

import gzip
import os
import socket
from email.utils import formatdate
from pathlib import Path

import pytest
import requests

from aggregator.publish.sidecars import read_sidecar, refresh_sidecars
from tests.web_server import running
from tests.web_site import Site

PLAIN = {"Accept-Encoding": "identity"}


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10)


def test_a_feed_answers_with_every_header_a_cache_needs(base: str, site: Site) -> None:
    answer = get(f"{base}/feeds/all.ics", **PLAIN)
    assert answer.status_code == 200
    assert answer.raw.version == 11, "HTTP/1.1"
    assert answer.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert answer.content == (site.folder / "feeds" / "all.ics").read_bytes()
    assert answer.headers["ETag"].startswith('"') and answer.headers["ETag"].endswith('"')
    assert answer.headers["Last-Modified"].endswith(" GMT")
    cache = answer.headers["Cache-Control"]
    assert "max-age=300" in cache and "stale-while-revalidate=" in cache and "public" in cache
    assert answer.headers["Vary"] == "Accept-Encoding"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in answer.headers["Access-Control-Expose-Headers"]
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert "Content-Encoding" not in answer.headers


def test_index_json_is_plain_json_and_feeds_are_json_feed(base: str) -> None:
    assert get(f"{base}/feeds/index.json").headers["Content-Type"] == (
        "application/json; charset=utf-8"
    )
    assert get(f"{base}/feeds/all.json").headers["Content-Type"] == (
        "application/feed+json; charset=utf-8"
    )
    assert get(f"{base}/feeds/all.rss").headers["Content-Type"] == (
        "application/rss+xml; charset=utf-8"
    )


def test_if_none_match_gives_304_with_cache_vary_and_cors(base: str) -> None:
    first = get(f"{base}/feeds/all.ics", **PLAIN)
    again = get(f"{base}/feeds/all.ics", **PLAIN, **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
    assert again.headers["Vary"] == "Accept-Encoding"
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    assert again.headers["Last-Modified"] == first.headers["Last-Modified"]


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("W/{tag}", id="weak-comparison"),
        pytest.param("*", id="star"),
        pytest.param('"other", {tag} , "more"', id="in-a-list"),
    ],
)
def test_if_none_match_forms(base: str, header: str) -> None:
    tag = get(f"{base}/feeds/all.ics", **PLAIN).headers["ETag"]
    answer = get(f"{base}/feeds/all.ics", **PLAIN, **{"If-None-Match": header.format(tag=tag)})
    assert answer.status_code == 304


def test_a_different_tag_gets_the_file(base: str) -> None:
    answer = get(f"{base}/feeds/all.ics", **PLAIN, **{"If-None-Match": '"not-this-one"'})
    assert answer.status_code == 200 and answer.content


def test_if_none_match_wins_over_if_modified_since(base: str) -> None:
    future = formatdate(4102444800, usegmt=True)  # 2100: would say "not modified"
    answer = get(
        f"{base}/feeds/all.ics",
        **PLAIN,
        **{"If-None-Match": '"stale"', "If-Modified-Since": future},
    )
    assert answer.status_code == 200, "a non-matching tag means changed, whatever the date"


def test_if_modified_since(base: str) -> None:
    first = get(f"{base}/feeds/all.ics", **PLAIN)
    same = get(
        f"{base}/feeds/all.ics", **PLAIN, **{"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert same.status_code == 304
    old = get(f"{base}/feeds/all.ics", **PLAIN, **{"If-Modified-Since": formatdate(0, usegmt=True)})
    assert old.status_code == 200
    bad = get(f"{base}/feeds/all.ics", **PLAIN, **{"If-Modified-Since": "gestern"})
    assert bad.status_code == 200, "an invalid date is ignored"


def test_if_match_that_fails_is_412(base: str) -> None:
    assert get(f"{base}/feeds/all.ics", **{"If-Match": '"nope"'}).status_code == 412


def test_gzip_copy_precomputed_with_its_own_tag(base: str, site: Site) -> None:
    plain = get(f"{base}/feeds/all.ics", **PLAIN)
    raw = requests.get(
        f"{base}/feeds/all.ics", headers={"Accept-Encoding": "gzip"}, timeout=10, stream=True
    )
    assert raw.headers["Content-Encoding"] == "gzip"
    body = raw.raw.read()
    assert int(raw.headers["Content-Length"]) == len(body)
    assert gzip.decompress(body) == plain.content
    assert raw.headers["ETag"] != plain.headers["ETag"], "each representation has its own tag"
    assert (site.folder / "feeds" / "all.ics.gz").read_bytes() == body, "served from disk"
    again = get(
        f"{base}/feeds/all.ics", **{"Accept-Encoding": "gzip", "If-None-Match": raw.headers["ETag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip;q=0", None),
        ("gzip;q=0, identity", None),
        ("identity;q=0, gzip", "gzip"),
        ("deflate, gzip;q=0.5", "gzip"),
        ("br", None),
        ("*", "gzip"),
        ("x-gzip", "gzip"),
    ],
)
def test_accept_encoding_q_values(base: str, accept: str, coding: str | None) -> None:
    answer = requests.get(
        f"{base}/feeds/all.ics", headers={"Accept-Encoding": accept}, timeout=10, stream=True
    )
    assert answer.status_code == 200
    assert answer.headers.get("Content-Encoding") == coding


def test_nothing_acceptable_is_406(base: str) -> None:
    answer = get(f"{base}/feeds/all.ics", **{"Accept-Encoding": "*;q=0"})
    assert answer.status_code == 406
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_head_has_the_headers_and_no_body(base: str) -> None:
    full = get(f"{base}/feeds/all.ics", **PLAIN)
    head = requests.head(f"{base}/feeds/all.ics", headers=PLAIN, timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(full.content))
    assert head.headers["ETag"] == full.headers["ETag"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, None)),
        ("bytes=-50", (-50, None)),
    ],
)
def test_byte_ranges(base: str, spec: str, expected: tuple[int, int | None]) -> None:
    full = get(f"{base}/feeds/all.ics", **PLAIN).content
    part = get(f"{base}/feeds/all.ics", **PLAIN, Range=spec)
    assert part.status_code == 206
    start, end = expected
    want = full[start:] if end is None else full[start : end + 1]
    assert part.content == want
    first = len(full) + start if start < 0 else start
    assert part.headers["Content-Range"] == f"bytes {first}-{first + len(want) - 1}/{len(full)}"


def test_range_past_the_end_is_416(base: str) -> None:
    size = len(get(f"{base}/feeds/all.ics", **PLAIN).content)
    answer = get(f"{base}/feeds/all.ics", **PLAIN, Range=f"bytes={size + 10}-")
    assert answer.status_code == 416
    assert answer.headers["Content-Range"] == f"bytes */{size}"


def test_if_range_with_a_stale_tag_sends_everything(base: str) -> None:
    tag = get(f"{base}/feeds/all.ics", **PLAIN).headers["ETag"]
    fresh = get(f"{base}/feeds/all.ics", **PLAIN, Range="bytes=0-9", **{"If-Range": tag})
    assert fresh.status_code == 206
    stale = get(f"{base}/feeds/all.ics", **PLAIN, Range="bytes=0-9", **{"If-Range": '"old"'})
    assert stale.status_code == 200 and len(stale.content) > 10
    several = get(f"{base}/feeds/all.ics", **PLAIN, Range="bytes=0-9,20-29")
    assert several.status_code == 200, "several ranges are answered whole"


def test_preflight_allows_conditional_fetches_from_any_origin(base: str) -> None:
    answer = requests.options(
        f"{base}/feeds/all.ics",
        headers={
            "Origin": "https://alltsomsker.nu",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
        timeout=10,
    )
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in answer.headers["Access-Control-Allow-Methods"]
    assert "If-None-Match" in answer.headers["Access-Control-Allow-Headers"]
    assert int(answer.headers["Access-Control-Max-Age"]) > 0


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/../secret.ics",
        "/feeds/%2e%2e/secret.ics",
        "/feeds/",
        "/feeds/none.ics",
        "/feeds/.all.ics.meta",
        "/feeds/all.ics.gz",
        "/feeds/municipality",
        "/feeds/" + "a" * 5000 + ".ics",
        "/feeds/" + "/".join(["a"] * 600) + ".ics",
        "/feeds/all.ics%00.json",
    ],
)
def test_only_feed_files_are_served_and_404_carries_cors(base: str, site: Site, path: str) -> None:
    (site.folder / "secret.ics").write_text("nope", encoding="utf-8")
    answer = get(base + path)
    assert answer.status_code == 404
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "nope" not in answer.text


def test_a_404_status_line_is_ascii_http_11(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"GET /feeds/none.ics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
    status_line = head.split(b"\r\n")[0]
    assert status_line == b"HTTP/1.1 404 Not Found"


def test_a_file_replaced_by_hand_is_never_answered_with_the_old_tag(base: str, site: Site) -> None:
    path = site.folder / "feeds" / "organizer" / "kommun.ics"
    old = get(f"{base}/feeds/organizer/kommun.ics", **PLAIN)
    replacement = old.content.replace(b"Julmarknad", b"Julmarknad!")
    temp = path.with_name("hand.tmp")
    temp.write_bytes(replacement)
    os.replace(temp, path)  # the sidecar still describes the old file
    new = get(
        f"{base}/feeds/organizer/kommun.ics", **PLAIN, **{"If-None-Match": old.headers["ETag"]}
    )
    assert new.status_code == 200 and new.content == replacement
    assert new.headers["ETag"] != old.headers["ETag"]
    zipped = requests.get(
        f"{base}/feeds/organizer/kommun.ics", headers={"Accept-Encoding": "gzip"}, timeout=10
    )
    assert zipped.content == replacement, "the stale gzip copy is not served either"


def test_last_modified_only_moves_forward(tmp_path: Path) -> None:
    path = tmp_path / "all.ics"
    path.write_text("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    refresh_sidecars(path, "a" * 64)
    first = read_sidecar(path)
    assert first is not None
    path.write_text("BEGIN:VCALENDAR\r\nX:1\r\nEND:VCALENDAR\r\n")
    os.utime(path, (first.last_modified - 3600, first.last_modified - 3600))  # clock went back
    refresh_sidecars(path, "b" * 64)
    second = read_sidecar(path)
    assert second is not None and second.last_modified > first.last_modified
    refresh_sidecars(path, "b" * 64)
    third = read_sidecar(path)
    assert third is not None and third.last_modified == second.last_modified, "same content"


def test_silent_and_dribbling_connections_are_closed_and_others_still_answered(
    site: Site,
) -> None:
    """uvicorn alone waits for ever on a connection that never sends a request."""
    with running(site.config, header_timeout=0.5) as url:
        host, port = url.removeprefix("http://").split(":")
        idle = [socket.create_connection((host, int(port)), timeout=30) for _ in range(50)]
        dribbler = socket.create_connection((host, int(port)), timeout=30)
        dribbler.sendall(b"GET /feeds/all.ics HTTP/1.1\r\n")  # and never the rest
        try:
            assert get(f"{url}/feeds/all.ics", **PLAIN).status_code == 200
            for conn in [*idle, dribbler]:
                assert conn.recv(1024) == b"", "closed by the server, nothing sent"
        finally:
            for conn in [*idle, dribbler]:
                conn.close()
