"""Orchestration of the stages: harvest → normalize → store → dedupe → publish.

The stages themselves are pure or own one kind of I/O (``fetch`` the network,
``store`` SQL); this module wires them so that ``cli`` and ``schedule`` share
one implementation. One broken source never stops the others: every source
error becomes a ``SourceReport``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests

from aggregator import dedupe, fetch, matching
from aggregator.config import Config
from aggregator.errors import SourceError
from aggregator.harvest import facebook, harvest_bytes
from aggregator.model import Event, HarvestResult, Settings, Source
from aggregator.normalize import normalize_event, slugify
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
from aggregator.store import EventRow, MatchMember, MergedUpdate, Store, iso

log = logging.getLogger("aggregator")

HARVEST_VERSION = "2"  # bump when harvesters change, so unchanged sources are re-parsed
FEED_WINDOW_BACK = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class SourceReport:
    source_id: str
    outcome: str  # ok | unchanged | failed | held
    events: int = 0
    new: int = 0
    changed: int = 0
    removed: int = 0
    warnings: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True, slots=True)
class PublishReport:
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    feeds: int = 0
    events: int = 0
    skipped: bool = False
    oversized: tuple[str, ...] = ()


@dataclass
class RunReport:
    sources: list[SourceReport] = field(default_factory=list)
    publish: PublishReport = field(default_factory=PublishReport)

    @property
    def failed(self) -> list[SourceReport]:
        return [s for s in self.sources if s.outcome == "failed"]


def fingerprint(content_hash: str | None, source: Source) -> str:
    """Content plus what shapes its parse: a config change forces a re-parse."""
    return f"{HARVEST_VERSION}:{content_hash}:{hash_source(source)}"


def hash_source(source: Source) -> str:
    return hashlib.blake2b(repr(source).encode(), digest_size=8).hexdigest()


def parse_source_bytes(
    content: bytes,
    source: Source,
    config: Config,
    now: datetime,
    content_type: str = "",
    *,
    session: requests.Session | None = None,
) -> HarvestResult:
    """Harvest + normalize: what a source's bytes contain, ready to store or preview."""
    own_session = session is None
    session = session or fetch.new_session(config.settings)
    try:
        result = harvest_bytes(
            content,
            source,
            config.settings,
            now=now,
            content_type=content_type,
            fetch_page=fetch.page_fetcher(config.settings, session, source),
        )
    finally:
        if own_session:
            session.close()
    events = tuple(normalize_event(e, source, config.settings) for e in result.events)
    return HarvestResult(events, result.warnings, result.kind)


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A source whose new bytes wait to be parsed."""

    source: Source
    result: fetch.FetchResult
    started: float


def harvest_source(
    store: Store,
    config: Config,
    source: Source,
    now: datetime,
    *,
    session: requests.Session | None = None,
    accept_shrink: bool = False,
) -> SourceReport:
    """Fetch, parse and store one source; a failure is recorded, never raised."""
    fetched = fetch_step(store, config, source, now, session=session, accept_shrink=accept_shrink)
    if isinstance(fetched, SourceReport):
        return fetched
    try:
        result = parse_source_bytes(
            fetched.result.content,
            source,
            config,
            now,
            fetched.result.content_type,
            session=session,
        )
    except SourceError as exc:
        return record_failure(store, source, exc, now, fetched.started)
    return store_step(store, fetched, result, now, accept_shrink=accept_shrink)


def fetch_step(
    store: Store,
    config: Config,
    source: Source,
    now: datetime,
    *,
    session: requests.Session | None,
    accept_shrink: bool,
) -> _Fetched | SourceReport:
    """Fetch a source; unchanged or failed sources are recorded and reported right away."""
    started = time.monotonic()
    state = store.fetch_state(source.id)
    try:
        fetched = fetch.fetch_source(
            source, state, config.settings, base_dir=config.path.parent, session=session
        )
    except SourceError as exc:
        return record_failure(store, source, exc, now, started)
    if fetched.not_modified or (
        fingerprint(fetched.content_hash, source) == state.content_hash and not accept_shrink
    ):
        store.record_unchanged(
            source.id,
            now,
            http_status=fetched.http_status,
            duration_ms=_since(started),
            etag=fetched.etag,
            last_modified=fetched.last_modified,
        )
        log.info("%s: unchanged (%s)", source.id, fetched.http_status or "same content")
        return SourceReport(source.id, "unchanged")
    return _Fetched(source, fetched, started)


def record_failure(
    store: Store, source: Source, exc: SourceError, now: datetime, started: float
) -> SourceReport:
    message = failure_message(exc, source)
    store.record_failure(source.id, message, now, duration_ms=_since(started))
    log.warning("%s: failed: %s", source.id, message)
    return SourceReport(source.id, "failed", message=message)


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def store_step(
    store: Store, fetched: _Fetched, result: HarvestResult, now: datetime, *, accept_shrink: bool
) -> SourceReport:
    source = fetched.source
    outcome = store.apply_harvest(
        source.id,
        result.events,
        result.warnings,
        now,
        etag=fetched.result.etag,
        last_modified=fetched.result.last_modified,
        fingerprint=fingerprint(fetched.result.content_hash, source),
        http_status=fetched.result.http_status,
        duration_ms=_since(fetched.started),
        accept_shrink=accept_shrink,
    )
    warnings = tuple(w.message for w in result.warnings)
    for warning in warnings[:10]:
        log.warning("%s: %s", source.id, warning)
    if outcome.held:
        log.warning("%s: held for review: %s", source.id, outcome.message)
    log.info(
        "%s: %d events (%d new, %d changed, %d removed) in %d ms",
        source.id,
        len(result.events),
        outcome.new,
        outcome.changed,
        outcome.removed,
        _since(fetched.started),
    )
    return SourceReport(
        source.id,
        "held" if outcome.held else "ok",
        events=len(result.events),
        new=outcome.new,
        changed=outcome.changed,
        removed=outcome.removed,
        warnings=warnings,
        message=outcome.message,
    )


def failure_message(exc: SourceError, source: Source) -> str:
    """The sentence an organizer sees; a Graph API error answer says what is wrong itself."""
    body = getattr(exc, "body", b"")
    if body and (source.kind == "facebook" or source.token_env):
        explained = facebook.describe_graph_error(body, source)
        if explained:
            return explained
    return exc.message


PARALLEL_PARSE_BYTES = 4_000_000  # below this a worker process costs more than it saves


def harvest_all(
    store: Store,
    config: Config,
    now: datetime,
    *,
    source_ids: Sequence[str] | None = None,
    accept_shrink: bool = False,
    progress: Callable[[SourceReport], None] | None = None,
    parallel_bytes: int = PARALLEL_PARSE_BYTES,
) -> list[SourceReport]:
    """Fetch every source, parse the changed ones (in worker processes when there is
    enough to parse and more than one core), store each in configuration order."""
    store.sync_sources(config.sources)
    sources = [s for s in config.sources if source_ids is None or s.id in source_ids]
    reports: dict[str, SourceReport] = {}
    pending: list[_Fetched] = []
    session = fetch.new_session(config.settings)
    try:
        for source in sources:
            fetched = fetch_step(
                store, config, source, now, session=session, accept_shrink=accept_shrink
            )
            if isinstance(fetched, SourceReport):
                reports[source.id] = fetched
                if progress:
                    progress(fetched)
            else:
                pending.append(fetched)
        workers = min(len(pending), os.cpu_count() or 1, 4)
        size = sum(len(f.result.content) for f in pending)
        if workers > 1 and size >= parallel_bytes:
            parsed = _parse_in_workers(pending, config, now, workers)
        else:
            parsed = (_parse_job(f, config, now, session) for f in pending)
        for fetched, outcome in zip(pending, parsed, strict=True):
            if isinstance(outcome, HarvestResult):
                report = store_step(store, fetched, outcome, now, accept_shrink=accept_shrink)
            else:
                report = record_failure(store, fetched.source, outcome, now, fetched.started)
            reports[fetched.source.id] = report
            if progress:
                progress(report)
    finally:
        session.close()
    return [reports[s.id] for s in sources]


def _parse_job(
    fetched: _Fetched, config: Config, now: datetime, session: requests.Session | None = None
) -> HarvestResult | SourceError:
    """Parse one fetched source; errors come back as values (they cross processes)."""
    try:
        return parse_source_bytes(
            fetched.result.content,
            fetched.source,
            config,
            now,
            fetched.result.content_type,
            session=session,
        )
    except SourceError as exc:
        return exc


def _parse_in_workers(
    pending: Sequence[_Fetched], config: Config, now: datetime, workers: int
) -> Iterator[HarvestResult | SourceError]:
    # spawn, not fork: the parent may run threads (scheduler, HTTP servers in tests)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_parse_job, fetched, config, now) for fetched in pending]
        for future in futures:
            yield future.result()


def update_events(store: Store, config: Config, now: datetime) -> int:
    """Identity for new members, fuzzy matching on the touched days, then re-merge (and
    re-render) every event whose members changed. Returns how many events changed."""
    assign_new_members(store, now)
    parsed = match_dirty_days(store, config, now)
    dirty = store.dirty_event_ids()
    changed = 0
    key = render_key(config.settings)
    for start in range(0, len(dirty), 5000):
        chunk = dirty[start : start + 5000]
        rows = store.event_rows(chunk)
        for event_id in chunk:
            if event_id not in rows:  # a new event: its row is written with its first merge
                rows[event_id] = EventRow(event_id, iso(now), iso(now), 0, "", False)
        members = store.members_of(chunk, parsed)
        updates = [
            render_update(dedupe.refresh_event(rows[i], members[i], now), config.settings, key)
            for i in chunk
        ]
        store.save_merged(updates, now)
        changed += sum(1 for u in updates if u.changed)
    return changed


REKEY_WINDOW = timedelta(days=1)  # how recently a re-keyed event's old self must have vanished


def assign_new_members(store: Store, now: datetime) -> None:
    """Exact stage: shared UID → that event; a re-keyed old self → its event; else a new one."""
    unassigned = store.unassigned_members()
    if not unassigned:
        return
    ids_by_uid = store.event_ids_by_uid(uid for _, _, uid in unassigned)
    without_uid_match = [(s, k) for s, k, uid in unassigned if not (uid and uid in ids_by_uid)]
    inherited: dict[tuple[str, str], str] = {}
    removed = store.recently_removed({s for s, _ in without_uid_match}, now - REKEY_WINDOW)
    if removed:
        rekeyable = {m.source_id for m in removed}
        refs = [(s, k) for s, k in without_uid_match if s in rekeyable]
        events = store.member_events(refs)
        new = [MatchMember(s, k, None, "", "", events[(s, k)]) for s, k in refs if (s, k) in events]
        inherited = dedupe.inherit_rekeyed(new, removed)
    assignments = dedupe.decide_identities(
        [(s, k, uid) for s, k, uid in unassigned if (s, k) not in inherited], ids_by_uid
    )
    assignments += [(s, k, event_id) for (s, k), event_id in sorted(inherited.items())]
    store.assign_members(assignments, now, moving=False)


def match_dirty_days(store: Store, config: Config, now: datetime) -> dict[tuple[str, str], Event]:
    """Fuzzy stage, incremental: re-match only the days harvests touched (± a day, so the
    venue's local date is covered whatever the UTC offset)."""
    days = store.dirty_days()
    if not days:
        return {}
    members = store.members_starting_between(day_ranges(days))
    index = {m.ref: i for i, m in enumerate(members)}
    must_link: list[tuple[int, int]] = []
    cannot_link: list[tuple[int, int]] = []
    for kind, a, b in store.overrides():
        if a in index and b in index:
            (must_link if kind == "merge" else cannot_link).append((index[a], index[b]))
    by_uid: dict[str, int] = {}
    for i, member in enumerate(members):
        uid = member.event.uid
        if uid:
            first = by_uid.setdefault(uid, i)
            if first != i and members[first].source_id != member.source_id:
                must_link.append((first, i))
    result = matching.match_events(
        [m.event for m in members],
        config.settings.timezone,
        must_link=must_link,
        cannot_link=cannot_link,
    )
    current = {m.event_id for m in members if m.event_id}
    assignments = dedupe.reconcile(
        members, result.clusters, lambda event_id: event_id in current or store.id_in_use(event_id)
    )

    if assignments:
        store.assign_members(assignments, now)
    pairs = [
        (members[i].ref, members[j].ref, decision, score.total, score.reason)
        for decision, found in (("merged", result.merged), ("review", result.review))
        for i, j, score in found
    ]
    store.save_match_pairs([m.ref for m in members], pairs, now)
    store.clear_dirty_days(days)
    if assignments:
        log.info("matching: %d members moved between events", len(assignments))
    return {m.ref: m.event for m in members}


def day_ranges(days: Sequence[str]) -> list[tuple[str, str]]:
    """[from, to) UTC ranges covering each day with a day on either side, merged."""
    ranges: list[tuple[str, str]] = []
    for day in sorted(days):
        start = date.fromisoformat(day) - timedelta(days=1)
        end = date.fromisoformat(day) + timedelta(days=2)
        low, high = f"{start.isoformat()}T00:00:00Z", f"{end.isoformat()}T00:00:00Z"
        if ranges and low <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], high))
        else:
            ranges.append((low, high))
    return ranges


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
    for event_id, data, created_at, modified_at, sequence in pending:
        event = published_event(event_id, data, created_at, modified_at, sequence)
        renders.append((event_id, *render_fragments(event, settings)))
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
            return False, self.size, self.count
        os.chmod(self.temp, 0o644)
        os.replace(self.temp, self.path)
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
                removed += 1
    return removed


def run_once(
    store: Store,
    config: Config,
    now: datetime | None = None,
    *,
    progress: Callable[[SourceReport], None] | None = None,
) -> RunReport:
    now = now or datetime.now(UTC)
    reports = harvest_all(store, config, now, progress=progress)
    update_events(store, config, now)
    return RunReport(sources=reports, publish=publish(store, config, now))
