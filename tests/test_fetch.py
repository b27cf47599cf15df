"""fetch.py against a real local HTTP server: conditional GET, limits, redirects, SSRF guard."""

from __future__ import annotations

import gzip
import threading
import time
from pathlib import Path
from typing import BinaryIO

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aggregator.cli import main
from aggregator.errors import FetchError
from aggregator.fetch import (
    EnvironmentCache,
    check_host_allowed,
    fetch_source,
    fetch_url,
    new_session,
)
from aggregator.model import FetchState, Settings, Source
from tests.hosts import Answer, Hosts
from tests.hosts import Request as HostRequest
from tests.support import DATA, serve_in_background, write_config

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


def drip(out: BinaryIO, stop: threading.Event) -> None:
    """A byte every 0.2 s, well within any read timeout, until ``stop`` or the client
    hangs up: only a total time limit ends such an answer."""
    try:
        while not stop.is_set():
            out.write(b"X")
            out.flush()
            time.sleep(0.2)
    except OSError:
        pass


def test_a_server_dripping_bytes_is_cut_off_by_the_total_time_limit() -> None:
    """Each byte arrives within the read timeout, so only a total limit stops it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    stop = threading.Event()

    class Drip(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"BEGIN:VCALENDAR\\r\\n")
            drip(self.wfile, stop)

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


def test_the_sessions_of_one_pool_read_the_proxy_settings_once(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A harvest pool's threads each have a session but share what the environment said
    for each origin: a second session of the pool goes through the proxy the first read,
    even once the variable is gone; a session of its own reads the environment again."""
    httpserver.expect_request("/kal.ics").respond_with_data(
        "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", content_type="text/calendar"
    )
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{httpserver.port}")
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    settings = Settings(allow_private_hosts=True, timeout=2)
    via_proxy = "http://127.0.0.2:9/kal.ics"  # nothing listens on port 9: only a proxy answers
    shared: EnvironmentCache = {}
    assert fetch_url(via_proxy, settings, session=new_session(settings, shared)).content
    monkeypatch.delenv("http_proxy")
    assert fetch_url(via_proxy, settings, session=new_session(settings, shared)).content
    with pytest.raises(FetchError):
        fetch_url(via_proxy, settings, session=new_session(settings))


def test_calendars_on_one_host_are_asked_over_a_kept_connection(tmp_path: Path) -> None:
    """A municipality's site with several calendars: each harvest thread keeps its
    connection to the host (one TCP, and in real life one TLS, handshake), for the 200s
    of a first run and the 304s of a rerun alike."""
    calendar = (DATA / "ical" / "all_day_multi_day.ics").read_bytes()

    def ical(request: HostRequest) -> Answer:
        if request.headers.get("If-None-Match") == '"v1"':
            return Answer(status=304, headers={"ETag": '"v1"'})
        return Answer(calendar, headers={"ETag": '"v1"', "Content-Type": "text/calendar"})

    with Hosts(1, keep_alive=True) as hosts:
        for n in range(6):
            hosts.routes[f"/k{n}.ics"] = ical
        sources = [{"id": f"k{n}", "url": hosts.url(1, f"/k{n}.ics")} for n in range(6)]
        config = str(write_config(tmp_path, sources, workers=2))
        assert main(["--config", config, "-q", "run", "--once"]) == 0
        first = hosts.connections["127.0.0.1"]
        assert main(["--config", config, "-q", "run", "--once"]) == 0
        again = hosts.connections["127.0.0.1"] - first
        asked = len(hosts.requests_to("/k0.ics"))
    assert asked == 2  # each calendar asked once a run
    assert 1 <= first <= 2 and 1 <= again <= 2  # at most one per harvest thread


def test_a_kept_connection_that_starts_dripping_is_still_cut_off() -> None:
    """The total time limit holds on a reused keep-alive connection too: the second
    request goes over the first one's connection and is cut at its own deadline."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    stop = threading.Event()
    connections = []

    class Server(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            connections.append(self.client_address)

        def do_GET(self) -> None:
            body = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
            self.send_response(200)
            if self.path == "/ok":
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_header("Content-Length", "100000")
            self.end_headers()
            drip(self.wfile, stop)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Server)
    server.daemon_threads = True
    serve_in_background(server)
    settings = Settings(allow_private_hosts=True, timeout=0.5)
    session = new_session(settings)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert fetch_url(f"{base}/ok", settings, session=session).content.startswith(b"BEGIN")
        started = time.monotonic()
        with pytest.raises(FetchError, match="för långsamt"):
            fetch_url(f"{base}/drip", settings, session=session)
        assert time.monotonic() - started < 30  # cut by the deadline, not the body's end
        assert len(connections) == 1  # the drip came over the kept connection
    finally:
        stop.set()
        session.close()
        server.shutdown()
        server.server_close()


def test_the_deadline_watchdog_cuts_the_soonest_first_and_never_a_finished_request() -> None:
    """One watchdog thread serves every request: a short deadline that arrives while it
    sleeps towards a long one is still cut on time, the long one is left alone, and a
    request that finished before its deadline is never cut afterwards."""
    import socket
    import threading

    from aggregator.fetch.limits import Deadline

    long_deadline, short_deadline, finished = Deadline(60), Deadline(0.3), Deadline(0.2)
    long_socks, short_socks = socket.socketpair(), socket.socketpair()
    entered = threading.Event()
    release = threading.Event()

    def hold_long() -> None:
        with long_deadline.watching():
            long_deadline.register(long_socks[0])
            entered.set()
            release.wait(30)

    holder = threading.Thread(target=hold_long)
    holder.start()
    try:
        entered.wait(10)
        with finished.watching():
            pass  # done at once
        with short_deadline.watching():
            short_deadline.register(short_socks[0])
            short_socks[0].settimeout(30)
            assert short_socks[0].recv(1) == b""  # shut down by the watchdog
        assert short_deadline.expired.is_set()
        assert finished.remaining() == 0 and not finished.expired.is_set()
        assert not long_deadline.expired.is_set()
    finally:
        release.set()
        holder.join(10)
        for pair in (long_socks, short_socks):
            for sock in pair:
                sock.close()
