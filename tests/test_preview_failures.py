"""Why a preview found nothing, for each way a fetch can fail: the reason is chosen by what
failed (``FetchError.kind``, ``status``), never by words in the fetch's message, so a
reworded message cannot turn into "Vi kunde inte hämta sidan." (it did, for https → http).

Every case goes through ``POST /api/sources/preview`` of the live app to a local server
that misbehaves in one way; an https one (a certificate made for the test) for the two
TLS cases.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from pytest_httpserver import HTTPServer

from aggregator.errors import FetchError, FetchFailure
from aggregator.web.preview import GENERIC_FETCH_REASON, explain_fetch_error
from tests.support import serve_in_background, tls_server, write_config
from tests.web_server import running

TIMEOUT = 1.5  # the read timeout; a request's whole deadline is three of them
DRIP = 0.2  # seconds between two bytes of a dripping answer: well within the read timeout

REDIRECTS = {
    "/loop": "/loop",
    "/ftp": "ftp://kalender.example/kal.ics",
    "/backslash": "http://127.0.0.1:80\\@kalender.example/kal.ics",  # a host read two ways
    "/nowhere": "http://kalender..example/kal.ics",  # no such name (refused before any DNS)
}


class Misbehaving(BaseHTTPRequestHandler):
    stop: threading.Event  # set when the test is over: the slow answers end

    def do_GET(self) -> None:
        if self.path in REDIRECTS:
            self.send_response(302)
            self.send_header("Location", REDIRECTS[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/big":  # declared far over the cap: refused unread
            self.send_response(200)
            self.send_header("Content-Length", str(10**10))
            self.end_headers()
        elif self.path == "/gated":
            self.send_response(403)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"nej")
        elif self.path == "/silent":  # connected, then nothing
            self.stop.wait(30)
        elif self.path == "/dripping":  # a byte at a time: no read timeout ever trips
            for byte in b"HTTP/1.1 200 OK\r\n" + b"x" * 10_000:
                if self.stop.wait(DRIP):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Servers:
    base: str  # the app
    plain: str  # host:port of the misbehaving http server
    tls: HTTPServer  # the https one
    cert: Path


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("preview-failures")
    stop = threading.Event()
    plain = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (Misbehaving,), {"stop": stop}))
    serve_in_background(plain)
    tls = tls_server(folder)
    tls.expect_request("/down").respond_with_data(
        "", status=301, headers={"Location": "http://localhost:9/kal.ics"}
    )
    plain_host = f"127.0.0.1:{plain.server_address[1]}"
    write_config(folder, [], trusted_hosts=[plain_host, f"localhost:{tls.port}"], timeout=TIMEOUT)
    try:
        with running(folder / "sources.yaml") as base:
            yield Servers(base, plain_host, tls, folder / "cert.pem")
    finally:
        stop.set()
        plain.shutdown()
        plain.server_close()
        tls.stop()


def preview(servers: Servers, url: str) -> dict[str, object]:
    answer = requests.post(f"{servers.base}/api/sources/preview", json={"url": url}, timeout=60)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    assert body["found"] is False
    return body


# (path on the misbehaving server, the reason shown, words of the fetch's own message)
CASES = [
    ("/loop", "Sidan skickar oss vidare för många gånger.", "mer än 5 gånger"),
    (
        "/ftp",
        "Sidan skickar oss vidare till något som inte är en webbadress vi kan läsa.",
        "ftp://kalender.example",
    ),
    ("/backslash", "Adressen går inte att läsa som en vanlig webbadress.", "saknar värdnamn"),
    (
        "/nowhere",
        "Adressen finns inte: namnet kalender..example hittas inte.",  # the hop's name
        "gick inte att slå upp",
    ),
    ("/big", "Filen är större än vi kan läsa.", "större än gränsen"),
    ("/gated", "Sidan är inte öppen för oss (svar 403).", "HTTP 403"),
    ("/silent", "Sidan svarar inte.", "svarade inte inom 1,5 sekunder"),
    ("/dripping", "Sidan svarar för långsamt.", "gav upp efter 4,5 sekunder"),
]


@pytest.mark.parametrize(("path", "reason", "detail"), CASES, ids=[c[0][1:] for c in CASES])
def test_each_failure_has_its_own_reason(
    servers: Servers, path: str, reason: str, detail: str
) -> None:
    body = preview(servers, f"http://{servers.plain}{path}")
    assert body["reason"] == reason
    assert detail in str(body["detail"]), body["detail"]


def test_https_to_http_redirect_is_explained(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(servers.cert))  # the test's certificate trusted
    body = preview(servers, servers.tls.url_for("/down"))
    assert str(body["reason"]).startswith(
        "Sidan skickar oss vidare från en säker adress (https) till en osäker (http)"
    )
    assert "http-adress" in str(body["hint"])
    assert "från en säker (https) till en osäker (http)" in str(body["detail"])
    assert servers.tls.log and all(r.path == "/down" for r, _ in servers.tls.log)


def test_a_certificate_we_cannot_trust_is_explained(servers: Servers) -> None:
    body = preview(servers, servers.tls.url_for("/down"))
    assert body["reason"] == (
        "Sidans säkerhetscertifikat är ogiltigt, så vi kan inte hämta den säkert."
    )


URL_FAILURES = set(FetchFailure) - {
    FetchFailure.OTHER,
    FetchFailure.FILE,  # a path: source, never previewed
    FetchFailure.HOST_BUSY,  # a linked page's host; the preview itself waits its turn
    FetchFailure.ROBOTS_UNAVAILABLE,  # a harvester's read of robots.txt
}


@pytest.mark.parametrize("kind", sorted(URL_FAILURES))
def test_every_way_a_web_address_fails_has_a_reason_of_its_own(kind: FetchFailure) -> None:
    """A kind added to fetch without a reason here would be told as the generic one."""
    error = FetchError("detalj", kind=kind, url="https://forening.example/kal.ics")
    assert explain_fetch_error(error, "https://forening.example/kal.ics") != GENERIC_FETCH_REASON
