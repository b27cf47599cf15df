"""Expected results beside real inputs: for every real-world corpus file, the events we
read from it (UTC start and end, status, title) in ``<file>.expected.txt`` next to it.

As lemon24/reader keeps ``tests/data/full.rss`` next to ``full.rss.py``: a change in what
we read from a real file then shows in review as a diff of that text file, not as a
changed number in a test. ``tests/test_corpus_expected.py`` compares; regenerate with

    .venv/bin/python -m tests.regen_expected          # every corpus file
    .venv/bin/python -m tests.regen_expected NAME...  # only files whose name contains NAME

and read the diff before committing it. The events are what the harvester reads and
normalizes (what the store would get), without following links to other pages.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from aggregator.errors import ParseError
from aggregator.harvest import harvest_bytes
from aggregator.model import Event, HarvestResult, Settings, Source
from aggregator.normalize import normalize_event
from tests.support import DATA

SUFFIX = ".expected.txt"
REGENERATE = "python -m tests.regen_expected"
# Files recorded long ago are read as if it were before their events, so the 30-day
# window keeps them; a file whose dates need a year from "now" (RSS text dates) keeps
# the instant written in its expected file.
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CorpusFolder:
    """A folder of real-world files of one kind (each folder's MANIFEST names sources)."""

    path: Path
    kind: str
    url: str | None = None  # the page or feed address the files came from, for links


FOLDERS = (
    CorpusFolder(DATA / "corpus" / "ical", "ical"),
    CorpusFolder(DATA / "rss" / "corpus", "feed", "https://feeds.example.se/feed/"),
    CorpusFolder(DATA / "html" / "corpus", "html", "https://example.org/events/"),
    CorpusFolder(DATA / "facebook", "facebook"),
)
NOT_INPUT = (".tsv", ".md", ".txt")  # manifests, notes and the expected files themselves


@dataclass(frozen=True, slots=True)
class CorpusFile:
    path: Path
    kind: str
    url: str | None

    @property
    def expected_path(self) -> Path:
        return self.path.with_name(self.path.name + SUFFIX)

    @property
    def id(self) -> str:
        return f"{self.path.parent.relative_to(DATA)}/{self.path.name}"


def is_corpus_input(path: Path) -> bool:
    return path.is_file() and not path.name.endswith(NOT_INPUT)


def corpus_files() -> list[CorpusFile]:
    return [
        CorpusFile(path, folder.kind, folder.url)
        for folder in FOLDERS
        for path in sorted(folder.path.iterdir())
        if is_corpus_input(path)
    ]


def first_start(path: Path) -> datetime:
    """Midnight UTC of a calendar's first DTSTART, so its events fall inside the window."""
    in_event = False
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    for line in text.replace("\n ", "").replace("\n\t", "").splitlines():
        in_event = in_event or line.strip().upper() == "BEGIN:VEVENT"
        if in_event and line.startswith("DTSTART") and ":" in line:
            value = line.rsplit(":", 1)[1].strip()[:8]
            if value.isdigit():
                return datetime(int(value[:4]), int(value[4:6]), int(value[6:8]), tzinfo=UTC)
    return datetime(2026, 11, 26, tzinfo=UTC)


def default_now(corpus: CorpusFile) -> datetime:
    return first_start(corpus.path) if corpus.kind == "ical" else LONG_AGO


def recorded_now(corpus: CorpusFile) -> datetime | None:
    """The instant an existing expected file was read at (its ``now:`` line)."""
    if not corpus.expected_path.exists():
        return None
    for line in corpus.expected_path.read_text(encoding="utf-8").splitlines():
        if line.startswith("now: "):
            return datetime.fromisoformat(line.removeprefix("now: "))
    return None


def corpus_file(path: Path) -> CorpusFile:
    folder = next(f for f in FOLDERS if f.path == path.parent)
    return CorpusFile(path, folder.kind, folder.url)


def corpus_source(corpus: CorpusFile) -> Source:
    return Source(
        id="corpus", name=corpus.path.stem, url=corpus.url, path=str(corpus.path), kind=corpus.kind
    )


# Where this test run's pytest-xdist workers leave the harvests they made for each other
# (tests/conftest.py sets it; a run in one process has nothing to share it with).
SHARED_HARVESTS: list[Path] = []
SHARED_WAIT = 120.0  # seconds a worker waits for another's harvest before doing its own


@functools.cache
def harvest_corpus(path: Path, now: datetime) -> HarvestResult:
    """A corpus file as its harvester reads it at ``now`` (ParseError passes), without
    following links. Cached per test process: several tests read each big file, and the
    result is immutable (frozen dataclasses), so sharing it cannot leak between tests.

    The workers of one run share it too: the modules that read the corpus land on
    different workers, and a file is parsed in up to a second but unpickled in
    milliseconds. The first worker to need a file claims it (a file created exclusively)
    and leaves the pickled result; another waits for that result, and harvests the file
    itself if the claimer gave up (a ParseError, which is not shared) or takes too long."""
    shared = _shared_harvest(path, now)
    if shared is None:
        return _harvest(path, now)
    claim = shared.with_name(shared.name + ".claim")
    try:
        os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        deadline = time.monotonic() + SHARED_WAIT
        while time.monotonic() < deadline:
            if shared.exists():
                result: HarvestResult = pickle.loads(shared.read_bytes())
                return result
            if not claim.exists():
                break  # the claimer's harvest failed: ours fails the same way, in this test
            time.sleep(0.01)
        return _harvest(path, now)
    try:
        result = _harvest(path, now)
        partial = shared.with_name(f"{shared.name}.{os.getpid()}.tmp")
        partial.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(shared)  # whole or not there, for a worker reading it at once
    finally:
        claim.unlink()
    return result


def _harvest(path: Path, now: datetime) -> HarvestResult:
    corpus = corpus_file(path)
    return harvest_bytes(path.read_bytes(), corpus_source(corpus), Settings(), now=now)


def _shared_harvest(path: Path, now: datetime) -> Path | None:
    if not SHARED_HARVESTS:
        return None
    key = hashlib.sha256(f"{path.resolve()}\n{now.isoformat()}".encode()).hexdigest()[:32]
    return SHARED_HARVESTS[0] / f"{key}.pickle"


def read_events(corpus: CorpusFile, now: datetime) -> tuple[Event, ...]:
    """What the harvester and normalizer make of the file at ``now``: what we would store."""
    result = harvest_corpus(corpus.path, now)
    source, settings = corpus_source(corpus), Settings()
    return tuple(normalize_event(event, source, settings) for event in result.events)


def instant(value: datetime | date | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def one_line(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def event_line(start: str, end: str, status: str, title: str) -> str:
    """One event: fixed-width UTC start and end (a bare date for all-day), status, title."""
    return f"{start:<20}  {end:<20}  {status:<9}  {one_line(title)}"


def line_fields(line: str) -> tuple[str, str, str, str]:
    """(start, end, status, title) of an event line, as event_line wrote them."""
    return line[:20].rstrip(), line[22:42].rstrip(), line[44:53].rstrip(), line[55:]


def event_lines(events: tuple[Event, ...]) -> list[str]:
    return sorted(
        event_line(instant(e.start), instant(e.end), str(e.status), e.title) for e in events
    )


def render(corpus: CorpusFile, now: datetime) -> str:
    """The expected file's text: a header, then one sorted line per event (or the error)."""
    head = [
        f"# What we read from {corpus.path.name}: UTC start, end, status, title.",
        f"# Regenerate with `{REGENERATE}`, then review the diff.",
        f"now: {now.isoformat()}",
        f"kind: {corpus.kind}",
    ]
    try:
        events = read_events(corpus, now)
    except ParseError as exc:
        return "\n".join([*head, f"error: {one_line(exc.message)}"]) + "\n"
    return "\n".join([*head, f"events: {len(events)}", *event_lines(events)]) + "\n"


def expected_event_lines(corpus: CorpusFile) -> list[str]:
    """The event lines of a corpus file's expected file (none for a file we cannot read)."""
    lines = corpus.expected_path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line[:1].isdigit()]
