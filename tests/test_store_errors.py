"""A database that is locked, damaged, read-only or on a full disk: every command that
needs it prints one sentence and exits 2 — through ``main``, on a real SQLite file.

The conditions are real: another connection holding the lock, garbage in the file,
file permissions (checked in a child process that has no right to override them), and
SQLite's own SQLITE_FULL (``PRAGMA max_page_count`` stands in for a tiny disk, which an
unprivileged test cannot mount; SQLite reports a full disk through the same error).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import aggregator.store.base as store_base
from aggregator.cli import main
from aggregator.store import Store
from tests.support import write_config


def calendar(events: int) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Store errors//SV\r\n"
        + "".join(
            f"BEGIN:VEVENT\r\nUID:e{i}@forening.se\r\nDTSTAMP:20261101T000000Z\r\n"
            f"DTSTART;TZID=Europe/Stockholm:202612{10 + i % 18:02d}T{10 + i % 12:02d}0000\r\n"
            f"DTEND;TZID=Europe/Stockholm:202612{10 + i % 18:02d}T{11 + i % 12:02d}0000\r\n"
            f"SUMMARY:Evenemang {i}\r\nLOCATION:Folkets hus\\, Vimmerby\r\nEND:VEVENT\r\n"
            for i in range(events)
        )
        + "END:VCALENDAR\r\n"
    )


CALENDAR = calendar(6)

READING = [["events", "list"], ["events", "review"], ["events", "show", "0123456789abcdef"]]
WRITING = [["sources", "list"], ["harvest"], ["publish", "--force"], ["run", "--once"]]
EVERY_COMMAND = READING + WRITING
LISTINGS = READING[:2]  # the reading commands that need no event id

LOCKED = "is locked by another program"
DAMAGED = "is damaged"
NOT_A_DATABASE = "is not an SQLite database"
READ_ONLY = "is read-only"
CANNOT_OPEN = "cannot open the database"
FULL = "is full"


@pytest.fixture(scope="module")
def harvested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One calendar file, harvested and published once (shared: tests get a copy)."""
    folder = tmp_path_factory.mktemp("harvested")
    (folder / "forening.ics").write_text(CALENDAR, encoding="utf-8")
    config = site_config(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGGREGATOR_NOW", "2026-11-26T12:00:00+00:00")
        assert main(["--config", str(config), "run", "--once"]) == 0
    checkpointed(database(config))
    return folder


def site_config(folder: Path) -> Path:
    source = {
        "id": "forening",
        "name": "Föreningen",
        "path": str(folder / "forening.ics"),
        "municipality": "Vimmerby",
    }
    return write_config(folder, [source])


@pytest.fixture
def site(harvested: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A copy of ``harvested`` of this test's own."""
    shutil.copytree(harvested, tmp_path, dirs_exist_ok=True)
    capsys.readouterr()
    return site_config(tmp_path)


def database(config: Path) -> Path:
    return config.parent / "test.db"


def one_sentence(capsys: pytest.CaptureFixture[str]) -> str:
    """What the command printed to stderr, which must be one line and no traceback."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("aggregator: "), err
    return lines[0]


def store_timeout(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Wait this long for another process's lock (10 s in production) to keep tests fast."""
    monkeypatch.setattr(store_base, "BUSY_TIMEOUT", seconds)


@pytest.fixture
def exclusive_lock(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Another program holds the database exclusively (no readers either)."""
    store_timeout(monkeypatch, 0.02)
    other = sqlite3.connect(database(site), isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("UPDATE meta SET value = value")
    yield site
    other.execute("ROLLBACK")
    other.close()


@pytest.fixture
def write_lock(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Another program is in the middle of a write (as a harvest by the scheduler is)."""
    store_timeout(monkeypatch, 0.02)
    other = sqlite3.connect(database(site), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield site
    other.execute("ROLLBACK")
    other.close()


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=" ".join)
def test_locked_database_is_one_sentence(
    exclusive_lock: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(exclusive_lock), *command]) == 2
    assert LOCKED in one_sentence(capsys)


@pytest.mark.parametrize("command", WRITING, ids=" ".join)
def test_a_write_waiting_for_another_writer_is_one_sentence(
    write_lock: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(write_lock), *command]) == 2
    assert LOCKED in one_sentence(capsys)


def test_reading_during_another_write_still_answers(
    write_lock: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """WAL: readers never wait for a writer, so listing works while a harvest runs."""
    assert main(["--config", str(write_lock), "events", "list"]) == 0
    captured = capsys.readouterr()
    assert "Evenemang 0" in captured.out and captured.err.strip() == "6 events"


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=" ".join)
def test_garbage_instead_of_a_database_is_one_sentence(
    site: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database(site)}{suffix}").unlink(missing_ok=True)
    database(site).write_bytes(b"Det h\xc3\xa4r \xc3\xa4r ingen databas.\n" * 300)
    assert main(["--config", str(site), *command]) == 2
    assert NOT_A_DATABASE in one_sentence(capsys)


def checkpointed(path: Path) -> bytes:
    """The database with everything in its main file (no WAL), as after a clean shutdown."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=" ".join)
def test_damaged_database_is_one_sentence(
    site: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray(checkpointed(database(site)))
    page = 4096
    data[page : page * 8] = b"\xde\xad\xbe\xef" * (page * 7 // 4)  # pages 2–8: the schema's roots
    database(site).write_bytes(bytes(data))
    assert main(["--config", str(site), *command]) == 2
    assert DAMAGED in one_sentence(capsys)


def fresh_database_with_no_room(config: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated, empty database that may not grow by a single page."""
    path = database(config)
    Store(path).close()
    conn = sqlite3.connect(path)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    pragmas = (*store_base.PRAGMAS, f"PRAGMA max_page_count={pages}")
    monkeypatch.setattr(store_base, "PRAGMAS", pragmas)
    return path


@pytest.mark.parametrize("command", [["harvest"], ["run", "--once"]], ids=" ".join)
def test_full_disk_is_one_sentence_and_nothing_half_written(
    tmp_path: Path,
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # more events than the empty tables' pages hold: the harvest itself needs new pages
    # (six still fit; too few would show as a command that did not fail)
    (tmp_path / "forening.ics").write_text(calendar(60), encoding="utf-8")
    config = write_config(
        tmp_path, [{"id": "forening", "name": "Föreningen", "path": str(tmp_path / "forening.ics")}]
    )
    path = fresh_database_with_no_room(config, monkeypatch)
    assert main(["--config", str(config), *command]) == 2
    assert FULL in one_sentence(capsys)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM source_events").fetchone()[0] == 0, "rolled back"
    conn.close()
    monkeypatch.undo()  # space freed: the same command now works
    assert main(["--config", str(config), *command]) == 0


# -- read-only: file permissions, which root ignores unless it gives up the right ----------

CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3
PR_CAPBSET_DROP = 24


def _give_up_file_privileges() -> None:
    """In the child before exec: as root, drop the capabilities that override file
    permissions from the bounding set, so the exec'd process obeys chmod like any user."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_as_plain_user(config: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(config), *command],
        preexec_fn=_give_up_file_privileges,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )


def assert_sentence(result: subprocess.CompletedProcess[str], phrase: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aggregator: "), result.stderr
    assert phrase in lines[0]


@pytest.fixture
def read_only_database(site: Path) -> Iterator[Path]:
    checkpointed(database(site))
    for suffix in ("-wal", "-shm"):
        Path(f"{database(site)}{suffix}").unlink(missing_ok=True)
    database(site).chmod(0o444)
    yield site
    database(site).chmod(0o644)


@pytest.mark.parametrize(
    "command", [["sources", "list"], ["run", "--once"], ["publish", "--force"]], ids=" ".join
)
def test_read_only_database_is_one_sentence(read_only_database: Path, command: list[str]) -> None:
    before = database(read_only_database).read_bytes()
    assert_sentence(run_as_plain_user(read_only_database, *command), READ_ONLY)
    assert database(read_only_database).read_bytes() == before


def test_read_only_database_can_still_be_listed(read_only_database: Path) -> None:
    result = run_as_plain_user(read_only_database, "events", "list")
    assert result.returncode == 0, result.stderr
    assert "Evenemang 5" in result.stdout


def test_database_in_a_read_only_folder_is_one_sentence(tmp_path: Path) -> None:
    folder = tmp_path / "skrivskyddad"
    folder.mkdir()
    config = write_config(tmp_path, [], database=str(folder / "ny.db"))
    folder.chmod(0o555)
    try:
        assert_sentence(run_as_plain_user(config, "sources", "list"), CANNOT_OPEN)
        assert not (folder / "ny.db").exists()
    finally:
        folder.chmod(0o755)


def test_every_public_store_method_translates_sqlite_errors() -> None:
    """New queries (a mixin added to Store) are covered without anyone remembering to."""
    public = [
        name
        for name in dir(Store)
        if not name.startswith("_") and callable(getattr(Store, name)) and name != "transaction"
    ]
    assert "apply_harvest" in public and "published_events" in public
    assert [name for name in public if not hasattr(getattr(Store, name), "__wrapped__")] == []


UNREADABLE = "holds a value the aggregator did not write"
# values a person or a damaged disk changed inside the database, where SQLite's own checks
# do not look, and the commands that read them: each says the store's one sentence (never
# a reader's traceback); the others do not need the value and succeed (``publish --force``
# renders events again from what was harvested, which mends a damaged published one)
HAND_EDITS = {
    "a time": (
        "UPDATE sources SET last_attempt_at = 'i går', last_success_at = 'i går'",
        {"sources list", "harvest", "run --once"},
    ),
    "an event": (
        "UPDATE events SET data = substr(data, 1, 40)",
        {"events list", "sources list", "harvest", "run --once"},
    ),
    "a harvested event": (
        "UPDATE source_events SET data = replace(data, '\"start\"', '\"b\"')",
        set(),  # read when its calendar next changes: the test below
    ),
    "a warning list": ("UPDATE sources SET warnings = '[\"Tidszon saknas'", {"sources list"}),
}


@pytest.mark.parametrize("edit", HAND_EDITS, ids=str)
@pytest.mark.parametrize("command", LISTINGS + WRITING, ids=" ".join)
def test_a_value_edited_by_hand_is_one_sentence_where_it_is_read(
    site: Path, command: list[str], edit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    statement, readers = HAND_EDITS[edit]
    conn = sqlite3.connect(database(site))
    with conn:
        assert conn.execute(statement).rowcount > 0
    conn.close()
    code = main(["--config", str(site), *command])
    if " ".join(command) in readers:
        assert code == 2
        assert UNREADABLE in one_sentence(capsys)
    else:
        assert code == 0, capsys.readouterr().err


def test_a_harvested_event_edited_by_hand_is_one_sentence_at_the_next_merge(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = sqlite3.connect(database(site))
    with conn:
        conn.execute(HAND_EDITS["a harvested event"][0])
    conn.close()
    (site.parent / "forening.ics").write_text(calendar(7), encoding="utf-8")
    assert main(["--config", str(site), "run", "--once"]) == 2
    assert UNREADABLE in one_sentence(capsys)
