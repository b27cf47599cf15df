"""Every real-world calendar in the corpus, harvested and republished: the feeds we write
from them must read the same in icalendar and ical.js, and RSS/JSON must parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.cli import main
from tests.support import DATA, assert_feeds_valid, write_config
from tests.test_ical import _first_start

CORPUS = sorted((DATA / "corpus" / "ical").glob("*.ics"))


def test_corpus_calendars_republish_as_valid_feeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    published = 0
    for path in CORPUS:
        folder = tmp_path / path.stem
        folder.mkdir()
        config = write_config(folder, [{"id": "corpus", "name": path.stem, "path": str(path)}])
        monkeypatch.setenv("AGGREGATOR_NOW", _first_start(path).isoformat())
        assert main(["--config", str(config), "run", "--once"]) == 0, path.name
        capsys.readouterr()
        published += sum(1 for _ in (folder / "feeds").rglob("*.ics"))
    checked = assert_feeds_valid(tmp_path)
    assert checked > 500, f"only {checked} events published from {len(CORPUS)} calendars"
    assert published >= len(CORPUS)
