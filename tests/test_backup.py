"""``aggregator backup PATH``: what it writes for each kind of PATH, and what it refuses.
(A backup taken while the service writes, and its restore, are in test_run_service.)"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from aggregator.cli import main
from tests.support import write_config

CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Backup//SV\r\n"
    "BEGIN:VEVENT\r\nUID:b1@forening.se\r\nDTSTAMP:20261101T000000Z\r\n"
    "DTSTART;TZID=Europe/Stockholm:20261212T190000\r\nSUMMARY:Julrevy på Bygdegården\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture
def config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    (tmp_path / "forening.ics").write_text(CALENDAR, encoding="utf-8")
    source = {"id": "forening", "name": "Föreningen", "path": str(tmp_path / "forening.ics")}
    config = write_config(tmp_path, [source])
    assert main(["--config", str(config), "run", "--once"]) == 0
    capsys.readouterr()
    return config


def titles(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT json_extract(data, '$.title') FROM events")]
    finally:
        db.close()


def backup(config: Path, target: Path | str, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["--config", str(config), "backup", str(target)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def refused(config: Path, target: Path | str, capsys: pytest.CaptureFixture[str]) -> str:
    """The one sentence of a backup that was refused (exit 2, no traceback)."""
    assert main(["--config", str(config), "backup", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("aggregator: "), err
    return err


def test_a_file_is_written_and_an_older_copy_replaced(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "kopior" / "natt.db"
    copy.parent.mkdir()
    copy.write_bytes(b"en gammal kopia")
    assert f"Backup: {copy} (" in backup(config, copy, capsys)
    assert titles(copy) == ["Julrevy på Bygdegården"]
    assert sorted(p.name for p in copy.parent.iterdir()) == ["natt.db"], "no temp file left"


def test_a_folder_gets_a_copy_named_after_the_database_and_the_local_time(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "kopior"
    folder.mkdir()
    out = backup(config, folder, capsys)
    # the pinned clock is 12:00 UTC on 26 November: 13:00 in Stockholm (winter time)
    written = folder / "test-2026-11-26-130000.db"
    assert f"Backup: {written} (" in out
    assert titles(written) == ["Julrevy på Bygdegården"]


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_the_database_itself_is_refused_by_any_name(
    config: Path, suffix: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    live = config.parent / f"test.db{suffix}"
    names = [live, Path("..") / config.parent.name / live.name]
    link = config.parent / "länk.db"
    if live.exists():
        os.symlink(live, link)
        names.append(link)
    monkeypatch.chdir(config.parent)
    for name in names:
        assert "is the database itself" in refused(config, name, capsys)
    assert titles(config.parent / "test.db") == ["Julrevy på Bygdegården"]


def test_a_target_that_cannot_be_written_is_one_sentence(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "en fil"
    blocker.write_text("inte en mapp", encoding="utf-8")
    err = refused(config, blocker / "kopia.db", capsys)
    assert "could not back up the database to" in err and ".tmp" not in err, err
