"""Sources that are files on this machine: ``path:`` in sources.yaml.

A path is a calendar file (read with the same size cap as a download; devices and
pipes refused), or a folder the operator drops Facebook exports into. A folder's
export files are handed to the harvester as they are (``ExportFolder``), newest
first, with a sentence for each file passed by.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from aggregator.errors import FetchError, FetchFailure
from aggregator.fetch.limits import too_big_error
from aggregator.model import ExportFolder, FetchResult, Settings, Source
from aggregator.normalize.text import human_size

FOLDER_BUDGET_FACTOR = 4  # all files of a folder together ≤ 4 × settings.max_bytes
MAX_FOLDER_FILES = 200
MAX_FOLDER_DEPTH = 6
EXPORT_SUFFIXES = (".zip", ".ics", ".json")


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def read_path(source: Source, settings: Settings, base_dir: Path) -> FetchResult:
    """The bytes of a ``path:`` source, or the export files of a ``path:`` folder."""
    assert source.path is not None
    path = Path(source.path)
    if not path.is_absolute():
        path = base_dir / path
    if path.is_dir():
        folder = read_export_folder(path, settings.max_bytes, source_id=source.id)
        return FetchResult(
            source.id, str(path), False, content_hash=folder_hash(folder), folder=folder
        )
    try:
        if path.exists() and not path.is_file():
            # a device or a pipe would never end (/dev/zero) or never start (a FIFO)
            raise FetchError(
                f"{path} är ingen vanlig fil; ange sökvägen till själva kalenderfilen.",
                kind=FetchFailure.FILE,
                source_id=source.id,
                url=str(path),
            )
        if path.stat().st_size > settings.max_bytes:
            raise too_big_error(settings.max_bytes, source.id, str(path))
        with path.open("rb") as handle:
            content = handle.read(settings.max_bytes + 1)
        if len(content) > settings.max_bytes:  # it grew while we read it
            raise too_big_error(settings.max_bytes, source.id, str(path))
    except FileNotFoundError as exc:
        raise FetchError(
            f"Filen {path} finns inte. Kontrollera sökvägen, eller lägg filen på plats igen.",
            kind=FetchFailure.FILE,
            source_id=source.id,
            url=str(path),
        ) from exc
    except IsADirectoryError as exc:
        raise FetchError(
            f"{path} är en mapp, inte en fil; ange sökvägen till själva kalenderfilen.",
            kind=FetchFailure.FILE,
            source_id=source.id,
            url=str(path),
        ) from exc
    except OSError as exc:
        raise FetchError(
            f"Filen {path} gick inte att läsa ({exc.strerror}). Kontrollera att den finns och "
            "att tjänsten får läsa den.",
            kind=FetchFailure.FILE,
            source_id=source.id,
            url=str(path),
        ) from exc
    return FetchResult(
        source_id=source.id,
        url=str(path),
        not_modified=False,
        content=content,
        content_hash=content_hash(content),
    )


def read_export_folder(path: Path, max_bytes: int, *, source_id: str = "") -> ExportFolder:
    """Read the export files (.zip, .ics, events .json) under ``path``, newest first.

    Each file may be up to ``max_bytes`` and all together ``FOLDER_BUDGET_FACTOR`` ×
    ``max_bytes``; hidden and half-downloaded files and symlinked folders are passed by.
    """
    candidates = _export_candidates(path)
    if not candidates:
        raise FetchError(
            f"Mappen {path} innehåller ännu ingen Facebook-export (.zip, .json eller .ics); "
            "lägg exportfilen där.",
            kind=FetchFailure.FILE,
            source_id=source_id,
            url=str(path),
        )
    files: list[tuple[str, bytes]] = []
    skipped: list[str] = []
    total, limit = 0, FOLDER_BUDGET_FACTOR * max_bytes
    for rel, file in candidates:
        if len(files) >= MAX_FOLDER_FILES:
            skipped.append(
                f"{rel} lästes inte: mappen har fler än {MAX_FOLDER_FILES} exportfiler. Ta bort "
                "gamla exporter ur mappen."
            )
            continue
        try:
            size = file.stat().st_size
            if size > max_bytes:
                skipped.append(
                    f"{rel} lästes inte: den är större än gränsen på {human_size(max_bytes)}. "
                    "Ladda ner exporten igen med bara ”Evenemang” valt."
                )
                continue
            if total + size > limit:
                skipped.append(
                    f"{rel} lästes inte: exportfilerna i mappen är tillsammans större än "
                    f"{human_size(limit)}. Ta bort gamla exporter ur mappen."
                )
                continue
            files.append((rel, file.read_bytes()))
            total += size
        except OSError as exc:
            skipped.append(
                f"{rel} gick inte att läsa ({exc.strerror}). Kontrollera att tjänsten får läsa den."
            )
    return ExportFolder(tuple(files), tuple(skipped))


def _export_candidates(path: Path) -> list[tuple[str, Path]]:
    """(name relative to ``path``, file) of every export file, newest first."""
    found: list[tuple[float, str, Path]] = []
    for root, dirs, names in os.walk(path, followlinks=False):
        depth = len(Path(root).relative_to(path).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and depth < MAX_FOLDER_DEPTH)
        for name in names:
            low = name.casefold()
            if name.startswith((".", "~")) or not low.endswith(EXPORT_SUFFIXES):
                continue
            if low.endswith(".json") and "event" not in low:
                continue
            file = Path(root) / name
            try:
                if not file.is_file():
                    continue
                found.append((file.stat().st_mtime, file.relative_to(path).as_posix(), file))
            except OSError:
                continue
    found.sort(key=lambda c: (-c[0], c[1]))
    return [(rel, file) for _, rel, file in found]


def folder_hash(folder: ExportFolder) -> str:
    """Changes when a file's name, order or bytes change, or what was passed by."""
    digest = hashlib.sha256()
    for name, data in folder.files:
        digest.update(f"{len(name)}:{name}:{len(data)}:".encode())
        digest.update(data)
    for note in folder.skipped:
        digest.update(f"skipped:{note}\n".encode())
    return digest.hexdigest()
