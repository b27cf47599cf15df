"""``aggregator sources list | show ID | pause ID | resume ID``: health an operator can act on.

A pause has one of two reasons (``model.PauseReason``): failing for ``pause_after`` (its
events stay) or a moderator's (``pause``: its events leave the feeds); ``resume`` lifts
either, for configured and registered sources alike, and says which it lifted.

Health is the store's (status, counts, the last message), the scheduler's (failures in a
row, the next attempt and why, a pause) and the feed linter's (Swedish sentences for the
organizer). ``pause``/``resume`` take effect in a running ``aggregator run`` within seconds.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from aggregator import pipeline
from aggregator.config import Config
from aggregator.model import PauseReason
from aggregator.publish import output
from aggregator.store import SourceHealth, Store
from aggregator.store.schedule_queries import MODERATOR_PAUSE, SourceSchedule


def add_commands(source_commands: argparse._SubParsersAction) -> None:
    show = source_commands.add_parser(
        "show", help="one source's health, next attempt, linter advice and latest harvests"
    )
    show.add_argument("id", help="source id")
    pause = source_commands.add_parser(
        "pause", help="stop harvesting a source and take its events out of the feeds until resumed"
    )
    pause.add_argument("id", help="source id")
    resume = source_commands.add_parser(
        "resume",
        help="harvest a paused source again, whatever paused it (right away in a running service)",
    )
    resume.add_argument("id", help="source id")


def run(args: argparse.Namespace, config: Config, store: Store, now: datetime) -> int:
    store.sync_sources(config.sources)
    command = args.sources_command
    if command == "list":
        return _list(config, store)
    if args.id not in {s.id for s in config.sources}:
        print(f"aggregator: no source with id {args.id}", file=sys.stderr)
        return 1
    if command == "show":
        return _show(config, store, args.id)
    if command == "pause":
        store.pause_source(args.id, now, MODERATOR_PAUSE.format(id=args.id))
        pipeline.update_events(store, config, now)  # its events leave the feeds now
        output.publish(store, config, now)
        print(
            f"{args.id}: paused by a moderator; its events left the feeds (kept in the "
            f"database); 'aggregator sources resume {args.id}' harvests it again"
        )
        return 0
    if command == "resume":
        reason = store.resume_source(args.id, now)
        if reason is None:
            print(f"{args.id}: not paused", file=sys.stderr)
        elif reason is PauseReason.MODERATOR:
            print(
                f"{args.id}: resumed (it was paused by a moderator); harvested at the next run "
                "(at once by a running service), which brings its events back to the feeds"
            )
        else:
            print(
                f"{args.id}: resumed (it was paused after failing for a long time); harvested "
                "at the next run (at once by a running service)"
            )
        return 0
    raise AssertionError(command)


def _note(health: SourceHealth, schedule: SourceSchedule | None) -> str:
    """The MESSAGE column: what is wrong and what happens next, else the linter's advice."""
    parts = [health.message] if health.message else []
    if schedule is not None and schedule.consecutive_failures and not schedule.paused:
        parts.append(schedule.retry_reason)
    if not parts and schedule is not None and schedule.advice:
        more = f" (+{len(schedule.advice) - 1} råd)" if len(schedule.advice) > 1 else ""
        parts.append(schedule.advice[0] + more)
    if not parts and health.warnings:
        parts.append(f"{len(health.warnings)} warnings: {health.warnings[0]}")
    return " · ".join(p for p in parts if p)


def _list(config: Config, store: Store) -> int:
    health = {h.id: h for h in store.source_health()}
    schedules = store.schedule_states()
    rows = [("ID", "STATUS", "EVENTS", "LAST OK", "MESSAGE")]
    for source in config.sources:
        h = health.get(source.id)
        if h is None:
            continue
        note = _note(h, schedules.get(source.id))
        if len(note) > 160:
            note = note[:159] + "…"
        status = str(h.status)
        schedule = schedules.get(source.id)
        if schedule is not None and schedule.paused:
            status = f"paused ({schedule.pause_reason})"
        rows.append((source.id, status, str(h.event_count), h.last_success_at or "-", note))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
    return 0


def _show(config: Config, store: Store, source_id: str) -> int:
    source = config.source(source_id)
    health = next(h for h in store.source_health() if h.id == source_id)
    schedule = store.schedule_state(source_id)
    tz = ZoneInfo(config.settings.timezone)

    def local(value: datetime | str | None) -> str:
        if value is None:
            return "-"
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    lines = [
        f"{source.id}: {source.name}",
        f"  location:     {source.location}",
        f"  kind:         {health.kind or source.kind or 'detected'}; every {_duration(source.interval)}; priority {source.priority}",
        f"  status:       {health.status}" + (f" — {health.message}" if health.message else ""),
        f"  events:       {health.event_count}",
        f"  last attempt: {local(health.last_attempt_at)}",
        f"  last success: {local(health.last_success_at)}",
    ]
    if schedule is not None and schedule.paused_by_moderator:
        lines.append(
            f"  paused:       by a moderator since {local(schedule.paused_at)}; its events are "
            f"out of the feeds until 'aggregator sources resume {source.id}'"
        )
    elif schedule is not None and schedule.paused:
        lines.append(
            f"  paused:       after failing, since {local(schedule.paused_at)} (failing since "
            f"{local(schedule.failing_since)}); its events stay in the feeds; "
            f"'aggregator sources resume {source.id}' or a harvest that works resumes it"
        )
    elif schedule is not None and schedule.consecutive_failures:
        lines.append(
            f"  failing:      {schedule.consecutive_failures} in a row, since "
            f"{local(schedule.failing_since)}"
        )
        lines.append(f"  next attempt: {local(schedule.retry_at)} — {schedule.retry_reason}")
    advice = schedule.advice if schedule is not None else ()
    lines.append("")
    lines.append("Advice for the organizer (feed linter):" if advice else "Advice: none")
    lines += [f"  - {sentence}" for sentence in advice]
    if health.warnings:
        lines.append(f"Warnings from the last harvest ({len(health.warnings)}):")
        lines += [f"  - {warning}" for warning in health.warnings[:20]]
    history = store.harvest_log(source_id, limit=10)
    if history:
        lines.append("Latest harvests:")
        for row in history:
            status = str(row.http_status) if row.http_status else "-"
            duration = f"{row.duration_ms} ms" if row.duration_ms is not None else "-"
            events = str(row.events) if row.events is not None else "-"
            lines.append(
                f"  {local(row.at)}  {row.outcome:9} {status:>3} {duration:>9} {events:>6}  {row.message[:100]}"
            )
    print("\n".join(lines))
    return 0


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
