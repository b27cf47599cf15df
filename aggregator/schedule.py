"""``aggregator run``: harvest each source on its own interval and serve the feeds.

One APScheduler job per source; a lock serialises database work so a slow source
never blocks the web server and two harvests never write at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from aggregator import clock, fetch, pipeline
from aggregator.config import Config
from aggregator.model import Source
from aggregator.publish import output
from aggregator.store import Store

log = logging.getLogger(__name__)


def harvest_and_publish(store: Store, config: Config, source: Source, lock: threading.Lock) -> None:
    now = clock.now()
    with lock:
        session = fetch.new_session(config.settings)
        try:
            report = pipeline.harvest_source(store, config, source, now, session=session)
        finally:
            session.close()
        if report.outcome in ("ok", "held"):
            pipeline.update_events(store, config, now)
            output.publish(store, config, now)


def build_scheduler(store: Store, config: Config, lock: threading.Lock) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=UTC)
    now = datetime.now(UTC)
    for source in config.sources:
        scheduler.add_job(
            harvest_and_publish,
            IntervalTrigger(seconds=source.interval),
            args=(store, config, source, lock),
            id=source.id,
            next_run_time=now,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=source.interval,
        )
    return scheduler


def run_forever(store: Store, config: Config, *, serve: Callable[[], None]) -> int:
    """Harvest on schedule while ``serve`` (the web server, built by the command line:
    schedule and web are siblings that never import each other) runs until stopped."""
    lock = threading.Lock()
    store.sync_sources(config.sources)
    with lock:
        output.publish(store, config, clock.now())
    scheduler = build_scheduler(store, config, lock)
    scheduler.start()
    log.warning("harvesting %d sources", len(config.sources))
    try:
        serve()  # until SIGINT/SIGTERM
    finally:
        scheduler.shutdown(wait=False)
    return 0
