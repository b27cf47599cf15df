"""The steps of one source's harvest, as pure functions and small records: what a
harvest reports, when a failing source is tried again, whether a stored parse still
holds, and its log line. ``pool`` runs them for many sources at once."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from aggregator import fetch
from aggregator.config import Config
from aggregator.errors import FetchError, SourceError
from aggregator.fetch.polite import (
    COOL_DOWN,
    SLOW_DOWN_STATUSES,
    backoff_delay,
    parse_retry_after,
)
from aggregator.harvest import harvest_bytes
from aggregator.harvest.lint import (
    Advice,
)
from aggregator.model import (
    ExportFolder,
    FetchState,
    HarvestResult,
    Outcome,
    PageFetcher,
    Settings,
    Source,
)
from aggregator.normalize import normalize_event
from aggregator.publish.output import PublishReport
from aggregator.store import Store
from aggregator.store.schedule_queries import SourceSchedule

log = logging.getLogger("aggregator")

HARVEST_VERSION = "2"  # bump when harvesters change, so unchanged sources are re-parsed


@dataclass(frozen=True, slots=True)
class SourceReport:
    source_id: str
    outcome: Outcome
    events: int = 0
    new: int = 0
    changed: int = 0
    removed: int = 0
    warnings: tuple[str, ...] = ()
    message: str = ""
    duration_ms: int = 0
    bytes: int = 0
    retry_at: datetime | None = None  # a failure's next attempt
    reason: str = ""  # why a backoff, a pause or a skip (Swedish, for the health)
    advice: tuple[Advice, ...] = ()  # the feed linter's findings, each with its sentence
    paused: bool = False


@dataclass
class RunReport:
    sources: list[SourceReport] = field(default_factory=list)
    publish: PublishReport = field(default_factory=PublishReport)

    @property
    def failed(self) -> list[SourceReport]:
        return [s for s in self.sources if s.outcome is Outcome.FAILED]


def fingerprint(content_hash: str | None, source: Source) -> str:
    """Content plus what shapes its parse: a config change forces a re-parse."""
    return f"{HARVEST_VERSION}:{content_hash}:{hash_source(source)}"


def hash_source(source: Source) -> str:
    return hashlib.blake2b(repr(source).encode(), digest_size=8).hexdigest()


def parse_source_bytes(
    content: bytes,
    source: Source,
    config: Config,
    now: datetime,
    content_type: str = "",
    *,
    session: requests.Session | None = None,
    pace: Callable[[PageFetcher], PageFetcher] | None = None,
    folder: ExportFolder | None = None,
) -> HarvestResult:
    """Harvest + normalize: what a source's bytes (or folder) contain, ready to store or preview.
    ``pace`` wraps the page fetcher harvesters get (the scheduler's per-host politeness)."""
    own_session = session is None
    session = session or fetch.new_session(config.settings)
    fetch_page = fetch.page_fetcher(config.settings, session, source)
    try:
        result = harvest_bytes(
            content,
            source,
            config.settings,
            now=now,
            content_type=content_type,
            fetch_page=pace(fetch_page) if pace else fetch_page,
            folder=folder,
        )
    finally:
        if own_session:
            session.close()
    events = tuple(normalize_event(e, source, config.settings) for e in result.events)
    return HarvestResult(events, result.warnings, result.kind)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A source whose new bytes wait to be parsed."""

    source: Source
    result: fetch.FetchResult
    started: float


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def store_step(
    store: Store, fetched: Fetched, result: HarvestResult, now: datetime, *, accept_shrink: bool
) -> SourceReport:
    source = fetched.source
    outcome = store.apply_harvest(
        source.id,
        result.events,
        result.warnings,
        now,
        etag=fetched.result.etag,
        last_modified=fetched.result.last_modified,
        fingerprint=fingerprint(fetched.result.content_hash, source),
        http_status=fetched.result.http_status,
        duration_ms=elapsed_ms(fetched.started),
        accept_shrink=accept_shrink,
    )
    return SourceReport(
        source.id,
        outcome.outcome,
        events=len(result.events),
        new=outcome.new,
        changed=outcome.changed,
        removed=outcome.removed,
        warnings=tuple(w.message for w in result.warnings),
        message=outcome.message,
    )


def failure_message(exc: SourceError, source: Source) -> str:
    """The sentence an organizer sees; a Graph API error answer says what is wrong itself."""
    body = getattr(exc, "body", b"")
    if body and (source.kind == "facebook" or source.token_env):
        # imported here: the Facebook harvester brings icalendar, which a run whose
        # sources are all unchanged never needs
        from aggregator.harvest.facebook import describe_graph_error

        explained = describe_graph_error(body, source)
        if explained:
            return explained
    return exc.message


# -- when a failing source is tried again ------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """What one more failure means for a source: when to try again and why."""

    retry_at: datetime  # our backoff, or the server's Retry-After when that is later
    server_retry_at: datetime | None  # what a Retry-After asked for
    reason: str  # Swedish, for the health and the log
    host_hold: float  # seconds every source on the host stays away (429/503)
    pause_message: str | None  # set when the source is (still) paused


def plan_retry(
    source: Source,
    schedule: SourceSchedule | None,
    exc: SourceError,
    now: datetime,
    settings: Settings,
    message: str,
) -> RetryPlan:
    """Exponential backoff from the source's interval up to a day, later if the server's
    Retry-After says so; 429/503 keep the whole host away; a source that has failed for
    ``settings.pause_after`` is paused."""
    failing = schedule is not None and schedule.consecutive_failures > 0
    failures = (schedule.consecutive_failures if schedule else 0) + 1
    status = exc.status if isinstance(exc, FetchError) else None
    server_at = parse_retry_after(exc.retry_after, now) if isinstance(exc, FetchError) else None
    retry_at = now + backoff_delay(failures, source.interval)
    if server_at is not None and server_at > retry_at:
        retry_at = server_at
    when = local_time(retry_at, settings)
    if server_at is not None:
        reason = f"servern bad oss vänta till {local_time(server_at, settings)} (Retry-After); nytt försök {when}"
    elif status in SLOW_DOWN_STATUSES:
        reason = f"servern svarade HTTP {status} (överbelastad eller tillfälligt nere); nytt försök {when}"
    elif failures == 1:
        reason = f"hämtningen misslyckades; nytt försök {when}"
    else:
        reason = f"{failures} misslyckade försök i rad; nytt försök {when}"
    host_hold = 0.0
    if status in SLOW_DOWN_STATUSES:
        host_hold = (server_at - now).total_seconds() if server_at else COOL_DOWN
    since = schedule.failing_since if failing and schedule and schedule.failing_since else now
    pause_message = None
    if (schedule is not None and schedule.paused) or now - since >= timedelta(
        seconds=settings.pause_after
    ):
        days = max(1, (now - since).days)
        pause_message = (
            f"Källan är pausad: den har inte gått att hämta sedan {local_time(since, settings)[:10]} "
            f"({days} {'dag' if days == 1 else 'dagar'}). Senaste felet: {message}. Den hämtas "
            "igen när den återupptas "
            f"(aggregator sources resume {source.id})."
        )
        reason = "pausad efter upprepade fel"
    return RetryPlan(retry_at, server_at, reason, host_hold, pause_message)


def local_time(value: datetime, settings: Settings) -> str:
    return value.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M")


def skip_reason(
    schedule: SourceSchedule | None, now: datetime, settings: Settings, *, named: bool = False
) -> str | None:
    """Why ``run --once``/``harvest`` leaves a source alone (a pause, or a server's
    Retry-After still running), or None. Our own backoff is the scheduler's business:
    cron runs at the operator's interval. A source ``named`` on the command line is
    harvested anyway, unless a moderator paused it (only a resume lifts that)."""
    if schedule is None:
        return None
    if schedule.paused_by_moderator:
        return "pausad av en moderator (aggregator sources resume " + schedule.source_id + ")"
    if named:
        return None
    if schedule.paused:
        return "pausad efter upprepade fel (aggregator sources resume " + schedule.source_id + ")"
    if schedule.server_retry_at is not None and schedule.server_retry_at > now:
        return f"servern bad oss vänta till {local_time(schedule.server_retry_at, settings)} (Retry-After)"
    return None


def conditional_state(state: FetchState, source: Source) -> FetchState:
    """Ask "changed since?" only when the stored parse was made with this source's current
    settings and harvesters: after an edit of sources.yaml a 304 would keep the old parse."""
    stored = state.content_hash
    if stored is None or (
        stored.startswith(f"{HARVEST_VERSION}:") and stored.endswith(":" + hash_source(source))
    ):
        return state
    return FetchState(content_hash=stored)


def log_harvest(report: SourceReport) -> None:
    """One line per harvest: source id, outcome, duration, bytes, events, and the reason
    for a hold, a backoff or a skip."""
    line = (
        f"{report.source_id}: {report.outcome} in {report.duration_ms} ms, "
        f"{report.bytes} bytes, {report.events} events"
    )
    if report.outcome == Outcome.OK:
        line += f" ({report.new} new, {report.changed} changed, {report.removed} removed)"
    elif report.outcome == Outcome.UNCHANGED:
        line += f" ({report.message})"
    elif report.outcome == Outcome.HELD:
        line += f"; held for review: {report.message}"
    elif report.outcome == Outcome.FAILED:
        line += f"; {report.message}; {report.reason}"
    elif report.outcome == Outcome.SKIPPED:
        line += f"; skipped: {report.reason}"
    if report.warnings:
        line += f"; {len(report.warnings)} warnings"
    if report.advice:
        line += "; advice for the organizer: " + ", ".join(a.finding for a in report.advice)
    failed = report.outcome in (Outcome.FAILED, Outcome.HELD)
    log.log(logging.WARNING if failed else logging.INFO, "%s", line)
    for warning in report.warnings[:10]:
        log.debug("%s: %s", report.source_id, warning)
