"""The web app ``aggregator run`` serves beside its scheduler, in the same process.

The one place ``run`` starts it (``schedule`` may not import ``web``: they are siblings
in the layers): uvicorn in a thread of its own, so the main thread keeps the signals and
the scheduler's threads never share the event loop that answers requests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from aggregator.schedule import Scheduler
from aggregator.web import build_server

log = logging.getLogger(__name__)

STARTUP_WAIT = 30.0  # seconds for uvicorn to listen (it binds in its own thread)


def web_starter(host: str, port: int) -> Callable[[Scheduler], Callable[[], None]]:
    """A function that starts the web app for a scheduler and returns how to stop it; it
    raises OSError when the app cannot listen (the port is taken), so ``run`` fails at
    start-up. The app reads the scheduler's configuration holder on every request (a
    reload shows at once) and sends every harvest and publish it needs to the scheduler."""

    def start_web(scheduler: Scheduler) -> Callable[[], None]:
        server = build_server(scheduler.live, host, port, service=scheduler)
        # off the main thread uvicorn installs no signal handlers: SIGTERM stays ours
        thread = threading.Thread(target=server.run, name="web", daemon=True)
        thread.start()
        deadline = time.monotonic() + STARTUP_WAIT
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not server.started:
            server.should_exit = True
            raise OSError(f"cannot serve on http://{host}:{port}/ (is the port taken?)")
        log.warning("serving on http://%s:%d/ (feeds under /feeds/, API under /api/)", host, port)

        def stop() -> None:
            server.should_exit = True
            thread.join(timeout=10)

        return stop

    return start_web
