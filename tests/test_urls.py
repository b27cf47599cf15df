"""URL helpers never raise on hostile input (found by fuzzing the website corpus)."""

from __future__ import annotations

import pytest

from aggregator.normalize.urls import host_of, join_url, split_url


@pytest.mark.parametrize(
    ("base", "href", "joined"),
    [
        (
            "https://kultur.example.se/evenemang/",
            "julspel/",
            "https://kultur.example.se/evenemang/julspel/",
        ),
        ("https://kultur.example.se/", "http://[bad/x", ""),
        ("", "https://a.se/x", "https://a.se/x"),
        ("https://a.se/a/", "../b#frag", "https://a.se/b#frag"),
    ],
    ids=["relative", "broken-ipv6", "no-base", "fragment-kept"],
)
def test_join_url(base: str, href: str, joined: str) -> None:
    assert join_url(base, href) == joined


def test_fragment_can_be_dropped_and_hosts_read_safely() -> None:
    assert join_url("https://a.se/", "/e/1#anmalan", drop_fragment=True) == "https://a.se/e/1"
    assert host_of(" https://WWW.Example.SE/x ") == "www.example.se"
    assert host_of("http://[::1") == ""
    assert split_url("http://[::1") is None
    assert split_url("https://a.se/p?q=1").query == "q=1"  # type: ignore[union-attr]
