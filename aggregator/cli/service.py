"""The web server ``aggregator run`` starts beside its scheduler, in the same process.

The one place ``run`` chooses it (``schedule`` may not import ``web``: they are
siblings): switch ``start_web`` to the ASGI app (uvicorn) when it lands.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from aggregator.config import Config
from aggregator.web import make_server

log = logging.getLogger(__name__)


def web_starter(config: Config, host: str, port: int) -> Callable[[], Callable[[], None]]:
    """A function that starts the web server in a thread and returns how to stop it."""

    def start_web() -> Callable[[], None]:
        server = make_server(config, host, port)  # binds now: a taken port fails at start-up
        thread = threading.Thread(target=server.serve_forever, name="web", daemon=True)
        thread.start()
        log.warning("feeds on http://%s:%d/feeds/", host, port)

        def stop() -> None:
            server.shutdown()
            server.server_close()

        return stop

    return start_web
