"""The outermost layer of every answer: CORS everywhere, preflights, the feed files.

CORS headers go on every response, errors included, so a website on another origin
sees "404" instead of "Failed to fetch". ``OPTIONS`` preflights are answered here
for any path: a browser ``fetch()`` that sends ``If-None-Match`` needs one.
``/feeds/`` is dispatched before any routing, because it is the hot path.
"""

from __future__ import annotations

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
    (b"access-control-allow-methods", b"GET, HEAD, POST, OPTIONS"),
    (
        b"access-control-allow-headers",
        b"If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since, Range, If-Range, "
        b"Content-Type, Accept, Accept-Language, Cache-Control",
    ),
    (b"access-control-max-age", b"86400"),
    (b"allow", b"GET, HEAD, POST, OPTIONS"),
    (b"cache-control", b"public, max-age=86400"),
    (b"content-length", b"0"),
]


class FrontDoor:
    """Pure ASGI middleware (no per-request wrapping objects beyond one closure)."""

    def __init__(self, app: ASGIApp, feeds: FeedFiles) -> None:
        self.app = app
        self.feeds = feeds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": CORS_HEADERS + PREFLIGHT_HEADERS,
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [h for h in CORS_HEADERS if h[0] not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        if scope["path"].startswith("/feeds/"):
            await self.feeds(scope, receive, with_cors)
        else:
            await self.app(scope, receive, with_cors)
