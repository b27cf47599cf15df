"""Shared test helpers: config files, and reading published feeds with icalendar, ical.js, feedparser's checks."""

from __future__ import annotations

import atexit
import io
import json
import os
import select
import shutil
import socketserver
import ssl
import subprocess
import tempfile
import threading
import xml.sax
import xml.sax.handler
import xml.sax.xmlreader
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import icalendar
import pytest
import yaml
from feedparser.api import PREFERRED_XML_PARSERS
from feedparser.encodings import convert_to_utf8
from feedparser.sanitizer import replace_doctype
from pytest_httpserver import HTTPServer

TESTS = Path(__file__).parent
DATA = TESTS / "data"
JS_DIR = TESTS / "js"
CHROMIUM = Path(os.environ.get("AGGREGATOR_TEST_CHROMIUM", "/usr/bin/chromium"))
INSTALL_HINT = "./scripts/install-test-deps.sh installs it"

# The markers of the test running now (conftest.py keeps it up to date), so a helper that
# needs an outside tool can insist that its test carries the marker `-m` deselects by.
current_markers: set[str] = set()


def write_config(folder: Path, sources: list[dict[str, Any]], **settings: Any) -> Path:
    base = {
        "database": str(folder / "test.db"),
        "feeds_dir": str(folder / "feeds"),
        "timezone": "Europe/Stockholm",
        "base_url": "https://alltsomsker.test",
        "calendar_name": "Allt som sker",
        "allow_private_hosts": True,
    }
    base.update(settings)
    path = folder / "sources.yaml"
    path.write_text(
        yaml.safe_dump({"settings": base, "sources": sources}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return path


# How often a test's HTTP server looks for a shutdown request: the standard library's
# 0.5 s made every ``shutdown()`` wait up to half a second, once per server per test.
SHUTDOWN_POLL = 0.02


def serve_in_background(server: socketserver.BaseServer) -> threading.Thread:
    """Run ``server`` in a daemon thread that ``server.shutdown()`` stops at once."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL}, daemon=True
    )
    thread.start()
    return thread


class QuickHTTPServer(HTTPServer):
    """pytest-httpserver's server, stopped at once: its thread looks for a stop request
    every SHUTDOWN_POLL seconds, not every 0.5 s (the shared ``httpserver`` stops once)."""

    def thread_target(self) -> None:
        assert self.server is not None
        self.server.serve_forever(poll_interval=SHUTDOWN_POLL)


def tls_server(folder: Path) -> HTTPServer:
    """A started pytest-httpserver speaking TLS on localhost, with a certificate made for
    the test (``folder / "cert.pem"``, for REQUESTS_CA_BUNDLE when it is to be trusted)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = QuickHTTPServer(host="localhost", port=0, ssl_context=context)
    server.start()
    return server


def require_marker(marker: str) -> None:
    """Fail a test that uses an outside tool without saying so: `pytest -m "not {marker}"`
    must leave out every test that needs the tool."""
    if marker not in current_markers:
        pytest.fail(f"this test uses {marker}: mark it @pytest.mark.{marker}", pytrace=False)


def require_node_icaljs() -> str:
    """node and ical.js, or a failure (never a skip): CI must not pass without them."""
    require_marker("icaljs")
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is missing (the ical.js cross-check needs it; {INSTALL_HINT})", False)
    if not (JS_DIR / "node_modules" / "ical.js").is_dir():
        pytest.fail(f"ical.js is missing from tests/js/node_modules ({INSTALL_HINT})", False)
    return node


def require_chromium() -> Path:
    """Debian's chromium and Playwright, or a failure (never a skip)."""
    require_marker("browser")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing (the browser tests need it; {INSTALL_HINT})", False)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[test]'", False)
    return CHROMIUM


class IcalJsReader:
    """One ical.js reader (``node read_ics.mjs --serve``) per test process, started on
    first use: starting node and loading ical.js costs more CPU than reading a feed, and
    the script resets its time zones for every file, so reads cannot leak into each other."""

    TIMEOUT = 120  # seconds for one answer: a hung reader fails the test, never the run

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 (node's stderr, kept open with it)
        self.lock = threading.Lock()
        atexit.register(self.close)

    def read(self, paths: list[Path]) -> dict[str, Any]:
        node = require_node_icaljs()
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self.process = subprocess.Popen(
                    [node, str(JS_DIR / "read_ics.mjs"), "--serve"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=self.errors,
                    text=True,
                    encoding="utf-8",
                )
            assert self.process.stdin and self.process.stdout
            self.process.stdin.write(json.dumps([str(p) for p in paths]) + "\n")
            self.process.stdin.flush()
            ready, _, _ = select.select([self.process.stdout], [], [], self.TIMEOUT)
            line = self.process.stdout.readline() if ready else ""
            if not line:
                self.close()
                self.errors.seek(0)
                said = self.errors.read().decode("utf-8", "replace")[-2000:]
                pytest.fail(f"ical.js gave no answer for {paths}: {said}", pytrace=False)
            return dict(json.loads(line))

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


ICALJS = IcalJsReader()


def read_with_icaljs(paths: list[Path]) -> dict[str, Any]:
    """Every VEVENT of each file as ical.js reads it (UTC instants)."""
    return ICALJS.read(paths)


def _instant_python(value: datetime | date) -> dict[str, str]:
    if isinstance(value, datetime):
        assert value.tzinfo is not None, f"floating time in published feed: {value}"
        return {"utc": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {"date": value.isoformat()}


def read_with_icalendar(path: Path) -> list[dict[str, Any]]:
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    events = []
    for vevent in calendar.walk("VEVENT"):
        end = vevent.get("DTEND")
        events.append(
            {
                "uid": str(vevent["UID"]),
                "summary": str(vevent.get("SUMMARY", "")),
                "start": _instant_python(vevent["DTSTART"].dt),
                "end": _instant_python(end.dt) if end is not None else None,
                "status": str(vevent.get("STATUS", "")),
                "sequence": int(vevent.get("SEQUENCE", 0)),
            }
        )
    return events


def rss_bozo(data: bytes) -> Exception | None:
    """``feedparser.parse(data).bozo_exception`` (None where bozo is false) for a feed given
    as bytes, by feedparser's own steps but without building its entries: its encoding
    check (``convert_to_utf8``: the declaration against the bytes), its DOCTYPE rewrite,
    then its strict SAX parse (expat, namespaces on, no external entities), which is where
    an ill-formed document sets bozo. feedparser's content handler adds nothing to the
    verdict and costs 20 times the parse (a second for a 2,000-item feed);
    tests/test_suite_rules.py checks that this agrees with feedparser.parse."""
    result: dict[str, Any] = {}
    data = convert_to_utf8({}, data, result)
    if result.get("bozo"):
        return result["bozo_exception"]  # type: ignore[no-any-return]
    _, data, _ = replace_doctype(data)
    parser = xml.sax.make_parser(PREFERRED_XML_PARSERS)
    parser.setFeature(xml.sax.handler.feature_namespaces, 1)
    parser.setFeature(xml.sax.handler.feature_external_ges, 0)
    source = xml.sax.xmlreader.InputSource()
    source.setByteStream(io.BytesIO(data))
    try:
        parser.parse(source)
    except xml.sax.SAXException as exc:
        return exc
    return None


def assert_feeds_valid(
    feeds_dir: Path, only: list[str] | None = None
) -> dict[Path, list[dict[str, Any]]]:
    """Every .ics read by icalendar and ical.js at the same instants; every .rss without
    bozo; every .json parses. ``only`` names the feeds to check ("all", "category/x" …).
    Returns each .ics file's events as icalendar reads them."""
    if only is None:
        ics_files = sorted(feeds_dir.rglob("*.ics"))
        rss_files = sorted(feeds_dir.rglob("*.rss"))
        json_files = sorted(feeds_dir.rglob("*.json"))
    else:
        ics_files = [feeds_dir / f"{feed}.ics" for feed in only]
        rss_files = [feeds_dir / f"{feed}.rss" for feed in only]
        json_files = [feeds_dir / f"{feed}.json" for feed in only]
    assert ics_files
    js = read_with_icaljs(ics_files)
    read = {}
    for path in ics_files:
        ours = read[path] = read_with_icalendar(path)
        theirs = js[str(path)]
        assert theirs["error"] is None, f"ical.js could not read {path}: {theirs['error']}"
        assert len(theirs["events"]) == len(ours), path
        for a, b in zip(ours, theirs["events"], strict=True):
            assert "floating" not in b["start"], f"ical.js saw a floating time in {path}"
            assert a["uid"] == b["uid"]
            assert a["start"] == b["start"], (
                f"{path} {a['summary']}: icalendar {a['start']} ical.js {b['start']}"
            )
            if a["end"] is not None:
                assert a["end"] == b["end"], f"{path} {a['summary']}: end differs"
    for path in rss_files:
        bozo = rss_bozo(path.read_bytes())
        assert bozo is None, f"{path}: {bozo}"
    for path in json_files:
        json.loads(path.read_text(encoding="utf-8"))
    return read


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
