"""Orchestration of the stages: harvest → normalize → store → dedupe → publish.

The stages themselves are pure or own one kind of I/O (``fetch`` the network,
``store`` SQL); this module wires them so that ``cli`` and ``schedule`` share
one implementation. One broken source never stops the others: every source
error becomes a ``SourceReport``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

from aggregator import fetch
from aggregator.config import Config
from aggregator.dedupe import update as dedupe
from aggregator.errors import SourceError
from aggregator.harvest import facebook, harvest_bytes
from aggregator.harvest.worker import ParseBudget, run_in_workers, run_with_budget
from aggregator.model import ExportFolder, FetchState, HarvestResult, Outcome, Source
from aggregator.normalize import normalize_event
from aggregator.publish.output import PublishReport, publish
from aggregator.publish.render import render_changes
from aggregator.store import Store

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
    folder: ExportFolder | None = None,
) -> HarvestResult:
    """Harvest + normalize: what a source's bytes (or folder) contain, ready to store or preview."""
    own_session = session is None
    session = session or fetch.new_session(config.settings)
    try:
        result = harvest_bytes(
            content,
            source,
            config.settings,
            now=now,
            content_type=content_type,
            fetch_page=fetch.page_fetcher(config.settings, session, source),
            folder=folder,
        )
    finally:
        if own_session:
            session.close()
    events = tuple(normalize_event(e, source, config.settings) for e in result.events)
    return HarvestResult(events, result.warnings, result.kind)


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A source whose new bytes wait to be parsed."""

    source: Source
    result: fetch.FetchResult
    started: float


def harvest_source(
    store: Store,
    config: Config,
    source: Source,
    now: datetime,
    *,
    session: requests.Session | None = None,
    accept_shrink: bool = False,
) -> SourceReport:
    """Fetch, parse and store one source; a failure is recorded, never raised."""
    fetched = fetch_step(store, config, source, now, session=session, accept_shrink=accept_shrink)
    if isinstance(fetched, SourceReport):
        return fetched
    budget = ParseBudget.of(config.settings)
    result = run_with_budget(_parse_job, (fetched, config, now, session), budget, source.id)
    if isinstance(result, SourceError):
        return record_failure(store, source, result, now, fetched.started)
    return store_step(store, fetched, result, now, accept_shrink=accept_shrink)


def fetch_step(
    store: Store,
    config: Config,
    source: Source,
    now: datetime,
    *,
    session: requests.Session | None,
    accept_shrink: bool,
) -> _Fetched | SourceReport:
    """Fetch a source; unchanged or failed sources are recorded and reported right away."""
    started = time.monotonic()
    # accepting a shrink must read the calendar as it is now, never get a 304
    state = FetchState() if accept_shrink else store.fetch_state(source.id)
    try:
        fetched = fetch.fetch_source(
            source, state, config.settings, base_dir=config.path.parent, session=session
        )
    except SourceError as exc:
        return record_failure(store, source, exc, now, started)
    if fetched.not_modified or (
        fingerprint(fetched.content_hash, source) == state.content_hash and not accept_shrink
    ):
        store.record_unchanged(
            source.id,
            now,
            http_status=fetched.http_status,
            duration_ms=_since(started),
            etag=fetched.etag,
            last_modified=fetched.last_modified,
        )
        log.info("%s: unchanged (%s)", source.id, fetched.http_status or "same content")
        return SourceReport(source.id, Outcome.UNCHANGED)
    return _Fetched(source, fetched, started)


def record_failure(
    store: Store, source: Source, exc: SourceError, now: datetime, started: float
) -> SourceReport:
    message = failure_message(exc, source)
    store.record_failure(source.id, message, now, duration_ms=_since(started))
    log.warning("%s: failed: %s", source.id, message)
    return SourceReport(source.id, Outcome.FAILED, message=message)


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def store_step(
    store: Store, fetched: _Fetched, result: HarvestResult, now: datetime, *, accept_shrink: bool
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
        duration_ms=_since(fetched.started),
        accept_shrink=accept_shrink,
    )
    warnings = tuple(w.message for w in result.warnings)
    for warning in warnings[:10]:
        log.warning("%s: %s", source.id, warning)
    if outcome.held:
        log.warning("%s: held for review: %s", source.id, outcome.message)
    log.info(
        "%s: %d events (%d new, %d changed, %d removed) in %d ms",
        source.id,
        len(result.events),
        outcome.new,
        outcome.changed,
        outcome.removed,
        _since(fetched.started),
    )
    return SourceReport(
        source.id,
        outcome.outcome,
        events=len(result.events),
        new=outcome.new,
        changed=outcome.changed,
        removed=outcome.removed,
        warnings=warnings,
        message=outcome.message,
    )


def failure_message(exc: SourceError, source: Source) -> str:
    """The sentence an organizer sees; a Graph API error answer says what is wrong itself."""
    body = getattr(exc, "body", b"")
    if body and (source.kind == "facebook" or source.token_env):
        explained = facebook.describe_graph_error(body, source)
        if explained:
            return explained
    return exc.message


PARALLEL_PARSE_BYTES = 4_000_000  # below this a worker process costs more than it saves
WORKER_BYTES = 1_000_000  # a source this big is parsed in a worker, within a memory budget


def harvest_all(
    store: Store,
    config: Config,
    now: datetime,
    *,
    source_ids: Sequence[str] | None = None,
    accept_shrink: bool = False,
    progress: Callable[[SourceReport], None] | None = None,
    parallel_bytes: int = PARALLEL_PARSE_BYTES,
) -> list[SourceReport]:
    """Fetch every source, parse the changed ones (in worker processes when there is
    enough to parse and more than one core), store each in configuration order."""
    for retired in store.sync_sources(config.sources, now):
        log.warning("%s: no longer in the configuration; its events leave the feeds", retired)
    sources = [s for s in config.sources if source_ids is None or s.id in source_ids]
    reports: dict[str, SourceReport] = {}
    pending: list[_Fetched] = []
    session = fetch.new_session(config.settings)
    try:
        for source in sources:
            fetched = fetch_step(
                store, config, source, now, session=session, accept_shrink=accept_shrink
            )
            if isinstance(fetched, SourceReport):
                reports[source.id] = fetched
                if progress:
                    progress(fetched)
            else:
                pending.append(fetched)
        workers = min(len(pending), os.cpu_count() or 1, 4)
        size = sum(len(f.result.content) for f in pending)
        budget = ParseBudget.of(config.settings)
        parsed: Iterator[HarvestResult | SourceError]
        if (workers > 1 and size >= parallel_bytes) or any(
            len(f.result.content) >= WORKER_BYTES for f in pending
        ):
            parsed = _parse_in_workers(pending, config, now, budget, max(1, workers))
        else:
            parsed = (
                run_with_budget(_parse_job, (f, config, now, session), budget, f.source.id)
                for f in pending
            )
        for fetched, outcome in zip(pending, parsed, strict=True):
            if isinstance(outcome, HarvestResult):
                report = store_step(store, fetched, outcome, now, accept_shrink=accept_shrink)
            else:
                report = record_failure(store, fetched.source, outcome, now, fetched.started)
            reports[fetched.source.id] = report
            if progress:
                progress(report)
    finally:
        session.close()
    return [reports[s.id] for s in sources]


def _parse_job(
    fetched: _Fetched, config: Config, now: datetime, session: requests.Session | None = None
) -> HarvestResult | SourceError:
    """Parse one fetched source; errors come back as values (they cross processes)."""
    try:
        return parse_source_bytes(
            fetched.result.content,
            fetched.source,
            config,
            now,
            fetched.result.content_type,
            session=session,
            folder=fetched.result.folder,
        )
    except SourceError as exc:
        return exc


def _parse_in_workers(
    pending: Sequence[_Fetched], config: Config, now: datetime, budget: ParseBudget, workers: int
) -> Iterator[HarvestResult | SourceError]:
    """In worker processes with a hard time and memory budget (``harvest.worker``)."""
    jobs = [(fetched.source.id, (fetched, config, now)) for fetched in pending]
    yield from run_in_workers(_parse_job, jobs, budget, workers)


def update_events(store: Store, config: Config, now: datetime) -> int:
    """Dedupe decides (identity, matching, merge), then publish renders what changed.
    Returns how many events changed."""
    changes = dedupe.update_events(store, config.settings.timezone, now)
    render_changes(store, changes, config.settings)
    return len(changes)


def run_once(
    store: Store,
    config: Config,
    now: datetime | None = None,
    *,
    progress: Callable[[SourceReport], None] | None = None,
) -> RunReport:
    now = now or datetime.now(UTC)
    reports = harvest_all(store, config, now, progress=progress)
    update_events(store, config, now)
    return RunReport(sources=reports, publish=publish(store, config, now))
