"""What the web server needs to answer for a feed file without reading it: sidecars.

For every published file ``all.ics`` the publisher leaves beside it
    ``all.ics.gz``      the gzip copy (what nginx's ``gzip_static on`` also serves)
    ``.all.ics.meta``   JSON: the ETags of both representations, the identity
                        (inode, size, mtime) of the files they describe, and a
                        Last-Modified that only moves forward

The identity is the point: the server trusts a sidecar only while the file on disk is
the very file it describes, so a feed replaced by hand (or mid-publish) is never
answered with a stale ETag, which would make phones keep an old calendar.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

GZIP_SUFFIX = ".gz"
META_VERSION = 1
GZIP_LEVEL = 6  # level 9 is several times slower for ~2 % smaller calendars


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Which bytes on disk a sidecar is about: changes whenever the file is replaced."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileIdentity:
        return cls(stat.st_ino, stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True, slots=True)
class Sidecar:
    """The precomputed answer data of one published file."""

    etag: str  # strong, quoted: "…"
    identity: FileIdentity
    last_modified: int  # Unix seconds; strictly later whenever the content changed
    gzip_etag: str | None = None
    gzip_identity: FileIdentity | None = None


def meta_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.meta")


def gzip_path(path: Path) -> Path:
    return path.with_name(path.name + GZIP_SUFFIX)


def read_sidecar(path: Path) -> Sidecar | None:
    """The sidecar of ``path`` as written, or None when missing or unreadable."""
    try:
        data = json.loads(meta_path(path).read_text(encoding="utf-8"))
        if data.get("version") != META_VERSION:
            return None
        gz = data.get("gzip")
        return Sidecar(
            etag=data["etag"],
            identity=FileIdentity(*data["identity"]),
            last_modified=int(data["last_modified"]),
            gzip_etag=gz["etag"] if gz else None,
            gzip_identity=FileIdentity(*gz["identity"]) if gz else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def refresh_sidecars(path: Path, sha256_hex: str) -> None:
    """Bring the sidecars of ``path`` up to date; ``sha256_hex`` is its content's digest.

    Called by the feed writer after every write (rewritten or unchanged), so feeds
    published before sidecars existed get them on the next publish. Does nothing
    when the sidecar already describes this very file.
    """
    stat = path.stat()
    identity = FileIdentity.of(stat)
    old = read_sidecar(path)
    etag = f'"{sha256_hex[:32]}"'
    current = (
        old is not None
        and old.identity == identity
        and old.etag == etag
        and old.gzip_identity == _identity_or_none(gzip_path(path))
    )
    if current:
        return
    last_modified = int(stat.st_mtime)
    if old is not None:
        if old.etag == etag:
            last_modified = old.last_modified  # same content: the date stays
        else:
            last_modified = max(last_modified, old.last_modified + 1)  # only forward
    gz_identity = _write_gzip(path)
    data = {
        "version": META_VERSION,
        "etag": etag,
        "identity": list(_as_tuple(identity)),
        "last_modified": last_modified,
        "gzip": {"etag": f'"{sha256_hex[:32]}-gz"', "identity": list(_as_tuple(gz_identity))},
    }
    _atomic_write(meta_path(path), json.dumps(data).encode("utf-8"))


def remove_sidecars(path: Path) -> None:
    """Remove a deleted feed's sidecars, so nothing serves or lists them."""
    for sidecar in (gzip_path(path), meta_path(path)):
        with contextlib.suppress(FileNotFoundError):
            sidecar.unlink()


def _as_tuple(identity: FileIdentity) -> tuple[int, int, int]:
    return (identity.inode, identity.size, identity.mtime_ns)


def _identity_or_none(path: Path) -> FileIdentity | None:
    try:
        return FileIdentity.of(path.stat())
    except FileNotFoundError:
        return None


def _write_gzip(path: Path) -> FileIdentity:
    """Compress in chunks to a temp file, then rename: a 20 MB feed never sits in memory."""
    target = gzip_path(path)
    # ".<name>.<pid>.<random>.tmp", as the feed writer names its temp files, so its sweep
    # of files left by a killed publish never takes one a live publish is writing
    fd, temp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp"
    )
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0
            ) as packed,
            path.open("rb") as source,
        ):
            shutil.copyfileobj(source, packed, 1 << 20)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return FileIdentity.of(target.stat())


def _atomic_write(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(
        dir=path.parent, prefix=f"{path.name}.{os.getpid()}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
