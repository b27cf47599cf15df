"""Parsing one source within its budget of time and memory; worker processes for big ones.

A source's parse may take ``settings.parse_timeout`` seconds and, in a worker
process, ``settings.parse_memory`` MB more than the worker already uses. Over
budget the source fails with a sentence and nothing stored changes; the other
sources go on.

* In this process (small sources) the time budget is a watchdog thread that
  raises ``ParseTimeout`` in the parsing thread when the time is up: the parsers
  and rule expanders are pure Python, so it lands within a bytecode or two.
* In a worker process (big sources) the same watchdog runs, the memory budget
  is ``RLIMIT_AS``, and the parent kills a worker that does not answer within
  the budget and a grace period. Workers die with their parent, even after
  ``kill -9``: ``PR_SET_PDEATHSIG`` on Linux, a parent-pid watchdog elsewhere, and
  the job pipe (a worker waiting for work exits when the parent's end closes).

The functions run here are handed in by the caller (the pipeline's parse job):
this module knows budgets and processes, not what a parse is.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from aggregator.errors import ParseError, SourceError
from aggregator.harvest import unexpected_error
from aggregator.model import Settings
from aggregator.normalize.text import human_seconds

log = logging.getLogger(__name__)

GRACE = 10.0  # seconds, at most, a worker gets past its budget before it is killed
RECHECK = 1.0  # seconds between repeated interrupts of a parse that swallowed one
STARTUP = 120.0  # seconds a new worker may take to start (import) before it counts as hung
_STARTED = "started"  # what a worker says when it has unpacked a job and begins it
_PR_SET_PDEATHSIG = 1


class ParseTimeout(BaseException):
    """Raised in a parsing thread when its time is up (a BaseException, so that no
    ``except Exception`` in a parser swallows it)."""


@dataclass(frozen=True, slots=True)
class ParseBudget:
    seconds: float
    memory_mb: int

    @classmethod
    def of(cls, settings: Settings) -> ParseBudget:
        return cls(settings.parse_timeout, settings.parse_memory)


def too_slow(budget: ParseBudget) -> str:
    return (
        f"Att läsa källan tog längre tid än {human_seconds(budget.seconds)}, mer än en källa får ta; "
        "inget ändrades. Dela upp kalendern i mindre delar eller registrera ett flöde med "
        "bara kommande evenemang."
    )


def too_big(budget: ParseBudget) -> str:
    return (
        f"Att läsa källan krävde mer än {budget.memory_mb} MB minne, mer än en källa får "
        "använda; inget ändrades. Dela upp kalendern i mindre delar eller registrera ett "
        "flöde med bara kommande evenemang."
    )


# --- in this process -------------------------------------------------------------------


def run_with_budget(
    function: Callable[..., Any], args: Sequence[Any], budget: ParseBudget, source_id: str
) -> Any:
    """``function(*args)``; a ParseError value (not raised) when it runs out of time or
    memory or raises something unexpected. SourceErrors it returns or raises come back
    as values, so the caller handles one kind of outcome."""
    try:
        with _deadline(budget.seconds):
            return function(*args)
    except SourceError as exc:
        return exc
    except ParseTimeout:
        log.warning("%s: parse stopped after %g s", source_id, budget.seconds)
        return ParseError(too_slow(budget), source_id=source_id)
    except MemoryError:
        return ParseError(too_big(budget), source_id=source_id)
    except Exception as exc:
        log.exception("%s: unexpected %s while parsing", source_id, type(exc).__name__)
        return ParseError(unexpected_error(exc), source_id=source_id)


class _Watch:
    """Interrupts one thread when its time is up, and again while it keeps running."""

    def __init__(self, thread_id: int, seconds: float) -> None:
        self._thread_id = thread_id
        self._lock = threading.Lock()
        self._done = False
        self._fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._fired = True
            _raise_in(self._thread_id, ParseTimeout)
            self._timer = threading.Timer(RECHECK, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def stop(self) -> None:
        with self._lock:
            self._done = True
            self._timer.cancel()
            if self._fired:
                _raise_in(self._thread_id, None)  # withdraw an interrupt not yet delivered


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    watch = _Watch(threading.get_ident(), seconds)
    try:
        yield
    finally:
        # An interrupt the watch sent just as the parse ended can arrive here, before
        # (or inside) stop(): stop again until it has run whole, so no interrupt is left
        # armed to hit this thread later, in whatever it does next (a harvest thread
        # killed that way left its pool waiting for ever). The one that arrived is the
        # caller's to see only when the parse itself ran over, which it did not.
        while True:
            try:
                watch.stop()
                break
            except ParseTimeout:
                continue


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """CPython's PyThreadState_SetAsyncExc: ``exc`` raised in that thread (None withdraws)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


# --- in worker processes ---------------------------------------------------------------


class KeptWorker:
    """One worker process kept between jobs, for a caller that parses one source at a
    time on each of several threads (the harvest pool). Starting a worker imports the
    parsers, about half a second of CPU, which a season of big sources paid once per
    source. A worker that died or was killed is replaced at the next job; ``close``
    stops it (an idle worker still holds the memory of its last parse)."""

    def __init__(self, budget: ParseBudget) -> None:
        self.budget = budget
        self._pool = _Pool(1, budget)

    def run(self, function: Callable[..., Any], source_id: str, args: Sequence[Any]) -> Any:
        """``function(*args)`` in the worker: a value or a SourceError value."""
        return next(iter(self._pool.map(function, [(source_id, args)])))

    def close(self) -> None:
        self._pool.close()


class _Worker:
    def __init__(self, budget: ParseBudget) -> None:
        context = multiprocessing.get_context("spawn")  # the parent may run threads
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, os.getpid(), budget), daemon=True
        )
        self.process.start()
        child.close()
        self.job: int | None = None
        self.deadline = 0.0

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class _Pool:
    def __init__(self, size: int, budget: ParseBudget) -> None:
        self._budget = budget
        self._size = size
        self._workers: list[_Worker] = []

    def map(
        self, function: Callable[..., Any], jobs: Sequence[tuple[str, Sequence[Any]]]
    ) -> Iterator[Any]:
        results: dict[int, Any] = {}
        queue = list(range(len(jobs)))
        queue.reverse()
        next_out = 0
        while next_out < len(jobs):
            self._dispatch(function, jobs, queue)
            self._collect(jobs, results)
            while next_out in results:
                yield results.pop(next_out)
                next_out += 1

    def _dispatch(
        self,
        function: Callable[..., Any],
        jobs: Sequence[tuple[str, Sequence[Any]]],
        queue: list[int],
    ) -> None:
        while queue and (len(self._workers) < self._size or self._idle()):
            worker = self._idle() or self._spawn()
            index = queue.pop()
            worker.job = index
            # until the worker says it started (a new one imports first), a longer wait
            worker.deadline = _monotonic() + STARTUP + self._budget.seconds
            worker.conn.send((function, tuple(jobs[index][1]), jobs[index][0]))

    def _collect(self, jobs: Sequence[tuple[str, Sequence[Any]]], results: dict[int, Any]) -> None:
        busy = [w for w in self._workers if w.job is not None]
        if not busy:
            return
        timeout = max(0.0, min(w.deadline for w in busy) - _monotonic())
        ready = wait([w.conn for w in busy], timeout=timeout)
        for worker in busy:
            index = worker.job
            assert index is not None
            source_id = jobs[index][0]
            if worker.conn in ready:
                try:
                    message = worker.conn.recv()
                    if message == _STARTED:  # the job is unpacked: its budget starts now
                        worker.deadline = _monotonic() + self._budget.seconds + self._grace()
                        continue
                    results[index] = message
                    worker.job = None
                    continue
                except (EOFError, OSError):
                    # the worker died: out of memory (the kernel's or RLIMIT_AS) or a crash
                    log.warning("%s: parse worker died", source_id)
                    results[index] = ParseError(too_big(self._budget), source_id=source_id)
            elif _monotonic() >= worker.deadline:
                log.warning("%s: parse worker killed after %g s", source_id, self._budget.seconds)
                results[index] = ParseError(too_slow(self._budget), source_id=source_id)
            else:
                continue
            worker.kill()
            self._workers.remove(worker)

    def _grace(self) -> float:
        return min(GRACE, max(1.0, self._budget.seconds / 10))

    def _idle(self) -> _Worker | None:
        return next((w for w in self._workers if w.job is None), None)

    def _spawn(self) -> _Worker:
        worker = _Worker(self._budget)
        log.debug("parse worker %s started", worker.process.pid)
        self._workers.append(worker)
        return worker

    def close(self) -> None:
        for worker in self._workers:
            if worker.job is None:
                with contextlib.suppress(OSError, ValueError):
                    worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(5 if worker.job is None else 0)
            if worker.process.is_alive():
                worker.kill()
            else:
                worker.conn.close()
        self._workers = []


def _worker_main(conn: Connection, parent_pid: int, budget: ParseBudget) -> None:
    """A worker: parse what the parent sends until it sends None or goes away."""
    _die_with_parent(parent_pid)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        function, args, source_id = job
        conn.send(_STARTED)
        with _memory_limit(budget.memory_mb):
            result = run_with_budget(function, args, budget, source_id)
        try:
            conn.send(result)
        except (OSError, ValueError):
            return
        except Exception as exc:  # a result that cannot be pickled
            conn.send(ParseError(unexpected_error(exc), source_id=source_id))


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        libc_name = ctypes.util.find_library("c")
        if libc_name:
            with contextlib.suppress(OSError, AttributeError):
                ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            threading.Event().wait(RECHECK)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@contextlib.contextmanager
def _memory_limit(megabytes: int) -> Iterator[None]:
    """RLIMIT_AS at what the worker uses now plus the budget, for one job."""
    try:
        import resource
    except ImportError:  # not on this platform
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space() -> int:
    """Bytes of address space this process maps now (VmSize)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _monotonic() -> float:
    return time.monotonic()
