"""Orchestration of the stages: harvest → normalize → store → dedupe → publish.

The stages themselves are pure or own one kind of I/O (``fetch`` the network,
``store`` SQL); this module wires them so that ``cli`` and ``schedule`` share
one implementation. One broken source never stops the others: every source
error becomes a ``SourceReport``.

Harvests run in a ``HarvestPool``: ``settings.workers`` threads, at most one harvest
per host at a time with a pause between requests to a host (``fetch.polite``), database
work serialised by one lock, and each source's bytes and events dropped as soon as they
are stored, so memory grows with the largest source, not with the whole calendar.

``steps`` holds one source's steps (reports, retries, fingerprints), ``pool`` the
``HarvestPool``; this module the passes over every source that ``cli`` and ``schedule``
call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from aggregator.config import Config
from aggregator.model import Outcome
from aggregator.pipeline.pool import PARALLEL_PARSE_BYTES, HarvestPool
from aggregator.pipeline.steps import (
    HARVEST_VERSION,
    RetryPlan,
    RunReport,
    SourceReport,
    conditional_state,
    failure_message,
    fingerprint,
    hash_source,
    log_harvest,
    parse_source_bytes,
    plan_retry,
    skip_reason,
    store_step,
)
from aggregator.publish.output import publish
from aggregator.publish.render import render_changes
from aggregator.store import Store

__all__ = [
    "HARVEST_VERSION",
    "PARALLEL_PARSE_BYTES",
    "HarvestPool",
    "RetryPlan",
    "RunReport",
    "SourceReport",
    "conditional_state",
    "failure_message",
    "fingerprint",
    "harvest_all",
    "hash_source",
    "log_harvest",
    "parse_source_bytes",
    "plan_retry",
    "run_once",
    "skip_reason",
    "store_step",
    "update_events",
]

log = logging.getLogger("aggregator")


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
    """Harvest every source (or those named) once, in parallel as ``HarvestPool`` allows;
    reports in configuration order. Paused sources, and those a server asked to wait,
    are skipped unless named."""
    for retired in store.sync_sources(config.sources, now):
        log.warning("%s: no longer in the configuration; its events leave the feeds", retired)
    sources = [s for s in config.sources if source_ids is None or s.id in source_ids]
    reports: dict[str, SourceReport] = {}
    done = threading.Lock()

    def collect(report: SourceReport) -> None:
        with done:
            reports[report.source_id] = report
            if progress:
                progress(report)

    schedules = store.schedule_states()
    pool = HarvestPool(
        store,
        config,
        now=lambda: now,
        on_report=collect,
        parallel_bytes=parallel_bytes,
        one_pass=True,
    )
    try:
        for source in sources:
            reason = skip_reason(
                schedules.get(source.id), now, config.settings, named=source_ids is not None
            )
            if reason:
                skipped = SourceReport(source.id, Outcome.SKIPPED, reason=reason)
                log_harvest(skipped)
                collect(skipped)
            else:
                pool.submit(source, accept_shrink=accept_shrink)
        pool.wait_idle()
    finally:
        pool.close()
    if pool.crashes:
        raise pool.crashes[0]
    return [reports[s.id] for s in sources]


def update_events(store: Store, config: Config, now: datetime) -> int:
    """Dedupe decides (identity, matching, merge), then publish renders what changed.
    Returns how many events changed."""
    if not store.merge_pending():
        return 0  # a run that changed nothing: not even the matcher is imported
    from aggregator.dedupe import update as dedupe

    settings = config.settings
    # each merge chunk is rendered while it is still in memory, then released
    return dedupe.update_events(
        store, settings.timezone, now, lambda changes: render_changes(store, changes, settings)
    )


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
