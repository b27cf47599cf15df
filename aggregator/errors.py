"""The one exception tree of the aggregator.

    AggregatorError
     ├── ConfigError   sources.yaml is unusable (names file, line and key)
     ├── FetchError    a source could not be fetched (carries source id / URL)
     │    └── DeadlineExceeded  a harvest's whole time for fetching is up
     ├── ParseError    fetched bytes are not a calendar we can read
     └── StoreError    the SQLite store is unusable

Foreign exceptions are translated at the boundary where they happen
(``raise ParseError(...) from exc``) so callers only ever catch these.

A source error's message and URL are redacted when the error is made: they reach
the source's health, the log and the terminal, and a server may have echoed a
token into them.
"""

from __future__ import annotations

from aggregator.redaction import redact


class AggregatorError(Exception):
    """Base of every error the aggregator raises on purpose."""


class ConfigError(AggregatorError):
    def __init__(
        self, message: str, *, file: str = "", line: int | None = None, key: str = ""
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        where = file
        if line is not None:
            where += f":{line}"
        if key:
            where += f" ({key})"
        super().__init__(f"{where}: {message}" if where else message)


class SourceError(AggregatorError):
    """An error about one source; the message is meant for its organizer."""

    def __init__(self, message: str, *, source_id: str = "", url: str = "") -> None:
        self.message = redact(message)
        self.source_id = source_id
        self.url = redact(url)
        super().__init__(self.message)

    def __reduce__(self) -> tuple[object, ...]:
        # keep source_id, url (and a FetchError's body) when crossing a process boundary
        return (
            _rebuild_source_error,
            (type(self), self.message, self.source_id, self.url, getattr(self, "body", b"")),
        )


def _rebuild_source_error(
    cls: type[SourceError], message: str, source_id: str, url: str, body: bytes
) -> SourceError:
    error = cls(message, source_id=source_id, url=url)
    if body:
        error.body = body  # type: ignore[attr-defined]
    return error


class FetchError(SourceError):
    """``body`` keeps the start of an error answer (a Graph API error object explains itself)."""

    body: bytes = b""


class DeadlineExceeded(FetchError):
    """A harvest's time for fetching is up: the whole source fails, not one page of it."""


class ParseError(SourceError):
    pass


class StoreError(AggregatorError):
    pass
