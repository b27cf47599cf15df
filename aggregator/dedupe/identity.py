"""Identity: which event a harvested source event belongs to, with ids that last.

The exact stage gives every new member an event: the one a re-keyed old self of it
belonged to, or a new one. The fuzzy stage (``matching.match_events`` over the days a
harvest touched) then decides which members are the same real event (a publisher UID
shared across sources decides it when time and place agree), and ``reconcile`` moves
members between events so that ids stay stable: the published id survives a join (the
oldest, when several were published), a cluster keeps its id when a member leaves.

Everything here is pure: ``update`` reads rows from the store, calls these functions
and writes their answers back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from aggregator.dedupe.features import normalize_title
from aggregator.model import Event
from aggregator.store import Assignment, MatchMember, MemberRef

_UNPUBLISHED = "~"  # sorts after every ISO timestamp


def event_id_for(source_id: str, key: str) -> str:
    """A new event's id: derived from its founding member, so rebuilds give the same ids."""
    return hashlib.blake2b(f"{source_id}\x00{key}".encode(), digest_size=8).hexdigest()


def new_identities(unassigned: Sequence[MemberRef]) -> list[Assignment]:
    """A new event for each member that belongs to none, named after its founding member.

    A publisher UID shared with another source does not join them here: small CMSs
    write ``1@`` or ``event-12`` on every site. The fuzzy stage joins them when their
    time and place agree with the UID (``score.LINK_TIME``, ``LINK_PLACE``).
    """
    return [Assignment(s, k, event_id_for(s, k)) for s, k in sorted(unassigned)]


def inherit_rekeyed(
    new: Sequence[MatchMember], removed: Sequence[MatchMember]
) -> dict[MemberRef, str]:
    """Event ids for new members that are a re-keyed old member of the same source.

    Some platforms change an event's UID when it is rescheduled (The Events Calendar
    builds it from post id + start + end) or on every fetch. A new member with the same
    URL as a just-removed one, or the same title and place with only the time moved,
    is that event: it keeps its published id instead of appearing beside a removed one.
    """
    by_source: dict[str, list[MatchMember]] = {}
    for old in removed:
        by_source.setdefault(old.source_id, []).append(old)
    inherited: dict[MemberRef, str] = {}
    used: set[MemberRef] = set()
    for member in sorted(new, key=lambda m: m.ref):
        for old in by_source.get(member.source_id, []):
            if old.ref in used or old.event_id is None:
                continue
            if _same_event_rekeyed(member.event, old.event):
                inherited[member.ref] = old.event_id
                used.add(old.ref)
                break
    return inherited


def _same_event_rekeyed(new: Event, old: Event) -> bool:
    if new.url and new.url == old.url:
        return True
    return normalize_title(new.title) == normalize_title(old.title) != "" and (
        new.location_text or new.place.text
    ) == (old.location_text or old.place.text)


def reconcile(
    members: Sequence[MatchMember],
    clusters: Sequence[Sequence[int]],
    id_taken: Callable[[str], bool],
) -> list[Assignment]:
    """The new event of each member whose event must change to fit ``clusters``.

    Each group (a cluster, or a member alone) keeps an id it already has: an old id goes
    to the group holding most of its members (then the one with the most trusted source),
    and a group holding several old ids keeps the oldest, so when two published events
    turn out to be one the older id survives and when a member leaves, the cluster keeps
    its id. Groups with no id left get a new one.
    """
    in_cluster = {i for c in clusters for i in c}
    groups = [list(c) for c in clusters] + [[i] for i in range(len(members)) if i not in in_cluster]
    holders: dict[str, list[int]] = {}
    for g, group in enumerate(groups):
        for i in group:
            event_id = members[i].event_id
            if event_id:
                holders.setdefault(event_id, []).append(g)
    # the oldest published id first; ids never published yet (no events row, created "")
    # after them, the one of the most trusted, earliest member first: so a published id
    # is never traded for a new one when another source lists the same event
    rank: dict[str, tuple[str, int, str]] = {}
    for m in members:
        if m.event_id:
            mine = (m.event_created_at or _UNPUBLISHED, -m.priority, m.first_seen)
            rank[m.event_id] = min(rank.get(m.event_id, mine), mine)
    chosen: dict[int, str] = {}
    for event_id in sorted(holders, key=lambda e: (rank[e], e)):
        counts: dict[int, int] = {}
        for g in holders[event_id]:
            counts[g] = counts.get(g, 0) + 1
        candidates = [g for g in counts if g not in chosen]
        if not candidates:
            continue
        best = min(  # most of its members, then the most trusted source, then the oldest
            candidates,
            key=lambda g: (
                -counts[g],
                -max(members[i].priority for i in groups[g]),
                min(members[i].first_seen for i in groups[g]),
                g,
            ),
        )
        chosen[best] = event_id
    given = set(chosen.values())
    assignments = []
    for g, group in enumerate(groups):
        event_id = chosen.get(g)
        if event_id is None:
            founder = min((members[i] for i in group), key=lambda m: (m.first_seen, m.ref))
            event_id = _fresh_id(
                founder.source_id, founder.key, lambda e: e in given or id_taken(e)
            )
            given.add(event_id)
        for i in group:
            if members[i].event_id != event_id:
                assignments.append(Assignment(members[i].source_id, members[i].key, event_id))
    return assignments


def _fresh_id(source_id: str, key: str, taken: Callable[[str], bool]) -> str:
    event_id = event_id_for(source_id, key)
    counter = 1
    while taken(event_id):
        event_id = event_id_for(source_id, f"{key}\x00{counter}")
        counter += 1
    return event_id
