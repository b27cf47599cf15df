"""What an operator sees: ``harvest`` progress on a terminal (and quiet otherwise), one log
line per harvest, ``sources show`` with the next attempt and why."""

from __future__ import annotations

import logging
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.cli import main
from tests.hosts import Answer, Hosts
from tests.support import DATA, write_config

ROOT = Path(__file__).parent.parent


def two_sources(tmp_path: Path, hosts: Hosts) -> Path:
    good = (DATA / "ical" / "all_day_multi_day.ics").read_bytes()
    hosts.routes["/fest.ics"] = lambda r: Answer(good, headers={"Content-Type": "text/calendar"})
    hosts.routes["/trasig.ics"] = lambda r: Answer(b"nere", 500)
    return write_config(
        tmp_path,
        [
            {"id": "fest", "name": "Fest", "url": hosts.url(1, "/fest.ics")},
            {"id": "trasig", "name": "Trasig", "url": hosts.url(1, "/trasig.ics")},
        ],
    )


def test_harvest_on_a_terminal_shows_progress_and_a_table(tmp_path: Path) -> None:
    with Hosts(1) as hosts:
        config = two_sources(tmp_path, hosts)
        leader, follower = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--config", str(config), "harvest"],
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=follower,
            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        )
        os.close(follower)
        output = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        os.close(leader)
        assert process.wait(timeout=60) == 0
    text = output.decode()
    assert re.search(r"\r\x1b\[K  [12]/2 sources, \d+ events, [01] failed", text), text
    table = [line for line in text.replace("\r\x1b[K", "\n").splitlines() if line.strip()]
    header = next(i for i, line in enumerate(table) if line.startswith("SOURCE"))
    assert table[header].split() == [
        "SOURCE",
        "RESULT",
        "EVENTS",
        "NEW",
        "CHANGED",
        "REMOVED",
        "TIME",
        "NOTE",
    ]
    assert table[header + 1].split()[:3] == ["fest", "ok", "2"]
    assert table[header + 2].split()[:2] == ["trasig", "failed"]
    assert "HTTP 500" in table[header + 2]


def test_harvest_is_quiet_when_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Hosts(1) as hosts:
        assert main(["--config", str(two_sources(tmp_path, hosts)), "harvest"]) == 0
    out, err = capsys.readouterr()
    assert "SOURCE" not in out and "sources," not in err, "no table, no progress"
    assert out.splitlines()[0] == "Sources: 1 ok, 0 unchanged, 1 failed", "the summary stays"


def test_one_log_line_per_harvest(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aggregator")
    with Hosts(1) as hosts:
        assert main(["--config", str(two_sources(tmp_path, hosts)), "run", "--once"]) == 0
    lines = {}
    for record in caplog.records:
        message = record.getMessage()
        for source in ("fest", "trasig"):
            if message.startswith(f"{source}: "):
                lines.setdefault(source, []).append(message)
    assert {source: len(found) for source, found in lines.items()} == {"fest": 1, "trasig": 1}
    fest, trasig = lines["fest"][0], lines["trasig"][0]
    assert re.match(
        r"fest: ok in \d+ ms, \d+ bytes, 2 events \(2 new, 0 changed, 0 removed\)", fest
    )
    assert re.match(
        r"trasig: failed in \d+ ms, 0 bytes, 0 events; Servern fick ett fel när vi hämtade", trasig
    )
    assert "nytt försök" in trasig, "the reason for the backoff, with the next attempt"


def test_sources_show_explains_a_failing_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Hosts(1) as hosts:
        config = two_sources(tmp_path, hosts)
        for _ in range(3):
            main(["--config", str(config), "run", "--once"])
    capsys.readouterr()
    assert main(["--config", str(config), "sources", "show", "trasig"]) == 0
    shown = capsys.readouterr().out
    assert "status:       failed — Servern fick ett fel när vi hämtade" in shown
    assert "failing:      3 in a row" in shown
    assert "next attempt:" in shown and "3 misslyckade försök i rad" in shown
    assert shown.count("failed ") >= 3, "the latest harvests are listed"
    assert main(["--config", str(config), "sources", "show", "okänd"]) == 1


def test_every_new_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["sources", "show"], ["sources", "pause"], ["sources", "resume"], ["backup"]):
        with pytest.raises(SystemExit) as exit_code:
            main([*command, "--help"])
        assert exit_code.value.code == 0
        assert "usage:" in capsys.readouterr().out
