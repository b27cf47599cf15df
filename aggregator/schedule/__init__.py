"""``aggregator run``: the service. Harvests on schedule (``scheduler``), serves the web,
re-reads sources.yaml on change or SIGHUP (``reload``) and the approved registrations
every few seconds, stops cleanly on SIGTERM/SIGINT.

The main thread only waits for signals and watches the configuration; the web server,
the dispatcher, the harvest threads and the publisher run in their own threads. A stop
takes no new harvests, gives running ones a grace period, lets a publish that has begun
finish (feeds are written whole or not at all), and exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from aggregator import clock
from aggregator.config import Config
from aggregator.schedule.reload import ConfigWatcher, reload_config
from aggregator.schedule.scheduler import SHUTDOWN_GRACE, Scheduler
from aggregator.store import Store

__all__ = ["Scheduler", "StartWeb", "run_forever"]

log = logging.getLogger(__name__)

WATCH_EVERY = clock.waits(1.0)  # seconds between looks at sources.yaml (a small file: cheap)
REGISTRATIONS_EVERY = clock.waits(5.0)  # seconds between looks at the approved registrations


# starts the web server (in a thread) for the scheduler that serves it, and returns the
# function that stops it: the web app reads the scheduler's configuration (``live``) and
# asks it for harvests and publishes
StartWeb = Callable[[Scheduler], Callable[[], None]]


class _Signals:
    """SIGTERM/SIGINT ask for a stop, SIGHUP for a reload; the main thread acts on them."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.wake = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)

    def _on_stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stop.set()
        self.wake.set()

    def _on_reload(self, _signum: int, _frame: FrameType | None) -> None:
        self.reload.set()
        self.wake.set()


def run_forever(store: Store, config: Config, *, start_web: StartWeb) -> int:
    """Run until SIGTERM/SIGINT; 0 then, 2 when the web app cannot start (a taken port)."""
    signals = _Signals()
    signals.install()
    file_config = reload_config(config) or config  # sources.yaml alone, without registrations
    scheduler = Scheduler(store, config, file_config=file_config)
    try:
        stop_web = start_web(scheduler)
    except OSError as exc:
        log.error("%s", exc)
        return 2
    scheduler.start()
    log.warning("harvesting %d sources", len(config.sources))
    watcher = ConfigWatcher(config.path)
    looked = time.monotonic()
    try:
        while not signals.stop.is_set():
            signals.wake.wait(timeout=WATCH_EVERY)
            signals.wake.clear()
            if signals.stop.is_set():
                break
            reload = signals.reload.is_set() or watcher.changed()
            if reload:
                signals.reload.clear()
                watcher.changed()  # a SIGHUP reload takes the file as it is now
                new = reload_config(scheduler.config)
                if new is not None:
                    log.warning("configuration reloaded from %s", config.path)
                    scheduler.set_file_config(new)
            if reload or time.monotonic() - looked >= REGISTRATIONS_EVERY:
                looked = time.monotonic()
                scheduler.refresh()  # approved, paused or withdrawn registrations
    finally:
        log.warning("stopping: finishing running harvests (at most %g s)", SHUTDOWN_GRACE)
        stop_web()
        clean = scheduler.stop()
        log.warning("stopped%s", "" if clean else " (some harvests abandoned)")
    return 0
