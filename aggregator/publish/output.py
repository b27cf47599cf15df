"""Publishing orchestration: render each event's fragments, write every feed that changed.

Publishers may read the store but never fetch. Feeds are streamed to temp files and
replace the old ones only when their bytes differ, so unchanged feeds keep their ETags.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from aggregator.config import Config
from aggregator.model import Settings
from aggregator.normalize import slugify
from aggregator.publish import (
    FORMATS,
    MAX_SUBSCRIPTION_BYTES,
    FeedFrame,
    PublishedEvent,
    feed_title,
    jsonfeed,
    published_event,
    published_from_event,
    render_key,
    rss,
)
from aggregator.publish import ical as ical_out
from aggregator.publish.sidecars import refresh_sidecars, remove_sidecars
from aggregator.store import MergedUpdate, Store

log = logging.getLogger("aggregator")

FEED_WINDOW_BACK = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class PublishReport:
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    feeds: int = 0
    events: int = 0
    skipped: bool = False
    oversized: tuple[str, ...] = ()


def render_update(update: MergedUpdate, settings: Settings, key: str) -> MergedUpdate:
    """Render an event's feed fragments once, when its published content changes."""
    if not update.changed or update.removed or update.event is None:
        return update
    event = published_from_event(
        update.id,
        update.event,
        update.sources,
        update.created_at,
        update.modified_at,
        update.sequence,
    )
    return replace(update, fragments=render_fragments(event, settings), render_key=key)


def render_fragments(event: PublishedEvent, settings: Settings) -> tuple[str, str, str]:
    return (
        ical_out.render_vevent(event, settings),
        rss.render_item(event, settings),
        jsonfeed.render_item(event, settings),
    )


def render_events(store: Store, config: Config) -> int:
    """Re-render events rendered under other settings (base_url, timezone …) than the current."""
    settings = config.settings
    key = render_key(settings)
    pending = store.events_needing_render(key)
    renders = []
    for row in pending:
        renders.append((row.id, *render_fragments(published_event(row), settings)))
        if len(renders) >= 5000:
            store.save_renders(renders, key)
            renders = []
    if renders:
        store.save_renders(renders, key)
    return len(pending)


def publish(store: Store, config: Config, now: datetime, *, force: bool = False) -> PublishReport:
    """Write every feed that changed; skip entirely when nothing changed since the last publish."""
    settings = config.settings
    feeds_dir = config.resolve(settings.feeds_dir)
    window_start = now - FEED_WINDOW_BACK
    state = json.dumps(
        [
            store.meta("data_version"),
            window_start.date().isoformat(),
            render_key(settings),
            [(s.id, s.name) for s in config.sources],
        ]
    )
    if not force and store.meta("published_state") == state and (feeds_dir / "index.json").exists():
        return PublishReport(skipped=True)
    render_events(store, config)
    written = unchanged = 0
    oversized = []
    index = []
    total_events = 0
    feeds = feed_catalog(store, config)
    for feed, title in feeds:
        frames = {  # in the order of FORMATS, the order iter_feed_fragments yields them
            "ics": ical_out.calendar_frame(title, settings, now.year),
            "rss": rss.rss_frame(title, _feed_url(settings.base_url, feed, "rss"), settings),
            "json": jsonfeed.json_frame(
                title, _feed_url(settings.base_url, feed, "json"), settings
            ),
        }
        targets = [(feeds_dir / f"{feed}.{extension}", frames[extension]) for extension in FORMATS]
        rows = store.iter_feed_fragments(None if feed == "all" else feed, window_start)
        results = write_feeds_if_changed(targets, rows)
        count = results[0][2]
        for extension, (changed, size, _) in zip(FORMATS, results, strict=True):
            if extension == "ics" and size > MAX_SUBSCRIPTION_BYTES:
                oversized.append(f"{feed}.ics")
                log.warning(
                    "feed %s.ics is %.1f MB, over Google Calendar's 1 MB subscription limit",
                    feed,
                    size / 1e6,
                )
            if changed:
                written += 1
            else:
                unchanged += 1
        if feed == "all":
            total_events = count
        index.append(
            {
                "id": feed,
                "title": title,
                "events": count,
                **{extension: f"{feed}.{extension}" for extension in FORMATS},
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
    removed = _remove_stale_feeds(
        feeds_dir, {f"{feed}.{ext}" for feed, _ in feeds for ext in FORMATS}
    )
    if write_feed_if_changed(feeds_dir / "index.json", FeedFrame(index_data, "", ""), ())[0]:
        written += 1
    else:
        unchanged += 1
    store.set_meta("published_state", state)
    return PublishReport(
        written=written,
        unchanged=unchanged,
        removed=removed,
        feeds=len(feeds),
        events=total_events,
        oversized=tuple(oversized),
    )


def feed_catalog(store: Store, config: Config) -> list[tuple[str, str]]:
    """(feed, title) of every feed to write: all, plus each municipality, category, organizer.

    Configured municipalities and organizers always get a feed (empty or not), so
    subscription URLs never break; categories exist while some event has them.
    """
    settings = config.settings
    labels = store.feed_labels()
    labels.update({f"municipality/{slugify(m)}": m for m in settings.municipalities})
    labels.update({f"organizer/{s.id}": s.name for s in config.sources})
    names = set(store.feed_names())
    names |= {f"organizer/{s.id}" for s in config.sources}
    names |= {f"municipality/{slugify(m)}" for m in settings.municipalities}
    return [("all", feed_title("all", "", settings))] + [
        (feed, feed_title(feed, labels.get(feed, feed), settings)) for feed in sorted(names)
    ]


def _feed_url(base_url: str, feed: str, extension: str) -> str:
    return f"{base_url}/feeds/{feed}.{extension}"


def write_feed_if_changed(
    path: Path, frame: FeedFrame, fragments: Iterable[str]
) -> tuple[bool, int, int]:
    """Stream one feed to disk; see ``write_feeds_if_changed``."""
    return write_feeds_if_changed([(path, frame)], ((f,) for f in fragments))[0]


def write_feeds_if_changed(
    targets: Sequence[tuple[Path, FeedFrame]], rows: Iterable[Sequence[str]]
) -> list[tuple[bool, int, int]]:
    """Stream feeds to temp files, row by row (one fragment per target in each row);
    replace a target only if its bytes differ. Returns (rewritten, bytes, fragments)
    per target. Memory stays small whatever the feeds' size: old files are compared by
    hash, read in chunks."""
    writers = [_FeedWriter(path, frame) for path, frame in targets]
    try:
        batch: list[Sequence[str]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == 2000:  # join in batches: one encode and write per batch
                for column, writer in enumerate(writers):
                    writer.add([r[column] for r in batch])
                batch = []
        for column, writer in enumerate(writers):
            writer.add([r[column] for r in batch])
        return [writer.finish() for writer in writers]
    except BaseException:
        for writer in writers:
            writer.abandon()
        raise


class _FeedWriter:
    def __init__(self, path: Path, frame: FeedFrame) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        self.path, self.frame, self.temp = path, frame, Path(temp)
        self.handle = os.fdopen(fd, "wb", buffering=1 << 20)
        self.digest = hashlib.sha256()
        self.size = self.count = 0
        self._put(frame.head)

    def _put(self, text: str) -> None:
        data = text.encode("utf-8")
        self.digest.update(data)
        self.handle.write(data)
        self.size += len(data)

    def add(self, fragments: list[str]) -> None:
        if fragments:
            lead = self.frame.separator if self.count else ""
            self._put(lead + self.frame.separator.join(fragments))
            self.count += len(fragments)

    def finish(self) -> tuple[bool, int, int]:
        self._put(self.frame.tail)
        self.handle.close()
        if _file_digest(self.path) == self.digest.digest():
            self.temp.unlink()
            refresh_sidecars(self.path, self.digest.hexdigest())
            return False, self.size, self.count
        os.chmod(self.temp, 0o644)
        os.replace(self.temp, self.path)
        refresh_sidecars(self.path, self.digest.hexdigest())
        return True, self.size, self.count

    def abandon(self) -> None:
        self.handle.close()
        self.temp.unlink(missing_ok=True)


def _file_digest(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()
    except FileNotFoundError:
        return None


def _remove_stale_feeds(feeds_dir: Path, keep: set[str]) -> int:
    """Delete feed files of feeds that no longer exist (only in the feed sub-folders)."""
    removed = 0
    for folder in ("municipality", "category", "organizer"):
        directory = feeds_dir / folder
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            relative = f"{folder}/{path.name}"
            if path.suffix.lstrip(".") in FORMATS and relative not in keep:
                path.unlink()
                remove_sidecars(path)
                removed += 1
    return removed
