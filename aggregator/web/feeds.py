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

from aggregator.publish.sidecars import FileIdentity, gzip_path, read_sidecar
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
CHUNK = 64 * 1024  # with the transport buffer, what one slow reader costs
SEND_TIMEOUT = 60.0  # seconds a client may take to accept one chunk (nginx send_timeout)
MAX_PATH = 1024
MAX_SEGMENT = 255  # longer than any file name a file system allows


@dataclass(frozen=True, slots=True)
class Representation:
    """One way of sending a file: plain or gzip, with its validators and the response
    headers they give (computed once per version of the file, not per request)."""

    path: Path
    coding: str  # "identity" | "gzip"
    validators: Validators
    size: int
    identity: FileIdentity
    headers: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class Variants:
    """Everything needed to answer for one version of a feed file."""

    identity: FileIdentity
    plain: Representation
    gzip: Representation | None


class FeedFiles:
    """The ASGI app for ``/feeds/``: GET and HEAD, conditional, ranged, gzip."""

    def __init__(self, feeds_dir: Path) -> None:
        self.root = Path(os.path.realpath(feeds_dir))
        self._variants: dict[Path, Variants] = {}
        self._computed: dict[tuple[Path, FileIdentity], str] = {}
        self._resolved: dict[str, Path] = {}  # request path → real file (publish renames
        # files in place, so the answer holds until a feed is deleted: then it is dropped)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _answer_json(send, 405, "Bara GET och HEAD.", [(b"allow", b"GET, HEAD, OPTIONS")])
            return
        request_path = scope["path"]
        path = self._resolved.get(request_path) or self.resolve(request_path)
        if path is None:
            await _answer_json(send, 404, "Ingen sådan kalender.")
            return
        headers = _headers(scope)
        try:
            await self._serve(path, headers, method, receive, send)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            self._resolved.pop(request_path, None)
            await _answer_json(send, 404, "Ingen sådan kalender.")
            return
        if len(self._resolved) > 10_000:
            self._resolved.clear()
        self._resolved[request_path] = path

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
        """Decide from ``stat`` and the sidecar alone; open a file only to send it."""
        for _ in range(3):  # a publish may replace the file between stat and open
            variants = await self._variants_of(path)
            plain, gz = variants.plain, variants.gzip
            accept = headers.get("accept-encoding")
            coding = conditional.choose_coding(accept, gz is not None)
            if coding is None:
                await _answer_json(send, 406, "Ingen kodning som klienten tar emot finns.")
                return
            chosen = gz if coding == "gzip" and gz else plain
            decided = await self._answer_without_body(chosen, headers, method, send)
            if decided is None:
                return
            handle = _open_if(chosen.path, chosen.identity)
            if handle is None and chosen is not plain:  # the gzip copy is gone: plain then
                if conditional.choose_coding(accept, False) is None:
                    await _answer_json(send, 406, "Ingen kodning som klienten tar emot finns.")
                    return
                decided = await self._answer_without_body(plain, headers, method, send)
                if decided is None:
                    return
                chosen, handle = plain, _open_if(plain.path, plain.identity)
            if handle is None:
                continue  # replaced meanwhile: decide again for the new file
            with handle:
                response, status, start, length = decided
                await send({"type": "http.response.start", "status": status, "headers": response})
                await _stream(handle.fileno(), start, length, receive, send)
            return
        await _answer_json(send, 503, "Kalendern byts just nu; försök igen.")

    async def _answer_without_body(
        self, rep: Representation, headers: dict[str, str], method: str, send: Send
    ) -> tuple[list[tuple[bytes, bytes]], int, int, int] | None:
        """Answer 304/412/416/HEAD here (None); else (headers, status, start, length)."""
        response = list(rep.headers)
        outcome = conditional.evaluate(headers, rep.validators)
        if outcome is Outcome.NOT_MODIFIED:
            await send({"type": "http.response.start", "status": 304, "headers": response})
            await send({"type": "http.response.body", "body": b""})
            return None
        if outcome is Outcome.FAILED:
            await _answer_json(send, 412, "Kalendern har ändrats.", response)
            return None
        wanted: ByteRange | bool | None = None
        if method == "GET" and conditional.if_range_allows(headers.get("if-range"), rep.validators):
            wanted = conditional.parse_range(headers.get("range"), rep.size)
        if wanted is False:
            response.append((b"content-range", f"bytes */{rep.size}".encode()))
            await _answer_json(send, 416, "Utanför filen.", response)
            return None
        status, start, length = 200, 0, rep.size
        if isinstance(wanted, ByteRange):
            status, start, length = 206, wanted.start, wanted.length
            response.append(
                (b"content-range", f"bytes {wanted.start}-{wanted.end}/{rep.size}".encode())
            )
        response.append((b"content-length", str(length).encode()))
        if method == "HEAD" or length == 0:
            await send({"type": "http.response.start", "status": status, "headers": response})
            await send({"type": "http.response.body", "body": b""})
            return None
        return response, status, start, length

    async def _variants_of(self, path: Path) -> Variants:
        """The representations of the file now at ``path``: from the publisher's sidecar
        when it describes this very file, else hashed here (once per version)."""
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise FileNotFoundError(path)
        identity = FileIdentity.of(info)
        cached = self._variants.get(path)
        if cached is not None and cached.identity == identity:
            return cached
        sidecar = read_sidecar(path)
        if sidecar is not None and sidecar.identity != identity:
            log.info("%s: sidecar is not for this file (replaced by hand?); hashing it", path)
            sidecar = None
        if sidecar is None:
            validators = Validators(await self._computed_etag(path, identity), int(info.st_mtime))
        else:
            validators = Validators(sidecar.etag, sidecar.last_modified)
        base = _base_headers(path)
        plain = Representation(
            path, "identity", validators, info.st_size, identity, _headers_for(base, validators)
        )
        gz = None
        if sidecar is not None and sidecar.gzip_etag and sidecar.gzip_identity is not None:
            gz_validators = Validators(sidecar.gzip_etag, validators.last_modified)
            gz = Representation(
                gzip_path(path),
                "gzip",
                gz_validators,
                sidecar.gzip_identity.size,
                sidecar.gzip_identity,
                (*_headers_for(base, gz_validators), (b"content-encoding", b"gzip")),
            )
        variants = Variants(identity, plain, gz)
        if len(self._variants) > 10_000:
            self._variants.clear()
        self._variants[path] = variants
        return variants

    async def _computed_etag(self, path: Path, identity: FileIdentity) -> str:
        """A file without a valid sidecar is hashed once per version, off the event loop."""
        key = (path, identity)
        etag = self._computed.get(key)
        if etag is None:
            digest = await asyncio.to_thread(_hash_file, path)
            etag = f'"{digest[:32]}"'
            if len(self._computed) > 1000:
                self._computed.clear()
            self._computed[key] = etag
        return etag


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


def _hash_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _headers_for(
    base: list[tuple[bytes, bytes]], validators: Validators
) -> tuple[tuple[bytes, bytes], ...]:
    headers = [*base, (b"etag", validators.etag.encode("latin-1"))]
    if validators.last_modified is not None:
        headers.append((b"last-modified", conditional.http_date(validators.last_modified).encode()))
    return tuple(headers)


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
