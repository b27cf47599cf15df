"""What the web app asks of the harvest side: "Hämta nu", an approval, a moderator's change.

Under ``aggregator run`` the scheduler answers (``ServiceLink``): a "Hämta nu" queues the
source as due now in the scheduler's own pool, so it waits for the same per-host gate
(one request at a time per host, ``per_host_delay``, a 429/503's Retry-After) as every
scheduled harvest, and the merge + publish is the scheduler's one debounced publish,
never a second writer of the feeds.

Under ``aggregator serve`` alone there is no scheduler: ``LocalHarvests`` harvests in a
pool of its own, with one per-host gate for every harvest this web process makes, and
publishes at once. A cron ``run --once`` in another process has a gate of its own; the
database's Retry-After is honoured by both (``pipeline.skip_reason``).
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager
from typing import Protocol

from aggregator import clock, pipeline
from aggregator.config import Config, ConfigHolder
from aggregator.fetch.polite import host_of
from aggregator.model import Outcome
from aggregator.publish import output
from aggregator.store import Store
from aggregator.store.registrations import merge_registered_sources

log = logging.getLogger(__name__)

HARVEST_WAIT = 20.0  # seconds a "Hämta nu" waits for its harvest before saying it is queued
REGISTRATIONS_EVERY = 5.0  # seconds between looks at the registrations under ``serve``


class ServiceLink(Protocol):
    """The harvest side of the process the web app runs in."""

    def harvest_now(self, source_id: str, wait: float) -> pipeline.SourceReport | None:
        """Harvest a source as soon as its host allows; its report if that finished within
        ``wait`` seconds, else None (it is queued or still running)."""

    def sources_changed(self) -> None:
        """Registrations were approved, paused, resumed or withdrawn: take them in now."""

    def publish_soon(self) -> None:
        """A moderator changed what is merged: merge and publish (debounced or at once)."""

    def host_turn(self, url: str, wait: float) -> AbstractContextManager[bool]:
        """Hold the host of ``url`` for one preview (a registration's address), as a
        harvest holds it: True inside when it was ours within ``wait`` seconds."""


class LocalHarvests:
    """``aggregator serve`` without a scheduler: harvests and publishes in this process,
    one harvest at a time per host (a pool of its own, its own store connection)."""

    def __init__(self, holder: ConfigHolder) -> None:
        self.holder = holder
        self.db = threading.RLock()
        self._store: Store | None = None
        self._pool: pipeline.HarvestPool | None = None
        self._reports: dict[str, pipeline.SourceReport] = {}
        self._done = threading.Condition()
        self._closed = threading.Event()
        self._watching: threading.Thread | None = None

    def start(self) -> None:
        """Look at the registrations every few seconds, so an approval or a pause made with
        ``aggregator sources …`` in another process shows on the pages (sources.yaml
        itself is read again when ``serve`` restarts; ``run`` watches it)."""
        if self._watching is None:
            self._look()  # before the first request
            self._watching = threading.Thread(target=self._watch, name="registrations", daemon=True)
            self._watching.start()

    def _watch(self) -> None:
        while not self._closed.wait(REGISTRATIONS_EVERY):
            self._look()

    def _look(self) -> None:
        try:
            with self.db:
                store, _ = self._ready()
                self._current(store)
        except Exception:  # a locked or damaged database: the next look tries again
            log.warning("registrations not read; trying again", exc_info=True)

    def _ready(self) -> tuple[Store, pipeline.HarvestPool]:
        """(under ``db``) The store and pool, opened on first use."""
        config = self.holder.current
        if self._store is None:
            self._store = Store(config.resolve(config.settings.database))
        if self._pool is None:
            self._pool = pipeline.HarvestPool(
                self._store,
                config,
                now=clock.now,
                db=self.db,
                on_report=self._harvested,
                parse_processes=False,
            )
        return self._store, self._pool

    def _current(self, store: Store) -> Config:
        """The file's configuration plus the registrations as the database has them now
        (the web app's pages follow: there is no scheduler to tell them)."""
        merged = merge_registered_sources(self.holder.file, store)
        if merged != self.holder.current:
            self.holder.set(merged)
        return merged

    def harvest_now(self, source_id: str, wait: float) -> pipeline.SourceReport | None:
        with self.db:
            store, pool = self._ready()
            config = self._current(store)
            store.sync_sources(config.sources)  # a just-approved source gets its row
            pool.set_config(config)
            source = next((s for s in config.sources if s.id == source_id), None)
        if source is None:
            return pipeline.SourceReport(source_id, Outcome.SKIPPED, reason="inte konfigurerad")
        with self._done:
            self._reports.pop(source_id, None)
        pool.submit(source)  # False: already queued or running; its report answers
        with self._done:
            self._done.wait_for(lambda: source_id in self._reports, timeout=wait)
            return self._reports.pop(source_id, None)

    def _harvested(self, report: pipeline.SourceReport) -> None:
        """(a harvest thread) Publish what changed, then hand the report to the waiter."""
        if report.outcome in (Outcome.OK, Outcome.HELD):
            self.publish_soon()
        with self._done:
            self._reports[report.source_id] = report
            self._done.notify_all()

    def sources_changed(self) -> None:
        with self.db:
            store, _ = self._ready()
            config = self._current(store)
            if store.sync_sources(config.sources, clock.now()):
                self._publish(store)

    def publish_soon(self) -> None:
        with self.db:
            store, _ = self._ready()
            self._publish(store)

    def host_turn(self, url: str, wait: float) -> AbstractContextManager[bool]:
        with self.db:
            _, pool = self._ready()
        return pool.gate.turn(host_of(url), wait)

    def _publish(self, store: Store) -> None:
        config = self._current(store)
        now = clock.now()
        pipeline.update_events(store, config, now)
        output.publish(store, config, now)

    def close(self) -> None:
        self._closed.set()
        with self.db:
            if self._pool is not None:
                self._pool.close(grace=0.0)
            if self._store is not None:
                self._store.close()
                self._store = None
