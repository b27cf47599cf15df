"""The shrink guard: what storing a harvest may do to a source's events, decided purely.

``decide_harvest`` compares what the store holds for a source with what the source
sends now and says which events are new, changed, unchanged or gone, and whether the
vanishing is a collapse to hold for review (sources do empty their calendar by mistake:
a CMS upgrade, a wrong export filter). ``Store.apply_harvest`` only carries it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aggregator.model import Outcome

# A collapse: more than half of at least this many upcoming events gone at once.
COLLAPSE_MIN_UPCOMING = 5


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """What the store holds for one key of a source."""

    content_hash: str
    removed: bool  # tombstoned by an earlier harvest
    start_utc: str
    end_utc: str


@dataclass(frozen=True, slots=True)
class IncomingVersion:
    """One event of the harvest being stored."""

    content_hash: str
    start_utc: str
    end_utc: str


@dataclass(frozen=True, slots=True)
class Decision:
    """Which keys to insert, update and tombstone; ``kept`` vanished but stay (held)."""

    outcome: Outcome  # OK or HELD
    insert: tuple[str, ...]
    update: tuple[str, ...]  # content changed, or back after being tombstoned
    tombstone: tuple[str, ...]
    kept: tuple[str, ...]
    unchanged: int
    upcoming_before: int
    vanished_upcoming: int

    @property
    def held(self) -> bool:
        return self.outcome is Outcome.HELD

    @property
    def message(self) -> str:
        """The sentence the source's health shows while it is held."""
        if not self.held:
            return ""
        return (
            f"{self.vanished_upcoming} of {self.upcoming_before} upcoming events vanished at "
            "once; kept them and held the source for review (harvest with --accept-shrink "
            "to accept)"
        )


def decide_harvest(
    old: Mapping[str, StoredVersion],
    new: Mapping[str, IncomingVersion],
    *,
    now: str,
    accept_shrink: bool = False,
) -> Decision:
    """Compare the stored events of a source (``old``) with a new harvest (``new``), both
    keyed by source key; ``now`` is a UTC ISO string as the store writes them. Upcoming
    means not ended yet: past events dropping out of a calendar is normal."""
    insert = tuple(key for key in new if key not in old)
    update = tuple(
        key
        for key, version in new.items()
        if key in old and (old[key].removed or old[key].content_hash != version.content_hash)
    )
    unchanged = len(new) - len(insert) - len(update)
    vanished = tuple(key for key, version in old.items() if not version.removed and key not in new)
    upcoming_before = sum(1 for v in old.values() if not v.removed and v.end_utc >= now)
    vanished_upcoming = sum(1 for key in vanished if old[key].end_utc >= now)
    upcoming_after = sum(1 for v in new.values() if v.end_utc >= now)
    held = not accept_shrink and _is_collapse(upcoming_before, vanished_upcoming, upcoming_after)
    return Decision(
        outcome=Outcome.HELD if held else Outcome.OK,
        insert=insert,
        update=update,
        tombstone=() if held else vanished,
        kept=vanished if held else (),
        unchanged=unchanged,
        upcoming_before=upcoming_before,
        vanished_upcoming=vanished_upcoming,
    )


def _is_collapse(upcoming_before: int, vanished_upcoming: int, upcoming_after: int) -> bool:
    """A calendar emptied of every upcoming event, or more than half of at least
    ``COLLAPSE_MIN_UPCOMING`` upcoming events gone at once."""
    if upcoming_before >= 1 and vanished_upcoming and upcoming_after == 0:
        return True
    return upcoming_before >= COLLAPSE_MIN_UPCOMING and vanished_upcoming * 2 > upcoming_before
