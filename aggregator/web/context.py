"""What every request handler needs: the configuration and a store for its thread.

SQLite connections are not shared between threads: FastAPI runs the (blocking)
handlers in a thread pool, so each worker thread opens its own read connection once
and keeps it. WAL mode lets them read while the scheduler writes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from aggregator.config import Config
from aggregator.store import Store


class StoreProvider:
    """One ``Store`` per thread, opened on first use, closed together at shutdown."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[Store] = []

    def get(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store(self.path)
            self._local.store = store
            with self._lock:
                self._open.append(store)
        return store

    def close_all(self) -> None:
        with self._lock:
            stores, self._open = self._open, []
        for store in stores:
            store.close()


@dataclass(frozen=True, slots=True)
class WebContext:
    config: Config
    stores: StoreProvider
    feeds_dir: Path
    source_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, config: Config) -> WebContext:
        database = config.resolve(config.settings.database)
        Store(database).close()  # migrate once, before any worker thread opens it
        return cls(
            config=config,
            stores=StoreProvider(database),
            feeds_dir=config.resolve(config.settings.feeds_dir),
            source_names={source.id: source.name for source in config.sources},
        )
