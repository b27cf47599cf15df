"""Facebook "Download your information" exports: the zip, the JSON inside, a folder.

The harvester hands every ``.zip`` here (``parse_zip``), every export folder
(``parse_folder``: the files ``fetch`` read from a ``path:`` folder), and every JSON
that is not a Graph API answer (``dyi_lists`` walks it for lists of event items,
``finish_dyi`` turns the chosen lists into Events). What is specific to exports
lives here (see ``corpus/facebook/FACEBOOK_FORMATS.md``):

* zip reading with its limits: member count, nesting, per-member size and a
  total unpack budget, unsafe names, encrypted members;
* DYI JSON: UTF-8 text escaped as Latin-1 (``repair_mojibake``), epoch
  timestamps, no event ids (the key is ``dyi:`` + a hash of name and start).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aggregator.errors import ParseError
from aggregator.harvest.facebook.common import (
    FACEBOOK_EVENT_URL,
    ITEM_ERRORS,
    BlobParser,
    FacebookContext,
    ItemProblem,
    coordinates,
    describe,
    hash_key,
    id_of,
    object_of,
    reason,
    repair_mojibake,
    text_of,
)
from aggregator.model import Event, ExportFolder, Place
from aggregator.normalize.text import human_size

log = logging.getLogger(__name__)

MAX_ZIP_MEMBERS = 10_000  # a full DYI export without media has a few hundred files
MAX_ZIP_DEPTH = 1  # an export zip inside a folder, never deeper
MAX_WALK_DEPTH = 12  # DYI layouts nest events lists 1–3 levels deep
MAX_NOTE_LINES = 50  # of the files a folder passed by; the harvest's warning cap

# fmt: off
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
               RuntimeError, NotImplementedError, ValueError)
# fmt: on


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


def finish_dyi(ctx: FacebookContext) -> None:
    """Hosted events only, when the export has any: invitations are other people's
    events, maybe private. Without hosted events, invitations and responses are used."""
    if not ctx.dyi_lists:
        return
    hosted = [lst for cls, _, lst in ctx.dyi_lists if cls == "hosted"]
    chosen = hosted or [lst for cls, _, lst in ctx.dyi_lists if cls == "other"]
    if not chosen:
        ctx.warn(
            "Exporten innehåller bara evenemang du har tackat nej till, så inget hämtades; "
            "exportera från kontot som står som värd för evenemangen."
        )
        return
    before = len(ctx.events)
    for items in chosen:
        for item in items:
            try:
                ctx.add(_dyi_event(item, ctx))
            except ITEM_ERRORS as exc:
                ctx.warn(f"Evenemanget {describe(item)} visas inte: {reason(exc, ctx)}.")
    if not hosted and len(ctx.events) > before:
        ctx.warn(
            "Exporten innehåller inga evenemang där du är värd, så evenemangen du bjudits in "
            "till eller svarat på hämtades; kontrollera i förhandsvisningen att de är "
            "offentliga."
        )


def _dyi_event(item: Any, ctx: FacebookContext) -> Event:
    if not isinstance(item, dict):
        raise ItemProblem("det är inte ett JSON-objekt")
    name = repair_mojibake(text_of(item.get("name")))
    start_ts = _epoch(item.get("start_timestamp"))
    if start_ts is None:
        raise ItemProblem("det saknar starttid (start_timestamp)")
    end_ts = _epoch(item.get("end_timestamp"))  # 0 = no end given
    start = datetime.fromtimestamp(start_ts, UTC)
    end = datetime.fromtimestamp(end_ts, UTC) if end_ts and end_ts >= start_ts else None
    event_id = id_of(item.get("id") or item.get("event_id"))
    raw_place = item.get("place")
    place = (
        object_of(raw_place) if isinstance(raw_place, dict) else {"name": raw_place}
    )  # older layouts: a string
    coordinate = object_of(place.get("coordinate")) or place
    lat, lon = coordinates(coordinate.get("latitude"), coordinate.get("longitude"))
    parts = [repair_mojibake(text_of(place.get(k))) for k in ("name", "address")]
    return Event(
        source_id=ctx.source.id,
        key=event_id or hash_key(name, str(start_ts), prefix="dyi"),
        title=name,
        start=start,
        end=end,
        timezone=ctx.settings.timezone,
        description=repair_mojibake(text_of(item.get("description"))),
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


def parse_zip(content: bytes, ctx: FacebookContext, depth: int, parse_blob: BlobParser) -> None:
    """Parse each export file in the zip with ``parse_blob``; unreadable ones become warnings."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except _ZIP_ERRORS as exc:
        raise ctx.error(
            "Zip-filen är skadad eller ofullständig; ladda ner exporten från Facebook igen."
        ) from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise ctx.error(
                f"Zip-filen innehåller {len(infos)} filer, fler än de {MAX_ZIP_MEMBERS} en "
                "export av evenemang har; ladda ner den igen med bara ”Evenemang” valt."
            )
        members = (
            (info.filename, partial(_read_member, archive, info, ctx))
            for info in infos
            if not info.is_dir()
        )
        _parse_members(members, ctx, depth, parse_blob, what="zip-filen")


def parse_folder(folder: ExportFolder, ctx: FacebookContext, parse_blob: BlobParser) -> None:
    """The export files ``fetch`` read from a folder, newest first, as if they were one zip;
    the files it passed by (too big, unreadable) become warnings."""

    def reader(data: bytes) -> Callable[[], bytes]:
        def read() -> bytes:
            ctx.budget -= len(data)
            return data

        return read

    members = ((name, reader(data)) for name, data in folder.files)
    _parse_members(members, ctx, 0, parse_blob, what="mappen", notes=folder.skipped)


def _parse_members(
    members: Iterable[tuple[str, Callable[[], bytes | str]]],
    ctx: FacebookContext,
    depth: int,
    parse_blob: BlobParser,
    *,
    what: str,
    notes: Iterable[str] = (),
) -> None:
    parsed, html_seen, problems = 0, False, list(notes)[:MAX_NOTE_LINES]
    for member, read in members:
        kind = _member_kind(member, depth)
        if kind is None:
            continue
        if _unsafe_name(member):
            ctx.warn(
                f"En fil med ett osäkert namn i {what} lästes inte: ”{member[:80]}”; ladda "
                "ner exporten direkt från Facebook."
            )
            continue
        if kind == "html":
            html_seen = True
            continue
        data = read()
        if isinstance(data, str):
            problems.append(f"{member[:120]} lästes inte: {data}.")
            continue
        try:
            # no paging from files: a saved Graph answer is read as it is
            parse_blob(data, member, ctx, None, depth + 1)
            parsed += 1
        except ParseError as exc:
            problems.append(f"{member[:120]} lästes inte: {exc.message}")
    if not parsed:
        if problems:
            raise ctx.error(f"Inget i {what} gick att läsa. {problems[0]}")
        hint = "är i HTML-format" if html_seen else "innehåller inte Evenemang"
        raise ctx.error(
            f"{what[0].upper() + what[1:]} innehåller inga evenemangsfiler från Facebook "
            f"(your_events.json, event_invitations.json …): exporten {hint}. Ladda ner den "
            "igen med ”Evenemang” valt och formatet JSON."
        )
    for problem in problems:
        ctx.warn(problem)


def _member_kind(member: str, depth: int) -> str | None:
    base = member.replace("\\", "/").rsplit("/", 1)[-1].casefold()
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


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, ctx: FacebookContext
) -> bytes | str:
    """A member's bytes (or why it was skipped), read in chunks against the per-member cap
    and the unpack budget, so neither a zip bomb nor a header lying about its size gets far."""
    cap = min(ctx.settings.max_bytes, ctx.budget)
    limit = f"över gränsen på {human_size(cap)}"
    if info.flag_bits & 0x1:
        return "den är krypterad"
    if info.file_size > cap:
        return f"uppackad blir den {human_size(info.file_size)}, {limit}"
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(1 << 16):
                size += len(chunk)
                if size > cap:
                    return f"uppackad blir den större än den uppger, {limit}"
                chunks.append(chunk)
    except _ZIP_ERRORS as exc:
        log.debug("%s: %s: %s", ctx.source.id, info.filename[:120], exc)
        return "den gick inte att packa upp"
    finally:
        ctx.budget -= size
    return b"".join(chunks)
