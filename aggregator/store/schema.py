"""The store's schema as numbered migrations (sqlite-utils).

The migration set name ("aggregator") and each function's name are recorded in every
database's ``_sqlite_migrations`` table: never rename them, only add new ones.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("aggregator")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE sources (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            location TEXT NOT NULL DEFAULT '',
            kind TEXT,
            priority INTEGER NOT NULL DEFAULT 50,
            etag TEXT,
            last_modified TEXT,
            fingerprint TEXT,
            status TEXT NOT NULL DEFAULT 'never',
            message TEXT NOT NULL DEFAULT '',
            warnings TEXT NOT NULL DEFAULT '[]',
            event_count INTEGER NOT NULL DEFAULT 0,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TEXT,
            last_success_at TEXT
        );
        CREATE TABLE fetch_log (
            id INTEGER PRIMARY KEY,
            source_id TEXT NOT NULL,
            at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            http_status INTEGER,
            duration_ms INTEGER,
            events INTEGER,
            message TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX fetch_log_source ON fetch_log (source_id, at);
        CREATE TABLE source_events (
            source_id TEXT NOT NULL,
            key TEXT NOT NULL,
            event_id TEXT,
            uid TEXT NOT NULL DEFAULT '',
            start_utc TEXT NOT NULL,
            end_utc TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            data TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            removed_at TEXT,
            PRIMARY KEY (source_id, key)
        );
        CREATE INDEX source_events_event ON source_events (event_id);
        CREATE INDEX source_events_uid ON source_events (uid) WHERE uid != '';
        CREATE INDEX source_events_unassigned ON source_events (source_id) WHERE event_id IS NULL;
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            modified_at TEXT NOT NULL,
            sequence INTEGER NOT NULL DEFAULT 0,
            content_hash TEXT NOT NULL DEFAULT '',
            start_utc TEXT NOT NULL DEFAULT '',
            end_utc TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'confirmed',
            data TEXT NOT NULL DEFAULT '{}',
            dirty INTEGER NOT NULL DEFAULT 1,
            render_key TEXT NOT NULL DEFAULT '',
            ics TEXT NOT NULL DEFAULT '',
            rss TEXT NOT NULL DEFAULT '',
            json_item TEXT NOT NULL DEFAULT '',
            removed_at TEXT
        );
        CREATE INDEX events_window ON events (end_utc) WHERE removed_at IS NULL;
        CREATE INDEX events_dirty ON events (id) WHERE dirty = 1;
        CREATE TABLE event_feeds (
            feed TEXT NOT NULL,
            start_utc TEXT NOT NULL,
            event_id TEXT NOT NULL,
            PRIMARY KEY (feed, start_utc, event_id)
        ) WITHOUT ROWID;
        CREATE INDEX event_feeds_event ON event_feeds (event_id);
        CREATE TABLE feed_labels (feed TEXT PRIMARY KEY, label TEXT NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """
    )


@migrations()
def m002_matching(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE dirty_days (day TEXT PRIMARY KEY);
        CREATE TABLE match_pairs (
            a_source TEXT NOT NULL, a_key TEXT NOT NULL,
            b_source TEXT NOT NULL, b_key TEXT NOT NULL,
            decision TEXT NOT NULL,
            total REAL NOT NULL,
            reason TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (a_source, a_key, b_source, b_key)
        );
        CREATE INDEX match_pairs_b ON match_pairs (b_source, b_key);
        CREATE INDEX match_pairs_review ON match_pairs (decision) WHERE decision = 'review';
        CREATE TABLE overrides (
            kind TEXT NOT NULL CHECK (kind IN ('merge', 'apart')),
            a_source TEXT NOT NULL, a_key TEXT NOT NULL,
            b_source TEXT NOT NULL, b_key TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (kind, a_source, a_key, b_source, b_key)
        );
        """
    )


@migrations()
def m003_feed_order_index(db: sqlite_utils.Database) -> None:
    db.execute("CREATE INDEX events_feed_order ON events (start_utc, id) WHERE removed_at IS NULL")


def migrate(db: sqlite_utils.Database) -> None:
    """Bring the schema up to date."""
    migrations.apply(db)
