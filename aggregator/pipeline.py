"""Orchestration of the stages: harvest → normalize → store → dedupe → publish.

The stages themselves are pure or own one kind of I/O (``fetch`` the network,
``store`` SQL); this module wires them so that ``cli`` and ``schedule`` share
one implementation. One broken source never stops the others: every source
error becomes a ``SourceReport``.

Harvests run in a ``HarvestPool``: ``settings.workers`` threads, at most one harvest
per host at a time with a pause between requests to a host (``fetch.polite``), database
work serialised by one lock, and each source's bytes and events dropped as soon as they
are stored, so memory grows with the largest source, not with the whole calendar.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from aggregator import fetch
from aggregator.config import Config
from aggregator.dedupe import update as dedupe
from aggregator.errors import FetchError, ParseError, SourceError, StoreError
from aggregator.fetch.limits import is_size_refusal
from aggregator.fetch.polite import (
    COOL_DOWN,
    SLOW_DOWN_STATUSES,
    HostGate,
    RobotsCache,
    backoff_delay,
    host_of,
    paced_fetcher,
    parse_retry_after,
    robots_before_harvest,
    source_host,
)
from aggregator.fetch.robots import fetch_robots
from aggregator.harvest import harvest_bytes
from aggregator.harvest.detect import detect_kind
from aggregator.harvest.lint import (
    Advice,
    changing_uids_advice,
    collapsed_advice,
    lint_harvest,
    oversize_advice,
)
from aggregator.model import (
    ExportFolder,
    FetchState,
    HarvestResult,
    Outcome,
    PageFetcher,
    RobotsFile,
    Settings,
    Source,
)
from aggregator.normalize import normalize_event
from aggregator.publish.output import PublishReport, publish
from aggregator.publish.render import render_changes
from aggregator.store import Store
from aggregator.store.codec import event_span, iso
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
class _Fetched:
    """A source whose new bytes wait to be parsed."""

    source: Source
    result: fetch.FetchResult
    started: float


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
    when = _local(retry_at, settings)
    if server_at is not None:
        reason = f"servern bad oss vänta till {_local(server_at, settings)} (Retry-After); nytt försök {when}"
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
            f"Källan är pausad: den har inte gått att hämta sedan {_local(since, settings)[:10]} "
            f"({days} {'dag' if days == 1 else 'dagar'}). Senaste felet: {message}. Den hämtas "
            "igen när den återupptas "
            f"(aggregator sources resume {source.id})."
        )
        reason = "pausad efter upprepade fel"
    return RetryPlan(retry_at, server_at, reason, host_hold, pause_message)


def _local(value: datetime, settings: Settings) -> str:
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
        return (
            f"servern bad oss vänta till {_local(schedule.server_retry_at, settings)} (Retry-After)"
        )
    return None


# -- the harvest pool --------------------------------------------------------------------

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
    service down. Workers die with their parent."""

    def __init__(self, processes: int) -> None:
        self.processes = processes

    def parse(self, fetched: _Fetched, config: Config, now: datetime) -> HarvestResult:
        # the worker module (multiprocessing, ctypes) only when something is parsed: a run
        # whose sources are all unchanged never imports it
        from aggregator.harvest.worker import ParseBudget, run_in_workers

        budget = ParseBudget.of(config.settings)
        jobs = [(fetched.source.id, (fetched, config, now))]
        outcome = next(iter(run_in_workers(_parse_job, jobs, budget, 1)))
        if isinstance(outcome, SourceError):
            raise outcome
        return outcome

    def close(self) -> None:
        """Nothing to stop: each parse's worker ends with it."""


def _parse_job(fetched: _Fetched, config: Config, now: datetime) -> HarvestResult | SourceError:
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
        cores = os.cpu_count() or 1
        processes = min(cores, 4, self.workers)
        self._parser = _ParsePool(processes) if parse_processes and processes > 1 else None
        self._pending: list[_Job] = []
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
            if any(job.source.id == source.id for job in self._pending):
                return False
            self._pending.append(_Job(source, source_host(source), accept_shrink))
            self._start_threads()
            self.cond.notify_all()
            return True

    def busy(self) -> set[str]:
        """Ids of sources waiting or being harvested."""
        with self.cond:
            return {job.source.id for job in self._pending} | set(self._running)

    def withdraw(self, source_id: str) -> None:
        """Forget a waiting harvest (its source left the configuration)."""
        with self.cond:
            self._pending = [job for job in self._pending if job.source.id != source_id]

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
        if self._parser is not None and finished:
            self._parser.close()
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
                    for index, job in enumerate(self._pending):
                        if self.one_pass and self.gate.held_for(job.host) > 0:
                            del self._pending[index]
                            self._running[job.source.id] = replace(job, skip=True)
                            return self._running[job.source.id]
                        if self.gate.try_take(job.host):
                            del self._pending[index]
                            self._running[job.source.id] = job
                            return job
                        soonest = min(soonest, self.gate.ready_at(job.host))
                    if soonest != math.inf:
                        wait = min(wait, max(0.005, soonest - now))
                self.cond.wait(timeout=wait)

    def _work(self) -> None:
        session = fetch.new_session(self.config.settings)
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
        finally:
            session.close()

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
            reason = f"servern bad oss vänta till {_local(until, settings)} (Retry-After)"
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
                    duration_ms=_since(started),
                    etag=result.etag,
                    last_modified=result.last_modified,
                )
            detail = str(result.http_status or "same content")
            return SourceReport(
                source.id,
                Outcome.UNCHANGED,
                message=detail,
                duration_ms=_since(started),
                bytes=size,
            )
        fetched = _Fetched(source, result, started)
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
        return replace(report, duration_ms=_since(started), bytes=size, advice=tuple(advice))

    def _parse_here(
        self,
        fetched: _Fetched,
        config: Config,
        now: datetime,
        session: requests.Session,
        host: str,
    ) -> HarvestResult:
        """Parse in this thread, within the parse time budget; pages it fetches are paced."""
        settings = config.settings
        result = fetched.result

        def read_robots(url: str) -> RobotsFile:
            return fetch_robots(
                url, host_of(url), settings, now, session=session, source_id=fetched.source.id
            )

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
        if isinstance(exc, FetchError) and is_size_refusal(exc, settings.max_bytes):
            advice = [oversize_advice(settings.max_bytes)]
        with self.db:
            self.store.record_harvest_failure(
                source.id,
                message,
                now,
                http_status=exc.status if isinstance(exc, FetchError) else None,
                duration_ms=_since(started),
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
            duration_ms=_since(started),
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


def conditional_state(state: FetchState, source: Source) -> FetchState:
    """Ask "changed since?" only when the stored parse was made with this source's current
    settings and harvesters: after an edit of sources.yaml a 304 would keep the old parse."""
    stored = state.content_hash
    if stored is None or (
        stored.startswith(f"{HARVEST_VERSION}:") and stored.endswith(":" + hash_source(source))
    ):
        return state
    return FetchState(content_hash=stored)


def _sniffed_kind(result: fetch.FetchResult, source: Source) -> str | None:
    try:
        return detect_kind(
            result.content, result.content_type, source_id=source.id, url=source.url or ""
        )
    except ParseError:
        return None  # the parse reports it


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
