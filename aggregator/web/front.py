"""The outermost layer of every answer: CORS everywhere, preflights, HEAD, the feed files.

CORS headers go on every response, errors included, so a website on another origin
sees "404" instead of "Failed to fetch". ``OPTIONS`` preflights are answered here
for any path, with the methods that path answers (the route table says which): a
browser ``fetch()`` that sends ``If-None-Match`` needs one. ``HEAD`` is answered here
for every route that answers ``GET`` (RFC 9110 §9.3.2): the route runs as ``GET`` and
only its body is dropped, so the status and every header (ETag, Content-Length,
Content-Type, Cache-Control, a 304 for a matching If-None-Match) are the GET's by
construction and no route can forget it. ``/feeds/`` is dispatched before any
routing, because it is the hot path; it answers HEAD itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aggregator.web.feeds import FeedFiles

CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (
        b"access-control-expose-headers",
        b"ETag, Last-Modified, Content-Length, Content-Range, Content-Encoding, Location",
    ),
    (b"x-content-type-options", b"nosniff"),
]
PREFLIGHT_HEADERS = [
    (
        b"access-control-allow-headers",
        b"If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since, Range, If-Range, "
        b"Content-Type, Accept, Accept-Language, Cache-Control",
    ),
    (b"access-control-max-age", b"86400"),
    (b"cache-control", b"public, max-age=86400"),
    (b"content-length", b"0"),
]
FEED_METHODS = ("GET", "HEAD", "OPTIONS")
# A path no route knows: its GET answers 404 (with CORS), which a website should be able
# to read, so the preflight lets that GET through.
UNKNOWN_METHODS = FEED_METHODS
METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

Methods = Callable[[str], Sequence[str]]


class RouteMethods:
    """Path → the methods the app answers there, read from its route table (so a new
    route advertises exactly what it serves). HEAD wherever GET, OPTIONS everywhere."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = routes

    def __call__(self, path: str) -> Sequence[str]:
        if path.startswith("/feeds/"):
            return FEED_METHODS
        scope = {"type": "http", "path": path, "root_path": "", "method": "OPTIONS"}
        methods: set[str] = set()
        matched = False
        for route in iter_route_contexts(self.routes):  # included routers flattened
            match, _ = route.matches(scope)
            if match is Match.NONE:
                continue
            matched = True
            methods.update(getattr(route, "methods", None) or ())
        if not matched:
            return UNKNOWN_METHODS
        return allowed(methods)


def allowed(methods: set[str]) -> tuple[str, ...]:
    """``methods`` with HEAD beside GET and OPTIONS, in a fixed order."""
    given = {m.upper() for m in methods} | {"OPTIONS"}
    if "GET" in given:
        given.add("HEAD")
    return tuple(m for m in METHOD_ORDER if m in given) + tuple(sorted(given - set(METHOD_ORDER)))


def preflight_headers(methods: Sequence[str]) -> list[tuple[bytes, bytes]]:
    listed = ", ".join(methods).encode()
    return [
        (b"access-control-allow-methods", listed),
        (b"allow", listed),
        *PREFLIGHT_HEADERS,
    ]


def _with_head_in_allow(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A 405's ``Allow`` as the app states it lacks HEAD, which this layer adds."""
    fixed = []
    for name, value in headers:
        if name.lower() == b"allow":
            methods = {m.strip() for m in value.decode("latin-1").split(",") if m.strip()}
            value = ", ".join(allowed(methods)).encode()
        fixed.append((name, value))
    return fixed


class FrontDoor:
    """Pure ASGI middleware (no per-request wrapping objects beyond one closure)."""

    def __init__(self, app: ASGIApp, feeds: FeedFiles, methods: Methods) -> None:
        self.app = app
        self.feeds = feeds
        self.methods = methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": CORS_HEADERS + preflight_headers(self.methods(scope["path"])),
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        head = scope["method"] == "HEAD"
        done = False

        async def with_cors(message: Message) -> None:
            nonlocal done
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if message["status"] == 405:
                    headers = _with_head_in_allow(list(headers))
                present = {name.lower() for name, _ in headers}
                extra = [h for h in CORS_HEADERS if h[0] not in present]
                message["headers"] = [*headers, *extra]
            elif head and message["type"] == "http.response.body":
                if done:
                    return  # the rest of a GET body a HEAD does not send
                done = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        if scope["path"].startswith("/feeds/"):
            await self.feeds(scope, receive, with_cors)
        elif head:
            await self.app({**scope, "method": "GET"}, receive, with_cors)
        else:
            await self.app(scope, receive, with_cors)
