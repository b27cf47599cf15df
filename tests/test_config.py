"""sources.yaml: the shipped file loads; every mistake names file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config import load_config, parse_config
from aggregator.errors import ConfigError

ROOT = Path(__file__).parent.parent

GOOD = """\
settings:
  database: test.db
  timezone: Europe/Stockholm
  municipalities: [Eksjö, Vimmerby]
sources:
  - id: eksjo-kultur
    name: Eksjö kulturhus
    url: webcal://example.se/kalender.ics
    municipality: eksjö
    categories: Kultur
    interval: 30m
    priority: 60
  - id: lokal
    path: examples/x.ics
"""


def test_shipped_sources_yaml_loads() -> None:
    config = load_config(ROOT / "sources.yaml")
    assert len(config.sources) >= 6
    assert config.settings.timezone == "Europe/Stockholm"
    assert all(s.path and (ROOT / s.path).exists() for s in config.sources)


def test_good_config_is_read(tmp_path: Path) -> None:
    config = parse_config(GOOD, tmp_path / "sources.yaml")
    first, second = config.sources
    assert first.url == "https://example.se/kalender.ics"
    assert first.municipality == "Eksjö"
    assert first.categories == ("Kultur",)
    assert (first.interval, first.priority) == (1800, 60)
    assert second.name == "lokal" and second.interval == 3600
    assert config.settings.municipalities == ("Eksjö", "Vimmerby")


def _broken(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        (_broken("    priority: 60", "    prioritet: 60"), 12, "prioritet", "unknown key"),
        (_broken("  - id: lokal", "  - id: eksjo-kultur"), 13, "id", "duplicate source id"),
        (
            _broken("webcal://example.se/kalender.ics", "ftp://example.se/x.ics"),
            8,
            "url",
            "not an http",
        ),
        (_broken("    interval: 30m", "    interval: 1x"), 11, "interval", "bad interval '1x'"),
        (
            _broken("    interval: 30m", "    interval: 10s"),
            11,
            "interval",
            "shorter than one minute",
        ),
        (
            _broken("    municipality: eksjö", "    municipality: Västervik"),
            9,
            "municipality",
            "unknown municipality",
        ),
        (
            _broken("    path: examples/x.ics", "    name: x"),
            13,
            "url",
            "exactly one of 'url' or 'path'",
        ),
        (_broken("  - id: lokal", "  - id: Lokal Källa"), 13, "id", "lowercase"),
        (_broken("    priority: 60", "    priority: hög"), 12, "priority", "whole number"),
        (
            _broken("  timezone: Europe/Stockholm", "  timezone: Europe/Smaland"),
            3,
            "timezone",
            "unknown time zone",
        ),
        (_broken("  database: test.db", "  databas: test.db"), 2, "databas", "unknown key"),
        (_broken("    name: Eksjö kulturhus", "    name: [a"), None, "", "not valid YAML"),
        (
            _broken("    priority: 60", "    priority: 60\n    kind: pdf"),
            13,
            "kind",
            "unknown kind",
        ),
    ],
    ids=[
        "unknown-key",
        "duplicate-id",
        "bad-url",
        "bad-interval",
        "tiny-interval",
        "unknown-municipality",
        "no-url-or-path",
        "bad-id",
        "bad-priority",
        "bad-timezone",
        "unknown-setting",
        "bad-yaml",
        "bad-kind",
    ],
)
def test_errors_name_file_line_and_key(
    text: str, line: int | None, key: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "sources.yaml"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, path)
    error = caught.value
    assert message in str(error)
    assert str(path) in str(error)
    if line is not None:
        assert error.line == line, str(error)
        assert f":{line}" in str(error)
    if key:
        assert error.key == key
        assert f"({key})" in str(error)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_environment_variable_names_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aggregator.config import config_path

    monkeypatch.setenv("AGGREGATOR_CONFIG", str(tmp_path / "other.yaml"))
    assert config_path(None) == tmp_path / "other.yaml"
    assert config_path("given.yaml") == Path("given.yaml")
