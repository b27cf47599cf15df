"""``aggregator sources pending | approve ID | reject ID | export``: moderating the
sources organizers registered themselves (``/registrera``).

Approving makes a registration an active source: ``aggregator run`` and ``harvest``
read it beside ``sources.yaml`` (where a source of the same id wins). ``export`` prints
the active registrations as ``sources.yaml`` entries, for an operator who wants them in
the file.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

import yaml

from aggregator.config import Config
from aggregator.store import Store
from aggregator.store.registrations import (
    SWEDISH_STATUS,
    RegistrationError,
    RegistrationStatus,
    registered_source,
)

COMMANDS = ("pending", "approve", "reject", "export")


def add_parsers(commands: Any) -> None:
    """Add this module's subcommands to ``aggregator sources``."""
    commands.add_parser("pending", help="registrations waiting for a moderator, with their preview")
    approve = commands.add_parser(
        "approve", help="approve a registration: it is harvested from now"
    )
    approve.add_argument("id", help="registration id (as in sources pending)")
    approve.add_argument("--id", dest="new_id", metavar="NEW_ID", help="publish it under this id")
    approve.add_argument("--municipality", help="default municipality of its events")
    approve.add_argument(
        "--category", action="append", metavar="NAME", help="category (repeatable; replaces)"
    )
    approve.add_argument("--priority", type=int, help="0–100; higher wins in merged events")
    reject = commands.add_parser("reject", help="reject a registration, with a reason")
    reject.add_argument("id", help="registration id")
    reject.add_argument(
        "--reason", required=True, help="shown to the organizer on their status page"
    )
    export = commands.add_parser("export", help="print the approved registrations as sources.yaml")
    export.add_argument("--output", metavar="PATH", help="write to this file instead of stdout")


def run(args: argparse.Namespace, config: Config, store: Store, now: datetime) -> int:
    # the web package (FastAPI, its pages) costs ~90 MB and half a second to import: only
    # these commands need it, not every `aggregator` command that imports this module
    from aggregator.web.submission import Refusal

    command = args.sources_command
    try:
        if command == "pending":
            return pending(store)
        if command == "approve":
            return approve(args, config, store, now)
        if command == "reject":
            return reject(args, store, now)
        return export(args, store)
    except (RegistrationError, Refusal) as exc:
        print(f"aggregator: {exc.message}", file=sys.stderr)
        return 1


def pending(store: Store) -> int:
    from aggregator.web.preview import Preview

    registrations = store.registrations(RegistrationStatus.PENDING)
    for r in registrations:
        preview = Preview.from_json(r.preview)
        found = (
            f"{preview.kind_name or preview.kind}: {preview.upcoming} kommande av {preview.total}"
            if preview.found
            else f"ingen kalender: {preview.reason}"
        )
        print(f"{r.id}  {r.name}  ({r.municipality or '-'})")
        print(f"    {r.location}")
        print(f"    kontakt {r.email}, registrerad {r.created_at}; {found}")
        for event in preview.events[:3]:
            print(
                f"      {event.when}  {event.title}" + (f" — {event.place}" if event.place else "")
            )
        print(f"    godkänn: aggregator sources approve {r.id}")
        print(f'    avvisa:  aggregator sources reject {r.id} --reason "…"')
    print(f"{len(registrations)} registreringar väntar", file=sys.stderr)
    return 0


def approve(args: argparse.Namespace, config: Config, store: Store, now: datetime) -> int:
    from aggregator.web.submission import check_categories, check_municipality

    municipality = (
        check_municipality(args.municipality, config.settings) if args.municipality else None
    )
    categories = check_categories(args.category) if args.category is not None else None
    registration = store.approve_registration(
        args.id,
        now,
        new_id=args.new_id,
        municipality=municipality,
        categories=categories,
        priority=args.priority,
        taken_ids=[s.id for s in config.sources],
    )
    print(
        f"approved {registration.id}: harvested from the next `aggregator run` or "
        f"`aggregator harvest --source {registration.id}`"
    )
    return 0


def reject(args: argparse.Namespace, store: Store, now: datetime) -> int:
    from aggregator.web.submission import MAX_REASON

    reason = " ".join(args.reason.split())
    if not reason or len(reason) > MAX_REASON:
        print(f"aggregator: give a reason of 1–{MAX_REASON} characters", file=sys.stderr)
        return 1
    registration = store.change_registration_status(
        args.id, RegistrationStatus.REJECTED, now, reason=reason, actor="cli"
    )
    print(f"{registration.id}: {SWEDISH_STATUS[registration.status]} ({reason})")
    return 0


def export(args: argparse.Namespace, store: Store) -> int:
    text = export_yaml(store)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


def export_yaml(store: Store) -> str:
    """The active registrations as a ``sources:`` list that ``sources.yaml`` accepts."""
    entries = []
    for registration in store.registrations(RegistrationStatus.ACTIVE):
        path = store.upload_file(registration) if registration.has_upload else None
        source = registered_source(registration, path)
        entry: dict[str, Any] = {"id": source.id, "name": source.name}
        entry["url" if source.url else "path"] = source.url or source.path
        if source.kind:
            entry["kind"] = source.kind
        if source.municipality:
            entry["municipality"] = source.municipality
        if source.categories:
            entry["categories"] = list(source.categories)
        entry["interval"] = f"{source.interval // 60}m"
        entry["priority"] = source.priority
        entry["max_pages"] = source.max_pages
        entries.append(entry)
    header = "# Registered through /registrera; paste under sources: in sources.yaml\n"
    body = yaml.safe_dump({"sources": entries}, allow_unicode=True, sort_keys=False)
    return header + body
