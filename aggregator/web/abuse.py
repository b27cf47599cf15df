"""Limits on what one visitor can make us do: rate limits per client address, capped
request bodies, and the signed tokens that protect the moderators' forms.

Rate limits count in this process's memory with a monotonic clock (never the pinned
``AGGREGATOR_NOW``): a restart forgets them, which is acceptable for limits that only
need to slow a robot down. The one limit that must survive a restart ("hämta nu" per
source) lives in the database instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from starlette.requests import Request


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds per key (a sliding window)."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys  # bounded memory however many addresses knock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> int | None:
        """Count one hit; None when allowed, else the seconds until the next is."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                self._hits[key] = hits
                return max(1, int(hits[0] + self.window - now) + 1)
            hits.append(now)
            self._hits[key] = hits
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        return None


@dataclass(frozen=True, slots=True)
class Limits:
    """The rate limits of the registration and moderation pages (per client address)."""

    register: RateLimiter
    preview: RateLimiter
    status: RateLimiter
    login: RateLimiter

    @classmethod
    def default(cls) -> Limits:
        return cls(
            register=RateLimiter(5, 3600),  # an organizer registers once, maybe twice
            preview=RateLimiter(30, 600),  # live preview while typing, debounced
            status=RateLimiter(20, 600),
            login=RateLimiter(5, 900),
        )


def client_key(request: Request) -> str:
    """The client's address (uvicorn puts the proxy's client there when it trusts it)."""
    return request.client.host if request.client else "unknown"


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, cap: int) -> bytes:
    """The request body, refused as soon as it passes ``cap`` bytes (declared or sent)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def replayed(request: Request, body: bytes) -> Request:
    """A copy of ``request`` whose body is ``body`` (already read under a cap), so
    Starlette's form parser can run on it."""
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


class Signer:
    """HMAC tokens for the admin session and its forms, keyed by the admin token:
    changing ``AGGREGATOR_ADMIN_TOKEN`` logs every moderator out."""

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode("utf-8"), b"alltsomsker-admin", hashlib.sha256).digest()

    def sign(self, purpose: str, value: str) -> str:
        message = f"{purpose}:{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, purpose: str, value: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(purpose, value), signature)

    def new_session(self, lifetime: int) -> str:
        """``expires.nonce.signature``; the nonce also keys the session's CSRF token."""
        value = f"{int(time.time()) + lifetime}.{secrets.token_urlsafe(16)}"
        return f"{value}.{self.sign('session', value)}"

    def session_nonce(self, cookie: str) -> str | None:
        """The nonce of a valid, unexpired session cookie, else None."""
        parts = cookie.split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            return None
        value = f"{parts[0]}.{parts[1]}"
        if not self.verify("session", value, parts[2]) or int(parts[0]) < time.time():
            return None
        return parts[1]


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets of any length (their digests are compared)."""
    a = hashlib.sha256(given.encode("utf-8", "surrogateescape")).digest()
    b = hashlib.sha256(expected.encode("utf-8", "surrogateescape")).digest()
    return hmac.compare_digest(a, b)
