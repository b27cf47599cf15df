"""Storage failures become one ``StoreError`` with a sentence, in one place.

As lemon24/reader's ``wrap_exceptions`` does for its storage: every public method of
``Store`` is wrapped (``wrap_public_methods`` on the class, so a mixin added later is
covered too), and an ``sqlite3`` error that says something about the database file or
its disk — locked, damaged, read-only, full, unreadable — reaches the operator as a
sentence naming the file, never as a traceback. Errors that mean a bug in our SQL
(syntax, constraints, misuse) are not translated: they must surface in tests.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

from aggregator.errors import StoreError
from aggregator.store.codec import UnreadableValue

# primary SQLite result codes (https://sqlite.org/rescode.html)
SQLITE_PERM = 3
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_NOMEM = 7
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_PROTOCOL = 15
SQLITE_TOOBIG = 18
SQLITE_AUTH = 23
SQLITE_NOTADB = 26

_SENTENCES = {
    SQLITE_BUSY: "the database {path} is locked by another program (is another aggregator "
    "command running?); try again when it has finished",
    SQLITE_LOCKED: "the database {path} is locked by another program (is another aggregator "
    "command running?); try again when it has finished",
    SQLITE_PROTOCOL: "the database {path} is locked by another program (is another aggregator "
    "command running?); try again when it has finished",
    SQLITE_CORRUPT: "the database {path} is damaged; restore it from a backup "
    "(aggregator backup) or move it away to start with an empty one",
    SQLITE_NOTADB: "the file {path} is not an SQLite database; check settings.database in "
    "sources.yaml, or move the file away to start with an empty database",
    SQLITE_READONLY: "the database {path} is read-only: give this user write access to the "
    "file and to its folder (SQLite writes -wal and -shm files beside it)",
    SQLITE_PERM: "the database {path} is read-only: give this user write access to the "
    "file and to its folder (SQLite writes -wal and -shm files beside it)",
    SQLITE_AUTH: "the database {path} refused access ({detail})",
    SQLITE_CANTOPEN: "cannot open the database {path}: check that its folder exists and "
    "that this user may write there",
    SQLITE_FULL: "the disk holding the database {path} is full, so the change in progress "
    "was not written; free some space and run the command again",
    SQLITE_IOERR: "reading or writing the database {path} failed ({detail}); check the disk",
    SQLITE_NOMEM: "ran out of memory while using the database {path}",
    SQLITE_TOOBIG: "a value is too large for the database {path} ({detail})",
}


UNREADABLE = (
    "the database {path} holds a value the aggregator did not write ({detail}): it was "
    "edited by hand or is damaged; restore it from a backup (aggregator backup) or move "
    "it away to start with an empty one"
)


# SQLite's JSON functions meeting a stored value that is not JSON: a value we did not
# write (our queries only read columns our code filled with json.dumps)
MALFORMED_JSON = "malformed JSON"


def store_error(exc: sqlite3.Error, path: str) -> StoreError | None:
    """The ``StoreError`` for an sqlite3 error about the database itself, else None."""
    if str(exc) == MALFORMED_JSON:
        return StoreError(UNREADABLE.format(path=path, detail="a JSON column is not JSON"))
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    sentence = _SENTENCES.get(code & 0xFF)
    if sentence is None:
        return None
    return StoreError(sentence.format(path=path, detail=str(exc) or type(exc).__name__))


class _HasPath(Protocol):
    path: str


F = TypeVar("F", bound=Callable[..., Any])


def wrap_exceptions(method: F) -> F:
    """Translate sqlite3 errors raised by ``method`` (a store method; generators too)."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: _HasPath, *args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from method(self, *args, **kwargs)
            except (sqlite3.Error, UnreadableValue) as exc:
                _reraise(exc, self.path)

        return generator  # type: ignore[return-value]

    @functools.wraps(method)
    def wrapper(self: _HasPath, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, UnreadableValue) as exc:
            _reraise(exc, self.path)

    return wrapper  # type: ignore[return-value]


def _reraise(exc: sqlite3.Error | UnreadableValue, path: str) -> None:
    if isinstance(exc, UnreadableValue):
        raise StoreError(UNREADABLE.format(path=path, detail=exc)) from exc
    error = store_error(exc, path)
    if error is None:
        raise exc
    raise error from exc


# methods that hand out the connection's own machinery: wrapping them would add nothing
# (their callers are wrapped) or hide a context manager
UNWRAPPED = frozenset({"transaction"})

C = TypeVar("C", bound=type)


def wrap_public_methods(cls: C) -> C:
    """Class decorator: ``wrap_exceptions`` on every public method, the mixins' included."""
    for name in dir(cls):
        if name.startswith("_") or name in UNWRAPPED:
            continue
        attribute = inspect.getattr_static(cls, name)
        if inspect.isfunction(attribute) and not hasattr(attribute, "__wrapped__"):
            setattr(cls, name, wrap_exceptions(attribute))
    return cls
