"""What the store hands back: frozen dataclasses, never tuples or JSON strings.

Every query of the store returns one of these (or a model type such as ``Event``), so
the stages above read named fields and the type checker follows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from aggregator.model import Event, EventStatus, MatchDecision, Outcome, SourceStatus

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


REMOVED = "removed"  # content hash (and status) of an event with no active members left


@dataclass(frozen=True, slots=True)
class Revision:
    """A published event's life: when it appeared, when its content last changed, and the
    iCalendar SEQUENCE that tells subscribers' calendars to take the change."""

    created_at: str
    modified_at: str
    sequence: int


@dataclass(frozen=True, slots=True)
class EventContent:
    """What a merged event publishes, as stored: canonical JSON (``codec.merged_to_json``),
    its digest, and the columns read from it."""

    data: str
    content_hash: str
    start_utc: str
    end_utc: str
    status: EventStatus


@dataclass(frozen=True, slots=True)
class MergedRecord:
    """A merged event whose content changed, as the dedupe stage decided it (for
    ``save_merged``): its new revision and content, or ``content`` None when no active
    member is left and the event leaves the feeds."""

    id: str
    revision: Revision
    content: EventContent | None
    was_published: bool  # it had content before, so its feed memberships are stale now

    @property
    def removed(self) -> bool:
        return self.content is None


Fragments = tuple[str, str, str]  # one event rendered as (ics, rss, json item)


@dataclass(frozen=True, slots=True)
class RenderedEvent:
    """An event's feed fragments and the feeds it belongs to, (feed id, label), as the
    publish stage rendered them (for ``save_renders``)."""

    event_id: str
    fragments: Fragments
    feeds: tuple[tuple[str, str], ...]


__all__ = [
    "REMOVED",
    "ActiveMember",
    "EventContent",
    "Fragments",
    "HarvestOutcome",
    "MatchPair",
    "MemberRef",
    "MergedRecord",
    "RemovedEvent",
    "RenderedEvent",
    "ReviewPair",
    "Revision",
    "SourceHealth",
    "StoredEvent",
]
