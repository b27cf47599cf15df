"""``HarvestPool``: harvests in ``settings.workers`` threads, politely.

At most one harvest per host at a time with a pause between requests to a host
(``fetch.polite``), database work serialised by one lock, large iCal bodies parsed in a
worker process, and each source's bytes and events dropped as soon as they are stored.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import requests

from aggregator import fetch
from aggregator.config import Config
from aggregator.errors import FetchError, FetchFailure, ParseError, SourceError, StoreError
from aggregator.fetch.polite import (
    HostGate,
    RobotsCache,
    paced_fetcher,
    robots_before_harvest,
    robots_reader,
    source_host,
)
from aggregator.harvest.detect import detect_kind
from aggregator.harvest.lint import (
    Advice,
    changing_uids_advice,
    collapsed_advice,
    lint_harvest,
    oversize_advice,
)
from aggregator.model import (
    FetchState,
    HarvestResult,
    Outcome,
    RobotsFile,
    Source,
)
from aggregator.pipeline.steps import (
    Fetched,
    SourceReport,
    conditional_state,
    elapsed_ms,
    failure_message,
    fingerprint,
    local_time,
    log_harvest,
    parse_source_bytes,
    plan_retry,
    store_step,
)
from aggregator.store import Store
from aggregator.store.codec import event_span, iso
from aggregator.store.schedule_queries import SourceSchedule

if TYPE_CHECKING:
    from aggregator.harvest.worker import KeptWorker

log = logging.getLogger("aggregator")

PARALLEL_PARSE_BYTES = 256_000  # an iCal body this large is parsed in a worker process


@dataclass(frozen=True, slots=True)
class _Job:
    source: Source
    host: str
    accept_shrink: bool
    skip: bool = False  # its host asked us to wait (Retry-After) during a one-pass harvest


class _ParsePool:
    """Large iCal bodies are parsed in a worker process (``harvest.worker``) within the
    parse time and memory budget: a parse of several seconds would otherwise keep the GIL
    from the other harvests (and the web server), and a hostile file must not take the
    service down. Workers die with their parent.

    Each harvest thread keeps its worker between parses (a start imports the parsers
    again, about half a second of CPU) and stops it when the thread ends, which it does
    when there is no more work: so an idle service holds no parse memory. Per thread,
    because Linux's parent-death signal follows the thread that started the worker."""

    def __init__(self) -> None:
        self._local = threading.local()

    def parse(self, fetched: Fetched, config: Config, now: datetime) -> HarvestResult:
        worker = self._worker(config)
        outcome: HarvestResult | SourceError | None = None
        try:
            outcome = worker.run(_parse_job, fetched.source.id, (fetched, config, now))
        finally:
            # a worker whose parse failed (over its budget, a hostile file) is not trusted
            # with the next one
            if not isinstance(outcome, HarvestResult):
                self.release_thread()
        if isinstance(outcome, SourceError):
            raise outcome
        assert outcome is not None
        return outcome

    def _worker(self, config: Config) -> KeptWorker:
        # the worker module (multiprocessing, ctypes) only when something is parsed: a run
        # whose sources are all unchanged never imports it
        from aggregator.harvest.worker import KeptWorker, ParseBudget

        budget = ParseBudget.of(config.settings)
        worker: KeptWorker | None = getattr(self._local, "worker", None)
        if worker is not None and worker.budget != budget:  # the settings were reloaded
            self.release_thread()
            worker = None
        if worker is None:
            worker = self._local.worker = KeptWorker(budget)
        return worker

    def release_thread(self) -> None:
        """Stop this thread's worker, if it has one."""
        worker: KeptWorker | None = getattr(self._local, "worker", None)
        self._local.worker = None
        if worker is not None:
            worker.close()


def _parse_job(fetched: Fetched, config: Config, now: datetime) -> HarvestResult | SourceError:
    """Parse one fetched source in a worker; errors come back as values (they cross processes)."""
    try:
        return parse_source_bytes(
            fetched.result.content,
            fetched.source,
            config,
            now,
            fetched.result.content_type,
            folder=fetched.result.folder,
        )
    except SourceError as exc:
        return exc


class HarvestPool:
    """Harvests sources in ``settings.workers`` daemon threads.

    A thread takes the first waiting source whose host is free and rested
    (``HostGate``); the host stays taken for the whole harvest, so the pages an HTML or
    RSS harvest follows never overlap with another request to that host (an iCal body
    needs no more requests, so its host is freed before parsing). Every read and write
    of the store happens under ``db``, one lock for the process. Threads are daemons: a
    shutdown can abandon a fetch that hangs, never a transaction (those run under ``db``).
    """

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        now: Callable[[], datetime],
        db: threading.RLock | None = None,
        on_report: Callable[[SourceReport], None] | None = None,
        parallel_bytes: int = PARALLEL_PARSE_BYTES,
        parse_processes: bool = True,
        workers: int | None = None,
        one_pass: bool = False,
    ) -> None:
        self.store = store
        self.config = config
        self.now = now
        self.db = db or threading.RLock()
        self.on_report = on_report
        self.parallel_bytes = parallel_bytes
        # one pass (run --once, harvest): a host that asks us to wait is skipped, not waited
        # for; a database error stops the pass; crashes go back to the caller to raise
        self.one_pass = one_pass
        self.gate = HostGate(
            config.settings, robots=RobotsCache(load=self._load_robots, save=self._save_robots)
        )
        self.cond = self.gate.cond
        self.workers = workers or config.settings.workers
        # worker processes only where parses can run beside the harvests: more than one
        # core and more than one harvest thread (each thread keeps at most one worker)
        parallel = (os.cpu_count() or 1) > 1 and self.workers > 1
        self._parser = _ParsePool() if parse_processes and parallel else None
        self._pending: dict[str, _Job] = {}  # by source id, in the order submitted
        self._environment: fetch.EnvironmentCache = {}  # shared by the threads' sessions
        self._running: dict[str, _Job] = {}
        self._closing = False
        self._threads = 0  # threads alive or starting; each ends when there is no work
        self.crashes: list[BaseException] = []  # one pass only: raised by the caller

    def set_config(self, config: Config) -> None:
        """New settings for harvests that start from now on (a reloaded sources.yaml)."""
        with self.cond:
            self.config = config
            self.gate.settings = config.settings
            self.workers = config.settings.workers
            self._start_threads()

    def submit(self, source: Source, *, accept_shrink: bool = False) -> bool:
        """Queue a harvest; False when the source is already waiting or running."""
        with self.cond:
            if self._closing or source.id in self._running:
                return False
            if source.id in self._pending:
                return False
            self._pending[source.id] = _Job(source, source_host(source), accept_shrink)
            self._start_threads()
            # one new job: one waiting thread can take it (if it cannot, neither can the
            # others); waking them all for each of 200 sources cost more than the jobs
            self.cond.notify()
            return True

    def busy(self) -> set[str]:
        """Ids of sources waiting or being harvested."""
        with self.cond:
            return set(self._pending) | set(self._running)

    def withdraw(self, source_id: str) -> None:
        """Forget a waiting harvest (its source left the configuration)."""
        with self.cond:
            self._pending.pop(source_id, None)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing waits or runs; False on timeout."""
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        with self.cond:
            while self._pending or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(timeout=min(left, 1.0))
            return True

    def close(self, grace: float = math.inf) -> bool:
        """Take no more jobs, drop the waiting ones, give running ones ``grace`` seconds.
        True when every running harvest finished in time."""
        with self.cond:
            self._closing = True
            self._pending.clear()
            self.cond.notify_all()
        deadline = time.monotonic() + grace
        with self.cond:
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(timeout=min(left, 1.0))
            finished = not self._running
        return finished

    def _start_threads(self) -> None:
        """Enough threads for the work there is, up to ``workers`` (under ``cond``)."""
        wanted = min(self.workers, len(self._pending) + len(self._running))
        while self._threads < wanted:
            self._threads += 1
            threading.Thread(target=self._work, name="harvest", daemon=True).start()

    def _next_job(self) -> _Job | None:
        """The next job whose host is ready, waiting for one; None when the thread should
        end (nothing waits, or the pool closes). Counts the thread out before it ends, so
        ``submit`` always starts a new one when work arrives."""
        with self.cond:
            while True:
                if self._closing or not self._pending or self._threads > self.workers:
                    self._threads -= 1
                    return None
                wait = 1.0
                if len(self._running) < self.workers:
                    now = self.gate.monotonic()
                    soonest = math.inf
                    for source_id, job in self._pending.items():
                        if self.one_pass and self.gate.held_for(job.host) > 0:
                            del self._pending[source_id]  # and leave the loop at once
                            self._running[source_id] = replace(job, skip=True)
                            return self._running[source_id]
                        if self.gate.try_take(job.host):
                            del self._pending[source_id]  # and leave the loop at once
                            self._running[source_id] = job
                            return job
                        soonest = min(soonest, self.gate.ready_at(job.host))
                    if soonest != math.inf:
                        wait = min(wait, max(0.005, soonest - now))
                self.cond.wait(timeout=wait)

    def _work(self) -> None:
        session = fetch.new_session(self.config.settings, self._environment)
        try:
            while (job := self._next_job()) is not None:
                release_host = self._host_releaser(job)
                try:
                    try:
                        report = self._harvest(job, session, release_host)
                    except StoreError as exc:  # the database, not the source: said once, above
                        self._store_failed(job, exc)
                        continue
                    except Exception as exc:  # a bug: keep the pool alive, surface it to callers
                        log.exception("%s: harvest crashed", job.source.id)
                        if self.one_pass:
                            self.crashes.append(exc)
                        report = SourceReport(job.source.id, Outcome.FAILED, message=repr(exc))
                    except BaseException as exc:  # SystemExit …: this thread ends (below)
                        log.error("%s: harvest stopped by %r", job.source.id, exc)
                        if self.one_pass:
                            self.crashes.append(exc)
                        if self.on_report is not None:
                            self.on_report(
                                SourceReport(job.source.id, Outcome.FAILED, message=repr(exc))
                            )
                        raise
                    release_host()
                    if report is not None:
                        log_harvest(report)
                        if self.on_report is not None:
                            self.on_report(report)
                finally:  # only now is the job done: wait_idle() sees every report delivered
                    release_host()
                    with self.cond:
                        self._running.pop(job.source.id, None)
                        self.cond.notify_all()
        except BaseException:
            # counted out as _next_job counts out a thread that ends normally, or the pool
            # would think it still has this thread and leave waiting jobs (and wait_idle)
            # waiting for ever; another thread takes over what waits
            with self.cond:
                self._threads -= 1
                self._start_threads()
                self.cond.notify_all()
            raise
        finally:
            session.close()
            if self._parser is not None:
                self._parser.release_thread()

    def _load_robots(self, host: str) -> RobotsFile | None:
        """A host's robots.txt as an earlier run read it (``RobotsCache``)."""
        with self.db:
            return self.store.robots_file(host)

    def _save_robots(self, file: RobotsFile) -> None:
        with self.db:
            self.store.save_robots_file(file)

    def _store_failed(self, job: _Job, exc: StoreError) -> None:
        """A locked, damaged or full database. A one-pass harvest stops and its caller says
        so in one sentence; the service logs it and goes on (the disk may get room)."""
        if self.one_pass:
            self.crashes.append(exc)
            with self.cond:
                self._pending.clear()
        else:
            log.error("%s: not stored: %s", job.source.id, exc)

    def _host_releaser(self, job: _Job) -> Callable[[], None]:
        """Give the job's host back once: a second call (the host may be another job's by
        then) does nothing."""
        held = [not job.skip]

        def release() -> None:
            if held[0]:
                held[0] = False
                self.gate.release(job.host)

        return release

    def _harvest(
        self, job: _Job, session: requests.Session, release_host: Callable[[], None]
    ) -> SourceReport:
        """Fetch, parse and store one source; a failure is recorded, never raised."""
        source, config, now = job.source, self.config, self.now()
        settings = config.settings
        if job.skip:
            until = now + timedelta(seconds=self.gate.held_for(job.host))
            reason = f"servern bad oss vänta till {local_time(until, settings)} (Retry-After)"
            return SourceReport(source.id, Outcome.SKIPPED, reason=reason)
        started = time.monotonic()
        with self.db:
            # accepting a shrink must read the calendar as it is now, never get a 304
            stored = self.store.fetch_state(source.id)
            state = FetchState() if job.accept_shrink else conditional_state(stored, source)
            schedule = self.store.schedule_state(source.id)
        if schedule is None or schedule.paused_by_moderator:
            reason = "pausad av en moderator" if schedule else "inte längre konfigurerad"
            return SourceReport(source.id, Outcome.SKIPPED, reason=reason)
        robots_before_harvest(self.gate, source, job.host, now, session)
        try:
            try:
                result = fetch.fetch_source(
                    source, state, settings, base_dir=config.path.parent, session=session
                )
            finally:
                self.gate.note_request(job.host)
        except SourceError as exc:
            return self._failed(job, exc, now, started, schedule)
        size = len(result.content)
        if result.not_modified or (
            fingerprint(result.content_hash, source) == state.content_hash and not job.accept_shrink
        ):
            with self.db:
                if (stop := _stopped(self.store, source.id)) is not None:
                    return SourceReport(source.id, Outcome.SKIPPED, reason=stop)
                self._resume_if_paused(source, schedule, now)
                self.store.record_unchanged(
                    source.id,
                    now,
                    http_status=result.http_status,
                    duration_ms=elapsed_ms(started),
                    etag=result.etag,
                    last_modified=result.last_modified,
                )
            detail = str(result.http_status or "same content")
            return SourceReport(
                source.id,
                Outcome.UNCHANGED,
                message=detail,
                duration_ms=elapsed_ms(started),
                bytes=size,
            )
        fetched = Fetched(source, result, started)
        kind = source.kind or _sniffed_kind(result, source)
        try:
            if kind == "ical":
                release_host()  # an iCal parse asks the host for nothing more
            if kind == "ical" and self._parser is not None and size >= self.parallel_bytes:
                harvest = self._parser.parse(fetched, config, now)
            else:
                harvest = self._parse_here(fetched, config, now, session, job.host)
        except SourceError as exc:
            return self._failed(job, exc, now, started, schedule)
        advice = lint_harvest(result.content, harvest, settings)
        with self.db:
            if (stop := _stopped(self.store, source.id)) is not None:
                return SourceReport(source.id, Outcome.SKIPPED, reason=stop)
            self._resume_if_paused(source, schedule, now)
            report = store_step(self.store, fetched, harvest, now, accept_shrink=job.accept_shrink)
            if report.outcome == Outcome.HELD:
                upcoming = sum(1 for e in harvest.events if event_span(e)[1] >= iso(now))
                advice.append(collapsed_advice(upcoming))
            if report.new and report.removed:
                rekeyed = self.store.rekeyed_count(source.id, now)
                if rekeyed:
                    advice.append(changing_uids_advice(rekeyed))
            self.store.save_advice(source.id, [a.text for a in advice])
        return replace(report, duration_ms=elapsed_ms(started), bytes=size, advice=tuple(advice))

    def _parse_here(
        self,
        fetched: Fetched,
        config: Config,
        now: datetime,
        session: requests.Session,
        host: str,
    ) -> HarvestResult:
        """Parse in this thread, within the parse time budget; pages it fetches are paced."""
        settings = config.settings
        result = fetched.result

        read_robots = robots_reader(settings, now, session, fetched.source.id)

        def parse() -> HarvestResult:
            return parse_source_bytes(
                result.content,
                fetched.source,
                config,
                now,
                result.content_type,
                session=session,
                pace=lambda page: paced_fetcher(
                    page, self.gate, host, settings.timeout, robots=read_robots, now=now
                ),
                folder=result.folder,
            )

        from aggregator.harvest.worker import ParseBudget, run_with_budget

        outcome = run_with_budget(parse, (), ParseBudget.of(settings), fetched.source.id)
        if isinstance(outcome, SourceError):
            raise outcome
        return outcome

    def _failed(
        self,
        job: _Job,
        exc: SourceError,
        now: datetime,
        started: float,
        schedule: SourceSchedule | None,
    ) -> SourceReport:
        source, settings = job.source, self.config.settings
        message = failure_message(exc, source)
        plan = plan_retry(source, schedule, exc, now, settings, message)
        if plan.host_hold:
            self.gate.hold(job.host, plan.host_hold)
        advice: list[Advice] = []
        if isinstance(exc, FetchError) and exc.kind is FetchFailure.TOO_BIG:
            advice = [oversize_advice(settings.max_bytes)]
        with self.db:
            self.store.record_harvest_failure(
                source.id,
                message,
                now,
                http_status=exc.status if isinstance(exc, FetchError) else None,
                duration_ms=elapsed_ms(started),
                retry_at=plan.retry_at,
                server_retry_at=plan.server_retry_at,
                retry_reason=plan.reason,
                pause_message=plan.pause_message,
                advice=[a.text for a in advice] if advice else None,
            )
        return SourceReport(
            source.id,
            Outcome.FAILED,
            message=message,
            duration_ms=elapsed_ms(started),
            retry_at=plan.retry_at,
            reason=plan.reason,
            paused=plan.pause_message is not None,
            advice=tuple(advice),
        )

    def _resume_if_paused(
        self, source: Source, schedule: SourceSchedule | None, now: datetime
    ) -> None:
        """A source paused for failing that was harvested (on the operator's request) and
        worked (a moderator's pause never gets here: ``_stopped``)."""
        if schedule is not None and schedule.paused and self.store.resume_source(source.id, now):
            log.warning("%s: harvested fine again; no longer paused", source.id)


def _stopped(store: Store, source_id: str) -> str | None:
    """Why a finished harvest must not be stored: the source was retired, or a moderator
    paused it, while it was being fetched (its events must stay out of the feeds)."""
    schedule = store.schedule_state(source_id)
    if schedule is None:
        return "inte längre konfigurerad"
    if schedule.paused_by_moderator:
        return "pausad av en moderator medan den hämtades"
    return None


def _sniffed_kind(result: fetch.FetchResult, source: Source) -> str | None:
    try:
        return detect_kind(
            result.content, result.content_type, source_id=source.id, url=source.url or ""
        )
    except ParseError:
        return None  # the parse reports it
