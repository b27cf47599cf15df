"""Organizers' servers on several loopback hosts (127.0.0.1 … 127.0.0.N, one port), for the
scheduler's and the robots.txt tests: each request can wait, answer a chosen status and
headers, and is counted while in flight per host and timed from its arrival to its last
byte, so a test can prove politeness from the server's side."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support import serve_in_background


@dataclass
class Answer:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds the server waits before answering


Route = Callable[["Request"], Answer]


@dataclass(frozen=True)
class Request:
    host: str
    path: str
    headers: dict[str, str]
    arrived: float = field(default_factory=time.monotonic)  # when the server read it


@dataclass(frozen=True)
class Exchange:
    request: Request
    # monotonic: just before the answer's last byte left (or its headers, for an empty
    # one; or when the server gave up), so before the client can have it all, and so
    # recorded before the next request can arrive
    answered: float
    cut: bool = False  # the client closed the connection before the answer's end


class Hosts:
    """A fleet of local hosts sharing routes by path; use as a context manager."""

    def __init__(self, count: int, latency: float = 0.0, *, keep_alive: bool = False) -> None:
        """``keep_alive``: answer in HTTP/1.1 and keep connections open, as most real
        servers do (the default closes each after one answer, as HTTP/1.0)."""
        self.latency = latency
        self.connections: dict[str, int] = {}  # connections opened, per host
        self.routes: dict[str, Route] = {}
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.max_total = 0
        self.log: list[Request] = []
        self.done: list[Exchange] = []  # requests answered (see Exchange.answered)
        self.arrived = threading.Event()  # set on every request (tests wait for the first)
        hosts = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def setup(self) -> None:
                super().setup()
                host = self.connection.getsockname()[0]
                with hosts.lock:
                    hosts.connections[host] = hosts.connections.get(host, 0) + 1

            def do_GET(self) -> None:
                # counted out just before the client can have the whole answer (its last
                # byte, or the end of its headers): a client that sends its next request
                # at once is never seen as overlapping with this one
                request = Request(
                    self.connection.getsockname()[0], self.path, dict(self.headers.items())
                )
                hosts._enter(request)
                left = False
                try:
                    route = hosts.routes.get(self.path.split("?")[0])
                    answer = route(request) if route else Answer(b"not found", 404)
                    time.sleep(hosts.latency + answer.delay)
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    if not answer.body:
                        hosts._leave(request)
                        left = True
                    self.end_headers()
                    self.wfile.write(answer.body[:-1])
                    if not left:
                        hosts._leave(request)
                        left = True
                    self.wfile.write(answer.body[-1:])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a test stopped the service mid-request)
                finally:
                    if not left:  # the client closed before the body's end
                        hosts._leave(request, cut=True)

            def log_message(self, *args: object) -> None:
                pass

        first = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = first.server_address[1]
        self.servers = [first] + [
            ThreadingHTTPServer((f"127.0.0.{n}", self.port), Handler) for n in range(2, count + 1)
        ]
        for server in self.servers:
            server.daemon_threads = True
            serve_in_background(server)

    def url(self, host_number: int, path: str) -> str:
        return f"http://127.0.0.{host_number}:{self.port}{path}"

    def _enter(self, request: Request) -> None:
        with self.lock:
            self.log.append(request)
            self.in_flight[request.host] = self.in_flight.get(request.host, 0) + 1
            self.max_in_flight[request.host] = max(
                self.max_in_flight.get(request.host, 0), self.in_flight[request.host]
            )
            self.max_total = max(self.max_total, sum(self.in_flight.values()))
        self.arrived.set()

    def _leave(self, request: Request, *, cut: bool = False) -> None:
        with self.lock:
            self.in_flight[request.host] -= 1
            self.done.append(Exchange(request, time.monotonic(), cut))

    def requests_to(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.log if r.path.split("?")[0] == path]

    def paths(self, host: str = "127.0.0.1") -> list[str]:
        """The paths asked of ``host``, in the order they arrived."""
        with self.lock:
            return [r.path for r in self.log if r.host == host]

    def gaps(self, host: str = "127.0.0.1", *, after_whole: bool = False) -> list[float]:
        """Seconds from each answer (its last byte) to the next request's arrival on ``host``.
        ``after_whole``: only after answers the client read to the end. One it cut short
        (a robots.txt over our limit) is "answered" when this server noticed the closed
        connection, which a loaded machine can make later than the client's own end."""
        with self.lock:
            mine = sorted(
                (e for e in self.done if e.request.host == host), key=lambda e: e.request.arrived
            )
        return [
            b.request.arrived - a.answered
            for a, b in itertools.pairwise(mine)
            if not (after_whole and a.cut)
        ]

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
