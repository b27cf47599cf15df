"""The store's queries for robots.txt: the last answer of each host (migration m070).

Kept in the database so that a cron ``run --once`` every hour asks a host for its
robots.txt once a day, like the service does; ``fetch.polite.RobotsCache`` decides
when an answer is too old. One row per host, replaced on every read.
"""

from __future__ import annotations

from aggregator.model import RobotsFile, RobotsStatus
from aggregator.store.base import StoreBase
from aggregator.store.codec import iso, parse_iso


class RobotsQueries(StoreBase):
    def robots_file(self, host: str) -> RobotsFile | None:
        """The host's robots.txt as last read, or None (never asked, or unreadable row)."""
        row = self.conn.execute(
            "SELECT status, fetched_at, body, http_status FROM robots_files WHERE host = ?",
            (host,),
        ).fetchone()
        if row is None:
            return None
        try:
            status, fetched_at = RobotsStatus(row[0]), parse_iso(row[1])
        except ValueError:
            return None  # a row from a newer version: ask the host again
        return RobotsFile(host, status, fetched_at, body=row[2], http_status=row[3])

    def save_robots_file(self, file: RobotsFile) -> None:
        with self.transaction():
            self.conn.execute(
                """INSERT INTO robots_files (host, status, fetched_at, body, http_status)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (host) DO UPDATE SET status = excluded.status,
                     fetched_at = excluded.fetched_at, body = excluded.body,
                     http_status = excluded.http_status""",
                (file.host, file.status.value, iso(file.fetched_at), file.body, file.http_status),
            )
