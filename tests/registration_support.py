"""Servers around the app for the registration tests (the app itself runs under
tests.web_server): organizers' calendars on loopback, and a server that records every
request it gets (to prove that a refused address was never reached)."""

from __future__ import annotations

import contextlib
import functools
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support import serve_in_background


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@dataclass
class Recorder:
    """A server that answers 200 to anything and keeps every request line it was sent."""

    port: int
    requests: list[str] = field(default_factory=list)
    servers: list[ThreadingHTTPServer] = field(default_factory=list)

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@contextmanager
def recording_server() -> Iterator[Recorder]:
    """Listening on 127.0.0.1 and [::1] on the same port: any spelling of "this
    machine" that slipped through the guard would land here."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(f"{self.command} {self.path}")
            body = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    v4 = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = v4.server_address[1]
    servers: list[ThreadingHTTPServer] = [v4]
    with contextlib.suppress(OSError):  # no IPv6 loopback here: the IPv4 one still records
        servers.append(_V6Server(("::1", port), Handler))
    for server in servers:
        serve_in_background(server)
    recorder = Recorder(port, requests, servers)
    try:
        yield recorder
    finally:
        recorder.close()


@contextmanager
def file_server(folder: Path) -> Iterator[str]:
    """``folder`` over HTTP on loopback: an organizer's calendar, feed or website."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=folder))
    serve_in_background(server)
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def redirecting_server(target: Callable[[str], str]) -> Iterator[str]:
    """Answers every request with a 302 to ``target(path)``: a public host that sends
    the fetcher somewhere else."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target(self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve_in_background(server)
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
