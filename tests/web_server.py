"""A real uvicorn serving the real app on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from aggregator.config import Config, load_config
from aggregator.web import build_server

STOP_POLL = 0.005  # seconds between two looks at the connections a stopping server still has


class _QuickStop(uvicorn.Server):
    """The app's own server (its config, protocol, limits and lifespan), stopped the moment
    a test is done with it. uvicorn looks at ``should_exit`` every 0.1 s and, stopping,
    gives its connections a fixed 0.1 s before it waits for them: together ~0.15 s per
    server, and a run starts over a hundred of them."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0
        while not await self.on_tick(counter):  # uvicorn's tick: its Date header, its limits
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    def stop(self) -> None:
        """Ask the server to stop (from any thread), now rather than at its next tick."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # its loop already ended
                loop.call_soon_threadsafe(wake.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown (stop listening, ask each connection to close, let them
        finish, then the app's lifespan end), waiting for the connections as long as
        they take instead of a fixed 0.1 s first."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 30.0)
        while self.server_state.connections or self.server_state.tasks:
            if time.monotonic() > deadline:
                for task in self.server_state.tasks:
                    task.cancel()
                break
            await asyncio.sleep(STOP_POLL)
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


@contextmanager
def running(config: Config | Path, **overrides: Any) -> Iterator[str]:
    """Yields the base URL of ``config`` (or of the sources.yaml at that path) served;
    the socket is bound before the thread starts (no port race)."""
    if isinstance(config, Path):
        config = load_config(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _QuickStop(build_server(config, "127.0.0.1", port, **overrides).config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server died while starting"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        thread.join(timeout=30)
        sock.close()
