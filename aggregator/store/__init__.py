"""SQLite store: the only package that writes SQL. ``Store`` is the facade.

    base.py        the connection: pragmas, migration, transactions, counters
    schema.py      numbered migrations (sqlite-utils, loaded only to apply one)
    codec.py       how events and instants are written as text
    rows.py        the typed rows every query hands back
    decide.py      the shrink guard, a pure decision that ``apply_harvest`` obeys
    sources.py     sources, fetch state, health, storing a harvest
    events.py      published (merged) events, the render queue, feeds, listings
    matching.py    the dedupe stage's queries (identity, matching, overrides)
                   (its merged events are saved by ``events.save_merged``)
    moderation.py  an event's sources and scores, the review queue
    search.py      full-text search (FTS5) over published events
    schedule_queries.py  the scheduler's state: backoff, pauses, the feed linter's advice
    robots_queries.py    each host's robots.txt as last read
    backup.py      a consistent copy while the service runs (SQLite's backup API)
    wrap.py        sqlite3 errors → ``StoreError`` with a sentence

Tables
    sources        one row per configured source: fetch state (ETag, Last-Modified,
                   content fingerprint) and health (status, message, counts)
    fetch_log      one row per harvest attempt, 90 days of each source (m081)
    source_events  harvested events keyed by (source_id, key); vanished ones get
                   ``removed_at`` (tombstones), never deleted
    events         merged events: stable id, SEQUENCE, content hash and the
                   pre-rendered feed fragments (ics, rss, json)
    pending_events event ids members were given that have no events row yet (kept by
                   triggers; their first merge writes the row)
    event_search   full-text index (FTS5) of published events; ``search_docs`` their
                   docids there (in start order), ``search_pending`` those to index at commit
    match_pairs    why two source events were merged or not; ``overrides`` a
                   moderator's rulings; ``dirty_days`` the days to match again
    event_feeds    which feeds (``municipality/eksjo``, ``category/teater`` …) an event is in
    meta           counters (data version, last publish)
    robots_files   each host's robots.txt as last read (a day's worth of politeness)

A harvest is one transaction: a failure changes nothing stored.
"""

from __future__ import annotations

from aggregator.store.backup import BackupQueries
from aggregator.store.codec import (
    content_digest,
    event_from_dict,
    event_from_json,
    event_span,
    event_to_dict,
    event_to_json,
    iso,
    merged_from_json,
    merged_to_dict,
    merged_to_json,
    parse_iso,
)
from aggregator.store.decide import Decision, IncomingVersion, StoredVersion, decide_harvest
from aggregator.store.events import EventQueries
from aggregator.store.matching import (
    Assignment,
    EventRow,
    MatchingQueries,
    MatchMember,
    MemberRow,
    Override,
)
from aggregator.store.moderation import ModerationQueries
from aggregator.store.registrations import RegistrationQueries
from aggregator.store.robots_queries import RobotsQueries
from aggregator.store.rows import (
    REMOVED,
    ActiveMember,
    EventContent,
    Fragments,
    HarvestOutcome,
    MatchPair,
    MemberRef,
    MergedRecord,
    RemovedEvent,
    RenderedEvent,
    ReviewPair,
    Revision,
    SourceHealth,
    StoredEvent,
)
from aggregator.store.schedule_queries import ScheduleQueries, SourceSchedule
from aggregator.store.schema import MIGRATIONS, build_migrations, pending_migrations
from aggregator.store.search import SearchProblem, SearchQueries, SearchQuery, search_filter
from aggregator.store.sources import SourceQueries
from aggregator.store.web_queries import WebQueries
from aggregator.store.wrap import wrap_public_methods

__all__ = [
    "MIGRATIONS",
    "REMOVED",
    "ActiveMember",
    "Assignment",
    "Decision",
    "EventContent",
    "EventRow",
    "Fragments",
    "HarvestOutcome",
    "IncomingVersion",
    "MatchMember",
    "MatchPair",
    "MemberRef",
    "MemberRow",
    "MergedRecord",
    "Override",
    "RemovedEvent",
    "RenderedEvent",
    "ReviewPair",
    "Revision",
    "SearchProblem",
    "SearchQuery",
    "SourceHealth",
    "SourceSchedule",
    "Store",
    "StoredEvent",
    "StoredVersion",
    "build_migrations",
    "content_digest",
    "decide_harvest",
    "event_from_dict",
    "event_from_json",
    "event_span",
    "event_to_dict",
    "event_to_json",
    "iso",
    "merged_from_json",
    "merged_to_dict",
    "merged_to_json",
    "parse_iso",
    "pending_migrations",
    "search_filter",
]


@wrap_public_methods
class Store(
    SourceQueries,
    EventQueries,
    ModerationQueries,
    ScheduleQueries,
    BackupQueries,
    SearchQueries,
    MatchingQueries,
    WebQueries,
    RobotsQueries,
    RegistrationQueries,
):
    """The store: one SQLite file in WAL mode, opened (and migrated) by ``Store(path)``.

    Every public method raises ``StoreError`` with a sentence when the database is
    locked, damaged, read-only or out of disk (see ``wrap``).
    """
