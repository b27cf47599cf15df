"""Harvesters: one module per source kind, each ``bytes (+ source) → HarvestResult``.

Harvesters do no I/O of their own; ``fetch.py`` hands them the bytes. This
module is the one place where kinds are wired to their parsers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from aggregator.errors import ParseError
from aggregator.harvest import facebook, feed, html, ical
from aggregator.harvest.detect import detect_kind
from aggregator.model import ExportFolder, HarvestResult, PageFetcher, Settings, Source


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
    """
    if folder is not None:
        if source.kind not in (None, "facebook"):
            raise ParseError(
                f"the path is a folder, which can only hold Facebook exports, but the "
                f"source's kind is {source.kind}; point the path at the file instead",
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
            f"this looks like a {kind} source, which is not supported yet", source_id=source.id
        )
    return harvester(content, source, settings, now=now, fetch_page=fetch_page)
