"""Full-text search over published events: SQLite FTS5, shared by the CLI and the web API.

What is searched: each published (merged) event's title, description, place (the
location text, venue, street, locality, municipality) and organizer — never the JSON
keys or fields such as the time zone. The index (``event_search``, migrations m004, m005
and m042) is kept in sync with ``events`` in every write transaction, whichever code saves
or removes a merged event (triggers note the changes, ``_before_commit`` indexes them).
The tokenizer is ``unicode61 remove_diacritics 2``: case and diacritics are folded, so
"lonneberga" finds "Lönneberga" and "cafe" finds "Café". Docids are in start order
(``docid_floor``), so a listing by start reads only its page of the matches.

User text is never FTS5 syntax. ``SearchQuery.parse`` quotes every word, so ``OR``,
``NEAR(…)``, ``title:``, ``-`` or an unbalanced ``"`` are searched as plain text (or
dropped when they hold no letter or digit) and can never reach SQLite as an error.
A ``*`` at the end of a word keeps its meaning, a prefix: "jul*" finds "Julmarknad".
Text in double quotes is a phrase: ``"folkets hus"``.
"""

from __future__ import annotations

import calendar
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from aggregator.store.base import StoreBase

MAX_TERMS = 16  # more words than a person types into a search box
MAX_CHARS = 500  # the one limit of a search text: `events list --q`, the API's q, the pages

_TOKEN = re.compile(r'"([^"]*)"?(\*?)|([^\s"]+)')


class SearchProblem(StrEnum):
    """Why a text cannot be searched."""

    NO_WORDS = "no_words"
    TOO_MANY_WORDS = "too_many_words"
    TOO_LONG = "too_long"


PROBLEM_SENTENCES = {  # one sentence each, the same in the CLI and on the web
    SearchProblem.NO_WORDS: "Söktexten innehåller inga bokstäver eller siffror att söka efter.",
    SearchProblem.TOO_MANY_WORDS: f"Söktexten har fler än {MAX_TERMS} ord.",
    SearchProblem.TOO_LONG: f"Söktexten är längre än {MAX_CHARS} tecken.",
}


@dataclass(frozen=True, slots=True)
class SearchTerm:
    """A word or a quoted phrase; ``prefix``: it ended in ``*``."""

    text: str
    prefix: bool = False

    @property
    def expression(self) -> str:
        return '"' + self.text.replace('"', '""') + '"' + ("*" if self.prefix else "")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What a person typed, as terms that must all match (in any of the searched fields)."""

    terms: tuple[SearchTerm, ...]
    problem: SearchProblem | None = None

    @classmethod
    def parse(cls, text: str) -> SearchQuery:
        if len(text) > MAX_CHARS:
            return cls((), SearchProblem.TOO_LONG)
        terms = tuple(term for term in _terms(text) if _searchable(term.text))
        if not terms:
            return cls((), SearchProblem.NO_WORDS)
        if len(terms) > MAX_TERMS:
            return cls((), SearchProblem.TOO_MANY_WORDS)
        return cls(terms)

    @property
    def expression(self) -> str:
        """The FTS5 MATCH expression: every term quoted, all of them required."""
        return " ".join(term.expression for term in self.terms)

    def sentence(self) -> str:
        """Why this query cannot be searched, in Swedish ("" when it can)."""
        return "" if self.problem is None else PROBLEM_SENTENCES[self.problem]


def _terms(text: str) -> list[SearchTerm]:
    terms = []
    for match in _TOKEN.finditer(text.replace("\x00", " ")):
        phrase, phrase_star, word = match.groups()
        if word is None:
            terms.append(SearchTerm(phrase.strip(), prefix=bool(phrase_star)))
        else:
            terms.append(SearchTerm(word.strip("*"), prefix=word.endswith("*")))
    return terms


def _searchable(text: str) -> bool:
    """Holds something the tokenizer keeps as a token (a letter or a digit)."""
    return any(character.isalnum() for character in text)


# Ranking (bm25, lower is better): a word in the title counts most, then the place and
# the organizer, then the description. Columns in the order of the FTS table.
RANK = "bm25(event_search, 10.0, 1.0, 3.0, 3.0)"


def search_filter(query: SearchQuery, id_column: str) -> tuple[str, list[str]]:
    """An SQL condition (and its parameters) keeping the events whose ``id_column``
    matches ``query``; for listings that want every match (``events list --q``).
    A query with a ``problem`` matches nothing."""
    if query.problem is not None or not query.terms:
        return "0", []
    return (
        f"""{id_column} IN (SELECT d.event_id FROM event_search
                JOIN search_docs d ON d.docid = event_search.rowid
                WHERE event_search MATCH ?)""",
        [query.expression],
    )


# A docid is the event's start in seconds since 1970, shifted past an ordinal within
# that second (migration m042): FTS5 hands out matches in docid order, that is in start
# order, and a ``rowid`` range picks a span of starts. 2**24 events starting in one
# second is more than any calendar holds.
ORDINAL_BITS = 24
SECOND_SQL = "CAST(strftime('%s', e.start_utc) AS INTEGER)"


def docid_floor(start_utc: str) -> int:
    """The smallest docid of an event starting at ``start_utc`` (UTC ISO, whole seconds)
    or later; the docids of events starting before it are all smaller."""
    moment = datetime.fromisoformat(start_utc.replace("Z", "+00:00"))
    return calendar.timegm(moment.utctimetuple()) << ORDINAL_BITS


def docid_second(docid: int) -> int:
    return docid >> ORDINAL_BITS


def docid_range_of_second(second: int) -> tuple[int, int]:
    """[low, high): the docids of the events starting in one second."""
    return second << ORDINAL_BITS, (second + 1) << ORDINAL_BITS


def search_match(query: SearchQuery, id_column: str) -> tuple[str, list[str]]:
    """An SQL condition testing one event (``id_column``) against ``query``: its docid
    is looked up, then FTS5 checks that one row. For a few candidates (events running
    for days), where collecting every match of a common word would cost more."""
    if query.problem is not None or not query.terms:
        return "0", []
    return (
        f"""EXISTS (SELECT 1 FROM search_docs d CROSS JOIN event_search s
                    WHERE d.event_id = {id_column} AND s.rowid = d.docid
                      AND event_search MATCH ?)""",
        [query.expression],
    )


def matches_in_start_order(
    conn: sqlite3.Connection,
    query: SearchQuery,
    columns: str,
    where: Sequence[str],
    params: Sequence[object],
    starts: tuple[str, str | None],
    limit: int,
) -> list[tuple[Any, ...]]:
    """Events matching ``query`` and ``where`` (on ``events e``), starting in
    ``starts`` = [from, before), in (start, id) order, at most ``limit``.

    FTS5 drives: it walks the matches in docid order from the docid of ``from`` and
    stops at ``limit``, so a common word costs a page, not every match. Within one
    second docids are not in id order, so the events of the last second reached are
    read whole (one more small range) and the page is sorted. ``columns`` start with
    ``e.id, e.start_utc``. The API's listings and ``search_event_ids`` share the
    expression (``SearchQuery.expression``) and the index.
    """
    if query.problem is not None or not query.terms:
        return []
    low, before = starts
    conditions = ["event_search MATCH ?", _PUBLISHED, *where]
    values: list[object] = [query.expression, *params]
    if low:
        conditions += ["s.rowid >= ?", "e.start_utc >= ?"]
        values += [docid_floor(low), low]
    if before is not None:
        conditions += ["s.rowid < ?", "e.start_utc < ?"]
        values += [docid_floor(before), before]
    # CROSS JOIN keeps FTS5 as the outer loop, in its (start) order
    sql = (
        f"SELECT {columns}, s.rowid FROM event_search s CROSS JOIN search_docs d"
        " CROSS JOIN events e INDEXED BY events_listing_id"
        " WHERE d.docid = s.rowid AND e.id = d.event_id AND " + " AND ".join(conditions)
    )
    rows = conn.execute(sql + " ORDER BY s.rowid LIMIT ?", [*values, limit]).fetchall()
    if len(rows) == limit:
        last, after_last = docid_range_of_second(docid_second(rows[-1][-1]))
        rows += conn.execute(
            sql + " AND s.rowid >= ? AND s.rowid < ?", [*values, last, after_last]
        ).fetchall()
    unique = {row[0]: row[:-1] for row in rows}
    return sorted(unique.values(), key=lambda row: (row[1], row[0]))[:limit]


# What the index holds of an event ``e`` (``events.data``, see ``codec.merged_to_dict``).
INDEXED_TEXT = """
    json_extract(e.data, '$.title'),
    json_extract(e.data, '$.description'),
    trim(coalesce(json_extract(e.data, '$.location_text'), '') || ' ' ||
         coalesce(json_extract(e.data, '$.place[0]'), '') || ' ' ||
         coalesce(json_extract(e.data, '$.place[1]'), '') || ' ' ||
         coalesce(json_extract(e.data, '$.place[2]'), '') || ' ' ||
         coalesce(json_extract(e.data, '$.place[3]'), '')),
    json_extract(e.data, '$.organizer_name')
"""
_PUBLISHED = "e.removed_at IS NULL AND e.content_hash != ''"


class SearchQueries(StoreBase):
    """``event_search`` (FTS5) and ``search_docs`` (its docids, in start order, for event ids).

    Triggers on ``events`` note every saved, changed or removed event in
    ``search_pending``; ``_before_commit`` indexes them in the same transaction, so
    the index never disagrees with a committed state.
    """

    def _before_commit(self) -> None:
        super()._before_commit()
        if self.conn.execute("SELECT 1 FROM search_pending LIMIT 1").fetchone() is None:
            return
        self.conn.execute(
            """DELETE FROM event_search WHERE rowid IN (
                 SELECT d.docid FROM search_pending p JOIN search_docs d USING (event_id))"""
        )
        # an event's docid follows its start: a changed event is numbered again
        self.conn.execute(
            "DELETE FROM search_docs WHERE event_id IN (SELECT event_id FROM search_pending)"
        )
        self.conn.execute(
            f"""INSERT INTO search_docs (docid, event_id)
                SELECT (second << {ORDINAL_BITS}) + row_number() OVER (
                         PARTITION BY second ORDER BY id)
                       + coalesce((SELECT max(d.docid) FROM search_docs d
                                   WHERE d.docid >= (second << {ORDINAL_BITS})
                                     AND d.docid < ((second + 1) << {ORDINAL_BITS}))
                                  - (second << {ORDINAL_BITS}), 0),
                       id
                FROM (SELECT e.id, {SECOND_SQL} AS second
                      FROM search_pending p JOIN events e ON e.id = p.event_id
                      WHERE {_PUBLISHED})"""
        )
        self.conn.execute(
            f"""INSERT INTO event_search (rowid, title, description, place, organizer)
                SELECT d.docid, {INDEXED_TEXT}
                FROM search_pending p JOIN events e ON e.id = p.event_id
                JOIN search_docs d ON d.event_id = e.id
                WHERE {_PUBLISHED}"""
        )
        self.conn.execute("DELETE FROM search_pending")

    def search_event_ids(self, query: SearchQuery | str, *, limit: int = 1000) -> list[str]:
        """Ids of published events matching ``query``, best match first.

        The one search the CLI and the web API share; a plain string is parsed with
        ``SearchQuery.parse``. An unsearchable query (see ``SearchQuery.problem``)
        finds nothing.
        """
        if isinstance(query, str):
            query = SearchQuery.parse(query)
        if query.problem is not None:
            return []
        return [
            row[0]
            for row in self.conn.execute(
                f"""SELECT d.event_id FROM event_search
                    JOIN search_docs d ON d.docid = event_search.rowid
                    WHERE event_search MATCH ? ORDER BY {RANK}, d.event_id LIMIT ?""",
                (query.expression, limit),
            )
        ]
