"""HEAD wherever GET (RFC 9110 §9.3.2) and preflights that name each path's methods, over
real HTTP against a real uvicorn. The route table is iterated, so a new route is checked
the day it is added."""

from __future__ import annotations

import re

import pytest
import requests
from fastapi.routing import iter_route_contexts

from aggregator.web.app import create_app
from tests.web_site import Site

# What a route's path parameters are filled with; a new parameter must be added here.
SAME = ("ETag", "Content-Length", "Content-Type", "Cache-Control", "Content-Encoding", "Vary")
SAME += ("Location", "Allow", "Content-Language", "Access-Control-Allow-Origin")


def get_paths(site: Site) -> list[str]:
    """Every path the app answers GET on, with its parameters filled in."""
    values = {
        "event_id": site.ids["Julmarknad i Lönneberga"],
        "token": "ingen-sadan-token",
    }
    paths = []
    for route in iter_route_contexts(create_app(site.config).routes):
        if "GET" not in (route.methods or ()):
            continue
        assert route.path is not None
        names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        unknown = [name for name in names if name not in values]
        assert not unknown, f"{route.path}: give {unknown} a value in this test"
        paths.append(re.sub(r"{(\w+)(?::\w+)?}", lambda m: values[m.group(1)], route.path))
    return paths


def test_the_route_table_has_the_pages_and_the_api(site: Site) -> None:
    paths = get_paths(site)
    event = site.ids["Julmarknad i Lönneberga"]
    for path in ("/", "/api/events", "/api/events.ics", "/kallor", f"/evenemang/{event}.ics"):
        assert path in paths
    assert len(paths) >= 18


@pytest.mark.parametrize("coding", ["gzip", "identity"])
def test_every_get_route_answers_head_like_get(base: str, site: Site, coding: str) -> None:
    for path in get_paths(site):
        headers = {"Accept-Encoding": coding}
        full = requests.get(base + path, headers=headers, allow_redirects=False, timeout=10)
        head = requests.head(base + path, headers=headers, allow_redirects=False, timeout=10)
        assert head.status_code == full.status_code, path
        assert head.content == b"", path
        for name in SAME:
            assert head.headers.get(name) == full.headers.get(name), (path, name)
        assert head.headers.get("Content-Length") is not None or full.status_code == 304, path


def test_a_conditional_head_is_304_wherever_get_has_a_tag(base: str, site: Site) -> None:
    tagged = 0
    for path in get_paths(site):
        full = requests.get(base + path, allow_redirects=False, timeout=10)
        tag = full.headers.get("ETag")
        if full.status_code != 200 or tag is None:
            continue
        tagged += 1
        head = requests.head(
            base + path, headers={"If-None-Match": tag}, allow_redirects=False, timeout=10
        )
        assert head.status_code == 304, path
        assert head.headers["ETag"] == tag and head.content == b"", path
        assert head.headers["Cache-Control"] == full.headers["Cache-Control"], path
    assert tagged >= 12


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/feeds/all.ics", "GET, HEAD, OPTIONS"),
        ("/feeds/municipality/vimmerby.json", "GET, HEAD, OPTIONS"),
        ("/api/events", "GET, HEAD, OPTIONS"),
        ("/api/events.ics", "GET, HEAD, OPTIONS"),
        ("/api/sources", "GET, HEAD, POST, OPTIONS"),
        ("/api/sources/preview", "POST, OPTIONS"),
        ("/registrera", "GET, HEAD, POST, OPTIONS"),
        ("/registrera/status/abc/hamta", "POST, OPTIONS"),
        ("/admin/login", "POST, OPTIONS"),
        ("/evenemang/0123456789abcdef", "GET, HEAD, OPTIONS"),
    ],
)
def test_a_preflight_names_the_methods_of_its_path(base: str, path: str, methods: str) -> None:
    answer = requests.options(
        base + path,
        headers={"Origin": "https://alltsomsker.nu", "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert answer.status_code == 204
    assert answer.headers["Allow"] == methods
    assert answer.headers["Access-Control-Allow-Methods"] == methods


def test_what_a_preflight_advertises_is_answered(base: str) -> None:
    """POST /feeds/… is refused, so it is not advertised; GET and HEAD are answered."""
    allow = requests.options(f"{base}/feeds/all.ics", timeout=10).headers["Allow"]
    for method in ("GET", "HEAD", "POST", "PUT", "DELETE"):
        answer = requests.request(method, f"{base}/feeds/all.ics", timeout=10)
        assert (answer.status_code != 405) == (method in allow), method


def test_a_405_allows_head_beside_get(base: str) -> None:
    answer = requests.put(f"{base}/api/events", timeout=10)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert answer.json()["error"] == "Den metoden går inte här."
