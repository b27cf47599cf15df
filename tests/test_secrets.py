"""Secrets never leave: a whole `aggregator -v run --once` against servers that redirect,
page to other hosts and echo our requests back, then every byte it wrote is scanned.

Also the URL tricks that would send a request somewhere other than it seems to go.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aggregator import fetch
from aggregator.cli import main
from aggregator.errors import FetchError
from aggregator.fetch import fetch_url, new_session
from aggregator.model import Settings
from tests.support import QuickHTTPServer, tls_server, write_config

TOKEN = "EAAGsecretPageToken0123456789abcdefXYZ"  # shaped like a Facebook page token
ODD_TOKEN = "odd|secret-value-without-a-shape-42"  # found only because we hold it
URL_TOKEN = "written|into-the-url-by-the-operator-7"  # in sources.yaml itself


def calendar(*events: str) -> bytes:
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART:20261210T180000Z\r\nSUMMARY:{title}\r\n"
        f"DESCRIPTION:{description}\r\nEND:VEVENT\r\n"
        for uid, title, description in events
    )
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//SV\r\n{body}END:VCALENDAR\r\n".encode()
    )


def graph_page(*ids: str, next_url: str = "") -> dict[str, object]:
    data: dict[str, object] = {
        "data": [
            {"id": i, "name": f"Evenemang {i}", "start_time": "2026-12-12T19:00:00+0100"}
            for i in ids
        ]
    }
    if next_url:
        data["paging"] = {"next": next_url}
    return data


@pytest.fixture
def other_host() -> Iterator[HTTPServer]:
    """A second server under another name and port: the place a token must never reach."""
    server = QuickHTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def authorization_seen(server: HTTPServer) -> list[str]:
    return [
        f"{request.path}: {request.headers.get('Authorization')}"
        for request, _ in server.log
        if request.headers.get("Authorization")
    ]


def test_no_token_reaches_another_host_or_any_output(
    tmp_path: Path,
    httpserver: HTTPServer,
    other_host: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FB_TOKEN", TOKEN)
    monkeypatch.setenv("ODD_TOKEN", ODD_TOKEN)
    home = httpserver.url_for

    # a Graph URL that redirects to another host: followed, but without our token
    httpserver.expect_request("/v24.0/1/events").respond_with_data(
        "", status=302, headers={"Location": other_host.url_for("/moved")}
    )
    other_host.expect_request("/moved").respond_with_json(graph_page("101"))
    # paging: the next page on our host is read (with the token), one on another host is not
    httpserver.expect_request("/v24.0/2/events", query_string="").respond_with_json(
        graph_page("201", next_url=home("/v24.0/2/events") + f"?access_token={TOKEN}&after=A")
    )
    httpserver.expect_request(
        "/v24.0/2/events", query_string={"access_token": TOKEN, "after": "A"}
    ).respond_with_json(
        graph_page(
            "202", next_url=other_host.url_for("/v24.0/2/events") + f"?access_token={TOKEN}&after=B"
        )
    )
    other_host.expect_request("/v24.0/2/events").respond_with_json(graph_page("203"))

    # a server that echoes our request back, as an answer nobody can read …
    def echo(request: Request) -> Response:
        lines = [
            f"{k}: {v}"
            for k, v in sorted(request.headers.items(), key=lambda h: h[0] != "Authorization")
        ]
        return Response("\n".join(lines), content_type="text/plain")

    httpserver.expect_request("/echo").respond_with_handler(echo)

    # … as an error page, for a Facebook source (its error bodies are explained) …
    def echo_error(request: Request) -> Response:
        said = request.headers.get("Authorization", "")
        body = {"error": {"message": f"Bad header {said} token={ODD_TOKEN}", "code": 190}}
        return Response(json.dumps(body), status=400, content_type="application/json")

    httpserver.expect_request("/v24.0/3/events").respond_with_handler(echo_error)

    # … and inside the events of a calendar, where it would be published
    def echo_calendar(request: Request) -> Response:
        said = request.headers.get("Authorization", "")
        return Response(calendar(("e1@x", f"Konsert {said}", f"Nyckel {ODD_TOKEN}")))

    httpserver.expect_request("/echo.ics").respond_with_handler(echo_calendar)
    # the old way: a token written into the URL in sources.yaml (stored, listed, logged)
    httpserver.expect_request("/v24.0/4/events").respond_with_json(graph_page("401"))

    # an RSS item whose page is on another host: read, without the token
    rss = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<link>{other_host.url_for('/')}</link>"
        f"<item><title>Julkonsert</title><link>{other_host.url_for('/page')}</link>"
        "<guid>g1</guid><description>Lördag 12 december kl. 19.00</description></item>"
        "</channel></rss>"
    )
    httpserver.expect_request("/feed.rss").respond_with_data(
        rss, content_type="application/rss+xml"
    )
    other_host.expect_request("/page").respond_with_data("<html><body>Julkonsert</body></html>")

    config = write_config(
        tmp_path,
        [
            {
                "id": "fb-moved",
                "url": home("/v24.0/1/events"),
                "kind": "facebook",
                "token_env": "FB_TOKEN",
            },
            {
                "id": "fb-paged",
                "url": home("/v24.0/2/events"),
                "kind": "facebook",
                "token_env": "FB_TOKEN",
            },
            {
                "id": "fb-error",
                "url": home("/v24.0/3/events"),
                "kind": "facebook",
                "token_env": "ODD_TOKEN",
            },
            {"id": "echo", "url": home("/echo"), "token_env": "FB_TOKEN"},
            {"id": "echo-ical", "url": home("/echo.ics"), "kind": "ical", "token_env": "FB_TOKEN"},
            {"id": "feed", "url": home("/feed.rss"), "kind": "feed", "token_env": "FB_TOKEN"},
            {
                "id": "fb-in-url",
                "url": home("/v24.0/4/events") + "?access_token=" + quote(URL_TOKEN, safe=""),
                "kind": "facebook",
            },
        ],
    )
    assert main(["-v", "--config", str(config), "run", "--once"]) == 0
    assert main(["--config", str(config), "sources", "list"]) == 0
    out, err = capsys.readouterr()

    assert authorization_seen(other_host) == []
    # paging to it refused; its robots.txt is read (without the token) before its first page
    assert {r.path for r, _ in other_host.log} == {"/robots.txt", "/moved", "/page"}
    ours = authorization_seen(httpserver)
    assert any(p.startswith("/v24.0/2/events") for p in ours)  # the token does reach its host
    assert "fb-moved" in out or "fb-moved" in err
    assert "annan adress än källans" in out + err  # the refused paging is reported

    written = [out.encode(), err.encode()]
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "sources.yaml":
            written.append(path.read_bytes())  # the database, its WAL, every feed
    assert any(b"[token]" in blob for blob in written)  # the echoes were there, redacted
    for secret in (TOKEN, ODD_TOKEN, URL_TOKEN):
        for form in (secret, quote(secret, safe="")):
            leaks = [i for i, blob in enumerate(written) if form.encode() in blob]
            assert leaks == [], f"{form[:8]}… leaked into output #{leaks}"


def test_https_to_http_redirect_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real TLS server (a certificate made for the test) that redirects to plain http."""
    server = tls_server(tmp_path)
    try:
        server.expect_request("/cal.ics").respond_with_data(
            "", status=301, headers={"Location": "http://localhost:9/cal.ics"}
        )
        server.expect_request("/ok.ics").respond_with_data(calendar(("a@x", "Ok", "")))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "cert.pem"))
        settings = Settings(allow_private_hosts=True)
        assert b"Ok" in fetch_url(server.url_for("/ok.ics"), settings).content  # TLS works
        with pytest.raises(FetchError, match="från en säker \\(https\\) till en osäker \\(http\\)"):
            fetch_url(server.url_for("/cal.ics"), settings, headers={"Authorization": "Bearer x"})
    finally:
        server.stop()


# --- where a URL really goes -----------------------------------------------------------


class CountingListener:
    """A TCP port that counts the connections made to it (a loopback "intranet" service)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> int:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        return self.accepted


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}\\@public.example/",
        "http://127.0.0.1:{port}\\.public.example/",
        "http://public.example\\@127.0.0.1:{port}/",
        "http://127.0.0.1%3A{port}/",
    ],
    ids=["backslash-userinfo", "backslash-host", "backslash-reversed", "percent-host"],
)
def test_a_host_read_two_ways_is_refused_before_any_connection(template: str) -> None:
    listener = CountingListener()
    url = template.format(port=listener.port)
    try:
        for settings in (Settings(), Settings(allow_private_hosts=True)):
            with pytest.raises(FetchError):
                fetch_url(url, settings, session=new_session(settings))
    finally:
        accepted = listener.close()
    assert accepted == 0


def test_no_tcp_connection_to_loopback_even_when_the_name_check_is_fooled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the name looked public when checked; the connection resolves it again
    and must refuse before connecting, not after."""
    listener = CountingListener()
    monkeypatch.setattr(fetch.http, "check_host_allowed", lambda *args, **kwargs: None)
    try:
        for host in ("127.0.0.1", "localhost"):
            with pytest.raises(FetchError, match="privat eller lokal"):
                fetch_url(f"http://{host}:{listener.port}/", Settings())
    finally:
        accepted = listener.close()
    assert accepted == 0
    # and the same port is reachable when private hosts are allowed (the listener works)
    listener = CountingListener()
    with pytest.raises(FetchError):
        fetch_url(f"http://127.0.0.1:{listener.port}/", Settings(allow_private_hosts=True))
    assert listener.close() == 1


def test_credentials_are_dropped_on_a_port_change(
    httpserver: HTTPServer, other_host: HTTPServer
) -> None:
    """Same host name, another port: another origin, so no token."""
    other_port = other_host.url_for("/x").split(":")[2].split("/")[0]
    httpserver.expect_request("/a").respond_with_data(
        "", status=307, headers={"Location": f"http://localhost:{other_port}/b"}
    )
    httpserver.expect_request("/c").respond_with_data("", status=302, headers={"Location": "/d"})
    httpserver.expect_request("/d").respond_with_data("same origin")
    other_host.expect_request("/b").respond_with_data("moved")
    settings = Settings(allow_private_hosts=True)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert fetch_url(httpserver.url_for("/a"), settings, headers=headers).content == b"moved"
    assert fetch_url(httpserver.url_for("/c"), settings, headers=headers).content == b"same origin"
    assert authorization_seen(other_host) == []
    assert authorization_seen(httpserver) == [
        f"/a: Bearer {TOKEN}",
        f"/c: Bearer {TOKEN}",
        f"/d: Bearer {TOKEN}",
    ]
