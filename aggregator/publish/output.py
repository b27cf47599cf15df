"""Publishing: write every feed in every format, and ``index.json``, when something changed.

Publishers read the store but never fetch. Feeds are streamed to temp files and replace
the old ones only when their bytes differ, so unchanged feeds keep their ETags.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aggregator.config import Config
from aggregator.model import WINDOW_BACK, Settings
from aggregator.publish.event import render_key
from aggregator.publish.feeds import ALL, FOLDERS, INDEX, Feed, feed_catalog, feed_file, feed_url
from aggregator.publish.formats import FORMATS, PUBLISHERS
from aggregator.publish.render import render_pending
from aggregator.publish.write import (
    FeedFrame,
    Written,
    remove_stale_files,
    sweep_stale_temps,
    write_feed_if_changed,
    write_feeds_if_changed,
)
from aggregator.store import Store

log = logging.getLogger("aggregator")

MAX_SUBSCRIPTION_BYTES = 1_000_000  # Google Calendar stops reading subscriptions larger than this


@dataclass(frozen=True, slots=True)
class PublishReport:
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    feeds: int = 0
    events: int = 0
    skipped: bool = False
    oversized: tuple[str, ...] = ()


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
    oversized = []
    index = []
    total_events = 0
    catalog = feed_catalog(store, config)
    for feed in catalog:
        results = _write_feed(store, feed, feeds_dir, settings, now, window_start)
        count = results[0].count
        for extension, result in zip(FORMATS, results, strict=True):
            if extension == "ics" and result.size > MAX_SUBSCRIPTION_BYTES:
                oversized.append(feed_file(feed.id, "ics"))
                log.warning(
                    "feed %s is %.1f MB, over Google Calendar's 1 MB subscription limit",
                    feed_file(feed.id, "ics"),
                    result.size / 1e6,
                )
            if result.changed:
                written += 1
            else:
                unchanged += 1
        if feed.id == ALL:
            total_events = count
        index.append(
            {
                "id": feed.id,
                "title": feed.title,
                "events": count,
                **{extension: feed_file(feed.id, extension) for extension in FORMATS},
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
        oversized=tuple(oversized),
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
    targets = [
        (
            feeds_dir / feed_file(feed.id, extension),
            PUBLISHERS[extension].frame(
                feed.title, feed_url(settings, feed.id, extension), settings, now
            ),
        )
        for extension in FORMATS
    ]
    rows = store.iter_feed_fragments(None if feed.id == ALL else feed.id, window_start)
    return write_feeds_if_changed(targets, rows)


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
