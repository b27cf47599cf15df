"""Command line: ``aggregator [--config PATH] COMMAND``.

Exit codes: 0 when the job ran (even if some sources failed: they are reported),
2 for a broken configuration or store, or any failure to read or write files (a
full disk, a read-only folder): one sentence, never a traceback; 1 for a command
that could not do its job.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from aggregator import clock, pipeline
from aggregator.cli import events as moderation
from aggregator.cli import registrations as registrations_cli
from aggregator.cli import sources as sources_cli
from aggregator.cli.progress import Progress
from aggregator.config import Config, ConfigHolder, config_path, load_config
from aggregator.errors import AggregatorError, ConfigError, SourceError
from aggregator.fetch import fetch_source
from aggregator.model import EventStatus, FetchState, Outcome, Source
from aggregator.normalize import slugify
from aggregator.publish import output
from aggregator.publish.feeds import category_feed, municipality_feed
from aggregator.redaction import install_log_redaction, redact
from aggregator.store import SearchQuery, Store, merged_to_dict
from aggregator.store.registrations import merge_registered_sources

log = logging.getLogger("aggregator")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aggregator",
        description="Allt som sker: harvest organizers' calendars, merge them, publish feeds.",
    )
    parser.add_argument(
        "--config", help="path to sources.yaml (default: $AGGREGATOR_CONFIG or ./sources.yaml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step")
    parser.add_argument("-q", "--quiet", action="store_true", help="log only errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="harvest on schedule and serve feeds (the main job)")
    run.add_argument("--once", action="store_true", help="harvest all sources, publish, exit")
    run.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    run.add_argument("--port", type=_port, default=8080, help="port to serve on (default 8080)")

    harvest = commands.add_parser("harvest", help="harvest sources now (all, or --source ID)")
    harvest.add_argument(
        "--source", action="append", metavar="ID", help="only this source (repeatable)"
    )
    harvest.add_argument(
        "--accept-shrink",
        action="store_true",
        help="accept a harvest even when most upcoming events vanished at once",
    )

    pub = commands.add_parser("publish", help="write the feeds from the database")
    pub.add_argument("--force", action="store_true", help="rebuild even when nothing changed")

    serve = commands.add_parser("serve", help="serve the published feeds over HTTP")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=_port, default=8080, help="port to serve on (default 8080)")

    sources = commands.add_parser("sources", help="list or check sources")
    source_commands = sources.add_subparsers(
        dest="sources_command", metavar="ACTION", required=True
    )
    source_commands.add_parser("list", help="every source with its health")
    sources_cli.add_commands(source_commands)
    check = source_commands.add_parser(
        "check",
        help="fetch a URL, detect its kind and show the events it would import (stores nothing)",
    )
    check.add_argument("url", help="http(s) URL or a local file path")
    check.add_argument(
        "--kind", choices=["ical", "feed", "html", "facebook"], help="skip detection"
    )
    check.add_argument("--limit", type=int, default=20, help="events to show (default 20)")
    registrations_cli.add_parsers(source_commands)

    backup = commands.add_parser(
        "backup", help="a consistent copy of the database, also while the service runs"
    )
    backup.add_argument(
        "path",
        type=Path,
        help="file to write (replaced atomically), or a folder to write a dated copy into",
    )

    events = commands.add_parser("events", help="list published events")
    event_commands = events.add_subparsers(dest="events_command", metavar="ACTION", required=True)
    listing = event_commands.add_parser("list", help="events in a date range, filtered")
    listing.add_argument("--from", dest="date_from", type=_day, help="YYYY-MM-DD (default today)")
    listing.add_argument("--to", dest="date_to", type=_day, help="YYYY-MM-DD (exclusive)")
    listing.add_argument("--municipality", help="municipality name or slug")
    listing.add_argument("--category", help="category name or slug")
    listing.add_argument(
        "--q",
        help="words in the title, description, place or organizer; all must match, "
        "jul* finds Julmarknad, case and accents are ignored",
    )
    listing.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    show = event_commands.add_parser(
        "show", help="an event's sources and the scores that joined them"
    )
    show.add_argument("id", help="event id (as in events list and feed UIDs)")
    merge = event_commands.add_parser("merge", help="these two events are one (remembered)")
    merge.add_argument("ids", nargs=2, metavar="ID", help="the two event ids")
    split = event_commands.add_parser(
        "split", help="split an event into one per source (remembered)"
    )
    split.add_argument("id", help="event id")
    apart = event_commands.add_parser(
        "apart", help="these two events are different: never merge them"
    )
    apart.add_argument("ids", nargs=2, metavar="ID", help="the two event ids")
    event_commands.add_parser("review", help="pairs the matcher was unsure about, for a moderator")
    return parser


def _port(text: str) -> int:
    """A TCP port for --port: 1–65535, or argparse's one-line error."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is not between 1 and 65535")
    return port


FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)  # what times in the store can be


def _day(text: str) -> date:
    """A date for --from/--to: YYYY-MM-DD between 1970 and 9998."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise argparse.ArgumentTypeError(f"{text} is not between {FIRST_DAY} and {LAST_DAY}")
    return day


def entry() -> None:
    """The ``aggregator`` command: ``main``, then an exit without the interpreter's
    teardown.

    Tearing down the ~400 modules a command imports, and collecting their objects, took
    45–120 ms after every command: a tenth to a fifth of a no-change ``run --once``
    (issue 11). Nothing of ours needs it: the store is closed and feeds are written by
    then, and the exit handlers (logging, parse workers, temporary folders) still run,
    as do the output streams' flushes. A thread of ours that is still running (none
    should be) gets the ordinary exit, which waits for it.
    """
    code = main()
    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        raise SystemExit(code)
    for stream in (sys.stdout, sys.stderr):
        # OSError: a reader that went away (`| head`); ValueError: a stream closed already
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = _setup_logging(args.verbose, args.quiet)
    try:
        return _main(args)
    except BrokenPipeError:  # `aggregator events list | head`
        sys.stderr.close()
        return 0
    except ConfigError as exc:
        _say(f"configuration error: {exc}")
        return 2
    except AggregatorError as exc:
        _say(str(exc))
        return 2
    except OSError as exc:
        _say(os_error_sentence(exc))
        return 2
    except sqlite3.Error as exc:  # the store wraps its errors; this is the last wall
        _say(f"the database failed: {exc}")
        return 2
    finally:
        logging.getLogger().removeHandler(handler)


def _say(sentence: str) -> None:
    """One line on stderr, secrets redacted."""
    print(f"aggregator: {redact(sentence)}", file=sys.stderr)


def os_error_sentence(exc: OSError) -> str:
    """ "cannot use feeds/all.ics: No space left on device", not a traceback."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        target = f"{exc.filename} → {exc.filename2}" if exc.filename2 is not None else exc.filename
        return f"cannot use {target}: {reason}"
    return reason


def _main(args: argparse.Namespace) -> int:
    config = load_config(config_path(args.config))
    now = clock.now()
    if args.command == "sources" and args.sources_command == "check":
        return _check(config, args, now)
    store = Store(config.resolve(config.settings.database))  # StoreError: main says it
    try:
        if args.command == "serve":
            from aggregator.web import serve

            # the app merges registrations into the file's configuration as they change
            holder = ConfigHolder(merge_registered_sources(config, store), file=config)
            serve(holder, args.host, args.port)
            return 0
        config = merge_registered_sources(config, store)  # approved registrations join
        return _dispatch(args, config, store, now)
    finally:
        store.close()


def _dispatch(args: argparse.Namespace, config: Config, store: Store, now: datetime) -> int:
    if args.command == "run" and args.once:
        progress = Progress(len(config.sources))
        report = pipeline.run_once(store, config, now, progress=progress)
        progress.finish(report.sources)
        _print_summary(report, config)
        return 0
    if args.command == "run":
        from aggregator.cli.service import web_starter
        from aggregator.schedule import run_forever

        if not args.quiet and not args.verbose:  # a service logs each harvest
            logging.getLogger("aggregator").setLevel(logging.INFO)
        return run_forever(store, config, start_web=web_starter(args.host, args.port))
    if args.command == "harvest":
        unknown = [s for s in args.source or [] if s not in {src.id for src in config.sources}]
        if unknown:
            print(f"aggregator: no source with id {', '.join(unknown)}", file=sys.stderr)
            return 1
        progress = Progress(len(args.source or config.sources))
        reports = pipeline.harvest_all(
            store,
            config,
            now,
            source_ids=args.source,
            accept_shrink=args.accept_shrink,
            progress=progress,
        )
        progress.finish(reports)
        pipeline.update_events(store, config, now)
        _print_summary(
            pipeline.RunReport(sources=reports, publish=output.PublishReport(skipped=True)),
            config,
        )
        return 0
    if args.command == "publish":
        pipeline.update_events(store, config, now)
        result = output.publish(store, config, now, force=args.force)
        print(_publish_line(result, config))
        return 0
    if args.command == "sources" and args.sources_command in registrations_cli.COMMANDS:
        return registrations_cli.run(args, config, store, now)
    if args.command == "sources":
        return sources_cli.run(args, config, store, now)
    if args.command == "backup":
        written = store.backup_to(args.path, now.astimezone(ZoneInfo(config.settings.timezone)))
        print(f"Backup: {written} ({written.stat().st_size / 1e6:.1f} MB, integrity ok)")
        return 0
    if args.command == "events" and args.events_command == "list":
        return _events_list(config, store, args, now)
    if args.command == "events":
        return moderation.run(args, config, store, now)
    raise AssertionError(args.command)


def _setup_logging(verbose: bool, quiet: bool) -> logging.Handler:
    """Our handler on stderr (first, so it redacts each record before any other handler
    sees it), and redaction on every handler of the root logger, for every command."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.handlers.insert(0, handler)
    root.setLevel(level)
    install_log_redaction(root)
    return handler


def _print_summary(report: pipeline.RunReport, config: Config) -> None:
    counts = {
        o: sum(1 for s in report.sources if s.outcome == o)
        for o in (Outcome.OK, Outcome.UNCHANGED, Outcome.HELD, Outcome.FAILED, Outcome.SKIPPED)
    }
    parts = [f"{counts[Outcome.OK]} ok", f"{counts[Outcome.UNCHANGED]} unchanged"]
    if counts[Outcome.HELD]:
        parts.append(f"{counts[Outcome.HELD]} held")
    parts.append(f"{counts[Outcome.FAILED]} failed")
    if counts[Outcome.SKIPPED]:
        parts.append(f"{counts[Outcome.SKIPPED]} skipped")
    print("Sources: " + ", ".join(parts))
    new = sum(s.new for s in report.sources)
    changed = sum(s.changed for s in report.sources)
    removed = sum(s.removed for s in report.sources)
    print(f"Harvested: {new} new, {changed} changed, {removed} removed")
    for failed in report.failed:
        print(f"  failed {failed.source_id}: {failed.message}")
    for skipped in (s for s in report.sources if s.outcome is Outcome.SKIPPED):
        print(f"  skipped {skipped.source_id}: {skipped.reason}")
    if not report.publish.skipped or report.publish.feeds:
        print(_publish_line(report.publish, config))


def _publish_line(result: output.PublishReport, config: Config) -> str:
    feeds_dir = config.settings.feeds_dir
    if result.skipped:
        return f"Feeds: nothing changed, {feeds_dir}/ left as it was"
    return (
        f"Feeds: {result.events} events in {result.feeds} feeds; "
        f"{result.written} files written, {result.unchanged} unchanged in {feeds_dir}/"
    )


def _check(config: Config, args: argparse.Namespace, now: datetime) -> int:
    target = args.url
    url = _check_url(target)
    source = Source(id="check", name="check", kind=args.kind, url=url, path=None if url else target)
    try:
        # the same fetch as a harvest: limits, SSRF guard, regular files, export folders
        fetched = fetch_source(source, FetchState(), config.settings, base_dir=Path.cwd())
        result = pipeline.parse_source_bytes(
            fetched.content, source, config, now, fetched.content_type, folder=fetched.folder
        )
    except SourceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"Kind: {result.kind}")
    print(f"Events: {len(result.events)}")
    tz = ZoneInfo(config.settings.timezone)
    for event in sorted(result.events, key=lambda e: _sort_key(e.start))[: args.limit]:
        when = _format_when(event.start, event.all_day, tz)
        where = event.place.text or event.location_text
        status = " [INSTÄLLT]" if event.status == EventStatus.CANCELLED else ""
        print(f"  {when}  {event.title}{status}" + (f" — {where}" if where else ""))
    for warning in result.warnings:
        print(f"warning: {warning.message}")
    return 0


def _check_url(target: str) -> str | None:
    if target.startswith("webcal://"):
        return "https://" + target.removeprefix("webcal://")
    return target if target.startswith(("http://", "https://")) else None


def _sort_key(value: datetime | date) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time(), tzinfo=UTC)


def _format_when(value: datetime | date, all_day: bool, tz: ZoneInfo) -> str:
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return value.isoformat() + " heldag"


def _events_list(config: Config, store: Store, args: argparse.Namespace, now: datetime) -> int:
    tz = ZoneInfo(config.settings.timezone)
    start_from = datetime.combine(args.date_from or now.astimezone(tz).date(), time(), tzinfo=tz)
    start_to = datetime.combine(args.date_to, time(), tzinfo=tz) if args.date_to else None
    feed = None
    if args.municipality:
        feed = municipality_feed(args.municipality)
    if args.category:
        feed = category_feed(args.category)
    query = SearchQuery.parse(args.q) if args.q is not None else None
    if query is not None and query.problem is not None:
        print(f"aggregator: --q: {query.sentence()}", file=sys.stderr)
        return 2  # bad input, as argparse refuses it
    rows = store.published_events(start_from=start_from, start_to=start_to, feed=feed, query=query)
    if args.municipality and args.category:
        wanted = slugify(args.municipality)
        rows = [r for r in rows if slugify(r.event.place.municipality) == wanted]
    for row in rows:
        if args.json:
            body = {"id": row.id, **merged_to_dict(row.event, row.sources)}
            print(json.dumps(body, ensure_ascii=False))
            continue
        event = row.event
        when = _format_when(event.start, event.all_day, tz)
        status = " [INSTÄLLT]" if event.status == EventStatus.CANCELLED else ""
        where = event.place.municipality or event.place.locality
        print(f"{when}  {row.id}  {event.title}{status}" + (f" ({where})" if where else ""))
    if not args.json:
        print(f"{len(rows)} events", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
