"""``aggregator events show | merge | split | apart | review``: a moderator's say over dedupe.

Decisions are stored as overrides between source events (not between published ids,
which they may change) and honoured by every later matching run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from aggregator import pipeline
from aggregator.config import Config
from aggregator.publish import output
from aggregator.store import Store, parse_iso


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
    refs = {event_id: [(m[0], m[1]) for m in found] for event_id, found in members.items()}
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
        store.add_overrides("merge", [(refs[a][0], refs[b][0])], now)
    elif command == "split":
        if len(refs[ids[0]]) < 2:
            print("aggregator: the event has only one source; nothing to split", file=sys.stderr)
            return 1
        store.add_overrides("apart", itertools.combinations(refs[ids[0]], 2), now)
    else:  # apart
        a, b = ids
        store.add_overrides("apart", itertools.product(refs[a], refs[b]), now)
    store.mark_days_dirty({m[2][:10] for found in members.values() for m in found})
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
    for source_id, key, start_utc, data in members:
        event = json.loads(data)
        when = parse_iso(start_utc).astimezone(tz).strftime("%Y-%m-%d %H:%M")
        where = event["location_text"] or ", ".join(p for p in event["place"][:3] if p)
        print(f"  {source_id}:{key}")
        print(f"      {when}  {event['title']}" + (f" — {where}" if where else ""))
    pairs = store.match_pairs_of([(m[0], m[1]) for m in members])
    if pairs:
        print("scores:")
        for a_source, a_key, b_source, b_key, decision, _total, reason in pairs:
            print(f"  {a_source}:{a_key} ~ {b_source}:{b_key}")
            print(f"      {decision}: {reason}")
    return 0


def review(store: Store) -> int:
    pairs = store.review_pairs()
    for a_id, a_title, b_id, b_title, _total, reason, _a_ref, _b_ref in pairs:
        print(f"{a_id}  {a_title}")
        print(f"{b_id}  {b_title}")
        print(f"  {reason}")
        print(f"  same event:      aggregator events merge {a_id} {b_id}")
        print(f"  different events: aggregator events apart {a_id} {b_id}")
    print(f"{len(pairs)} pairs to review", file=sys.stderr)
    return 0
