"""What the store hands back: frozen dataclasses, never tuples or JSON strings.

Every query of the store returns one of these (or a model type such as ``Event``), so
the stages above read named fields and the type checker follows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from aggregator.model import Event, MatchDecision, Outcome, OverrideKind, SourceStatus

MemberRef = tuple[str, str]  # (source id, source key): one harvested event


@dataclass(frozen=True, slots=True)
class HarvestOutcome:
    """What storing one successful harvest did (``apply_harvest``)."""

    outcome: Outcome  # OK, or HELD when the shrink guard kept the vanished events
    new: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    message: str = ""

    @property
    def held(self) -> bool:
        return self.outcome is Outcome.HELD


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source's health as ``sources list`` and the web pages show it."""

    id: str
    name: str
    location: str
    kind: str | None
    status: SourceStatus
    message: str
    event_count: int
    warnings: tuple[str, ...]
    consecutive_failures: int
    last_attempt_at: str | None
    last_success_at: str | None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A published (merged) event as stored: its content and its publishing history."""

    id: str
    event: Event  # the merged content; ``source_id``/``uid`` are empty, ``key`` is the id
    sources: tuple[tuple[str, str], ...]  # (source id, event URL there), most trusted first
    created_at: str
    modified_at: str
    sequence: int


@dataclass(frozen=True, slots=True)
class RemovedEvent:
    """A published event whose every source dropped it: its id stays taken, its page says so."""

    id: str
    removed_at: str


@dataclass(frozen=True, slots=True)
class ActiveMember:
    """A source event that currently belongs to a published event."""

    source_id: str
    key: str
    start_utc: str
    event: Event

    @property
    def ref(self) -> MemberRef:
        return (self.source_id, self.key)


@dataclass(frozen=True, slots=True, order=True)
class MatchPair:
    """The remembered score of two source events: why they were merged, or not."""

    a_source: str
    a_key: str
    b_source: str
    b_key: str
    decision: MatchDecision
    total: float
    reason: str

    @property
    def a(self) -> MemberRef:
        return (self.a_source, self.a_key)

    @property
    def b(self) -> MemberRef:
        return (self.b_source, self.b_key)


@dataclass(frozen=True, slots=True)
class ReviewPair:
    """Two published events the matcher was unsure about, for a moderator to decide."""

    a_event_id: str
    a_title: str
    b_event_id: str
    b_title: str
    total: float
    reason: str
    a_member: str  # "source:key"
    b_member: str


@dataclass(frozen=True, slots=True)
class MergedUpdate:
    """A merged event's new state as the dedupe stage decided it, for ``save_merged``."""

    id: str
    changed: bool
    removed: bool = False
    modified_at: str = ""
    sequence: int = 0
    content_hash: str = ""
    start_utc: str = ""
    end_utc: str = ""
    status: str = ""
    data: str = ""
    feeds: tuple[str, ...] = ()
    feed_labels: tuple[tuple[str, str], ...] = ()
    created_at: str = ""
    event: Event | None = None  # the merged event, for rendering
    sources: tuple[tuple[str, str], ...] = ()
    fragments: tuple[str, str, str] = ("", "", "")  # ics, rss, json item
    render_key: str = ""
    had_content: bool = True


# Rows read in bulk by code that unpacks them positionally are NamedTuples: named and
# typed, and still ``for source_id, key, uid in rows``.


class UnassignedMember(NamedTuple):
    """An active source event that belongs to no published event yet."""

    source_id: str
    key: str
    uid: str


class Override(NamedTuple):
    """A moderator's ruling on two source events, honoured by every matching run."""

    kind: OverrideKind
    a: MemberRef
    b: MemberRef


__all__ = [
    "ActiveMember",
    "HarvestOutcome",
    "MatchPair",
    "MemberRef",
    "MergedUpdate",
    "Override",
    "RemovedEvent",
    "ReviewPair",
    "SourceHealth",
    "StoredEvent",
    "UnassignedMember",
]
