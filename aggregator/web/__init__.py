"""Serving the published feeds over HTTP: ETag/304, gzip, correct content types.

A small standard-library server on purpose: feeds are static files written
atomically by ``publish``; the JSON API and registration pages come in their own issue.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from aggregator.config import Config
from aggregator.publish import event_page_url, published_event
from aggregator.store import RemovedEvent, Store
from aggregator.web.pages import render_event_page, render_message_page

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".ics": "text/calendar; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
}


def resolve_feed(feeds_dir: Path, request_path: str) -> Path | None:
    """The file a ``/feeds/...`` path names, or None (also for any path leaving feeds_dir)."""
    path = unquote(urlsplit(request_path).path)
    if not path.startswith("/feeds/"):
        return None
    relative = path.removeprefix("/feeds/")
    if not relative or "\x00" in relative:
        return None
    root = feeds_dir.resolve()
    target = (root / relative).resolve()
    if root not in target.parents or target.suffix not in CONTENT_TYPES or not target.is_file():
        return None
    return target


EVENT_PATH = re.compile(r"^/events/([0-9a-f]{8,32})/?$")


def event_page(config: Config, event_id: str) -> tuple[int, str]:
    """(HTTP status, Swedish HTML) for ``/events/<id>``: 200, 410 when removed, 404."""
    settings = config.settings
    store = Store(config.resolve(settings.database))
    try:
        record = store.event_record(event_id)
    finally:
        store.close()
    if record is None:
        return 404, render_message_page(
            "Evenemanget finns inte", "Det finns inget evenemang med den adressen.", settings
        )
    if isinstance(record, RemovedEvent):
        return 410, render_message_page(
            "Evenemanget är borttaget", "Arrangören har tagit bort evenemanget.", settings
        )
    event = published_event(record)
    names = {source.id: source.name for source in config.sources}
    return 200, render_event_page(event, settings, names, event_page_url(event, settings))


def make_handler(feeds_dir: Path, config: Config | None = None) -> type[BaseHTTPRequestHandler]:
    class FeedHandler(BaseHTTPRequestHandler):
        server_version = "AlltSomSker"

        def do_GET(self) -> None:
            self._serve(send_body=True)

        def do_HEAD(self) -> None:
            self._serve(send_body=False)

        def _serve_page(self, status: int, page: str, *, send_body: bool) -> None:
            body = page.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Language", "sv")
            self.send_header("Cache-Control", "public, max-age=300")
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def _serve(self, *, send_body: bool) -> None:
            match = EVENT_PATH.match(urlsplit(self.path).path)
            if match and config is not None:
                status, page = event_page(config, match.group(1))
                self._serve_page(status, page, send_body=send_body)
                return
            target = resolve_feed(feeds_dir, self.path)
            if target is None:
                self.send_error(HTTPStatus.NOT_FOUND, "Ingen sådan kalender")
                return
            body = target.read_bytes()
            gzipped = "gzip" in self.headers.get("Accept-Encoding", "")
            # each representation has its own tag (RFC 9110 8.8.3): the gzip one is marked
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + ('-gz"' if gzipped else '"')
            if etag in [t.strip() for t in self.headers.get("If-None-Match", "").split(",")]:
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            encoding = None
            if gzipped:
                body, encoding = gzip.compress(body, mtime=0), "gzip"
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", CONTENT_TYPES[target.suffix])
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.send_header("Cache-Control", "public, max-age=300")
            self.send_header("Vary", "Accept-Encoding")
            self.send_header("Access-Control-Allow-Origin", "*")
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return FeedHandler


def make_server(config: Config, host: str, port: int) -> ThreadingHTTPServer:
    feeds_dir = config.resolve(config.settings.feeds_dir)
    return ThreadingHTTPServer((host, port), make_handler(feeds_dir, config))


def serve_feeds(config: Config, *, host: str, port: int) -> None:
    server = make_server(config, host, port)
    log.warning("serving %s on http://%s:%d/feeds/", config.settings.feeds_dir, host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
