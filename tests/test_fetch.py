"""fetch.py against a real local HTTP server: conditional GET, limits, redirects, SSRF guard."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aggregator.errors import FetchError
from aggregator.fetch import check_host_allowed, fetch_source, fetch_url, new_session
from aggregator.model import FetchState, Settings, Source
from tests.support import serve_in_background

ALLOW = Settings(allow_private_hosts=True)
BODY = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"


def test_conditional_get_answers_not_modified(httpserver: HTTPServer) -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(BODY, headers={"ETag": '"v1"', "Content-Type": "text/calendar"})

    httpserver.expect_request("/cal.ics").respond_with_handler(handler)
    url = httpserver.url_for("/cal.ics")
    first = fetch_url(url, ALLOW)
    assert (first.not_modified, first.content, first.etag) == (False, BODY, '"v1"')
    second = fetch_url(url, ALLOW, state=FetchState(etag='"v1"', content_hash=first.content_hash))
    assert second.not_modified and second.http_status == 304


def test_user_agent_and_last_modified_are_sent(httpserver: HTTPServer) -> None:
    seen = {}

    def handler(request: Request) -> Response:
        seen.update(request.headers)
        return Response(BODY)

    httpserver.expect_request("/cal.ics").respond_with_handler(handler)
    fetch_url(
        httpserver.url_for("/cal.ics"),
        ALLOW,
        state=FetchState(last_modified="Wed, 25 Nov 2026 10:00:00 GMT"),
    )
    assert "AlltSomSker" in seen["User-Agent"]
    assert seen["If-Modified-Since"] == "Wed, 25 Nov 2026 10:00:00 GMT"


def test_http_error_is_a_fetch_error_naming_the_status(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/down.ics").respond_with_data("oops", status=500)
    with pytest.raises(FetchError, match="HTTP 500"):
        fetch_url(httpserver.url_for("/down.ics"), ALLOW, source_id="s")


def test_size_cap_applies_to_decoded_body(httpserver: HTTPServer) -> None:
    bomb = gzip.compress(b"A" * 5_000_000)
    httpserver.expect_request("/bomb.ics").respond_with_data(
        bomb, headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(FetchError, match="större än gränsen"):
        fetch_url(
            httpserver.url_for("/bomb.ics"), Settings(allow_private_hosts=True, max_bytes=1_048_576)
        )


def test_declared_length_over_cap_is_refused_before_reading(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big.ics").respond_with_data(b"x" * 2_000_000)
    with pytest.raises(FetchError, match="större än gränsen"):
        fetch_url(
            httpserver.url_for("/big.ics"), Settings(allow_private_hosts=True, max_bytes=1_048_576)
        )


def test_redirects_are_followed_but_bounded(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old.ics").respond_with_data(
        "", status=301, headers={"Location": "/new.ics"}
    )
    httpserver.expect_request("/new.ics").respond_with_data(BODY)
    assert fetch_url(httpserver.url_for("/old.ics"), ALLOW).content == BODY
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": "/loop"}
    )
    with pytest.raises(FetchError, match="vidare mer än"):
        fetch_url(httpserver.url_for("/loop"), ALLOW)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.ics",
        "http://localhost/x.ics",
        "http://10.1.2.3/x.ics",
        "http://192.168.1.1/x.ics",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x.ics",
        "http://0.0.0.0/x.ics",
    ],
)
def test_private_and_loopback_hosts_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="privat eller lokal"):
        check_host_allowed(url, Settings())


def test_redirect_to_a_private_address_is_refused(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard runs on every hop: only the test server itself is exempted here."""
    httpserver.expect_request("/hop").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data"}
    )
    from aggregator import fetch

    checked = []

    def guard_except_test_server(url: str, settings: Settings, source_id: str = "") -> None:
        checked.append(url)
        if not url.startswith(httpserver.url_for("/")):
            check_host_allowed(url, settings, source_id)

    monkeypatch.setattr(fetch.http, "check_host_allowed", guard_except_test_server)
    session = new_session(
        Settings(allow_private_hosts=True)
    )  # no socket guard: test the name check
    with pytest.raises(FetchError, match="privat eller lokal"):
        fetch_url(httpserver.url_for("/hop"), Settings(), session=session)
    assert checked == [httpserver.url_for("/hop"), "http://169.254.169.254/latest/meta-data"]


def test_unreachable_host_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="kunde inte ansluta"):
        fetch_url("http://127.0.0.1:9/x.ics", Settings(allow_private_hosts=True, timeout=2))


def test_path_sources_are_read_from_disk(tmp_path: Path) -> None:
    (tmp_path / "cal.ics").write_bytes(BODY)
    source = Source(id="lokal", name="Lokal", path="cal.ics")
    result = fetch_source(source, FetchState(), Settings(), base_dir=tmp_path)
    assert result.content == BODY and not result.not_modified
    with pytest.raises(FetchError, match="finns inte"):
        fetch_source(
            Source(id="x", name="x", path="nope.ics"), FetchState(), Settings(), base_dir=tmp_path
        )


def test_hostile_redirect_location_is_a_fetch_error() -> None:
    """A Location urllib cannot parse (werkzeug will not send one, so a bare server does)."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "http://[bad/x")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Redirect)
    serve_in_background(server)
    try:
        with pytest.raises(FetchError, match="inte är en webbadress"):
            fetch_url(f"http://127.0.0.1:{server.server_address[1]}/bad", ALLOW)
    finally:
        server.shutdown()
        server.server_close()


def test_connection_to_a_private_address_is_refused_even_past_the_name_check(
    httpserver: HTTPServer,
) -> None:
    """DNS rebinding: the name looked public when checked, the socket reached 127.0.0.1."""
    import requests

    from aggregator.fetch import new_session

    httpserver.expect_request("/admin").respond_with_data("secret")
    session = new_session(Settings())  # private hosts not allowed
    with pytest.raises(requests.ConnectionError, match="connected to a private address"):
        session.get(httpserver.url_for("/admin"), timeout=5)
    assert httpserver.log == [], "no request bytes reached the private server"
    allowed = new_session(Settings(allow_private_hosts=True))
    assert allowed.get(httpserver.url_for("/admin"), timeout=5).text == "secret"


def test_fetch_reports_the_socket_guard_as_a_private_address(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aggregator import fetch

    httpserver.expect_request("/cal.ics").respond_with_data(BODY)
    monkeypatch.setattr(
        fetch.http, "check_host_allowed", lambda *args, **kwargs: None
    )  # as if DNS said "public"
    with pytest.raises(FetchError, match="privat eller lokal adress"):
        fetch_url(httpserver.url_for("/cal.ics"), Settings())


def test_a_server_dripping_bytes_is_cut_off_by_the_total_time_limit() -> None:
    """Each byte arrives within the read timeout, so only a total limit stops it."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    stop = threading.Event()

    class Drip(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            try:
                self.wfile.write(b"BEGIN:VCALENDAR\\r\\n")
                while not stop.is_set():
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    serve_in_background(server)
    try:
        with pytest.raises(FetchError, match="för långsamt"):
            fetch_url(
                f"http://127.0.0.1:{server.server_address[1]}/",
                Settings(allow_private_hosts=True, timeout=0.5),
            )
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_a_path_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.ics"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        with pytest.raises(FetchError, match="ingen vanlig fil"):
            fetch_source(
                Source(id="x", name="x", path=path), FetchState(), Settings(), base_dir=tmp_path
            )


def test_proxies_from_the_environment_are_used_and_no_proxy_is_honoured(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guarded adapter still goes as the environment says: through the proxy, or,
    for a NO_PROXY host, straight, on every request of a session."""
    seen: list[str] = []

    def handler(request: Request) -> Response:
        seen.append(f"{request.host} {request.path}")
        return Response("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", content_type="text/calendar")

    httpserver.expect_request("/kal.ics").respond_with_handler(handler)
    proxy = f"http://127.0.0.1:{httpserver.port}"
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("http_proxy", proxy)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    settings = Settings(allow_private_hosts=True)
    session = new_session(settings)
    via_proxy = "http://127.0.0.2:9/kal.ics"  # nothing listens on port 9: only a proxy answers
    for _ in range(2):
        assert fetch_url(via_proxy, settings, session=session).content.startswith(b"BEGIN")
    direct = f"http://127.0.0.1:{httpserver.port}/kal.ics"  # the server, not as a proxy
    for _ in range(2):
        assert fetch_url(direct, settings, session=session).content.startswith(b"BEGIN")
    assert seen == ["127.0.0.2:9 /kal.ics"] * 2 + [f"127.0.0.1:{httpserver.port} /kal.ics"] * 2
