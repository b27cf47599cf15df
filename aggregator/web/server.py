"""Running the app: uvicorn with bounded connections and idle time.

The limits are why this exists: the old server died of 100 idle connections. Here
    limit_concurrency    past this many connections new requests get 503, not a crash
    timeout_keep_alive   an idle keep-alive connection is closed after this
    header timeout       a connection that opens and never sends a whole request
                         (or dribbles it, slowloris) is closed after this; uvicorn
                         alone waits for ever
    backlog              the listen queue for bursts of phones on the hour
    proxy headers        believed only from ``settings.trusted_proxies`` (none by default)
Slow readers are bounded in ``feeds.py`` (a send timeout per chunk).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from aggregator.config import Config, ConfigHolder
from aggregator.web.app import create_app
from aggregator.web.harvests import ServiceLink

log = logging.getLogger(__name__)

LIMIT_CONCURRENCY = 4096
TIMEOUT_KEEP_ALIVE = 15  # seconds; phones poll hourly, a website's fetches come in bursts
HEADER_TIMEOUT = 20.0  # seconds to send a complete request head
BACKLOG = 2048


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus a deadline for each request head."""

    header_timeout = HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        self._cancel_head_deadline()
        self._head_deadline = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_deadline(self) -> None:
        deadline = getattr(self, "_head_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._cancel_head_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)


def server_config(
    config: Config | ConfigHolder,
    host: str,
    port: int,
    *,
    header_timeout: float = HEADER_TIMEOUT,
    service: ServiceLink | None = None,
    **overrides: Any,
) -> uvicorn.Config:
    protocol: type[BoundedHttpProtocol] = BoundedHttpProtocol
    if header_timeout != HEADER_TIMEOUT:

        class Protocol(BoundedHttpProtocol):
            pass

        Protocol.header_timeout = header_timeout
        protocol = Protocol
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "http": protocol,
        "loop": "auto",
        "lifespan": "on",
        "limit_concurrency": LIMIT_CONCURRENCY,
        "timeout_keep_alive": TIMEOUT_KEEP_ALIVE,
        "backlog": BACKLOG,
        "access_log": False,
        "log_config": None,  # our logging setup, not uvicorn's
        "server_header": False,
        **proxy_options(config.current if isinstance(config, ConfigHolder) else config),
    }
    options.update(overrides)
    return uvicorn.Config(create_app(config, service), **options)


def proxy_options(config: Config) -> dict[str, Any]:
    """uvicorn's proxy-header handling, from ``settings.trusted_proxies``.

    Behind a TLS proxy (nginx, a load balancer) every connection comes from the proxy:
    the client's address is in X-Forwarded-For and the scheme in X-Forwarded-Proto.
    uvicorn believes them only from the listed addresses, so rate limits count the
    real visitor and the moderators' cookies get ``Secure`` (``request.url.scheme`` is
    https); from anyone else the headers are ignored (a visitor could write any
    address there). With no proxies listed, nobody's headers are believed."""
    proxies = list(config.settings.trusted_proxies)
    if not proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": proxies}


def build_server(
    config: Config | ConfigHolder,
    host: str,
    port: int,
    *,
    service: ServiceLink | None = None,
    **overrides: Any,
) -> uvicorn.Server:
    """A uvicorn Server for ``config``: ``.run()`` it in a thread or the main thread;
    set ``.should_exit = True`` to stop it."""
    return uvicorn.Server(server_config(config, host, port, service=service, **overrides))


def serve(
    config: Config | ConfigHolder,
    host: str,
    port: int,
    stop_event: threading.Event | None = None,
) -> None:
    """Serve until interrupted (or until ``stop_event`` is set, from another thread)."""
    server = build_server(config, host, port)
    if stop_event is not None:

        def watch() -> None:
            stop_event.wait()
            server.should_exit = True

        threading.Thread(target=watch, name="web-stop", daemon=True).start()
    log.warning("serving on http://%s:%d/ (feeds under /feeds/, API under /api/)", host, port)
    run_until_stopped(server)


def run_until_stopped(server: uvicorn.Server) -> None:
    """Run in this thread; Ctrl-C or SIGTERM stop it cleanly (uvicorn re-raises the
    signal it caught once it has shut down: that is the normal end here)."""
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
