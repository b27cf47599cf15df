"""Full-text search over published events: SQLite FTS5, shared by the CLI and the web API.

What is searched: each published (merged) event's title, description, place (the
location text, venue, street, locality, municipality) and organizer — never the JSON
keys or fields such as the time zone. The index (``event_search``, migrations m004 and
m005) is kept in sync with ``events`` in every write transaction, whichever code saves
or removes a merged event (triggers note the changes, ``_before_commit`` indexes them).
The tokenizer is ``unicode61 remove_diacritics 2``: case and diacritics are folded, so
"lonneberga" finds "Lönneberga" and "cafe" finds "Café".

User text is never FTS5 syntax. ``SearchQuery.parse`` quotes every word, so ``OR``,
``NEAR(…)``, ``title:``, ``-`` or an unbalanced ``"`` are searched as plain text (or
dropped when they hold no letter or digit) and can never reach SQLite as an error.
A ``*`` at the end of a word keeps its meaning, a prefix: "jul*" finds "Julmarknad".
Text in double quotes is a phrase: ``"folkets hus"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from aggregator.store.base import StoreBase

MAX_TERMS = 16  # more words than a person types into a search box
MAX_CHARS = 500

_TOKEN = re.compile(r'"([^"]*)"?(\*?)|([^\s"]+)')


class SearchProblem(StrEnum):
    """Why a text cannot be searched; the caller words it for its reader."""

    NO_WORDS = "no_words"
    TOO_MANY_WORDS = "too_many_words"
    TOO_LONG = "too_long"


PROBLEM_SENTENCES = {  # (English for the CLI, Swedish for the web)
    SearchProblem.NO_WORDS: (
        "the search text has no letters or digits to look for",
        "Söktexten innehåller inga bokstäver eller siffror att söka efter.",
    ),
    SearchProblem.TOO_MANY_WORDS: (
        f"the search text has more than {MAX_TERMS} words",
        f"Söktexten har fler än {MAX_TERMS} ord.",
    ),
    SearchProblem.TOO_LONG: (
        f"the search text is longer than {MAX_CHARS} characters",
        f"Söktexten är längre än {MAX_CHARS} tecken.",
    ),
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

    def sentence(self, *, swedish: bool = False) -> str:
        """Why this query cannot be searched ("" when it can)."""
        if self.problem is None:
            return ""
        english, svenska = PROBLEM_SENTENCES[self.problem]
        return svenska if swedish else english


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
    matches ``query``; for the store's listing queries to combine with their own filters.
    A query with a ``problem`` matches nothing."""
    if query.problem is not None or not query.terms:
        return "0", []
    return (
        f"""{id_column} IN (SELECT d.event_id FROM event_search
                JOIN search_docs d ON d.docid = event_search.rowid
                WHERE event_search MATCH ?)""",
        [query.expression],
    )


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
    """``event_search`` (FTS5) and ``search_docs`` (its stable ids for event ids).

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
        self.conn.execute(
            f"""INSERT INTO search_docs (event_id)
                SELECT p.event_id FROM search_pending p JOIN events e ON e.id = p.event_id
                WHERE {_PUBLISHED}
                  AND NOT EXISTS (SELECT 1 FROM search_docs d WHERE d.event_id = p.event_id)"""
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
