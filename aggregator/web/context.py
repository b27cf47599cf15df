"""What every request handler needs: the configuration and a store for its thread.

SQLite connections are not shared between threads: FastAPI runs the (blocking)
handlers in a thread pool, so each worker thread opens its own read connection once
and keeps it. WAL mode lets them read while the scheduler writes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from aggregator.config import Config, ConfigHolder
from aggregator.normalize import slugify
from aggregator.store import Store
from aggregator.web.harvests import LocalHarvests, ServiceLink


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


class CountCache:
    """Upcoming-event counts per feed, kept for one data version and one minute.

    Counting 20k events of a municipality costs milliseconds each, on every page that
    shows counts; within a minute (the API's max-age) and with no new data, the same
    numbers come back. Bounded: an entry per feed, cleared when the key moves on.
    """

    def __init__(self) -> None:
        self._key: tuple[str, str] = ("", "")
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, feed: str, moment: str) -> int:
        key = (store.meta("data_version") or "0", moment[:16])  # to the minute
        with self._lock:
            if key != self._key:
                self._key, self._counts = key, {}
            cached = self._counts.get(feed)
        if cached is None:
            cached = store.upcoming_count(feed, moment)
            with self._lock:
                if key == self._key:
                    self._counts[feed] = cached
        return cached


class _SourceNames:
    """Source id → name of the current configuration, made once per configuration."""

    def __init__(self) -> None:
        self._for: Config | None = None
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    def of(self, config: Config) -> dict[str, str]:
        with self._lock:
            if self._for is not config:
                self._for, self._names = config, {s.id: s.name for s in config.sources}
            return self._names


@dataclass(frozen=True, slots=True)
class WebContext:
    """What every handler shares. ``config`` is read from ``holder`` on every use: under
    ``aggregator run`` the scheduler puts each reloaded configuration there."""

    holder: ConfigHolder
    stores: StoreProvider
    feeds_dir: Path
    service: ServiceLink  # the harvest side: the running scheduler, or LocalHarvests
    counts: CountCache = field(default_factory=CountCache)
    _names: _SourceNames = field(default_factory=_SourceNames)

    @property
    def config(self) -> Config:
        return self.holder.current

    @property
    def source_names(self) -> dict[str, str]:
        """Id → name of every source of the current configuration (do not modify)."""
        return self._names.of(self.holder.current)

    def upcoming(self, feed: str, moment: str) -> int:
        """Events of ``feed`` not yet over at ``moment`` (UTC ISO)."""
        return self.counts.get(self.stores.get(), feed, moment)

    def known_categories(self) -> frozenset[str]:
        """Slugs of every category an event was ever in, and of those the configured
        sources give their events (known before their first harvest)."""
        labels = self.stores.get().feed_labels_under("category/")
        known = {feed.split("/", 1)[1] for feed, _ in labels}
        known.update(slugify(c) for s in self.config.sources for c in s.categories)
        known.discard("")
        return frozenset(known)

    def category_counts(self, moment: str) -> list[tuple[str, str, int]]:
        """(feed, label, upcoming) of every category that has upcoming events."""
        labels = self.stores.get().feed_labels_under("category/")
        counted = [(feed, label, self.upcoming(feed, moment)) for feed, label in labels]
        return [entry for entry in counted if entry[2]]

    @classmethod
    def build(cls, config: Config | ConfigHolder, service: ServiceLink | None = None) -> WebContext:
        """``service`` is the running scheduler under ``aggregator run``; without one the
        app harvests and publishes itself (``LocalHarvests``)."""
        holder = config if isinstance(config, ConfigHolder) else ConfigHolder(config)
        first = holder.current
        database = first.resolve(first.settings.database)
        Store(database).close()  # migrate once, before any worker thread opens it
        return cls(
            holder=holder,
            stores=StoreProvider(database),
            feeds_dir=first.resolve(first.settings.feeds_dir),  # a restart setting
            service=service or LocalHarvests(holder),
        )
