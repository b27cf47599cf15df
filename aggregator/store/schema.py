"""The store's schema as numbered migrations, applied by sqlite-utils.

The migration set name ("aggregator") and each function's name are recorded in every
database's ``_sqlite_migrations`` table: never rename them, only add new ones.

Whether anything is pending is one query of our own: sqlite-utils (with the click,
dateutil, pluggy and tabulate it imports, ~60 ms, and a plugin scan per connection) is
loaded only when a database really needs migrating, not by every command that opens an
up-to-date database (a no-change ``run --once`` is well under a second in all).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils
    from sqlite_utils.migrations import Migrations

MIGRATION_SET = "aggregator"
MIGRATIONS_TABLE = "_sqlite_migrations"  # sqlite-utils' own name for its record

Migration = Callable[["sqlite_utils.Database"], None]

# In the order they were written; sqlite-utils applies pending ones in this order.
MIGRATIONS: list[Migration] = []


def migration(function: Migration) -> Migration:
    """Register a migration (decorator). Its name is recorded once applied."""
    MIGRATIONS.append(function)
    return function


def build_migrations() -> Migrations:
    """sqlite-utils' migration set for ``MIGRATIONS`` (imports sqlite-utils)."""
    from sqlite_utils.migrations import Migrations

    migrations = Migrations(MIGRATION_SET)
    for function in MIGRATIONS:
        migrations()(function)
    return migrations


def pending_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations this database has not had, read without sqlite-utils."""
    recorded = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (MIGRATIONS_TABLE,)
    ).fetchone()
    applied = (
        {
            row[0]
            for row in conn.execute(
                f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ?", (MIGRATION_SET,)
            )
        }
        if recorded
        else set()
    )
    return [f.__name__ for f in MIGRATIONS if f.__name__ not in applied]


def execute_script(db: sqlite_utils.Database, sql: str) -> None:
    """Run ``sql``'s statements one by one, inside the migration's transaction.

    sqlite-utils' ``executescript`` does the same, but finds where a statement ends by
    joining the text again after every character: quadratic in a statement's length,
    and most of the time a fresh database took to create (about 45 ms of CPU). A
    statement can only end at a semicolon, so only those are tried; ``complete_statement``
    still decides (a semicolon inside a string or a trigger's body ends nothing).
    """
    pieces = sql.split(";")
    statement = ""
    for index, piece in enumerate(pieces):
        statement += piece if index == len(pieces) - 1 else piece + ";"
        if statement.strip() and sqlite3.complete_statement(statement):
            db.conn.execute(statement.strip())
            statement = ""
    if statement.strip():
        db.conn.execute(statement.strip())


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema up to date, safely when several processes open a fresh file.

    Two first runs at once (cron and a hand-started command) used to both see the
    migrations pending and both create the tables: one failed with "table sources
    already exists". Migrating under ``BEGIN IMMEDIATE`` lets one process migrate while
    the other waits for the write lock, then finds nothing pending. A database that is
    up to date is only read, so opening the store never waits for another writer.
    """
    if not pending_migrations(conn):
        return
    import sqlite_utils

    # execute_plugins=False: a sqlite-utils plugin in the environment has no business
    # with our connection; recursive triggers are one of our PRAGMAS already
    db = sqlite_utils.Database(conn, execute_plugins=False)
    conn.execute("BEGIN IMMEDIATE")
    try:
        build_migrations().apply(db)  # reads what is pending again, under the write lock
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@migration
def m001_initial(db: sqlite_utils.Database) -> None:
    execute_script(
        db,
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
        """,
    )


@migration
def m002_matching(db: sqlite_utils.Database) -> None:
    execute_script(
        db,
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
        """,
    )


@migration
def m003_feed_order_index(db: sqlite_utils.Database) -> None:
    db.execute("CREATE INDEX events_feed_order ON events (start_utc, id) WHERE removed_at IS NULL")


# What the full-text search sees of a published event, from its stored JSON
# (``codec.merged_to_dict``): the place is the source's location text and the place's
# name, street, locality and municipality.
_SEARCH_COLUMNS = """
    json_extract(new.data, '$.title'),
    json_extract(new.data, '$.description'),
    trim(coalesce(json_extract(new.data, '$.location_text'), '') || ' ' ||
         coalesce(json_extract(new.data, '$.place[0]'), '') || ' ' ||
         coalesce(json_extract(new.data, '$.place[1]'), '') || ' ' ||
         coalesce(json_extract(new.data, '$.place[2]'), '') || ' ' ||
         coalesce(json_extract(new.data, '$.place[3]'), '')),
    json_extract(new.data, '$.organizer_name')
"""


@migration
def m004_event_search(db: sqlite_utils.Database) -> None:
    """Full-text search over published events, kept in sync by triggers on ``events``.

    ``search_docs`` gives each event a stable integer (an INTEGER PRIMARY KEY survives
    VACUUM, ``events``' implicit rowid may not) that is the rowid in ``event_search``.
    ``remove_diacritics 2``: "lonneberga" finds "Lönneberga", "cafe" finds "Café".
    No ``OR IGNORE`` in the triggers: an outer upsert's conflict policy would override it.
    """
    execute_script(
        db,
        f"""
        CREATE TABLE search_docs (docid INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE);
        CREATE VIRTUAL TABLE event_search USING fts5(
            title, description, place, organizer,
            tokenize = "unicode61 remove_diacritics 2"
        );
        CREATE TRIGGER events_search_insert AFTER INSERT ON events
        WHEN new.removed_at IS NULL AND new.content_hash != ''
        BEGIN
            INSERT INTO search_docs (event_id) SELECT new.id
                WHERE NOT EXISTS (SELECT 1 FROM search_docs WHERE event_id = new.id);
            INSERT INTO event_search (rowid, title, description, place, organizer)
                SELECT docid, {_SEARCH_COLUMNS} FROM search_docs WHERE event_id = new.id;
        END;
        CREATE TRIGGER events_search_update AFTER UPDATE OF data, removed_at ON events
        WHEN old.data IS NOT new.data OR old.removed_at IS NOT new.removed_at
        BEGIN
            DELETE FROM event_search
                WHERE rowid = (SELECT docid FROM search_docs WHERE event_id = old.id);
            INSERT INTO search_docs (event_id) SELECT new.id
                WHERE new.removed_at IS NULL AND new.content_hash != ''
                AND NOT EXISTS (SELECT 1 FROM search_docs WHERE event_id = new.id);
            INSERT INTO event_search (rowid, title, description, place, organizer)
                SELECT docid, {_SEARCH_COLUMNS} FROM search_docs
                WHERE event_id = new.id AND new.removed_at IS NULL AND new.content_hash != '';
        END;
        CREATE TRIGGER events_search_delete AFTER DELETE ON events
        BEGIN
            DELETE FROM event_search
                WHERE rowid = (SELECT docid FROM search_docs WHERE event_id = old.id);
        END;
        """,
    )
    db.execute(
        """INSERT INTO search_docs (event_id)
            SELECT id FROM events WHERE removed_at IS NULL AND content_hash != ''"""
    )
    db.execute(
        f"""INSERT INTO event_search (rowid, title, description, place, organizer)
            SELECT d.docid, {_SEARCH_COLUMNS.replace("new.", "e.")}
            FROM events e JOIN search_docs d ON d.event_id = e.id
            WHERE e.removed_at IS NULL AND e.content_hash != ''"""
    )


@migration
def m030_registrations(db: sqlite_utils.Database) -> None:
    """Organizers' own registrations (pending until a moderator approves) and their history."""
    execute_script(
        db,
        """
        CREATE TABLE registrations (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL,
            url TEXT NOT NULL DEFAULT '',
            url_key TEXT NOT NULL DEFAULT '',
            kind TEXT,
            municipality TEXT NOT NULL DEFAULT '',
            categories TEXT NOT NULL DEFAULT '[]',
            priority INTEGER NOT NULL DEFAULT 50,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'active', 'rejected', 'paused', 'withdrawn')),
            reason TEXT NOT NULL DEFAULT '',
            preview TEXT NOT NULL DEFAULT '{}',
            token_hash TEXT NOT NULL UNIQUE,
            upload BLOB,
            upload_name TEXT NOT NULL DEFAULT '',
            upload_sha TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_refresh_at TEXT
        );
        CREATE INDEX registrations_url_key ON registrations (url_key) WHERE url_key != '';
        CREATE INDEX registrations_status ON registrations (status, created_at);
        CREATE TABLE registration_log (
            id INTEGER PRIMARY KEY,
            registration_id TEXT NOT NULL,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX registration_log_registration ON registration_log (registration_id, id);
        """,
    )


@migration
def m040_web_changes(db: sqlite_utils.Database) -> None:
    """Incremental sync for the website (``/api/changes``) and 301s for merged-away ids.

    Triggers, not code in the writers, so every path that changes a published event
    (merge, removal, re-render) is recorded, whoever wrote it. ``event_changes`` keeps
    one row per event with the sequence number of its latest change; ``event_moves``
    remembers each member that left an event and how many active members stayed
    behind: a move that left none is the merge that replaced the event.
    """
    execute_script(
        db,
        """
        CREATE TABLE event_changes (
            event_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX event_changes_seq ON event_changes (seq);
        INSERT INTO event_changes (event_id, seq)
            SELECT id, row_number() OVER (ORDER BY modified_at, id) FROM events
            WHERE content_hash != '';
        CREATE TRIGGER event_changes_insert AFTER INSERT ON events
        WHEN new.content_hash != ''
        BEGIN
            INSERT INTO event_changes (event_id, seq)
            VALUES (new.id, (SELECT coalesce(max(seq), 0) + 1 FROM event_changes))
            ON CONFLICT (event_id) DO UPDATE SET seq = excluded.seq;
        END;
        CREATE TRIGGER event_changes_update AFTER UPDATE ON events
        WHEN new.content_hash != '' AND (
            old.content_hash IS NOT new.content_hash
            OR old.removed_at IS NOT new.removed_at
            OR old.json_item IS NOT new.json_item)
        BEGIN
            INSERT INTO event_changes (event_id, seq)
            VALUES (new.id, (SELECT coalesce(max(seq), 0) + 1 FROM event_changes))
            ON CONFLICT (event_id) DO UPDATE SET seq = excluded.seq;
        END;
        CREATE TABLE event_moves (
            id INTEGER PRIMARY KEY,
            from_id TEXT NOT NULL,
            to_id TEXT NOT NULL,
            remaining INTEGER NOT NULL
        );
        CREATE INDEX event_moves_from ON event_moves (from_id, remaining);
        CREATE TRIGGER event_moves_record AFTER UPDATE OF event_id ON source_events
        WHEN old.event_id IS NOT NULL AND new.event_id IS NOT NULL
             AND old.event_id != new.event_id AND new.removed_at IS NULL
        BEGIN
            INSERT INTO event_moves (from_id, to_id, remaining)
            VALUES (old.event_id, new.event_id,
                    (SELECT count(*) FROM source_events
                     WHERE event_id = old.event_id AND removed_at IS NULL));
        END;
        """,
    )


@migration
def m041_web_listing_indexes(db: sqlite_utils.Database) -> None:
    """Covering indexes for the web's listings, so a filter never reads event rows.

    ``removed_at`` is the last column of ``events``, behind the rendered fragments:
    testing it on the table walks every overflow page of the row. These partial indexes
    carry what the filters need (start, end, status) for published events only:
    ``events_listing`` by start (listings, cursor pages), ``events_listing_id`` by id
    (search hits, feed membership), ``events_long`` by end for the few events longer
    than a day ("what is running on 1 March" without scanning everything before it).
    """
    execute_script(
        db,
        """
        CREATE INDEX events_listing ON events (start_utc, id, end_utc, status)
            WHERE removed_at IS NULL AND content_hash != '';
        CREATE INDEX events_listing_id ON events (id, start_utc, end_utc, status)
            WHERE removed_at IS NULL AND content_hash != '';
        CREATE INDEX events_long ON events (end_utc, start_utc, id, status)
            WHERE removed_at IS NULL AND content_hash != ''
              AND julianday(end_utc) - julianday(start_utc) > 1;
        """,
    )


@migration
def m005_search_in_bulk(db: sqlite_utils.Database) -> None:
    """Index searched events in bulk, before each commit, instead of row by row.

    m004's triggers indexed each saved event on its own, which cost ~200 µs per event
    (FTS5 flushes its pending terms at every statement). Now the triggers only note
    which events changed (``search_pending``), and the store indexes them in one
    statement per table before the transaction commits (``SearchQueries._before_commit``).
    No ``OR IGNORE`` in the triggers: an outer upsert's conflict policy would override it.
    """
    execute_script(
        db,
        """
        DROP TRIGGER events_search_insert;
        DROP TRIGGER events_search_update;
        DROP TRIGGER events_search_delete;
        CREATE TABLE search_pending (event_id TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TRIGGER events_search_note_insert AFTER INSERT ON events
        BEGIN
            INSERT INTO search_pending (event_id) SELECT new.id
                WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE event_id = new.id);
        END;
        CREATE TRIGGER events_search_note_update AFTER UPDATE OF data, removed_at ON events
        WHEN old.data IS NOT new.data OR old.removed_at IS NOT new.removed_at
        BEGIN
            INSERT INTO search_pending (event_id) SELECT new.id
                WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE event_id = new.id);
        END;
        CREATE TRIGGER events_search_note_delete AFTER DELETE ON events
        BEGIN
            INSERT INTO search_pending (event_id) SELECT old.id
                WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE event_id = old.id);
        END;
        """,
    )


@migration
def m020_schedule_state(db: sqlite_utils.Database) -> None:
    """Per-source scheduling state (``store/schedule_queries.py``) and the feed linter's advice.

    ``failing_since``, ``retry_at`` (our backoff, or a server's Retry-After if later) and
    ``server_retry_at`` (what the server asked for) describe the current run of failures
    and mean nothing once ``consecutive_failures`` is back at 0; ``lint`` is a JSON list
    of Swedish sentences for the organizer. One statement at a time (no executescript, which
    would commit the migration's transaction)."""
    for column in (
        "failing_since TEXT",
        "retry_at TEXT",
        "retry_reason TEXT NOT NULL DEFAULT ''",
        "server_retry_at TEXT",
        "paused_at TEXT",
        "lint TEXT NOT NULL DEFAULT '[]'",
    ):
        db.execute(f"ALTER TABLE sources ADD COLUMN {column}")


@migration
def m042_search_in_start_order(db: sqlite_utils.Database) -> None:
    """Number the full-text index in start order, so a search answers nearest first
    without collecting every match.

    A search listing is ordered by start; with stable docids FTS5 had to hand over
    every match (14,000 for "julkonsert" in 100k events) to be sorted. Now an event's
    docid is its start in seconds since 1970 times 2**24 plus an ordinal within that
    second: FTS5 returns matches in docid order, so ``rowid >= ?`` with ``LIMIT`` stops
    after the first page. An event whose start moves is indexed again under a new docid
    (the update trigger now also watches ``start_utc``). Prefix indexes for 2 and 3
    characters: "jul*" otherwise merges the lists of every word starting with "jul"
    on each query (0.7 ms against 0.05 ms in 100k events; the index grows from 10 to
    about 25 MB). Rebuilds the index of an existing database. One statement at a time (no executescript, which would commit
    the migration's transaction).
    """
    for statement in (
        "DROP TABLE event_search",
        "DROP TABLE search_docs",
        "CREATE TABLE search_docs (docid INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE)",
        """CREATE VIRTUAL TABLE event_search USING fts5(
            title, description, place, organizer,
            tokenize = "unicode61 remove_diacritics 2", prefix = '2 3'
        )""",
        "DROP TRIGGER events_search_note_update",
        """CREATE TRIGGER events_search_note_update
        AFTER UPDATE OF data, removed_at, start_utc, content_hash ON events
        WHEN old.data IS NOT new.data OR old.removed_at IS NOT new.removed_at
            OR old.start_utc IS NOT new.start_utc OR old.content_hash IS NOT new.content_hash
        BEGIN
            INSERT INTO search_pending (event_id) SELECT new.id
                WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE event_id = new.id);
        END""",
        """INSERT INTO search_docs (docid, event_id)
            SELECT (second << 24) + row_number() OVER (PARTITION BY second ORDER BY id), id
            FROM (SELECT id, CAST(strftime('%s', start_utc) AS INTEGER) AS second
                  FROM events WHERE removed_at IS NULL AND content_hash != '')""",
        f"""INSERT INTO event_search (rowid, title, description, place, organizer)
            SELECT d.docid, {_SEARCH_COLUMNS.replace("new.", "e.")}
            FROM search_docs d JOIN events e ON e.id = d.event_id""",
        "DELETE FROM search_pending",
    ):
        db.execute(statement)


@migration
def m060_pause_reason(db: sqlite_utils.Database) -> None:
    """One pause with a reason (``model.PauseReason``): ``failing`` (after
    ``pause_after``) or ``moderator`` (``sources pause``, /admin).

    Before, an operator's pause was told apart only by its message, and a moderator's
    pause of a registration deleted the source row (so /kallor and ``sources list`` did
    not show it). Existing pauses get their reason from the message; a paused
    registration gets its source row back, paused by a moderator (its events were
    already taken out of the feeds). The validators of a moderator's pause are cleared,
    so the first harvest after a resume reads the calendar whole (a 304 would leave its
    events out). One statement at a time (no executescript, which would commit)."""
    db.execute("ALTER TABLE sources ADD COLUMN pause_reason TEXT NOT NULL DEFAULT ''")
    db.execute(
        """UPDATE sources SET pause_reason = CASE
             WHEN message LIKE 'Pausad av administratören%' THEN 'moderator' ELSE 'failing' END
           WHERE status = 'paused'"""
    )
    db.execute(
        """INSERT INTO sources (id, name, location, kind, priority, status, pause_reason,
             paused_at, message)
           SELECT id, name, url, kind, priority, 'paused', 'moderator', updated_at,
             'Pausad av en moderator.'
           FROM registrations
           WHERE status = 'paused' AND id NOT IN (SELECT id FROM sources)"""
    )
    db.execute(
        """UPDATE sources SET etag = NULL, last_modified = NULL, fingerprint = NULL
           WHERE status = 'paused' AND pause_reason = 'moderator'"""
    )


@migration
def m021_source_events_start(db: sqlite_utils.Database) -> None:
    """The matcher reads the active members of a batch of days at a time (``dedupe.update``
    keeps its memory to a few days' events): without this index every batch scans every
    source event."""
    db.execute(
        "CREATE INDEX source_events_start ON source_events (start_utc) WHERE removed_at IS NULL"
    )


@migration
def m070_robots_files(db: sqlite_utils.Database) -> None:
    """Each host's robots.txt as last read (``store/robots_queries.py``), so that runs in
    separate processes (cron ``run --once``, ``harvest``) ask a host once a day, not
    once a run. ``status`` is a ``model.RobotsStatus``; ``body`` at most 64 kB of text."""
    db.execute(
        """CREATE TABLE robots_files (
            host TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            body TEXT NOT NULL DEFAULT '',
            http_status INTEGER
        )"""
    )


@migration
def m080_pending_events(db: sqlite_utils.Database) -> None:
    """Event ids members were given that have no events row yet (it is written with
    the event's first merge). Kept by triggers on every path that sets a member's
    ``event_id``, so ``dirty_event_ids`` reads this small table instead of checking
    every member of the calendar on every run (20 ms at 25k events, growing with
    the calendar). Ids a run left half-merged before this table existed are found once
    here."""
    execute_script(
        db,
        """
        CREATE TABLE pending_events (id TEXT PRIMARY KEY) WITHOUT ROWID;
        INSERT OR IGNORE INTO pending_events (id)
            SELECT DISTINCT s.event_id FROM source_events s
            WHERE s.event_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = s.event_id);
        CREATE TRIGGER source_events_pending_insert AFTER INSERT ON source_events
        WHEN new.event_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM events WHERE id = new.event_id)
        BEGIN
            INSERT OR IGNORE INTO pending_events (id) VALUES (new.event_id);
        END;
        CREATE TRIGGER source_events_pending_update AFTER UPDATE OF event_id ON source_events
        WHEN new.event_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM events WHERE id = new.event_id)
        BEGIN
            INSERT OR IGNORE INTO pending_events (id) VALUES (new.event_id);
        END;
        CREATE TRIGGER events_no_longer_pending AFTER INSERT ON events
        BEGIN
            DELETE FROM pending_events WHERE id = new.id;
        END;
        """,
    )


@migration
def m081_fetch_log_kept_90_days(db: sqlite_utils.Database) -> None:
    """A source's harvest log keeps 90 days: it had kept every attempt for ever, some
    10,000 rows a day for 200 sources harvested every half hour (a few hundred MB a
    year on a small server's disk). Each new row takes its source's rows older than 90
    days with it, through the (source_id, at) index, so a run pays a seek per harvest;
    the first run after the upgrade clears what older versions kept."""
    execute_script(
        db,
        """
        DELETE FROM fetch_log
            WHERE at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-90 days');
        CREATE TRIGGER fetch_log_kept_90_days AFTER INSERT ON fetch_log
        BEGIN
            DELETE FROM fetch_log
                WHERE source_id = new.source_id
                  AND at < strftime('%Y-%m-%dT%H:%M:%SZ', new.at, '-90 days');
        END;
        """,
    )
