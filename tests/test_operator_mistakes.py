"""The operator's mistakes get a sentence naming file, line and key, not a traceback.

Every value sources.yaml can get wrong is refused at load; every command then exits 2
with one line. Runtime I/O failures (a file that cannot be written) do the same.
"""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.config import parse_config
from aggregator.errors import ConfigError
from aggregator.pipeline import PARALLEL_PARSE_BYTES

ROOT = Path(__file__).parent.parent


def config_text(settings: str = "", source: str = "", path: str = "x.ics") -> str:
    database = "" if "database:" in settings else "  database: test.db\n"
    return f"settings:\n{database}{settings}sources:\n  - id: lokal\n    path: {path}\n{source}"


SETTINGS_MISTAKES = {
    "timeout-infinite": ("  timeout: .inf\n", "timeout", "finite"),
    "timeout-nan": ("  timeout: .nan\n", "timeout", "finite"),
    "timeout-zero": ("  timeout: 0\n", "timeout", "between"),
    "max-bytes-zero": ("  max_bytes: 0\n", "max_bytes", "between"),
    "max-bytes-negative": ("  max_bytes: -5\n", "max_bytes", "between"),
    "max-events-zero": ("  max_events: 0\n", "max_events", "between"),
    "parse-timeout-nan": ("  parse_timeout: .nan\n", "parse_timeout", "finite"),
    "binary-database": ("  database: !!binary aGVq\n", "database", "binary data"),
    "binary-feeds-dir": ("  feeds_dir: !!binary aGVq\n", "feeds_dir", "binary data"),
    "nul-in-feeds-dir": ('  feeds_dir: "fe\\0eds"\n', "feeds_dir", "control character"),
    "newline-in-user-agent": ('  user_agent: "Bot\\r\\nX-Evil: 1"\n', "user_agent", "control"),
    "long-timezone": (f"  timezone: {'Europe/' + 'A' * 5000}\n", "timezone", "unknown time zone"),
    "empty-municipality-slug": (
        "  municipalities: [Vimmerby, '!!!']\n",
        "municipalities",
        "no letters or digits",
    ),
    "colliding-municipalities": (
        "  municipalities: [Högsby, Hogsby]\n",
        "municipalities",
        "would share one feed (municipality/hogsby.ics)",
    ),
    "feeds-dir-under-dev-null": ("  feeds_dir: /dev/null/feeds\n", "feeds_dir", "is a file"),
    "database-is-a-folder": ("  database: .\n", "database", "is a folder"),
    "nul-in-database": ('  database: "te\\0st.db"\n', "database", "control character"),
    "base-url-backslash": (
        "  base_url: http://127.0.0.1\\@example.org\n",
        "base_url",
        "not an http",
    ),
}


@pytest.mark.parametrize(
    ("settings", "key", "said"), SETTINGS_MISTAKES.values(), ids=SETTINGS_MISTAKES.keys()
)
def test_settings_mistakes_name_file_line_and_key(
    settings: str, key: str, said: str, tmp_path: Path
) -> None:
    text = config_text(settings)
    path = tmp_path / "sources.yaml"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, path)
    error = caught.value
    assert said in str(error)
    assert error.key == key and error.line is not None and str(path) in str(error)
    line = text.splitlines()[error.line - 1]
    assert line.lstrip().startswith(key) or line.lstrip().startswith("- "), line


SOURCE_MISTAKES = {
    "huge-priority": (f"    priority: {10**26}\n", "priority", "between"),
    "huge-interval": ("    interval: 99999999999d\n", "interval", "bad interval"),
    "year-long-interval": ("    interval: 400d\n", "interval", "longer than a year"),
    "bad-token-env": ("    token_env: FB TOKEN\n", "token_env", "environment variable"),
    "max-events-negative": ("    max_events: -1\n", "max_events", "between"),
    "binary-name": ("    name: !!binary aGVq\n", "name", "binary data"),
}


@pytest.mark.parametrize(
    ("source", "key", "said"), SOURCE_MISTAKES.values(), ids=SOURCE_MISTAKES.keys()
)
def test_source_mistakes_name_file_line_and_key(
    source: str, key: str, said: str, tmp_path: Path
) -> None:
    text = config_text(source=source)
    path = tmp_path / "sources.yaml"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, path)
    error = caught.value
    assert said in str(error)
    assert error.key == key and error.line is not None


def test_a_nul_in_a_source_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="control character") as caught:
        parse_config(config_text(path='"x\\0.ics"'), tmp_path / "sources.yaml")
    assert caught.value.key == "path" and caught.value.line == 5


def test_feeds_dir_that_is_a_file_or_read_only(tmp_path: Path) -> None:
    (tmp_path / "feeds.txt").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        parse_config(config_text("  feeds_dir: feeds.txt\n"), tmp_path / "sources.yaml")
    with pytest.raises(ConfigError, match="cannot be made"):
        parse_config(config_text("  feeds_dir: feeds.txt/sub\n"), tmp_path / "sources.yaml")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(ConfigError, match="read-only"):
            parse_config(config_text("  feeds_dir: locked\n"), tmp_path / "sources.yaml")
        with pytest.raises(ConfigError, match="read-only"):
            parse_config(config_text("  feeds_dir: locked/new\n"), tmp_path / "sources.yaml")
    finally:
        locked.chmod(stat.S_IRWXU)
    # a folder that does not exist yet, under one that is writable, is fine
    parse_config(config_text("  feeds_dir: new/feeds\n"), tmp_path / "sources.yaml")


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--port", "99999"],
        ["serve", "--port", "0"],
        ["events", "list", "--from", "0001-01-01"],
        ["events", "list", "--to", "not-a-date"],
    ],
    ids=["run-port", "serve-port", "from-year-one", "to-not-a-date"],
)
def test_command_line_mistakes_get_one_line(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(config_text())
    with pytest.raises(SystemExit) as caught:
        main(["--config", str(config), *argv])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error:" in err.splitlines()[-1]


def test_a_config_mistake_exits_2_with_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(config_text("  timeout: .nan\n"))
    assert main(["--config", str(config), "sources", "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("aggregator: configuration error:")
    assert f"{config}:3 (timeout)" in err[0]


FULL_DISK = """
import resource, signal, sys
sys.path.insert(0, {root!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
from aggregator.cli import main
if __name__ == "__main__":  # parse workers start from this file too
    sys.exit(main(["--config", {config!r}, "run", "--once"]))
"""


def many_events(count: int) -> bytes:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:e{i}@x\r\nDTSTART:2027{i % 12 + 1:02d}{i % 28 + 1:02d}T"
        f"{i % 24:02d}0000Z\r\nSUMMARY:Evenemang {i} i Vimmerby\r\n"
        f"DESCRIPTION:{'Beskrivning ' * 20}\r\nEND:VEVENT\r\n"
        for i in range(count)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n{events}END:VCALENDAR\r\n".encode()


def test_a_disk_that_fills_up_exits_2_with_one_sentence(tmp_path: Path) -> None:
    """Writes fail part way through a harvest (a file size limit stands in for a full
    disk): the database's commit, at two points of its growth."""
    # parsed in process (a parse worker would only add its start); the harvest's commit
    # grows the empty 250 kB database to about 0.9 MB, and both limits fall inside it
    calendar = many_events(700)
    assert len(calendar) < PARALLEL_PARSE_BYTES
    (tmp_path / "x.ics").write_bytes(calendar)
    config = tmp_path / "sources.yaml"
    config.write_text(config_text("  feeds_dir: feeds\n"))
    script = tmp_path / "full.py"
    for limit in (400_000, 750_000):
        for leftover in [*tmp_path.glob("test.db*"), *tmp_path.glob("feeds/**/*")]:
            if leftover.is_file():
                leftover.unlink()
        script.write_text(FULL_DISK.format(root=str(ROOT), limit=limit, config=str(config)))
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 2, done.stderr
        lines = [line for line in done.stderr.splitlines() if line.startswith("aggregator:")]
        assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
        assert "database" in lines[0] and str(tmp_path / "test.db") in lines[0]
        db = sqlite3.connect(tmp_path / "test.db")
        try:
            stored = db.execute("SELECT count(*) FROM source_events").fetchone()[0]
        finally:
            db.close()
        assert stored == 0, f"the limit {limit} was met after the harvest's commit, not in it"


def test_a_feeds_folder_that_cannot_be_written_exits_2_with_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file where the feeds need a folder: found only when publishing."""
    (tmp_path / "x.ics").write_bytes((ROOT / "examples" / "vimmerby-teater.ics").read_bytes())
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "organizer").write_text("not a folder")
    config = tmp_path / "sources.yaml"
    config.write_text(config_text("  feeds_dir: feeds\n"))
    assert main(["--config", str(config), "run", "--once"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("aggregator:")]
    assert err == [f"aggregator: cannot use {tmp_path / 'feeds' / 'organizer'}: File exists"]
