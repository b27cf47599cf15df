"""Facebook "Download your information" exports: the zip, the folder, the JSON inside.

The harvester in ``facebook.py`` hands every ``.zip`` here (``parse_zip``), and
every JSON that is not a Graph API answer (``dyi_lists`` walks it for lists of
event items, ``finish_dyi`` turns the chosen lists into Events). What is specific
to exports lives here (see ``corpus/facebook/FACEBOOK_FORMATS.md``):

* zip reading with its limits: member count, nesting, per-member size and a
  total unpack budget, unsafe names, encrypted members;
* DYI JSON: UTF-8 text escaped as Latin-1 (``repair_mojibake``), epoch
  timestamps, no event ids (the key is ``dyi:`` + a hash of name and start);
* a folder the operator drops exports into (``read_export_folder`` +
  ``bundle_export_folder`` turn it into one zip, so the harvester stays bytes-in).

The small readers of item values at the bottom are shared with the Graph reader.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator.errors import FetchError, ParseError
from aggregator.model import Event, PageFetcher, Place

if TYPE_CHECKING:
    from aggregator.harvest.facebook import _Context

MAX_ZIP_MEMBERS = 10_000  # a full DYI export without media has a few hundred files
MAX_ZIP_DEPTH = 1  # an export zip inside a folder bundle, never deeper
UNPACK_BUDGET_FACTOR = 4  # total bytes unpacked from a zip ≤ 4 × settings.max_bytes
MAX_WALK_DEPTH = 12  # DYI layouts nest events lists 1–3 levels deep
MAX_FOLDER_FILES = 200
MAX_FOLDER_DEPTH = 6
MAX_NOTE_LINES = 50  # of a bundle's skipped-files note; the harvester's MAX_WARNINGS
FACEBOOK_EVENT_URL = "https://www.facebook.com/events/{}/"
BUNDLE_NOTE = "_aggregator_skipped.txt"

_ID_RE = re.compile(r"^\d{1,30}$")
_ITEM_ERRORS = (ValueError, TypeError, KeyError, OverflowError)
# fmt: off
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
               RuntimeError, NotImplementedError, ValueError)
# fmt: on

# A parser of one member's bytes: the harvester's dispatch on what the bytes are.
BlobParser = Callable[[bytes, str, "_Context", PageFetcher | None, int], None]


def repair_mojibake(text: str) -> str:
    """Undo DYI's UTF-8-as-Latin-1 escaping ("LÃ¶nneberga" → "Lönneberga") when it
    round-trips; text that is already right fails the round trip and is kept."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


# --- DYI JSON ------------------------------------------------------------------------------


def dyi_lists(data: Any, name: str) -> Iterator[tuple[str, str, list[Any]]]:
    """(class, key, items) of every list of DYI event items, at any depth up to a bound.

    Class is ``hosted`` (your_events, events_you_hosted), ``declined`` or ``other``
    (invitations, joined, interested …); layouts change, the item shape does not.
    """
    stack: list[tuple[str, Any, int]] = [(name.rsplit("/", 1)[-1], data, 0)]
    while stack:
        key, value, depth = stack.pop()
        if isinstance(value, list):
            if any(isinstance(v, dict) and "start_timestamp" in v for v in value[:20]):
                yield _dyi_class(key, name), key, value
            elif depth < MAX_WALK_DEPTH:
                stack.extend((key, v, depth + 1) for v in value[:100] if isinstance(v, dict | list))
        elif isinstance(value, dict) and depth < MAX_WALK_DEPTH:
            stack.extend(
                (str(k), v, depth + 1)
                for k, v in list(value.items())[:200]
                if isinstance(v, dict | list)
            )


def _dyi_class(key: str, file_name: str) -> str:
    base, key = file_name.rsplit("/", 1)[-1].casefold(), key.casefold()
    if "declin" in key or "declin" in base:
        return "declined"
    if "host" in key or "host" in base or key.startswith("your_events"):
        return "hosted"
    if base.startswith("your_events") and not key.startswith(("event", "invit")):
        return "hosted"  # your_events.json with a key we have not seen yet
    return "other"


def finish_dyi(ctx: _Context) -> None:
    """Hosted events only, when the export has any: invitations are other people's
    events, maybe private. Without hosted events, invitations and responses are used."""
    if not ctx.dyi_lists:
        return
    hosted = [lst for cls, _, lst in ctx.dyi_lists if cls == "hosted"]
    chosen = hosted or [lst for cls, _, lst in ctx.dyi_lists if cls == "other"]
    if not chosen:
        ctx.warn("the export only lists events you declined; nothing to import")
        return
    before = len(ctx.events)
    for items in chosen:
        for item in items:
            if ctx.full:
                break
            try:
                ctx.add(_dyi_event(item, ctx))
            except _ITEM_ERRORS as exc:
                ctx.warn(f"skipped event {_describe(item)}: {_reason(exc)}")
    if not hosted and len(ctx.events) > before:
        ctx.warn(
            "the export lists no events you host, so the events you were invited to or "
            "answered were imported; check in the preview that they are public"
        )


def _dyi_event(item: Any, ctx: _Context) -> Event:
    if not isinstance(item, dict):
        raise ValueError("it is not a JSON object")
    name = repair_mojibake(_str(item.get("name")))
    start_ts = _epoch(item.get("start_timestamp"))
    if start_ts is None:
        raise ValueError("it has no start time (start_timestamp)")
    end_ts = _epoch(item.get("end_timestamp"))  # 0 = no end given
    start = datetime.fromtimestamp(start_ts, UTC)
    end = datetime.fromtimestamp(end_ts, UTC) if end_ts and end_ts >= start_ts else None
    event_id = _id(item.get("id") or item.get("event_id"))
    place = item.get("place")
    place = place if isinstance(place, dict) else {"name": place}  # older layouts: a string
    coordinate = place.get("coordinate") if isinstance(place.get("coordinate"), dict) else place
    lat, lon = _coordinates(coordinate.get("latitude"), coordinate.get("longitude"))
    parts = [repair_mojibake(_str(place.get(k))) for k in ("name", "address")]
    return Event(
        source_id=ctx.source.id,
        key=event_id or _hash_key(name, str(start_ts), prefix="dyi"),
        title=name,
        start=start,
        end=end,
        timezone=ctx.settings.timezone,
        description=repair_mojibake(_str(item.get("description"))),
        url=FACEBOOK_EVENT_URL.format(event_id) if event_id else "",
        place=Place(latitude=lat, longitude=lon),
        location_text=", ".join(dict.fromkeys(p for p in parts if p)),
        uid=f"facebook:{event_id}" if event_id else "",
    )


def _epoch(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = int(float(value))
    except ValueError:
        return None
    if seconds > 10**11:
        seconds //= 1000  # milliseconds
    return seconds if 0 < seconds < 32_503_680_000 else None


# --- zips and folders ------------------------------------------------------------------------


def parse_zip(content: bytes, ctx: _Context, depth: int, parse_blob: BlobParser) -> None:
    """Parse each export file in the zip with ``parse_blob``; unreadable ones become warnings."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except _ZIP_ERRORS as exc:
        raise ctx.error(
            "the .zip file is damaged or incomplete; download the export again"
        ) from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise ctx.error(
                f"the .zip holds {len(infos)} files, more than the {MAX_ZIP_MEMBERS} an events "
                "export has; download it again with only 'Events' selected"
            )
        parsed, html_seen, problems = 0, False, []
        for info in infos:
            member = info.filename
            kind = _member_kind(member, depth)
            if info.is_dir() or kind is None:
                continue
            if _unsafe_name(member):
                ctx.warn(f"ignored a file with an unsafe name in the .zip: {member[:80]!r}")
                continue
            if kind == "html":
                html_seen = True
                continue
            data = _read_member(archive, info, ctx)
            if isinstance(data, str):
                problems.append(f"skipped {member[:120]}: {data}")
                continue
            if kind == "note":
                problems.extend(data.decode("utf-8", "replace").splitlines()[:MAX_NOTE_LINES])
                continue
            try:
                # no paging from files: a saved Graph answer is read as it is
                parse_blob(data, member, ctx, None, depth + 1)
                parsed += 1
            except ParseError as exc:
                problems.append(f"skipped {member[:120]}: {exc.message}")
    if not parsed:
        if problems:
            raise ctx.error(f"nothing in the .zip could be read; {problems[0]}")
        hint = "is in HTML format" if html_seen else "does not include Events"
        raise ctx.error(
            f"the .zip holds no Facebook events files (your_events.json, event_invitations.json "
            f"…): it {hint}. Download it again with 'Events' selected and the format JSON"
        )
    for problem in problems:
        ctx.warn(problem)


def _member_kind(member: str, depth: int) -> str | None:
    base = member.replace("\\", "/").rsplit("/", 1)[-1].casefold()
    if depth == 0 and member == BUNDLE_NOTE:
        return "note"
    if base.endswith(".json") and "event" in base:
        return "json"
    if base.endswith(".html") and "event" in base:
        return "html"
    if base.endswith(".ics"):
        return "ics"
    if base.endswith(".zip") and depth < MAX_ZIP_DEPTH:
        return "zip"
    return None


def _unsafe_name(member: str) -> bool:
    parts = member.replace("\\", "/").split("/")
    return (
        member.startswith(("/", "\\"))
        or ".." in parts
        or "\x00" in member
        or bool(re.match(r"^[A-Za-z]:", member))
    )


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, ctx: _Context) -> bytes | str:
    """A member's bytes (or why it was skipped), read in chunks against the per-member cap
    and the unpack budget, so neither a zip bomb nor a header lying about its size gets far."""
    cap = min(ctx.settings.max_bytes, ctx.budget)
    limit = f"over the limit of {cap // 2**20} MB"
    if info.flag_bits & 0x1:
        return "it is encrypted"
    if info.file_size > cap:
        return f"it unpacks to {info.file_size // 2**20} MB, {limit}"
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(1 << 16):
                size += len(chunk)
                if size > cap:
                    return f"it unpacks to more than it says, {limit}"
                chunks.append(chunk)
    except _ZIP_ERRORS as exc:
        return f"it could not be unpacked ({_reason(exc)})"
    finally:
        ctx.budget -= size
    return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class ExportFolder:
    """The export files found in a ``path:`` folder, newest first, and what was skipped."""

    files: tuple[tuple[str, bytes], ...]
    skipped: tuple[str, ...] = ()


def read_export_folder(path: Path, max_bytes: int, *, source_id: str = "") -> ExportFolder:
    """Read the export files (.zip, .ics, events .json) under ``path``, newest first.

    Each file may be up to ``max_bytes`` and all together ``UNPACK_BUDGET_FACTOR`` ×
    ``max_bytes``; hidden and half-downloaded files and symlinked folders are passed by.
    """
    candidates: list[tuple[float, str, Path]] = []
    for root, dirs, names in os.walk(path, followlinks=False):
        depth = len(Path(root).relative_to(path).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and depth < MAX_FOLDER_DEPTH)
        for name in names:
            low = name.casefold()
            if name.startswith((".", "~")) or not low.endswith((".zip", ".ics", ".json")):
                continue
            if low.endswith(".json") and "event" not in low:
                continue
            file = Path(root) / name
            try:
                if not file.is_file():
                    continue
                candidates.append((file.stat().st_mtime, file.relative_to(path).as_posix(), file))
            except OSError:
                continue
    if not candidates:
        raise FetchError(
            f"the folder {path} holds no Facebook export (.zip, .json or .ics) yet",
            source_id=source_id,
            url=str(path),
        )
    candidates.sort(key=lambda c: (-c[0], c[1]))
    files: list[tuple[str, bytes]] = []
    skipped: list[str] = []
    total, limit, mb = 0, UNPACK_BUDGET_FACTOR * max_bytes, max_bytes // (1024 * 1024)
    for _, rel, file in candidates:
        if len(files) >= MAX_FOLDER_FILES:
            skipped.append(f"{rel}: more than {MAX_FOLDER_FILES} files in the folder; skipped")
            continue
        try:
            size = file.stat().st_size
            if size > max_bytes:
                skipped.append(f"{rel}: larger than the {mb} MB limit; skipped")
                continue
            if total + size > limit:
                skipped.append(f"{rel}: the folder holds more than {limit // 2**20} MB; skipped")
                continue
            files.append((rel, file.read_bytes()))
            total += size
        except OSError as exc:
            skipped.append(f"{rel}: could not be read ({exc.strerror}); skipped")
    return ExportFolder(tuple(files), tuple(skipped))


def bundle_export_folder(folder: ExportFolder) -> bytes:
    """One stored (uncompressed) zip of the folder's files, for ``parse_facebook``.

    Deterministic (fixed timestamps, newest file first) so fetch's content hash only
    changes when the files do; skipped files travel as a note that becomes warnings.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        if folder.skipped:
            info = zipfile.ZipInfo(BUNDLE_NOTE, date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, "\n".join(folder.skipped).encode())
        for name, data in folder.files:
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


# --- item values (shared with the Graph reader) -----------------------------------------------


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _id(value: Any) -> str:
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    return text if _ID_RE.match(text) else ""


def _coordinates(lat: Any, lon: Any) -> tuple[float | None, float | None]:
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        return None, None
    if -90 <= la <= 90 and -180 <= lo <= 180 and (la, lo) != (0.0, 0.0):
        return la, lo
    return None, None


def _hash_key(title: str, start: str, prefix: str = "hash") -> str:
    digest = hashlib.sha256(f"{title}\x00{start}".encode()).hexdigest()[:20]
    return f"{prefix}:{digest}"


def _describe(item: Any) -> str:
    if not isinstance(item, dict):
        return "(not an object)"
    name = repair_mojibake(_str(item.get("name")))[:60] or "(no title)"
    event_id = _id(item.get("id"))
    return f"'{name}'" + (f" (id {event_id})" if event_id else "")


def _reason(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__)[:200]
