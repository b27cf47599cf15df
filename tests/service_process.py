"""`aggregator run` in its own process, started from a preloaded interpreter.

A service test needs the real thing: a separate process with its own signals, database
connections, threads and exit code. What it does not need is to pay for the imports again:
``python -m aggregator run`` spends ~0.6 s of CPU importing (FastAPI and pydantic are most
of it) before it does anything, and the service tests start ~30 services. So each pytest
worker keeps one multiprocessing *forkserver* (the standard library's, preloaded with the
service's modules), and a service is a fork of it that calls the same ``cli.entry`` as
``python -m aggregator`` does, with the environment, working folder and stderr of a child
process. Nothing of the test process is inherited: the forkserver is a fresh interpreter
(exec'd, not forked, from the pytest worker) with no threads, so a fork of it is safe.
Our own modules are not preloaded (see PRELOAD). Tests of start-up itself (what a command
imports, how it exits through a pipe) still exec ``python -m aggregator``: test_cli,
test_startup_imports.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

# The libraries `aggregator run` imports before serving, imported once in the forkserver.
# Only other people's packages: our own modules are imported afresh by every service, so
# a value one of them reads at import (AGGREGATOR_WAIT_SCALE, say) is the service's own,
# and the start-up of our code is still exercised each time.
PRELOAD = [
    "fastapi",
    "fastapi.openapi.models",
    "fastapi.responses",
    "fastapi.staticfiles",
    "starlette.middleware.base",
    "pydantic",
    "email_validator",
    "python_multipart",
    "jinja2",
    "segno",
    "uvicorn",
    "uvicorn.config",
    "uvicorn.server",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.websockets_sansio_impl",
    "uvicorn.lifespan.on",
    "uvloop",
    "watchfiles",
    "requests",
    "yaml",
    "sqlite_utils",
    "nh3",
    "protego",
    "icalendar",
    "recurring_ical_events",
]

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


def _run(argv: list[str], environment: dict[str, str], cwd: str, stderr_path: str) -> None:
    """In the forked service: become a child process started with ``environment``,
    ``cwd``, stdout on /dev/null and stderr in ``stderr_path``, then run the command."""
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(cwd)
    null = os.open(os.devnull, os.O_RDWR)
    log = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for fd, target in ((null, 0), (null, 1), (log, 2)):
        os.dup2(fd, target)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from aggregator.cli import entry

    sys.argv = ["aggregator", *argv]
    entry()  # flushes, runs atexit handlers and leaves with os._exit(code)


class ServiceProcess:
    """The part of ``subprocess.Popen`` the service tests use, over a forked process."""

    def __init__(self, argv: list[str], env: dict[str, str], stderr_path: Path) -> None:
        self._process = _context.Process(
            target=_run, args=(argv, env, os.getcwd(), str(stderr_path)), daemon=False
        )
        self._process.start()
        self.args = argv

    @property
    def pid(self) -> int:
        pid = self._process.pid
        assert pid is not None
        return pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode if not self._process.is_alive() else None

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return code

    def send_signal(self, signum: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
