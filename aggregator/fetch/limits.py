"""How much a fetch may take: bytes, redirects and time.

The size cap applies to the *decoded* body, so a gzip bomb stops at the cap too;
a server that drips a byte at a time never trips a read timeout, so a watchdog
cuts the socket when the total time is up.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

import requests

from aggregator.errors import FetchError
from aggregator.redaction import redact

MAX_REDIRECTS = 5
TOTAL_TIME_FACTOR = 3  # a whole download may take this many read timeouts, no more


def read_capped(
    response: requests.Response, max_bytes: int, source_id: str, url: str, seconds: float
) -> bytes:
    """The body, refused past ``max_bytes`` or past ``seconds`` in total: a server that
    drips a byte at a time never trips the read timeout, so a watchdog cuts the socket."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(too_big(max_bytes), source_id=source_id, url=redact(url))
    expired = threading.Event()
    sock = _socket_of(response)

    def cut() -> None:
        expired.set()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(seconds, cut)
    watchdog.daemon = True
    watchdog.start()
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(too_big(max_bytes), source_id=source_id, url=redact(url))
            chunks.append(chunk)
    except requests.exceptions.RequestException:
        if expired.is_set():
            raise _too_slow(seconds, source_id, url) from None
        raise
    finally:
        watchdog.cancel()
        if sock is not None:
            sock.close()
    if expired.is_set():
        raise _too_slow(seconds, source_id, url)
    return b"".join(chunks)


def _too_slow(seconds: float, source_id: str, url: str) -> FetchError:
    return FetchError(
        f"the server sent the file too slowly (gave up after {seconds:g} s)",
        source_id=source_id,
        url=redact(url),
    )


def _socket_of(response: requests.Response) -> socket.socket | None:
    """A duplicate handle on the response's socket (shutting it down wakes a blocked read)."""
    try:
        # urllib3 → http.client → the socket's file
        fileno = response.raw._fp.fp.fileno()  # type: ignore[union-attr]
        return socket.socket(fileno=os.dup(fileno))
    except (AttributeError, OSError, ValueError):
        return None


def too_big(max_bytes: int) -> str:
    return f"the file is larger than the limit of {max_bytes // (1024 * 1024)} MB"
