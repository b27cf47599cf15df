"""The feed server: real HTTP on 127.0.0.1, ETag/304, gzip, no path traversal."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from aggregator.config import load_config
from aggregator.web import make_server, resolve_feed
from tests.support import write_config


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    config = load_config(write_config(tmp_path, []))
    feeds = tmp_path / "feeds"
    (feeds / "municipality").mkdir(parents=True)
    (feeds / "all.ics").write_bytes(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" * 50)
    (feeds / "municipality" / "eksjo.json").write_text('{"items": []}', encoding="utf-8")
    (tmp_path / "secret.ics").write_text("nope", encoding="utf-8")
    httpd = make_server(config, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_feed_with_etag_and_304(server: str) -> None:
    plain = {"Accept-Encoding": "identity"}
    first = requests.get(f"{server}/feeds/all.ics", timeout=5, headers=plain)
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "text/calendar; charset=utf-8"
    again = requests.get(
        f"{server}/feeds/all.ics",
        headers={**plain, "If-None-Match": first.headers["ETag"]},
        timeout=5,
    )
    assert again.status_code == 304 and again.content == b""
    zipped = requests.get(f"{server}/feeds/all.ics", headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert zipped.headers["ETag"] != first.headers["ETag"], "each representation has its own tag"


def test_gzip_when_asked(server: str) -> None:
    raw = requests.get(
        f"{server}/feeds/all.ics", headers={"Accept-Encoding": "gzip"}, timeout=5, stream=True
    )
    assert raw.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(raw.raw.read())
    assert body.startswith(b"BEGIN:VCALENDAR")
    assert requests.get(f"{server}/feeds/municipality/eksjo.json", timeout=5).json() == {
        "items": []
    }


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/../secret.ics",
        "/feeds/%2e%2e/secret.ics",
        "/feeds/",
        "/feeds/none.ics",
        "/other.ics",
    ],
)
def test_only_feed_files_are_served(server: str, path: str) -> None:
    assert requests.get(server + path, timeout=5).status_code == 404


def test_resolve_feed_refuses_escapes(tmp_path: Path) -> None:
    (tmp_path / "all.ics").write_text("x")
    assert resolve_feed(tmp_path, "/feeds/all.ics") == (tmp_path / "all.ics").resolve()
    assert resolve_feed(tmp_path, "/feeds/../../etc/passwd") is None
