"""Behind a TLS proxy: X-Forwarded-For / -Proto are believed only from the addresses in
``settings.trusted_proxies``, over real HTTP against uvicorn. The login rate limit
(5 tries per client address) shows which address the server saw."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from aggregator.config import load_config, parse_config
from aggregator.errors import ConfigError
from tests.support import write_config
from tests.web_server import running

TOKEN = "en-lang-och-slumpad-moderatornyckel"
LIMIT = 5  # login tries per client address (abuse.Limits.login)


def serve_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: object) -> Path:
    monkeypatch.setenv("AGGREGATOR_ADMIN_TOKEN", TOKEN)
    (tmp_path / "tom.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//T//SV\r\nEND:VCALENDAR\r\n",
        encoding="utf-8",
    )
    return write_config(tmp_path, [{"id": "tom", "path": str(tmp_path / "tom.ics")}], **settings)


def tries(base: str, forwarded_for: str, count: int) -> list[int]:
    return [
        requests.post(
            f"{base}/admin/login",
            data={"token": "gissning"},
            headers={"X-Forwarded-For": forwarded_for},
            timeout=10,
        ).status_code
        for _ in range(count)
    ]


def login_cookie(base: str, proto: str) -> str:
    page = requests.get(f"{base}/admin", headers={"X-Forwarded-Proto": proto}, timeout=10)
    assert page.status_code == 200
    return page.headers["set-cookie"]


@pytest.mark.parametrize(
    "settings",
    [{}, {"trusted_proxies": ["10.1.2.3", "192.168.0.0/16"]}],
    ids=["no-proxies", "other-proxies"],
)
def test_an_untrusted_clients_forwarded_headers_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, object]
) -> None:
    """Our test client (127.0.0.1) is no trusted proxy: a new X-Forwarded-For per try
    does not escape the limit, and X-Forwarded-Proto: https makes no cookie Secure."""
    config = load_config(serve_with(tmp_path, monkeypatch, **settings))
    with running(config) as base:
        codes = [tries(base, f"203.0.113.{n}", 1)[0] for n in range(LIMIT + 1)]
        assert codes[:LIMIT] == [400] * LIMIT and codes[LIMIT] == 429
        assert "Secure" not in login_cookie(base, "https")


def test_a_trusted_proxys_forwarded_headers_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a trusted proxy, each visitor named in X-Forwarded-For has a limit of its own,
    a chain is read from the right (the address the proxy saw), and https cookies are
    Secure."""
    config = load_config(serve_with(tmp_path, monkeypatch, trusted_proxies=["127.0.0.0/8"]))
    assert config.settings.trusted_proxies == ("127.0.0.0/8",)
    with running(config) as base:
        assert tries(base, "203.0.113.7", LIMIT + 1)[-1] == 429
        assert tries(base, "203.0.113.8", 1) == [400], "another visitor, another limit"
        # a visitor who writes X-Forwarded-For himself: the proxy appends the real address
        assert tries(base, "203.0.113.8, 198.51.100.9", 1) == [400], "the proxy's view counts"
        assert tries(base, "203.0.113.7, 198.51.100.9", LIMIT)[-1] == 429
        assert "Secure" in login_cookie(base, "https")
        assert "Secure" not in login_cookie(base, "http")


@pytest.mark.parametrize(
    ("value", "line", "message"),
    [
        ("[10.0.0.1, proxy.example.se]", 2, "not an IP address"),
        ("\n    - 10.0.0.1\n    - 10.0.0.1/8", 4, "not a network"),
        ("'*'", 2, "would trust every client"),
        ("\n    - ::1\n    - 0.0.0.0/0", 4, "would trust every client"),
    ],
    ids=["hostname", "host-bits-in-network", "star", "everyone"],
)
def test_trusted_proxies_errors_name_file_line_and_key(
    tmp_path: Path, value: str, line: int, message: str
) -> None:
    path = tmp_path / "sources.yaml"
    text = f"settings:\n  trusted_proxies: {value}\nsources:\n  - id: x\n    path: x.ics\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, path)
    error = caught.value
    assert message in str(error)
    assert str(path) in str(error)
    assert error.line == line, str(error)
    assert error.key == "trusted_proxies"


def test_trusted_proxies_default_to_none(tmp_path: Path) -> None:
    text = "settings:\n  database: x.db\nsources:\n  - id: x\n    path: x.ics\n"
    assert parse_config(text, tmp_path / "sources.yaml").settings.trusted_proxies == ()
    text = "settings:\n  trusted_proxies: [127.0.0.1, 'fd00::/8']\nsources:\n  - id: x\n    path: x.ics\n"
    assert parse_config(text, tmp_path / "sources.yaml").settings.trusted_proxies == (
        "127.0.0.1",
        "fd00::/8",
    )
