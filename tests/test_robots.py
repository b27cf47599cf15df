"""robots.txt for every host we fetch: read before the first request to a host (once a
day, kept in the database), its Crawl-delay and Request-rate honoured for iCal and RSS
sources, never a reason for a harvest to fail or a registered feed to be skipped.

Through the command line against real local servers that note when each request
arrived and when its answer was sent; gaps between requests are computed from those
server-side times and only ever checked as lower bounds.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.fetch.polite import MAX_CRAWL_DELAY, HostGate
from aggregator.fetch.robots import ROBOTS_MAX_BYTES, RobotsRules
from aggregator.model import RobotsFile, RobotsStatus, Settings
from tests.conftest import NOW
from tests.hosts import Answer, Hosts, Route
from tests.support import write_config

SLACK = 0.02  # float rounding between the server's clock readings, never load


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    """Two loopback hosts (127.0.0.1, 127.0.0.2) on one port, sharing routes."""
    with Hosts(2) as fleet:
        yield fleet


def calendar(uid: str, title: str, day: int) -> Answer:
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Robots//SV\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART:202612{day:02d}T180000Z\r\nDTEND:202612{day:02d}T200000Z\r\n"
        f"SUMMARY:{title}\r\nLOCATION:Folkets hus\\, Vimmerby\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    return Answer(body, headers={"Content-Type": "text/calendar"})


def rss(title: str, day: int) -> Answer:
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Hembygdsföreningen</title><link>http://example.se/</link>
<description>Evenemang</description>
<item><title>{title} {day} december 2026 kl. 18.00</title><guid>{title}-{day}</guid>
<description>{title} i Folkets hus, Vimmerby, lördag {day} december 2026 kl. 18.00.</description>
</item></channel></rss>""".encode()
    return Answer(body, headers={"Content-Type": "application/rss+xml"})


TITLES = ("Julkonsert", "Luciatåg", "Loppis")


def robots(text: str | bytes, status: int = 200, **headers: str) -> Route:
    body = text.encode() if isinstance(text, str) else text
    return lambda _: Answer(body, status, {"Content-Type": "text/plain", **headers})


def ical_sources(hosts: Hosts, count: int = 3, host: int = 1) -> list[dict[str, object]]:
    sources: list[dict[str, object]] = []
    for i in range(count):
        path = f"/kalender{i}.ics"
        hosts.routes[path] = lambda _, i=i: calendar(f"r{i}@robots", TITLES[i], 10 + i)
        sources.append(
            {"id": f"kal{host}-{i}", "name": f"Kalender {i}", "url": hosts.url(host, path)}
        )
    return sources


def harvest(config: Path, *args: str) -> int:
    return main(["--config", str(config), "harvest", *args])


def stored_events(config: Path) -> int:
    with sqlite3.connect(config.parent / "test.db") as db:
        return int(db.execute("SELECT count(*) FROM source_events").fetchone()[0])


# -- the delay is honoured for the sources that never fetched robots.txt themselves -------


def test_crawl_delay_paces_ical_sources_on_one_host(hosts: Hosts, tmp_path: Path) -> None:
    hosts.routes["/robots.txt"] = robots("User-agent: *\nCrawl-delay: 0.6\n")
    config = write_config(tmp_path, ical_sources(hosts), workers=3, per_host_delay=0.1)
    assert harvest(config) == 0
    paths = hosts.paths()
    assert paths[0] == "/robots.txt", "asked before the first request to the host"
    assert paths.count("/robots.txt") == 1
    assert sorted(paths[1:]) == [f"/kalender{i}.ics" for i in range(3)]
    assert hosts.max_in_flight["127.0.0.1"] == 1
    gaps = hosts.gaps()
    assert len(gaps) == 3
    assert all(gap >= 0.6 - SLACK for gap in gaps), gaps  # robots → first included
    assert stored_events(config) == 3


def test_request_rate_paces_feed_sources(hosts: Hosts, tmp_path: Path) -> None:
    hosts.routes["/robots.txt"] = robots(
        "User-agent: googlebot\nCrawl-delay: 20\n\nUser-agent: *\nRequest-rate: 2/1s\n"
    )
    sources: list[dict[str, object]] = []
    for i in range(3):
        hosts.routes[f"/feed{i}.xml"] = lambda _, i=i: rss(TITLES[i], 10 + i)
        sources.append(
            {
                "id": f"rss-{i}",
                "name": f"Flöde {i}",
                "url": hosts.url(1, f"/feed{i}.xml"),
                "kind": "feed",
            }
        )
    config = write_config(tmp_path, sources, workers=3)
    assert harvest(config) == 0
    assert hosts.paths().count("/robots.txt") == 1
    assert len(hosts.paths()) == 4
    gaps = hosts.gaps()
    assert all(gap >= 0.5 - SLACK for gap in gaps), gaps  # 2 requests a second: 0.5 s apart


def test_a_crawl_delay_for_our_agent_wins_over_the_general_one(
    hosts: Hosts, tmp_path: Path
) -> None:
    hosts.routes["/robots.txt"] = robots(
        "User-agent: *\nCrawl-delay: 0\n\nUser-agent: AlltSomSker-Aggregator\nCrawl-delay: 0.5\n"
    )
    config = write_config(tmp_path, ical_sources(hosts, 2), workers=2)
    assert harvest(config) == 0
    assert all(gap >= 0.5 - SLACK for gap in hosts.gaps()), hosts.gaps()


def test_each_host_is_asked_for_its_own_robots_txt(hosts: Hosts, tmp_path: Path) -> None:
    hosts.routes["/robots.txt"] = robots("User-agent: *\nCrawl-delay: 0.4\n")
    sources = ical_sources(hosts, 2, host=1) + ical_sources(hosts, 2, host=2)
    config = write_config(tmp_path, sources, workers=4)
    assert harvest(config) == 0
    for host in ("127.0.0.1", "127.0.0.2"):
        assert hosts.paths(host)[0] == "/robots.txt"
        assert hosts.paths(host).count("/robots.txt") == 1
        assert all(gap >= 0.4 - SLACK for gap in hosts.gaps(host))
        assert hosts.max_in_flight[host] == 1


# -- once per host and day, across runs (cron) ------------------------------------------


def test_robots_txt_is_read_once_a_day_across_runs(
    hosts: Hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts.routes["/robots.txt"] = robots("User-agent: *\nCrawl-delay: 0.5\n")
    config = write_config(tmp_path, ical_sources(hosts, 2), workers=2)
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert hosts.paths().count("/robots.txt") == 1

    monkeypatch.setenv("AGGREGATOR_NOW", (NOW + timedelta(hours=23)).isoformat())
    assert harvest(config) == 0
    assert harvest(config, "--source", "kal1-1") == 0
    assert hosts.paths().count("/robots.txt") == 1, "the database remembers it for a day"
    assert len(hosts.paths()) == 1 + 2 + 2 + 1
    gaps = hosts.gaps()  # runs are processes of their own: only gaps within a run count
    assert all(gaps[i] >= 0.5 - SLACK for i in (0, 1, 3)), ("its Crawl-delay too", gaps)

    monkeypatch.setenv("AGGREGATOR_NOW", (NOW + timedelta(hours=25)).isoformat())
    assert harvest(config, "--source", "kal1-0") == 0
    assert hosts.paths()[-2:] == ["/robots.txt", "/kalender0.ics"], "a day later: asked again"


# -- broken and hostile robots.txt are harmless ----------------------------------------


BROKEN: dict[str, Route] = {
    "404": robots("hittades inte", 404),
    "410": robots("", 410),
    "500": robots("serverfel", 500),
    "503 with Retry-After": robots("", 503, **{"Retry-After": "3600"}),
    "binary": robots(bytes(range(256)) * 40),
    "html soft 404": robots("<!DOCTYPE html><html><body>Sidan finns inte</body></html>"),
    "garbage directives": robots(
        "User-agent: *\nCrawl-delay: -5\nCrawl-delay: inf\nRequest-rate: 0/0\nDisallow\n::::\n"
    ),
    "redirect loop": robots("", 302, Location="/robots.txt"),
    "redirect to a private address": robots("", 301, Location="http://10.255.255.1/robots.txt"),
    "redirect to a non-http address": robots("", 301, Location="file:///etc/passwd"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_or_hostile_robots_txt_never_fails_a_harvest(
    hosts: Hosts, tmp_path: Path, kind: str
) -> None:
    hosts.routes["/robots.txt"] = BROKEN[kind]
    host = f"127.0.0.1:{hosts.port}"
    # private addresses refused as in production; only this test server is trusted
    config = write_config(
        tmp_path, ical_sources(hosts, 2), allow_private_hosts=False, trusted_hosts=[host]
    )
    assert harvest(config) == 0
    assert stored_events(config) == 2
    robots_requests = hosts.paths().count("/robots.txt")
    assert 1 <= robots_requests <= 6, "asked once (a redirect loop: at most five hops more)"
    assert harvest(config) == 0
    assert hosts.paths().count("/robots.txt") == robots_requests, "the failure is remembered too"
    with sqlite3.connect(tmp_path / "test.db") as db:
        status, body = db.execute("SELECT status, body FROM robots_files").fetchone()
    file = RobotsFile("x", RobotsStatus(status), NOW, body=body)
    assert RobotsRules(file, Settings().user_agent).delay() == 0.0, "it asks for no delay"
    if kind == "garbage directives":
        assert status == RobotsStatus.READ
    else:
        assert status in (RobotsStatus.MISSING, RobotsStatus.UNREACHABLE)


def test_a_huge_robots_txt_is_read_up_to_the_limit(hosts: Hosts, tmp_path: Path) -> None:
    head = "User-agent: *\nCrawl-delay: 0.5\n"
    hosts.routes["/robots.txt"] = robots(head + "Disallow: /privat/sida\n" * 200_000)  # 4.6 MB
    config = write_config(tmp_path, ical_sources(hosts, 2), workers=2)
    assert harvest(config) == 0
    assert stored_events(config) == 2
    # we stop reading the robots.txt at our limit: the gaps after answers read whole count
    gaps = hosts.gaps(after_whole=True)
    assert len(gaps) == len(hosts.gaps()) - 1, "the robots.txt, and only it, was cut short"
    assert all(gap >= 0.5 - SLACK for gap in gaps), "the delay at its top still counts"
    with sqlite3.connect(tmp_path / "test.db") as db:
        (body,) = db.execute("SELECT body FROM robots_files").fetchone()
    assert body.startswith(head) and len(body.encode()) <= ROBOTS_MAX_BYTES
    assert body.endswith("Disallow: /privat/sida\n"), "a cut last line is dropped"


def test_a_robots_txt_that_never_answers_costs_a_timeout_not_the_harvest(
    hosts: Hosts, tmp_path: Path
) -> None:
    hosts.routes["/robots.txt"] = lambda _: Answer(b"User-agent: *\nCrawl-delay: 9\n", delay=2.5)
    config = write_config(tmp_path, ical_sources(hosts, 1), timeout=0.5)
    assert harvest(config) == 0
    assert stored_events(config) == 1
    with sqlite3.connect(tmp_path / "test.db") as db:
        (status,) = db.execute("SELECT status FROM robots_files").fetchone()
    assert status == RobotsStatus.UNREACHABLE


# -- Disallow: said, not obeyed, for a registered feed -----------------------------------


def test_a_disallowed_feed_is_harvested_and_the_log_says_so(
    hosts: Hosts, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hosts.routes["/robots.txt"] = robots("User-agent: *\nDisallow: /\n")
    config = write_config(tmp_path, ical_sources(hosts, 1))
    assert main(["-v", "--config", str(config), "harvest"]) == 0
    assert stored_events(config) == 1
    said = [r for r in caplog.records if "disallows" in r.getMessage()]
    assert said and said[0].levelno == logging.INFO
    assert said[0].getMessage().startswith("kal1-0: robots.txt of 127.0.0.1:")


# -- what the rules mean (the real parser) -------------------------------------------------


def rules(text: str) -> RobotsRules:
    return RobotsRules(RobotsFile("x.se", RobotsStatus.READ, NOW, body=text), Settings().user_agent)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("User-agent: *\nCrawl-delay: 2.5\n", 2.5),
        ("User-agent: *\nRequest-rate: 1/5s\n", 5.0),
        ("User-agent: *\nRequest-rate: 10/1m\nCrawl-delay: 3\n", 6.0),
        ("User-agent: *\nCrawl-delay: 4\nRequest-rate: 1/1\n", 4.0),
        ("User-agent: alltsomsker-aggregator\nCrawl-delay: 7\n", 7.0),
        ("User-agent: googlebot\nCrawl-delay: 7\n", 0.0),
        ("User-agent: aggregator\nCrawl-delay: 7\n", 0.0),  # not our product token
        ("User-agent: *\nCrawl-delay: 3\n\nUser-agent: AlltSomSker-Aggregator\nAllow: /\n", 0.0),
        ("User-agent: *\nCrawl-delay: soon\n", 0.0),
        ("", 0.0),
    ],
)
def test_the_delay_a_robots_txt_asks_for(text: str, seconds: float) -> None:
    assert rules(text).delay() == pytest.approx(seconds)


def test_a_huge_delay_is_capped_and_a_missing_file_asks_nothing() -> None:
    gate = HostGate(Settings(per_host_delay=0.2))
    gate.set_crawl_delay("x.se", rules("User-agent: *\nCrawl-delay: 86400\n").delay())
    assert gate.delay("x.se") == MAX_CRAWL_DELAY
    gate.set_crawl_delay("x.se", 0.0)
    assert gate.delay("x.se") == 0.2, "a newer robots.txt without a delay takes it back"
    missing = RobotsRules(RobotsFile("x.se", RobotsStatus.MISSING, NOW), Settings().user_agent)
    assert missing.delay() == 0.0 and not missing.disallows("http://x.se/kalender.ics")
    assert rules("User-agent: *\nDisallow: /privat/\n").disallows("http://x.se/privat/a.ics")
    assert not rules("User-agent: *\nDisallow: /privat/\n").disallows("http://x.se/a.ics")
