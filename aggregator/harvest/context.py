"""What one harvest of one source carries: the source, the clock, the window, the
warnings, the page fetcher, and the budget every harvester must stay within.

Every harvester gets one ``HarvestContext`` (harvesters with more state of their
own subclass it), so the warning cap, the window and the limits are written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Self

from aggregator.errors import ParseError
from aggregator.model import (
    WINDOW_AHEAD,
    WINDOW_BACK,
    HarvestWarning,
    PageFetcher,
    Settings,
    Source,
)
from aggregator.normalize.timezones import zone
from aggregator.redaction import redact

MAX_WARNINGS = 50  # per harvest: enough to act on, few enough to read


@dataclass(kw_only=True)
class HarvestContext:
    """One harvest's shared state; ``warn`` is capped and redacted."""

    source: Source
    settings: Settings
    now: datetime
    fetch_page: PageFetcher | None = None
    tz: tzinfo = UTC
    tz_name: str = "UTC"
    secrets: tuple[str, ...] = ()
    max_events: int = 20_000
    warnings: list[HarvestWarning] = field(default_factory=list)
    skipped_old: int = 0
    taken: int = 0

    @classmethod
    def create(
        cls,
        source: Source,
        settings: Settings,
        now: datetime,
        *,
        fetch_page: PageFetcher | None = None,
        secrets: tuple[str, ...] = (),
    ) -> Self:
        """A context in the configured zone (UTC when the name is not a zone we know)."""
        tz = zone(settings.timezone)
        return cls(
            source=source,
            settings=settings,
            now=now,
            fetch_page=fetch_page,
            tz=tz or UTC,
            tz_name=settings.timezone if tz is not None else "UTC",
            secrets=secrets,
            max_events=source.max_events or settings.max_events,
        )

    @property
    def window_start(self) -> datetime:
        return self.now - WINDOW_BACK

    @property
    def window_end(self) -> datetime:
        return self.now + WINDOW_AHEAD

    def ended_before_window(self, end: datetime | date) -> bool:
        """True for an event whose end (an instant or an exclusive day) is before the window."""
        if not isinstance(end, datetime):
            end = datetime(end.year, end.month, end.day, tzinfo=UTC)
        return end < self.window_start

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(HarvestWarning(self.source.id, redact(message, self.secrets)))
        elif len(self.warnings) == MAX_WARNINGS:
            self.warnings.append(HarvestWarning(self.source.id, "more warnings left out"))

    def take(self, count: int = 1) -> None:
        """Count events kept for the window; past the source's cap the harvest fails:
        a calendar that large is broken or hostile, and part of it would mislead."""
        self.taken += count
        if self.taken > self.max_events:
            raise self.error(too_many_events(self.max_events))

    def error(self, message: str) -> ParseError:
        """A ParseError about this source, its message redacted."""
        return ParseError(redact(message, self.secrets), source_id=self.source.id)


def too_many_events(limit: int) -> str:
    return (
        f"Källan har fler än {limit} evenemang mellan {WINDOW_BACK.days} dagar bakåt och "
        f"{WINDOW_AHEAD.days} dagar framåt, fler än en källa får ha (max_events); inget "
        "hämtades. Är kalendern verkligen så stor, höj max_events för källan i sources.yaml."
    )
