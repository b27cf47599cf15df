"""``/feeds/...``: the published files, answered the way a CDN would.

A raw ASGI app (no routing or validation layers): this is the hot path, polled by every
subscribed phone. ETags and the gzip copy come precomputed from the publisher's
sidecars (``publish/sidecars.py``); bodies stream from disk in chunks, so 200 slow
readers of a 20 MB calendar cost 200 chunks of memory, not 200 copies.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from starlette.types import Receive, Scope, Send

from aggregator.publish.sidecars import FileIdentity, Sidecar, gzip_path, read_sidecar
from aggregator.web import conditional
from aggregator.web.conditional import ByteRange, Outcome, Validators

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".ics": "text/calendar; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
}
INDEX_TYPE = "application/json; charset=utf-8"  # index.json lists feeds; it is not a feed
# Phones poll hourly; a CDN may keep a copy 5 minutes and serve it stale while it
# revalidates (RFC 5861), or for a day when we are down.
CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=3600, stale-if-error=86400"
CHUNK = 128 * 1024
SEND_TIMEOUT = 60.0  # seconds a client may take to accept one chunk (nginx send_timeout)
MAX_PATH = 1024
MAX_SEGMENT = 255  # longer than any file name a file system allows


@dataclass(frozen=True, slots=True)
class Representation:
    """One way of sending a file: plain or gzip, with its validators."""

    path: Path
    coding: str  # "identity" | "gzip"
    validators: Validators
    size: int


class FeedFiles:
    """The ASGI app for ``/feeds/``: GET and HEAD, conditional, ranged, gzip."""

    def __init__(self, feeds_dir: Path) -> None:
        self.root = Path(os.path.realpath(feeds_dir))
        self._sidecars: dict[Path, tuple[FileIdentity, Sidecar | None]] = {}
        self._computed: dict[tuple[Path, FileIdentity], str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _answer_json(send, 405, "Bara GET och HEAD.", [(b"allow", b"GET, HEAD, OPTIONS")])
            return
        path = self.resolve(scope["path"])
        if path is None:
            await _answer_json(send, 404, "Ingen sådan kalender.")
            return
        headers = _headers(scope)
        try:
            await self._serve(path, headers, method, receive, send)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            await _answer_json(send, 404, "Ingen sådan kalender.")

    def resolve(self, request_path: str) -> Path | None:
        """The file a ``/feeds/...`` path names, or None: hidden files, sidecars, anything
        outside the folder and names no file system allows all answer 404."""
        if len(request_path) > MAX_PATH or not request_path.startswith("/feeds/"):
            return None
        relative = request_path.removeprefix("/feeds/")
        segments = relative.split("/")
        for segment in segments:
            if (
                not segment
                or segment.startswith(".")
                or len(segment) > MAX_SEGMENT
                or "\x00" in segment
                or "\\" in segment
            ):
                return None
        suffix = os.path.splitext(segments[-1])[1]
        if suffix not in CONTENT_TYPES:
            return None
        target = self.root.joinpath(*segments)
        try:
            real = Path(os.path.realpath(target))
        except (OSError, ValueError):
            return None
        if self.root not in real.parents:
            return None
        return real

    async def _serve(
        self, path: Path, headers: dict[str, str], method: str, receive: Receive, send: Send
    ) -> None:
        with path.open("rb") as plain:
            info = os.fstat(plain.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise FileNotFoundError(path)
            identity = FileIdentity.of(info)
            sidecar = self._sidecar(path, identity)
            if sidecar is None:
                etag = await self._computed_etag(path, identity, plain.fileno())
                validators = Validators(etag, int(info.st_mtime))
            else:
                validators = Validators(sidecar.etag, sidecar.last_modified)
            chosen = Representation(path, "identity", validators, info.st_size)
            gz = self._gzip(path, sidecar, validators)
            coding = conditional.choose_coding(headers.get("accept-encoding"), gz is not None)
            if coding is None:
                await _answer_json(send, 406, "Ingen kodning som klienten tar emot finns.")
                return
            base = _base_headers(path)
            if coding == "gzip" and gz is not None:
                handle = _open_if(gz[0].path, gz[1])
                if handle is not None:
                    with handle:
                        await self._answer(
                            gz[0], handle.fileno(), base, headers, method, receive, send
                        )
                    return
                if conditional.choose_coding(headers.get("accept-encoding"), False) is None:
                    await _answer_json(send, 406, "Ingen kodning som klienten tar emot finns.")
                    return
            await self._answer(chosen, plain.fileno(), base, headers, method, receive, send)

    async def _answer(
        self,
        rep: Representation,
        fd: int,
        base: list[tuple[bytes, bytes]],
        headers: dict[str, str],
        method: str,
        receive: Receive,
        send: Send,
    ) -> None:
        response = [*base, (b"etag", rep.validators.etag.encode("latin-1"))]
        if rep.validators.last_modified is not None:
            response.append(
                (b"last-modified", conditional.http_date(rep.validators.last_modified).encode())
            )
        if rep.coding == "gzip":
            response.append((b"content-encoding", b"gzip"))
        outcome = conditional.evaluate(headers, rep.validators)
        if outcome is Outcome.NOT_MODIFIED:
            await send({"type": "http.response.start", "status": 304, "headers": response})
            await send({"type": "http.response.body", "body": b""})
            return
        if outcome is Outcome.FAILED:
            await _answer_json(send, 412, "Kalendern har ändrats.", response)
            return
        wanted: ByteRange | bool | None = None
        if method == "GET" and conditional.if_range_allows(headers.get("if-range"), rep.validators):
            wanted = conditional.parse_range(headers.get("range"), rep.size)
        if wanted is False:
            response.append((b"content-range", f"bytes */{rep.size}".encode()))
            await _answer_json(send, 416, "Utanför filen.", response)
            return
        status, start, length = 200, 0, rep.size
        if isinstance(wanted, ByteRange):
            status, start, length = 206, wanted.start, wanted.length
            response.append(
                (b"content-range", f"bytes {wanted.start}-{wanted.end}/{rep.size}".encode())
            )
        response.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": status, "headers": response})
        if method == "HEAD" or length == 0:
            await send({"type": "http.response.body", "body": b""})
            return
        await _stream(fd, start, length, receive, send)

    def _sidecar(self, path: Path, identity: FileIdentity) -> Sidecar | None:
        """The publisher's sidecar if it describes this very file (cached per identity)."""
        cached = self._sidecars.get(path)
        if cached is not None and cached[0] == identity:
            return cached[1]
        sidecar = read_sidecar(path)
        if sidecar is not None and sidecar.identity != identity:
            log.info("%s: sidecar is not for this file (replaced by hand?); hashing it", path)
            sidecar = None
        if len(self._sidecars) > 10_000:
            self._sidecars.clear()
        self._sidecars[path] = (identity, sidecar)
        return sidecar

    async def _computed_etag(self, path: Path, identity: FileIdentity, fd: int) -> str:
        """A file without a valid sidecar is hashed once per version, off the event loop."""
        key = (path, identity)
        etag = self._computed.get(key)
        if etag is None:
            digest = await asyncio.to_thread(_hash_fd, fd)
            etag = f'"{digest[:32]}"'
            if len(self._computed) > 1000:
                self._computed.clear()
            self._computed[key] = etag
        return etag

    def _gzip(
        self, path: Path, sidecar: Sidecar | None, validators: Validators
    ) -> tuple[Representation, FileIdentity] | None:
        if sidecar is None or sidecar.gzip_etag is None or sidecar.gzip_identity is None:
            return None
        rep = Representation(
            gzip_path(path),
            "gzip",
            Validators(sidecar.gzip_etag, validators.last_modified),
            sidecar.gzip_identity.size,
        )
        return rep, sidecar.gzip_identity


def _open_if(path: Path, identity: FileIdentity) -> BinaryIO | None:
    """``path`` opened, if it is still the file ``identity`` describes."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    if FileIdentity.of(os.fstat(handle.fileno())) != identity:
        handle.close()
        return None
    return handle


def _hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


def _base_headers(path: Path) -> list[tuple[bytes, bytes]]:
    content_type = INDEX_TYPE if path.name == "index.json" else CONTENT_TYPES[path.suffix]
    return [
        (b"content-type", content_type.encode()),
        (b"cache-control", CACHE_CONTROL.encode()),
        (b"vary", b"Accept-Encoding"),
        (b"accept-ranges", b"bytes"),
    ]


async def _stream(fd: int, start: int, length: int, receive: Receive, send: Send) -> None:
    """Send ``length`` bytes from ``start``, a chunk at a time, stopping when the client
    leaves or stops reading for SEND_TIMEOUT (uvicorn then closes the connection)."""
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.ensure_future(watch())
    try:
        offset, remaining = start, length
        while remaining > 0 and not gone.is_set():
            # a pread from the page cache takes microseconds: cheaper than a thread hop
            chunk = os.pread(fd, min(CHUNK, remaining), offset)
            if not chunk:
                return  # the file shrank under us: leave the response unfinished
            offset += len(chunk)
            remaining -= len(chunk)
            message = {"type": "http.response.body", "body": chunk, "more_body": remaining > 0}
            try:
                await asyncio.wait_for(send(message), SEND_TIMEOUT)
            except TimeoutError:
                log.info("feed reader stalled for %.0f s; dropping it", SEND_TIMEOUT)
                return
    finally:
        watcher.cancel()


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name; repeated ones joined with commas (RFC 9110 5.3)."""
    result: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        result[name] = f"{result[name]}, {value}" if name in result else value
    return result


async def _answer_json(
    send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": message, "field": None}, ensure_ascii=False).encode()
    headers = [
        (name, value)
        for name, value in (extra or [])
        if name not in (b"content-type", b"content-length", b"content-encoding")
    ]
    headers += [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
