"""Harvesters: one module per source kind, each ``bytes (+ source) → HarvestResult``.

Harvesters do no I/O of their own; ``fetch`` hands them the bytes (the only
network use is the ``fetch_page`` a harvester may follow links with). This
module is the one place where kinds are wired to their parsers, and the one
door every harvest passes: whatever a harvester raises that is not one of our
errors fails that source with a sentence, and no secret leaves in a warning or
an event.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from aggregator.errors import ParseError, SourceError
from aggregator.harvest import facebook, feed, html, ical
from aggregator.harvest.detect import detect_kind
from aggregator.model import (
    Event,
    ExportFolder,
    HarvestResult,
    HarvestWarning,
    PageFetcher,
    Settings,
    Source,
)
from aggregator.redaction import redact, redact_exact

log = logging.getLogger(__name__)

_EVENT_TEXT = ("title", "description", "description_html", "url", "image", "location_text")


class Harvester(Protocol):
    def __call__(
        self,
        content: bytes,
        source: Source,
        settings: Settings,
        *,
        now: datetime,
        fetch_page: PageFetcher | None = None,
    ) -> HarvestResult: ...


HARVESTERS: dict[str, Harvester] = {
    "ical": ical.parse_ical,
    "feed": feed.parse_feed,
    "html": html.parse_html,
    "facebook": facebook.parse_facebook,
}


def harvest_bytes(
    content: bytes,
    source: Source,
    settings: Settings,
    *,
    now: datetime,
    content_type: str = "",
    fetch_page: PageFetcher | None = None,
    folder: ExportFolder | None = None,
) -> HarvestResult:
    """Detect the kind (unless the source names it) and parse with that harvester.

    A ``folder`` (the files of a ``path:`` folder) can only hold Facebook exports.
    Raises ``SourceError`` only.
    """
    try:
        result = _harvest(content, source, settings, now, content_type, fetch_page, folder)
    except SourceError:
        raise
    except Exception as exc:  # a bug, or an input no harvester expected (RecursionError …)
        log.exception("%s: unexpected %s while reading the source", source.id, type(exc).__name__)
        raise ParseError(unexpected_error(exc), source_id=source.id) from exc
    return _without_secrets(result)


def unexpected_error(exc: BaseException) -> str:
    """The organizer's sentence for an error nobody foresaw (the log has the details)."""
    if isinstance(exc, MemoryError):
        return (
            "Att läsa källan krävde mer minne än en källa får använda; inget ändrades. "
            "Dela upp kalendern i mindre delar eller registrera ett flöde med bara kommande "
            "evenemang."
        )
    return (
        "Källan gick inte att läsa: vi stötte på något oväntat "
        f"({type(exc).__name__}); inget ändrades och felet finns i vår logg. Du behöver inte "
        "göra något; vi ser över det."
    )


def _harvest(
    content: bytes,
    source: Source,
    settings: Settings,
    now: datetime,
    content_type: str,
    fetch_page: PageFetcher | None,
    folder: ExportFolder | None,
) -> HarvestResult:
    if folder is not None:
        if source.kind not in (None, "facebook"):
            raise ParseError(
                "Sökvägen är en mapp, och en mapp kan bara innehålla Facebook-exporter, men "
                f"källans typ är {source.kind}; ange sökvägen till själva filen i stället.",
                source_id=source.id,
            )
        return facebook.parse_facebook(
            b"", source, settings, now=now, fetch_page=fetch_page, folder=folder
        )
    kind = source.kind or detect_kind(
        content, content_type, source_id=source.id, url=source.url or ""
    )
    harvester = HARVESTERS.get(kind)
    if harvester is None:
        raise ParseError(
            f"Det här ser ut som en källa av typen {kind}, som vi inte kan läsa än; registrera "
            "kalendern som iCal, RSS/Atom eller webbsida i stället.",
            source_id=source.id,
        )
    return harvester(content, source, settings, now=now, fetch_page=fetch_page)


def _without_secrets(result: HarvestResult) -> HarvestResult:
    """Warnings redacted like every message; events rid of the tokens we hold (only the
    exact values: a pattern could damage an ordinary link's query string)."""
    warnings = tuple(HarvestWarning(w.source_id, redact(w.message)) for w in result.warnings)
    events = tuple(_scrubbed(e) for e in result.events)
    return HarvestResult(events, warnings, result.kind)


def _scrubbed(event: Event) -> Event:
    changes: dict[str, Any] = {}
    for name in _EVENT_TEXT:
        value = getattr(event, name)
        cleaned = redact_exact(value)
        if cleaned != value:
            changes[name] = cleaned
    return replace(event, **changes) if changes else event
