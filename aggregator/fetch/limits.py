"""How much a fetch may take: bytes, redirects and time.

The size cap applies to the *decoded* body, so a gzip bomb stops at the cap too.
Time is one ``Deadline`` for the whole request (connect, status line, headers,
body, every redirect hop) and one for a whole website crawl: a server that
drips a byte at a time never trips a read timeout, so a watchdog shuts the
sockets of the request down when its deadline passes (``guard.py``'s
connections register their sockets with the deadline of the thread's request).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import requests

from aggregator.errors import DeadlineExceeded, FetchError, FetchFailure
from aggregator.normalize.text import human_seconds, human_size
from aggregator.redaction import redact

MAX_REDIRECTS = 5
TOTAL_TIME_FACTOR = 3  # a whole request may take this many read timeouts, no more
CRAWL_TIME_FACTOR = 6  # and all requests of one harvest (a crawl, paging) this many

_current = threading.local()


class Deadline:
    """A point in (monotonic) time after which a request, or a crawl, is cut off."""

    def __init__(self, seconds: float, *, parent: Deadline | None = None) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        if parent is not None and parent.ends < self.ends:
            self.ends, self.seconds = parent.ends, parent.seconds
        self.parent = parent
        self.expired = threading.Event()
        self.governs = False  # the request's timeouts were cut short to fit the deadline
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def register(self, sock: socket.socket) -> None:
        """A socket this request reads from: shut down when the deadline passes."""
        with self._lock:
            if sock not in self._sockets:
                self._sockets.append(sock)
        if self.expired.is_set():
            _shut(sock)

    def _cut(self) -> None:
        self.expired.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    @contextlib.contextmanager
    def watching(self) -> Iterator[Deadline]:
        """This thread's connections register here; a watchdog cuts them at the deadline."""
        previous = getattr(_current, "deadline", None)
        _current.deadline = self
        watchdog = threading.Timer(self.remaining(), self._cut)
        watchdog.daemon = True
        watchdog.start()
        try:
            yield self
        finally:
            watchdog.cancel()
            _current.deadline = previous
            with self._lock:
                self._sockets.clear()


def current_deadline() -> Deadline | None:
    """The deadline of the request this thread is making, if any."""
    return getattr(_current, "deadline", None)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def read_capped(
    response: requests.Response,
    max_bytes: int,
    source_id: str,
    url: str,
    deadline: Deadline,
    *,
    truncate: bool = False,
) -> bytes:
    """The body, refused past ``max_bytes`` (or, ``truncate``, cut there: a robots.txt
    is read up to a limit, RFC 9309 2.5); past the deadline the watchdog cuts it off."""
    declared = response.headers.get("Content-Length")
    if not truncate and declared and declared.isdigit() and int(declared) > max_bytes:
        raise too_big_error(max_bytes, source_id, redact(url))
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > max_bytes and truncate:
            chunks.append(chunk[: len(chunk) - (size - max_bytes)])
            break
        if size > max_bytes:
            raise too_big_error(max_bytes, source_id, redact(url))
        chunks.append(chunk)
        if deadline.expired.is_set():
            break
    if deadline.expired.is_set():
        raise too_slow(deadline, source_id, url)
    return b"".join(chunks)


def too_slow(deadline: Deadline, source_id: str, url: str) -> FetchError:
    """The error for a deadline that passed: the crawl's fails the whole source."""
    if deadline.parent is not None and deadline.parent.remaining() <= 0:
        return DeadlineExceeded(
            f"Webbplatsen svarade för långsamt: att hämta dess sidor tog mer än "
            f"{human_seconds(deadline.parent.seconds)} sammanlagt, så inget ändrades. Vi försöker "
            "igen vid nästa hämtning; håller det i sig, be den som driver webbplatsen se över "
            "hur snabbt den svarar.",
            source_id=source_id,
            url=redact(url),
        )
    return FetchError(
        f"Servern svarade för långsamt (vi gav upp efter {human_seconds(deadline.seconds)}), så "
        "inget ändrades. Vi försöker igen vid nästa hämtning; håller det i sig, be den som "
        "driver servern se över hur snabbt den svarar.",
        kind=FetchFailure.TOO_SLOW,
        source_id=source_id,
        url=redact(url),
    )


def too_big(max_bytes: int) -> str:
    return (
        f"Filen är större än gränsen på {human_size(max_bytes)}, så den lästes inte och inget "
        "ändrades. Ta bort gamla evenemang ur den eller dela upp den i flera filer."
    )


def too_big_error(max_bytes: int, source_id: str, shown: str) -> FetchError:
    """The refusal of a body (or file) over ``max_bytes``; ``shown``: its redacted address."""
    return FetchError(too_big(max_bytes), kind=FetchFailure.TOO_BIG, source_id=source_id, url=shown)


def is_size_refusal(exc: FetchError, max_bytes: int) -> bool:
    """Whether a fetch was refused for being over ``max_bytes`` (the feed linter says so)."""
    return exc.message == too_big(max_bytes)
