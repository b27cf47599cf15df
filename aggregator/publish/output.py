"""Publishing: write every feed in every format, and ``index.json``, when something changed.

Publishers read the store but never fetch. Feeds are streamed to temp files and replace
the old ones only when their bytes differ, so unchanged feeds keep their ETags.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aggregator.config import Config
from aggregator.model import WINDOW_BACK, Settings
from aggregator.publish.event import render_key
from aggregator.publish.feeds import ALL, FOLDERS, INDEX, Feed, feed_catalog, feed_file, feed_url
from aggregator.publish.formats import FORMATS, PUBLISHERS, Publisher
from aggregator.publish.render import render_pending
from aggregator.publish.write import (
    CappedFeedWriter,
    FeedFrame,
    FeedHead,
    FeedWriter,
    Writer,
    Written,
    remove_stale_files,
    sweep_stale_temps,
    write_feed_if_changed,
    write_feeds,
)
from aggregator.store import Store, parse_iso

log = logging.getLogger("aggregator")


@dataclass(frozen=True, slots=True)
class PublishReport:
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    feeds: int = 0
    events: int = 0
    skipped: bool = False
    cut: tuple[str, ...] = ()  # feeds cut to their size limit (the farthest events left out)


def publish(store: Store, config: Config, now: datetime, *, force: bool = False) -> PublishReport:
    """Write every feed that changed; skip entirely when nothing changed since the last publish."""
    settings = config.settings
    feeds_dir = config.resolve(settings.feeds_dir)
    window_start = now - WINDOW_BACK
    state = json.dumps(
        [
            store.meta("data_version"),
            window_start.date().isoformat(),
            render_key(settings),
            [(s.id, s.name) for s in config.sources],
        ]
    )
    if not force and store.meta("published_state") == state and (feeds_dir / INDEX).exists():
        return PublishReport(skipped=True)
    render_pending(store, settings)
    swept = sweep_stale_temps([feeds_dir, *(feeds_dir / folder for folder in FOLDERS)])
    if swept:
        log.warning("removed %d temp files a stopped publish left in %s", swept, feeds_dir)
    written = unchanged = 0
    cut = []
    index = []
    total_events = 0
    catalog = feed_catalog(store, config)
    for feed in catalog:
        results = _write_feed(store, feed, feeds_dir, settings, now, window_start)
        horizon = None
        for extension, result in zip(FORMATS, results, strict=True):
            if result.horizon is not None:
                horizon = result.horizon
                cut.append(feed_file(feed.id, extension))
                log.info(
                    "feed %s cut to %.1f MB: events through %s",
                    feed_file(feed.id, extension),
                    result.size / 1e6,
                    result.horizon.isoformat(),
                )
            if result.changed:
                written += 1
            else:
                unchanged += 1
        count = results[-1].count  # the json feed holds every event of the window
        if feed.id == ALL:
            total_events = count
        index.append(
            {
                "id": feed.id,
                "title": feed.title,
                "events": count,
                **{extension: feed_file(feed.id, extension) for extension in FORMATS},
                # the last day a subscription (.ics) holds when it was cut to 1 MB
                "ics_horizon": horizon.isoformat() if horizon else None,
            }
        )
    index_data = (
        json.dumps(
            {"title": settings.calendar_name, "base_url": settings.base_url, "feeds": index},
            ensure_ascii=False,
            indent=1,
        )
        + "\n"
    )
    removed = _remove_stale_feeds(feeds_dir, catalog)
    if write_feed_if_changed(feeds_dir / INDEX, FeedFrame(index_data, "", ""), ()).changed:
        written += 1
    else:
        unchanged += 1
    store.set_meta("published_state", state)
    return PublishReport(
        written=written,
        unchanged=unchanged,
        removed=removed,
        feeds=len(catalog),
        events=total_events,
        cut=tuple(cut),
    )


def _write_feed(
    store: Store,
    feed: Feed,
    feeds_dir: Path,
    settings: Settings,
    now: datetime,
    window_start: datetime,
) -> list[Written]:
    """One feed in every format, streamed from the stored fragments in one pass."""
    writers = [
        _writer(PUBLISHERS[extension], feeds_dir, feed, settings, now) for extension in FORMATS
    ]
    rows = store.iter_feed_fragments(None if feed.id == ALL else feed.id, window_start)
    return write_feeds(writers, rows)


def _writer(
    publisher: Publisher, feeds_dir: Path, feed: Feed, settings: Settings, now: datetime
) -> Writer:
    path = feeds_dir / feed_file(feed.id, publisher.extension)
    url = feed_url(settings, feed.id, publisher.extension)
    if publisher.max_bytes is None:
        return FeedWriter(path, publisher.frame(FeedHead(feed.title, url, now), settings))

    def frame_for(horizon: date | None) -> FeedFrame:
        return publisher.frame(FeedHead(feed.title, url, now, horizon), settings)

    return CappedFeedWriter(path, frame_for, publisher.max_bytes, _local_day(settings.timezone))


@functools.lru_cache(maxsize=4)
def _local_day(tz_name: str) -> Callable[[str], date]:
    """start_utc → the local date; events start on a few thousand distinct minutes."""
    zone = ZoneInfo(tz_name)

    @functools.lru_cache(maxsize=1 << 16)
    def local_day(start_utc: str) -> date:
        return parse_iso(start_utc).astimezone(zone).date()

    return local_day


def _remove_stale_feeds(feeds_dir: Path, catalog: list[Feed]) -> int:
    """Delete feed files of feeds that no longer exist (only in the feed sub-folders)."""
    keep = {feed_file(feed.id, extension) for feed in catalog for extension in FORMATS}
    return sum(
        remove_stale_files(
            feeds_dir / folder,
            FORMATS,
            {name.removeprefix(f"{folder}/") for name in keep if name.startswith(f"{folder}/")},
        )
        for folder in FOLDERS
    )
