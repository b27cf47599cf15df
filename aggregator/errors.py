"""The one exception tree of the aggregator.

    AggregatorError
     ├── ConfigError   sources.yaml is unusable (names file, line and key)
     ├── FetchError    a source could not be fetched (carries source id / URL and
     │    │            a ``FetchFailure`` kind that says what failed)
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

from enum import StrEnum

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
        # keep source_id, url and any extra fields (a FetchError's body, status …) when
        # crossing a process boundary: the instance dict travels as the pickled state
        return (
            _rebuild_source_error,
            (type(self), self.message, self.source_id, self.url),
            dict(self.__dict__),
        )


def _rebuild_source_error(
    cls: type[SourceError], message: str, source_id: str, url: str
) -> SourceError:
    return cls(message, source_id=source_id, url=url)


class FetchFailure(StrEnum):
    """What went wrong in a fetch, for code that answers each failure its own way (the
    registration preview): the message is for people and may be reworded at any time."""

    OTHER = "other"
    HTTP_STATUS = "http-status"  # an error answer; ``FetchError.status`` says which
    TOO_BIG = "too-big"  # over the size cap
    NO_ANSWER = "no-answer"  # no answer within the read timeout
    TOO_SLOW = "too-slow"  # the request's (or the crawl's) deadline passed
    UNREACHABLE = "unreachable"  # no connection to the host
    UNKNOWN_HOST = "unknown-host"  # the name does not resolve
    PRIVATE_ADDRESS = "private-address"  # refused by the SSRF guard
    BAD_ADDRESS = "bad-address"  # no host, or a host that reads two ways
    TLS = "tls"  # a certificate we cannot trust
    REDIRECT_LOOP = "redirect-loop"  # more redirects than we follow
    REDIRECT_NOT_WEB = "redirect-not-web"  # a redirect to something not http(s)
    INSECURE_REDIRECT = "insecure-redirect"  # a redirect from https down to http
    FILE = "file"  # a ``path:`` source that is missing or unreadable
    HOST_BUSY = "host-busy"  # a linked page's host was held by another harvest
    ROBOTS_UNAVAILABLE = "robots-unavailable"  # a harvester's read of an unread robots.txt


class FetchError(SourceError):
    """``kind`` says what failed (see ``FetchFailure``); ``body`` keeps the start of an
    error answer (a Graph API error object explains itself); ``status`` is the HTTP status
    of an error answer and ``retry_after`` its Retry-After header as sent (seconds or an
    HTTP date), for the scheduler's backoff."""

    body: bytes = b""
    status: int | None = None
    retry_after: str | None = None

    def __init__(
        self,
        message: str,
        *,
        kind: FetchFailure = FetchFailure.OTHER,
        source_id: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message, source_id=source_id, url=url)
        self.kind = kind


class DeadlineExceeded(FetchError):
    """A harvest's time for fetching is up: the whole source fails, not one page of it."""

    def __init__(self, message: str, *, source_id: str = "", url: str = "") -> None:
        super().__init__(message, kind=FetchFailure.TOO_SLOW, source_id=source_id, url=url)


class ParseError(SourceError):
    pass


class StoreError(AggregatorError):
    pass
