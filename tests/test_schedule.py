"""Scheduling: parallel but polite harvests, backoff, Retry-After, pause and resume.

Through the command line against real local servers on several loopback hosts
(tests/hosts.py counts what each host sees), plus the pure rules with an injected clock.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.errors import FetchError, FetchFailure, ParseError
from aggregator.fetch.polite import (
    COOL_DOWN,
    HostGate,
    backoff_delay,
    default_delay,
    host_of,
    paced_fetcher,
    parse_retry_after,
)
from aggregator.model import RobotsFile, RobotsStatus, Settings, Source
from aggregator.pipeline import SourceReport, plan_retry
from aggregator.schedule.scheduler import first_due, jitter, next_due
from aggregator.store import Store
from aggregator.store.schedule_queries import SourceSchedule
from tests.hosts import Answer, Hosts, Request
from tests.support import DATA, read_with_icalendar, write_config

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TITLES = [
    "Julkonsert",
    "Luciatåg",
    "Loppis",
    "Barnteater",
    "Stickcafé",
    "Orgelkonsert",
    "Dans på logen",
    "Bokcirkel om Astrid",
    "Filmkväll",
    "Julmarknad",
    "Tomtefest",
    "Pubquiz",
]


def calendar(uid: str, title: str, day: int = 12) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Sched//SV\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART:202612{day:02d}T180000Z\r\nDTEND:202612{day:02d}T200000Z\r\n"
        f"SUMMARY:{title}\r\nLOCATION:Folkets hus\\, Vimmerby\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def ics(body: bytes, **headers: str) -> Answer:
    return Answer(body, 200, {"Content-Type": "text/calendar", **headers})


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    monkeypatch.setenv("AGGREGATOR_NOW", when.isoformat())


def schedule_of(config: Path, source_id: str) -> SourceSchedule:
    store = Store(load_config(config).settings.database)
    try:
        state = store.schedule_state(source_id)
    finally:
        store.close()
    assert state is not None
    return state


# -- many hosts at once, one request at a time per host ---------------------------------


def listing_site(hosts: Hosts, host: int) -> str:
    """A listing page with three event pages (JSON-LD) on one host: a harvest that
    sends four requests to it, which must never overlap with another source's."""
    base = hosts.url(host, "")
    index = (DATA / "html" / "listing" / "index.html").read_text(encoding="utf-8")
    hosts.routes["/evenemang/"] = lambda r: Answer(
        index.replace("https://kultur.example.se", base).encode(),
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    for name in ("vinterkonsert", "bokcirkel", "julspel"):
        page = (DATA / "html" / "listing" / f"{name}.html").read_bytes()
        hosts.routes[f"/evenemang/{name}/"] = lambda r, page=page: Answer(
            page, headers={"Content-Type": "text/html; charset=utf-8"}
        )
    return hosts.url(host, "/evenemang/")


def test_parallel_sources_never_two_requests_at_once_to_one_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Hosts(4, latency=0.15) as hosts:
        sources = []
        for i in range(12):
            hosts.routes[f"/c{i}.ics"] = lambda r, i=i: ics(
                calendar(f"e{i}@x", TITLES[i], day=i + 1)
            )
            sources.append(
                {"id": f"c{i}", "name": f"C{i}", "url": hosts.url(i % 4 + 1, f"/c{i}.ics")}
            )
        sources.append({"id": "kultur", "name": "Kultur", "url": listing_site(hosts, 1)})
        config = write_config(tmp_path, sources, workers=4)
        assert run(config, "run", "--once") == 0
        assert "Sources: 13 ok, 0 unchanged, 0 failed" in capsys.readouterr().out
        assert hosts.max_in_flight == {f"127.0.0.{n}": 1 for n in range(1, 5)}
        assert hosts.max_total >= 2, "sources on different hosts are fetched in parallel"
        assert len(hosts.requests_to("/evenemang/julspel/")) == 1
    titles = {e["summary"] for e in read_with_icalendar(tmp_path / "feeds" / "all.ics")}
    assert {*TITLES, "Julspel för barn"} <= titles


def test_many_calendars_on_one_host_are_fetched_one_at_a_time(tmp_path: Path) -> None:
    """An iCal host is given back before its body is parsed; giving it back once more after
    the parse must not free it while the next source's request is out."""
    with Hosts(1, latency=0.1) as hosts:
        sources = []
        for i in range(10):
            hosts.routes[f"/c{i}.ics"] = lambda r, i=i: ics(
                calendar(f"e{i}@x", TITLES[i], day=i + 1)
            )
            sources.append({"id": f"c{i}", "name": f"C{i}", "url": hosts.url(1, f"/c{i}.ics")})
        assert run(write_config(tmp_path, sources, workers=4), "run", "--once") == 0
        paths = [r.path for r in hosts.log]
        assert paths[0] == "/robots.txt"  # read first, once
        assert sorted(paths[1:]) == sorted(f"/c{i}.ics" for i in range(10))
        assert hosts.max_in_flight == {"127.0.0.1": 1}


def test_one_worker_is_serial(tmp_path: Path) -> None:
    with Hosts(3, latency=0.05) as hosts:
        sources = []
        for i in range(6):
            hosts.routes[f"/c{i}.ics"] = lambda r, i=i: ics(calendar(f"e{i}@x", f"Dans {i}"))
            sources.append(
                {"id": f"c{i}", "name": f"C{i}", "url": hosts.url(i % 3 + 1, f"/c{i}.ics")}
            )
        assert run(write_config(tmp_path, sources, workers=1), "run", "--once") == 0
        assert hosts.max_total == 1


def test_gate_keeps_the_delay_between_requests_to_a_host() -> None:
    clock = [100.0]
    gate = HostGate(Settings(per_host_delay=2.0), monotonic=lambda: clock[0])
    assert gate.try_take("a.se") and not gate.try_take("a.se"), "one harvest per host"
    assert gate.try_take("b.se"), "other hosts are free"
    gate.note_request("a.se")
    gate.release("a.se")
    assert not gate.try_take("a.se"), "rested for per_host_delay first"
    clock[0] += 1.9
    assert not gate.try_take("a.se")
    clock[0] += 0.2
    assert gate.try_take("a.se")


def test_what_counts_as_one_host() -> None:
    assert host_of("https://Kultur.Vimmerby.se/kalender.ics") == "kultur.vimmerby.se"
    assert host_of("http://kultur.vimmerby.se:80/a") == host_of("https://kultur.vimmerby.se/b")
    assert host_of("http://127.0.0.1:8001/a") != host_of("http://127.0.0.1:8002/a")
    assert host_of("http://[::1]:8001/a") == "[::1]:8001"
    assert host_of(None) == host_of("not a url") == ""


def test_default_delay_is_a_second_but_not_for_local_test_servers() -> None:
    assert default_delay("kultur.vimmerby.se") == 1.0
    assert default_delay("127.0.0.5") == 0.0
    assert default_delay("localhost") == 0.0
    assert default_delay("10.1.2.3") == 0.0
    assert default_delay("127.0.0.1:8001") == 0.0
    assert default_delay("[::1]:8001") == default_delay("[::1]") == 0.0
    assert default_delay("kultur.vimmerby.se:8080") == 1.0
    assert HostGate(Settings(per_host_delay=0.5)).delay("127.0.0.1") == 0.5, "an explicit one wins"


def answered_robots(
    bodies: dict[str, str], asked: list[str] | None = None
) -> Callable[[str], RobotsFile]:
    """A robots.txt per host, as ``fetch_robots`` would have read it (none: missing)."""

    def read(url: str) -> RobotsFile:
        host = host_of(url)
        if asked is not None:
            asked.append(host)
        if host not in bodies:
            return RobotsFile(host, RobotsStatus.MISSING, T0, http_status=404)
        return RobotsFile(host, RobotsStatus.READ, T0, body=bodies[host], http_status=200)

    return read


def test_robots_crawl_delay_paces_the_pages_of_that_host() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    gate = HostGate(Settings(), monotonic=lambda: clock[0], sleep=sleep)
    robots = "User-agent: *\nCrawl-delay: 5\nDisallow: /privat/\n"
    pages = {"https://kultur.se/a": b"a", "https://kultur.se/b": b"b"}
    fetched: list[str] = []

    def fetch_page(url: str) -> bytes:
        fetched.append(url)
        return pages[url]

    asked: list[str] = []
    fetch = paced_fetcher(
        fetch_page,
        gate,
        "kultur.se",
        timeout=10,
        robots=answered_robots({"kultur.se": robots}, asked),
        now=T0,
    )
    assert gate.try_take("kultur.se")
    # a harvester's own read of robots.txt is answered from what the gate read first
    assert fetch("https://kultur.se/robots.txt") == robots.encode()
    assert [fetch(url) for url in pages] == [b"a", b"b"]
    assert asked == ["kultur.se"], "robots.txt is read from the host once"
    assert fetched == list(pages), "and never fetched as a page"
    assert gate.delay("kultur.se") == 5
    assert slept == [pytest.approx(5.0), pytest.approx(5.0)], "a and b each wait 5 s"


def test_a_page_on_another_busy_host_is_given_up_not_waited_for_forever() -> None:
    gate = HostGate(Settings())
    assert gate.try_take("andra.se")  # another harvest holds it
    fetch = paced_fetcher(
        lambda url: b"x", gate, "egen.se", timeout=0.05, robots=answered_robots({}), now=T0
    )
    with pytest.raises(FetchError, match="upptagen med en annan hämtning") as busy:
        fetch("https://andra.se/sida")
    assert busy.value.kind is FetchFailure.HOST_BUSY
    gate.release("andra.se")
    assert fetch("https://andra.se/sida") == b"x"
    assert gate.ready_at("andra.se") < math.inf, "the page fetcher gave the host back"


# -- backoff, Retry-After, 429/503 -------------------------------------------------------


def test_backoff_doubles_from_the_interval_up_to_a_day() -> None:
    hours = [backoff_delay(n, 3600) / timedelta(hours=1) for n in range(1, 8)]
    assert hours == [1, 2, 4, 8, 16, 24, 24]
    assert backoff_delay(3, 2 * 86400) == timedelta(days=2), "never shorter than the interval"
    assert backoff_delay(10_000, 60) == timedelta(days=1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("120", T0 + timedelta(seconds=120), id="seconds"),
        pytest.param(" 3600 ", T0 + timedelta(hours=1), id="seconds-spaces"),
        pytest.param(
            format_datetime(T0 + timedelta(hours=3), usegmt=True),
            T0 + timedelta(hours=3),
            id="http-date",
        ),
        pytest.param("Thu, 26 Nov 2026 15:00:00 GMT", T0 + timedelta(hours=3), id="imf-fixdate"),
        pytest.param("Wed, 25 Nov 2026 09:00:00 GMT", T0, id="date-in-the-past"),
        pytest.param("Thursday, 26-Nov-26 15:00:00 GMT", T0 + timedelta(hours=3), id="rfc850-date"),
        pytest.param("Thu Nov 26 15:00:00 2026", T0 + timedelta(hours=3), id="asctime-date"),
        pytest.param("Thu, 26 Nov 2026 16:00:00 +0100", T0 + timedelta(hours=3), id="numeric-zone"),
        pytest.param("90.5", T0 + timedelta(seconds=91), id="decimal-seconds"),
        pytest.param("99999999", T0 + timedelta(days=7), id="capped-at-a-week"),
        pytest.param("Fri, 01 Jan 2100 00:00:00 GMT", T0 + timedelta(days=7), id="far-date-capped"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("-5", None, id="negative"),
        pytest.param("", None, id="empty"),
    ],
)
def test_retry_after_forms(header: str, expected: datetime | None) -> None:
    assert parse_retry_after(header, T0) == expected


def failure(status: int | None = None, retry_after: str | None = None) -> FetchError:
    error = FetchError(f"the server answered HTTP {status}", source_id="s")
    error.status = status
    error.retry_after = retry_after
    return error


def state(failures: int, since: datetime | None, paused: bool = False) -> SourceSchedule:
    return SourceSchedule(
        "s", "paused" if paused else "failed", failures, since, since, None, None, "", None, ()
    )


SOURCE = Source(id="s", name="S", url="https://s.se/k.ics", interval=3600)


def test_plan_retry_with_an_injected_clock() -> None:
    settings = Settings()
    first = plan_retry(SOURCE, state(0, None), failure(500), T0, settings, "fel")
    assert first.retry_at == T0 + timedelta(hours=1) and first.host_hold == 0
    assert first.pause_message is None
    fourth = plan_retry(SOURCE, state(3, T0), failure(500), T0, settings, "fel")
    assert fourth.retry_at == T0 + timedelta(hours=8)
    assert "4 misslyckade försök i rad" in fourth.reason
    asked = plan_retry(SOURCE, state(0, None), failure(503, "7200"), T0, settings, "fel")
    assert asked.retry_at == asked.server_retry_at == T0 + timedelta(hours=2)
    assert asked.host_hold == 7200, "every source of that host stays away"
    assert "Retry-After" in asked.reason
    shorter = plan_retry(SOURCE, state(0, None), failure(429, "60"), T0, settings, "fel")
    assert shorter.retry_at == T0 + timedelta(hours=1), "never sooner than our own backoff"
    assert shorter.server_retry_at == T0 + timedelta(seconds=60)
    no_header = plan_retry(SOURCE, state(0, None), failure(429), T0, settings, "fel")
    assert no_header.host_hold == COOL_DOWN and "HTTP 429" in no_header.reason
    parse = plan_retry(SOURCE, state(0, None), ParseError("trasig"), T0, settings, "trasig")
    assert parse.retry_at == T0 + timedelta(hours=1) and parse.host_hold == 0


def test_pause_after_failing_for_pause_after() -> None:
    settings = Settings(pause_after=14 * 86400)
    since = T0 - timedelta(days=13, hours=23)
    assert (
        plan_retry(SOURCE, state(40, since), failure(500), T0, settings, "fel").pause_message
        is None
    )
    plan = plan_retry(
        SOURCE, state(41, since), failure(500), T0 + timedelta(hours=1), settings, "fel"
    )
    assert plan.pause_message is not None
    assert "pausad" in plan.pause_message and "aggregator sources resume s" in plan.pause_message
    assert "fel" in plan.pause_message, "the last error is in the health message"


def test_server_retry_after_is_honoured_by_cron_runs_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with Hosts(1) as hosts:
        answer = {"now": Answer(b"busy", 503, {"Retry-After": "3600"})}
        hosts.routes["/k.ics"] = lambda r: answer["now"]
        config = write_config(
            tmp_path, [{"id": "kyrka", "name": "Kyrka", "url": hosts.url(1, "/k.ics")}]
        )
        at(monkeypatch, T0)
        assert run(config, "run", "--once") == 0
        assert (
            "failed kyrka: Servern är tillfälligt otillgänglig (HTTP 503)"
            in capsys.readouterr().out
        )
        state = schedule_of(config, "kyrka")
        assert state.server_retry_at == T0 + timedelta(hours=1)
        assert "Retry-After" in state.retry_reason
        answer["now"] = ics(calendar("k1@x", "Julotta"))
        at(monkeypatch, T0 + timedelta(minutes=30))
        assert run(config, "run", "--once") == 0
        out = capsys.readouterr().out
        assert "skipped" in out and "Retry-After" in out
        assert len(hosts.requests_to("/k.ics")) == 1, "the server asked us to wait: not asked again"
        at(monkeypatch, T0 + timedelta(minutes=61))
        assert run(config, "run", "--once") == 0
        assert "Sources: 1 ok, 0 unchanged, 0 failed" in capsys.readouterr().out
        assert len(hosts.requests_to("/k.ics")) == 2
        assert schedule_of(config, "kyrka").consecutive_failures == 0


def test_retry_after_as_http_date_and_a_named_harvest_goes_anyway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    until = format_datetime(T0 + timedelta(hours=5), usegmt=True)
    with Hosts(1) as hosts:
        hosts.routes["/k.ics"] = lambda r: Answer(b"", 429, {"Retry-After": until})
        config = write_config(
            tmp_path, [{"id": "kyrka", "name": "Kyrka", "url": hosts.url(1, "/k.ics")}]
        )
        at(monkeypatch, T0)
        run(config, "harvest")
        assert schedule_of(config, "kyrka").server_retry_at == T0 + timedelta(hours=5)
        run(config, "harvest")
        assert len(hosts.requests_to("/k.ics")) == 1
        run(config, "harvest", "--source", "kyrka")  # the operator asks for it by name
        assert len(hosts.requests_to("/k.ics")) == 2
    capsys.readouterr()


def test_a_slow_down_answer_keeps_the_other_sources_of_that_host_away(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Hosts(2) as hosts:
        hosts.routes["/a.ics"] = lambda r: Answer(b"", 503, {"Retry-After": "600"})
        hosts.routes["/b.ics"] = lambda r: ics(calendar("b@x", "B"))
        hosts.routes["/c.ics"] = lambda r: ics(calendar("c@x", "C"))
        sources = [
            {"id": "a", "name": "A", "url": hosts.url(1, "/a.ics")},
            {"id": "b", "name": "B", "url": hosts.url(1, "/b.ics")},
            {"id": "c", "name": "C", "url": hosts.url(2, "/c.ics")},
        ]
        config = write_config(tmp_path, sources, workers=1)  # a, then b, then c: in order
        assert run(config, "run", "--once") == 0
        assert hosts.requests_to("/b.ics") == [], "host 1 asked for ten minutes of quiet"
        assert len(hosts.requests_to("/c.ics")) == 1
    out = capsys.readouterr().out
    assert "Sources: 1 ok, 0 unchanged, 1 failed, 1 skipped" in out
    assert "skipped b:" in out


# -- pause after N days, resume -----------------------------------------------------------


def test_pause_after_days_of_failures_then_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with Hosts(1) as hosts:
        answer = {"now": Answer(b"gone", 500)}
        hosts.routes["/k.ics"] = lambda r: answer["now"]
        config = write_config(
            tmp_path,
            [{"id": "kyrka", "name": "Kyrka", "url": hosts.url(1, "/k.ics")}],
            pause_after="2d",
        )
        for hours in (0, 24, 47):
            at(monkeypatch, T0 + timedelta(hours=hours))
            run(config, "run", "--once")
        assert schedule_of(config, "kyrka").status == "failed", "47 h of failures: not yet"
        at(monkeypatch, T0 + timedelta(hours=48))
        run(config, "run", "--once")
        state = schedule_of(config, "kyrka")
        assert state.paused and state.consecutive_failures == 4
        capsys.readouterr()
        assert run(config, "sources", "list") == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("kyrka"))
        assert line.split()[1] == "paused" and "pausad" in line
        at(monkeypatch, T0 + timedelta(days=5))
        answer["now"] = ics(calendar("k1@x", "Julotta"))
        assert run(config, "run", "--once") == 0
        assert len(hosts.requests_to("/k.ics")) == 4, "a paused source is not fetched"
        assert "skipped kyrka: pausad" in capsys.readouterr().out
        assert run(config, "sources", "resume", "kyrka") == 0
        assert "resumed" in capsys.readouterr().out
        assert run(config, "run", "--once") == 0
        assert "Sources: 1 ok" in capsys.readouterr().out
        assert schedule_of(config, "kyrka").status == "ok"


def test_resume_gives_a_fresh_run_of_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Hosts(1) as hosts:
        hosts.routes["/k.ics"] = lambda r: Answer(b"", 500)
        config = write_config(
            tmp_path,
            [{"id": "kyrka", "name": "Kyrka", "url": hosts.url(1, "/k.ics")}],
            pause_after="1d",
        )
        for hours in (0, 25):
            at(monkeypatch, T0 + timedelta(hours=hours))
            run(config, "run", "--once")
        assert schedule_of(config, "kyrka").paused
        at(monkeypatch, T0 + timedelta(hours=26))
        run(config, "sources", "resume", "kyrka")
        run(config, "run", "--once")
        state = schedule_of(config, "kyrka")
        assert not state.paused and state.status == "failed", "failing again, but a new day starts"
        at(monkeypatch, T0 + timedelta(hours=50, minutes=1))
        run(config, "run", "--once")
        assert schedule_of(config, "kyrka").paused


def test_operator_pause_and_unknown_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(
        tmp_path, [{"id": "fest", "name": "Fest", "path": str(DATA / "ical" / "latin1.ics")}]
    )
    assert run(config, "sources", "pause", "fest") == 0
    assert run(config, "run", "--once") == 0
    assert "skipped fest: pausad" in capsys.readouterr().out
    assert run(config, "sources", "pause", "nope") == 1
    assert "no source with id nope" in capsys.readouterr().err
    assert run(config, "sources", "resume", "fest") == 0
    assert run(config, "sources", "resume", "fest") == 0
    assert "not paused" in capsys.readouterr().err
    db = sqlite3.connect(tmp_path / "test.db")
    outcomes = [
        r[0]
        for r in db.execute("SELECT outcome FROM fetch_log WHERE source_id = 'fest' ORDER BY id")
    ]
    assert outcomes == ["paused", "resumed"]


# -- start-up spread, next harvest --------------------------------------------------------


def test_jitter_is_stable_within_the_interval_and_spreads_sources() -> None:
    offsets = [jitter(f"forening-{i}", 3600) for i in range(200)]
    assert offsets == [jitter(f"forening-{i}", 3600) for i in range(200)], "stable across restarts"
    assert all(timedelta(0) <= o < timedelta(hours=1) for o in offsets)
    quarters = {int(o / timedelta(minutes=15)) for o in offsets}
    assert quarters == {0, 1, 2, 3}, "spread over the whole interval, not bunched"


def schedule(
    last: datetime | None, retry: datetime | None = None, paused: bool = False
) -> SourceSchedule:
    failures = 1 if retry else 0
    status = "paused" if paused else "ok"
    return SourceSchedule(
        "s", status, failures, last, None, retry, None, "", last if paused else None, ()
    )


def test_first_due_after_a_restart() -> None:
    assert first_due(SOURCE, None, T0) == T0, "a new source is harvested right away"
    assert first_due(SOURCE, schedule(None), T0) == T0
    recent = T0 - timedelta(minutes=20)
    assert first_due(SOURCE, schedule(recent), T0) == recent + timedelta(hours=1)
    backing_off = T0 + timedelta(hours=3)
    assert first_due(SOURCE, schedule(recent, backing_off), T0) == backing_off
    overdue = first_due(SOURCE, schedule(T0 - timedelta(days=2)), T0)
    assert overdue == T0 + jitter("s", 3600), "overdue sources are spread, not fired at once"
    assert first_due(SOURCE, schedule(recent, paused=True), T0) is None


def test_next_due_after_a_harvest() -> None:
    assert next_due(SOURCE, SourceReport("s", "ok"), T0) == T0 + timedelta(hours=1)
    failed = SourceReport("s", "failed", retry_at=T0 + timedelta(hours=4))
    assert next_due(SOURCE, failed, T0) == T0 + timedelta(hours=4)
    assert next_due(SOURCE, SourceReport("s", "failed", paused=True), T0) is None


# -- an edited source is parsed again even when the server says 304 ----------------------


def test_edited_source_is_refetched_without_conditional_headers(tmp_path: Path) -> None:
    with Hosts(1) as hosts:

        def answer(request: Request) -> Answer:
            if request.headers.get("If-None-Match") == '"v1"':
                return Answer(b"", 304, {"ETag": '"v1"'})
            return ics(calendar("k1@x", "Julotta"), ETag='"v1"')

        hosts.routes["/k.ics"] = answer
        source = {"id": "kyrka", "name": "Kyrka", "url": hosts.url(1, "/k.ics")}
        config = write_config(tmp_path, [source])
        run(config, "run", "--once")
        run(config, "run", "--once")
        assert "If-None-Match" in hosts.requests_to("/k.ics")[1].headers
        write_config(tmp_path, [{**source, "categories": ["Musik"]}])
        run(config, "run", "--once")
        assert "If-None-Match" not in hosts.requests_to("/k.ics")[2].headers
    feed = tmp_path / "feeds" / "category" / "musik.ics"
    assert [e["summary"] for e in read_with_icalendar(feed)] == ["Julotta"]


# -- one merge + publish after a burst ------------------------------------------------------


def test_one_publish_after_a_burst_of_harvests(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The debounce runs on an injected monotonic clock: frozen, no burst is ever 'over'."""
    import logging
    import time

    from aggregator.schedule.scheduler import PUBLISH_QUIET, Scheduler

    caplog.set_level(logging.INFO, logger="aggregator")
    sources = []
    for i in range(5):
        path = tmp_path / f"c{i}.ics"
        path.write_bytes(calendar(f"e{i}@x", TITLES[i], day=i + 1))
        sources.append({"id": f"c{i}", "name": f"C{i}", "path": str(path)})
    config = load_config(write_config(tmp_path, sources))
    store = Store(config.settings.database)
    clock = [1000.0]
    scheduler = Scheduler(store, config, monotonic=lambda: clock[0])

    def publishes() -> int:
        return sum("publish: merging" in r.getMessage() for r in caplog.records)

    def wait_for(check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 60
        while not check():
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)

    def all_harvested() -> bool:
        with scheduler.db:
            states = store.schedule_states()
        return len(states) == 5 and all(s.last_attempt_at for s in states.values())

    scheduler.start()
    try:
        wait_for(all_harvested)
        wait_for(lambda: publishes() == 1)  # the one at start-up, before any harvest counted
        time.sleep(0.5)
        assert publishes() == 1, "no publish while the burst may go on"
        clock[0] += PUBLISH_QUIET + 0.1
        wait_for(lambda: publishes() == 2)
        all_ics = tmp_path / "feeds" / "all.ics"
        wait_for(lambda: all_ics.exists() and len(read_with_icalendar(all_ics)) == 5)
        assert publishes() == 2, "one publish for the five harvests"
    finally:
        scheduler.stop(grace=5)
