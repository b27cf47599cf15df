"""Harvesters: one module per source kind, each ``bytes (+ source) → HarvestResult``.

Harvesters do no I/O of their own; ``fetch`` hands them the bytes (the only
network use is the ``fetch_page`` a harvester may follow links with). This
module is the one place where kinds are wired to their parsers, and the one
door every harvest passes: whatever a harvester raises that is not one of our
errors fails that source with a sentence, and no secret leaves in a warning or
an event.

A harvester's module is imported on its first use: the parsers behind them (lxml,
bs4, feedparser, icalendar, extruct …) cost about half a second to import, which every
command and every no-change run would otherwise pay before doing anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from aggregator.errors import ParseError, SourceError
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


def _ical() -> Harvester:
    from aggregator.harvest.ical import parse_ical

    return parse_ical


def _feed() -> Harvester:
    from aggregator.harvest.feed import parse_feed

    return parse_feed


def _html() -> Harvester:
    from aggregator.harvest.html import parse_html

    return parse_html


def _facebook() -> Harvester:
    from aggregator.harvest.facebook import parse_facebook

    return parse_facebook


# kind → what imports its harvester: the one list of the kinds we can read
HARVESTER_LOADERS: dict[str, Callable[[], Harvester]] = {
    "ical": _ical,
    "feed": _feed,
    "html": _html,
    "facebook": _facebook,
}

# the harvesters imported so far, by kind (a test may put its own here)
HARVESTERS: dict[str, Harvester] = {}


def harvester_for(kind: str) -> Harvester | None:
    """The harvester of ``kind``, its module imported on first use; None for a kind we
    cannot read."""
    harvester = HARVESTERS.get(kind)
    if harvester is None:
        load = HARVESTER_LOADERS.get(kind)
        if load is None:
            return None
        harvester = HARVESTERS.setdefault(kind, load())
    return harvester


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
        from aggregator.harvest.facebook import parse_facebook

        return parse_facebook(b"", source, settings, now=now, fetch_page=fetch_page, folder=folder)
    kind = source.kind or detect_kind(
        content, content_type, source_id=source.id, url=source.url or ""
    )
    harvester = harvester_for(kind)
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
