"""The harvest loop of ``aggregator run``: each source on its interval, politely, for months.

Why not one APScheduler job per source: the rules that matter here span sources (one
request at a time per host, a merge + publish once after a burst of harvests) and
outlive the process (backoff, pauses, next attempts are in the database), so the loop
keeps a due time per source and hands due sources to ``pipeline.HarvestPool``, which
owns the per-host politeness. Time comes from an injected clock (wall time, for due
times and the database) and ``time.monotonic`` (for the debounce), so tests drive it.

Threads: one dispatcher (this loop), ``settings.workers`` harvest threads, one
publisher; the web server runs in its own thread and never parses or writes. All
database work happens under one lock (``db``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timedelta

from aggregator import clock, pipeline
from aggregator.config import Config, ConfigHolder
from aggregator.fetch.polite import host_of
from aggregator.model import Outcome, Source
from aggregator.publish import output
from aggregator.schedule.reload import diff_sources
from aggregator.store import Store
from aggregator.store.registrations import merge_registered_sources
from aggregator.store.schedule_queries import SourceSchedule

log = logging.getLogger(__name__)

# the waits go through clock.waits: tests of the whole service scale them down
PUBLISH_QUIET = clock.waits(2.0)  # publish once no harvest has changed anything for this long …
# … or this long after the first unpublished change, whichever first
PUBLISH_MAX_WAIT = clock.waits(60.0)
TICK = clock.waits(2.0)  # how often the loop looks at the database for pauses and resumes
# how long a stop waits for running harvests before abandoning them
SHUTDOWN_GRACE = clock.waits(10.0)
PUBLISH_GRACE = 300.0  # a publish that has started is finished, never cut (feeds stay whole)


def jitter(source_id: str, interval: int) -> timedelta:
    """A stable offset in [0, interval) from the source id: restarts spread sources the
    same way every time, and never all at once."""
    digest = hashlib.blake2b(source_id.encode(), digest_size=8).digest()
    return timedelta(seconds=int.from_bytes(digest, "big") / 2**64 * interval)


def first_due(source: Source, schedule: SourceSchedule | None, now: datetime) -> datetime | None:
    """When a source is first harvested after start-up (None: it is paused).

    Never harvested: right away (an organizer waits for their first events). Otherwise
    at its next attempt as the database has it (last attempt + interval, or a failing
    source's backoff); if that is already past, spread over the interval by ``jitter``.
    """
    if schedule is None or schedule.last_attempt_at is None:
        return now
    if schedule.paused:
        return None
    due = schedule.retry_at or schedule.last_attempt_at + timedelta(seconds=source.interval)
    if due > now:
        return due
    return now + jitter(source.id, source.interval)


def next_due(source: Source, report: pipeline.SourceReport, now: datetime) -> datetime | None:
    """When a source is harvested next, after a harvest (None: it is paused now)."""
    if report.paused:
        return None
    if report.outcome == Outcome.FAILED and report.retry_at is not None:
        return report.retry_at
    return now + timedelta(seconds=source.interval)


class _Waiter:
    """A "Hämta nu" waiting for its source's next report."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.report: pipeline.SourceReport | None = None


class Scheduler:
    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        file_config: Config | None = None,
        now: Callable[[], datetime] = clock.now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.config = config
        # the configuration the web app reads on every request: set on every apply
        self.live = ConfigHolder(config, file=file_config or config)
        self._merging = threading.Lock()  # one re-read of the registrations at a time
        self._waiters: dict[str, list[_Waiter]] = {}
        self.now = now
        self.monotonic = monotonic
        self.db = threading.RLock()
        self.pool = pipeline.HarvestPool(
            store, config, now=now, db=self.db, on_report=self._harvested, parse_processes=False
        )
        self.sources = {s.id: s for s in config.sources}
        self.due: dict[str, datetime] = {}
        self.paused: set[str] = set()
        self._edited: set[str] = set()  # edited while being harvested: harvest again after
        self._cond = threading.Condition()
        self._stopping = False
        self._publish_first: float | None = None  # monotonic time of the first unpublished change
        self._publish_last = 0.0
        self._publishing = threading.Lock()
        self._threads: list[threading.Thread] = []

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> None:
        now = self.now()
        with self.db:
            for retired in self.store.sync_sources(self.config.sources, now):
                log.warning(
                    "%s: no longer in the configuration; its events leave the feeds", retired
                )
            schedules = self.store.schedule_states()
        with self._cond:
            for source in self.config.sources:
                self._plan(source, first_due(source, schedules.get(source.id), now))
        self.request_publish(at_once=True)
        for target, name in ((self._dispatch, "dispatch"), (self._publisher, "publish")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()
        log.info(
            "scheduler: %d sources, %d paused, %d workers",
            len(self.sources),
            len(self.paused),
            self.config.settings.workers,
        )

    def stop(self, grace: float = SHUTDOWN_GRACE) -> bool:
        """Take no new harvests, give running ones ``grace`` seconds, let a publish that
        has begun finish, then hold the database lock for good (an abandoned harvest can
        never start a transaction after this). True when nothing had to be abandoned."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        finished = self.pool.close(grace)
        if not finished:
            log.warning("stopping: abandoned harvests still waiting for their servers")
        if not self._publishing.acquire(timeout=PUBLISH_GRACE):
            log.error("stopping: the publish did not finish in %g s", PUBLISH_GRACE)
            finished = False
        if not self.db.acquire(timeout=PUBLISH_GRACE):  # kept: released by process exit
            finished = False
        return finished

    # -- what is due ---------------------------------------------------------------

    def _plan(self, source: Source, due: datetime | None) -> None:
        """(under _cond) Set a source's next harvest, or park it as paused."""
        if due is None:
            self.due.pop(source.id, None)
            self.paused.add(source.id)
        else:
            self.due[source.id] = due
            self.paused.discard(source.id)
        self._cond.notify_all()

    def _dispatch(self) -> None:
        last_look = -TICK
        while True:
            with self._cond:
                if self._stopping:
                    return
            if self.monotonic() - last_look >= TICK:
                last_look = self.monotonic()
                self._look_at_database()
            now = self.now()
            busy = self.pool.busy()
            with self._cond:
                due_now = [
                    self.sources[sid]
                    for sid, when in sorted(self.due.items(), key=lambda item: item[1])
                    if when <= now and sid not in busy and sid in self.sources
                ]
            for source in due_now:
                if self.pool.submit(source):
                    with self._cond:
                        self.due.pop(source.id, None)  # back when its report arrives
            with self._cond:
                if self._stopping:
                    return
                soonest = min(self.due.values(), default=None)
                wait = TICK
                if soonest is not None:
                    wait = max(0.05, min(TICK, (soonest - self.now()).total_seconds()))
                self._cond.wait(timeout=wait)

    def _look_at_database(self) -> None:
        """Pauses and resumes made by ``aggregator sources pause|resume`` meanwhile (skipped
        while a publish holds the database: the next tick looks again)."""
        if not self.db.acquire(blocking=False):
            return
        try:
            schedules = self.store.schedule_states()
        finally:
            self.db.release()
        now = self.now()
        newly_paused = False
        with self._cond:
            for sid, source in self.sources.items():
                schedule = schedules.get(sid)
                if schedule is None:
                    continue
                if schedule.paused and sid not in self.paused:
                    log.info(
                        "%s: paused (%s); not harvested until resumed", sid, schedule.pause_reason
                    )
                    self._plan(source, None)
                    newly_paused = True
                elif not schedule.paused and sid in self.paused:
                    log.info("%s: resumed; harvesting now", sid)
                    self._plan(source, now)
        if newly_paused:  # a moderator's pause took its events out: publish that
            self.request_publish()

    def _harvested(self, report: pipeline.SourceReport) -> None:
        """(a harvest thread) Plan the source's next harvest; changes ask for a publish."""
        with self._cond:
            source = self.sources.get(report.source_id)
            if source is not None and not self._stopping:
                if report.source_id in self._edited:  # edited while this harvest ran
                    self._edited.discard(report.source_id)
                    self._plan(source, self.now())
                else:
                    self._plan(source, next_due(source, report, self.now()))
            waiters = self._waiters.pop(report.source_id, [])
        if report.outcome in (Outcome.OK, Outcome.HELD):
            self.request_publish()
        for waiter in waiters:
            waiter.report = report
            waiter.done.set()

    # -- merge + publish, debounced ----------------------------------------------------

    def request_publish(self, *, at_once: bool = False) -> None:
        with self._cond:
            now = self.monotonic()
            if self._publish_first is None:
                self._publish_first = now - (PUBLISH_MAX_WAIT if at_once else 0.0)
            self._publish_last = now
            self._cond.notify_all()

    def _publish_wait(self) -> float | None:
        """(under _cond) Seconds until the pending publish is due; None when none pends."""
        if self._publish_first is None:
            return None
        now = self.monotonic()
        quiet = self._publish_last + PUBLISH_QUIET - now
        longest = self._publish_first + PUBLISH_MAX_WAIT - now
        return max(0.0, min(quiet, longest))

    def _publisher(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    wait = self._publish_wait()
                    if wait == 0.0:
                        break
                    self._cond.wait(timeout=wait if wait is not None else TICK)
                if self._stopping:
                    return
                self._publishing.acquire()
                self._publish_first = None
            try:
                self._merge_and_publish()
            except Exception:  # a bug; the next change tries again
                log.exception("publish failed")
            finally:
                self._publishing.release()

    def _merge_and_publish(self) -> None:
        now = self.now()
        started = self.monotonic()
        with self.db:
            log.info("publish: merging and writing feeds")
            changed = pipeline.update_events(self.store, self.config, now)
            report = output.publish(self.store, self.config, now)
        if report.skipped:
            log.info("publish: nothing changed (%.1f s)", self.monotonic() - started)
        else:
            log.info(
                "publish: %d events changed; %d events in %d feeds, %d files written (%.1f s)",
                changed,
                report.events,
                report.feeds,
                report.written,
                self.monotonic() - started,
            )

    # -- a new configuration -----------------------------------------------------------

    def apply(self, config: Config) -> None:
        """Take a reloaded configuration: added sources start (right away), removed ones
        retire (their events leave the feeds), edited ones take their new settings (and
        are harvested now, unless only their interval changed)."""
        changes = diff_sources(self.config, config)
        now = self.now()
        with self.db:
            self.store.sync_sources(config.sources, now)
            schedules = self.store.schedule_states()
        old = self.sources
        busy = self.pool.busy()
        with self._cond:
            self.config = config
            self.live.set(config)
            self.pool.set_config(config)
            self.sources = {s.id: s for s in config.sources}
            for sid in changes.removed:
                self.due.pop(sid, None)
                self.paused.discard(sid)
                self.pool.withdraw(sid)
                log.warning("%s: removed from the configuration; its events leave the feeds", sid)
            for source in changes.added:
                self._plan(source, first_due(source, schedules.get(source.id), now))
                log.warning("%s: added to the configuration", source.id)
            for source in changes.edited:
                schedule = schedules.get(source.id)
                if schedule is not None and schedule.paused:
                    continue
                only_interval = _same_but_interval(old[source.id], source)
                due = first_due(source, schedule, now) if only_interval else now
                if due is not None and schedule is not None and schedule.server_retry_at:
                    due = max(due, schedule.server_retry_at)  # its host asked us to wait
                self.pool.withdraw(source.id)
                self._plan(source, due)
                if source.id in busy and not only_interval:
                    self._edited.add(source.id)
                log.warning("%s: changed in the configuration", source.id)
        self.request_publish()

    # -- what the web app asks for (``web.harvests.ServiceLink``) -----------------------

    def set_file_config(self, file_config: Config) -> None:
        """A reloaded sources.yaml; the registrations are merged into it by ``refresh``."""
        self.live.set(self.live.current, file=file_config)

    def refresh(self) -> None:
        """Merge the approved registrations into sources.yaml as the database has them now
        and apply the result when it differs from the running configuration."""
        with self._merging:
            with self.db:
                current = merge_registered_sources(self.live.file, self.store)
            if current != self.config:
                self.apply(current)

    def sources_changed(self) -> None:
        self.refresh()

    def publish_soon(self) -> None:
        self.request_publish()

    def harvest_now(self, source_id: str, wait: float) -> pipeline.SourceReport | None:
        """Make a source due now (the organizer's "Hämta nu", an approval): the dispatcher
        hands it to the pool, which waits for its host like every harvest. One that is
        already queued or running is not harvested twice: its report answers. Returns the
        report if it came within ``wait`` seconds, else None."""
        if source_id not in self.sources:
            self.refresh()
        waiter = _Waiter()
        with self._cond:
            source = self.sources.get(source_id)
            if source is None or self._stopping:
                reason = "tjänsten stannar" if self._stopping else "inte konfigurerad"
                return pipeline.SourceReport(source_id, Outcome.SKIPPED, reason=reason)
            paused = source_id in self.paused
        if paused:  # resumed a moment ago (on /admin)? the database knows
            with self.db:
                schedule = self.store.schedule_state(source_id)
            if schedule is not None and schedule.paused:
                reason = pipeline.skip_reason(schedule, self.now(), self.config.settings) or ""
                return pipeline.SourceReport(source_id, Outcome.SKIPPED, reason=reason)
        with self._cond:
            source = self.sources.get(source_id)
            if source is None or self._stopping:
                return pipeline.SourceReport(source_id, Outcome.SKIPPED, reason="inte konfigurerad")
            self._waiters.setdefault(source_id, []).append(waiter)
            if source_id not in self.pool.busy():
                log.info("%s: harvest asked for on the web; due now", source_id)
                self._plan(source, self.now())
        if waiter.done.wait(timeout=wait):
            return waiter.report
        with self._cond:  # gave up waiting; the harvest itself goes on
            left = [w for w in self._waiters.get(source_id, []) if w is not waiter]
            if left:
                self._waiters[source_id] = left
            else:
                self._waiters.pop(source_id, None)
        return waiter.report

    def host_turn(self, url: str, wait: float) -> AbstractContextManager[bool]:
        """A registration's preview takes its host from the pool's gate like a harvest."""
        return self.pool.gate.turn(host_of(url), wait)


def _same_but_interval(old: Source, new: Source) -> bool:
    return replace(old, interval=new.interval) == new
