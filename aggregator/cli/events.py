"""``aggregator events show | merge | split | apart | review``: a moderator's say over dedupe.

Decisions are stored as overrides between source events (not between published ids,
which they may change) and honoured by every later matching run.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from aggregator import pipeline
from aggregator.config import Config
from aggregator.model import OverrideKind
from aggregator.publish import output
from aggregator.store import ActiveMember, Store, parse_iso


def run(args: argparse.Namespace, config: Config, store: Store, now: datetime) -> int:
    command = args.events_command
    if command == "review":
        return review(store)
    if command == "show":
        return show(config, store, args.id)
    ids = [args.id] if command == "split" else list(args.ids)
    members = {event_id: store.active_members_of(event_id) for event_id in ids}
    missing = [event_id for event_id, found in members.items() if not found]
    if missing:
        print(f"aggregator: no published event with id {', '.join(missing)}", file=sys.stderr)
        return 1
    refs = {event_id: [m.ref for m in found] for event_id, found in members.items()}
    if command in ("merge", "apart") and ids[0] == ids[1]:
        print("aggregator: that is the same event twice", file=sys.stderr)
        return 1
    if command == "merge":
        a, b = ids
        shared = {s for s, _ in refs[a]} & {s for s, _ in refs[b]}
        if shared:
            print(
                f"aggregator: both events come from {', '.join(sorted(shared))}; two events of "
                "one source are never merged",
                file=sys.stderr,
            )
            return 1
        store.add_overrides(OverrideKind.MERGE, [(refs[a][0], refs[b][0])], now)
    elif command == "split":
        if len(refs[ids[0]]) < 2:
            print("aggregator: the event has only one source; nothing to split", file=sys.stderr)
            return 1
        store.add_overrides(OverrideKind.APART, itertools.combinations(refs[ids[0]], 2), now)
    else:  # apart
        a, b = ids
        store.add_overrides(OverrideKind.APART, itertools.product(refs[a], refs[b]), now)
    store.mark_days_dirty({m.start_utc[:10] for found in members.values() for m in found})
    pipeline.update_events(store, config, now)
    result = output.publish(store, config, now)
    after = sorted({store.event_id_of(ref) or "-" for found in refs.values() for ref in found})
    print(f"{command}: now {', '.join(after)}; {result.written} feed files rewritten")
    return 0


def show(config: Config, store: Store, event_id: str) -> int:
    members = store.active_members_of(event_id)
    if not members:
        print(f"aggregator: no published event with id {event_id}", file=sys.stderr)
        return 1
    tz = ZoneInfo(config.settings.timezone)
    print(f"event {event_id}")
    for member in members:
        when = parse_iso(member.start_utc).astimezone(tz).strftime("%Y-%m-%d %H:%M")
        where = _where(member)
        print(f"  {member.source_id}:{member.key}")
        print(f"      {when}  {member.event.title}" + (f" — {where}" if where else ""))
    pairs = store.match_pairs_of([m.ref for m in members])
    if pairs:
        print("scores:")
        for pair in pairs:
            print(f"  {pair.a_source}:{pair.a_key} ~ {pair.b_source}:{pair.b_key}")
            print(f"      {pair.decision}: {pair.reason}")
    return 0


def _where(member: ActiveMember) -> str:
    """The place as the source wrote it, else its name, street and locality."""
    place = member.event.place
    return member.event.location_text or ", ".join(
        p for p in (place.name, place.street, place.locality) if p
    )


def review(store: Store) -> int:
    pairs = store.review_pairs()
    for pair in pairs:
        print(f"{pair.a_event_id}  {pair.a_title}")
        print(f"{pair.b_event_id}  {pair.b_title}")
        print(f"  {pair.reason}")
        print(f"  same event:      aggregator events merge {pair.a_event_id} {pair.b_event_id}")
        print(f"  different events: aggregator events apart {pair.a_event_id} {pair.b_event_id}")
    print(f"{len(pairs)} pairs to review", file=sys.stderr)
    return 0
