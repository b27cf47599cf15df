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
import heapq
import itertools
import os
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
        """This thread's connections register here; the watchdog cuts them at the deadline."""
        previous = getattr(_current, "deadline", None)
        _current.deadline = self
        token = _WATCHDOG.watch(self)
        try:
            yield self
        finally:
            _WATCHDOG.forget(token)
            _current.deadline = previous
            with self._lock:
                self._sockets.clear()


class _Watchdog:
    """One thread that cuts every request's sockets at its deadline.

    A ``threading.Timer`` per request started (and ended) a thread for every fetch: on a
    no-change run, where each source is one conditional request, that was a good share
    of the run's CPU. Here a request costs a heap push; the thread sleeps until the
    earliest deadline still watched and starts again on demand (after a fork too).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._watched: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline) -> int:
        with self._cond:
            token = next(self._tokens)
            self._watched.add(token)
            heapq.heappush(self._heap, (deadline.ends, token, deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="fetch-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][1] == token:
                self._cond.notify()  # sooner than what the thread sleeps towards
        return token

    def forget(self, token: int) -> None:
        with self._cond:
            self._watched.discard(token)
            if len(self._heap) > 2 * len(self._watched) + 64:  # forgotten ones pile up
                self._heap = [entry for entry in self._heap if entry[1] in self._watched]
                heapq.heapify(self._heap)

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._watched:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                ends, token, deadline = self._heap[0]
                wait = ends - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._watched.discard(token)
                self._cond.release()
                try:
                    deadline._cut()
                finally:
                    self._cond.acquire()


_WATCHDOG = _Watchdog()


def _new_watchdog_in_child() -> None:
    """A forked child has no watchdog thread, and the lock may have been held."""
    global _WATCHDOG
    _WATCHDOG = _Watchdog()


os.register_at_fork(after_in_child=_new_watchdog_in_child)


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
