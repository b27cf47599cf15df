"""The web app of a running ``aggregator run`` and its scheduler are one service.

A source added to sources.yaml shows on /kallor, /api/sources and /prenumerera without a
restart, and a settings change reaches the pages; the organizer's "Hämta nu" goes through
the scheduler's per-host gate, so a host never sees two requests at once even when it
meets a scheduled harvest; under ``aggregator serve`` alone the app's own harvests share
one gate and honour a server's Retry-After. Real processes, real HTTP; waits poll with a
deadline and nothing asserts how long anything took.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import requests

from aggregator.cli import main
from aggregator.store import Store
from aggregator.store.registrations import NewRegistration, hash_token, new_token
from tests.hosts import Answer, Hosts
from tests.support import write_config
from tests.test_run_service import Service, configure, event, titles, write_calendar
from tests.web_server import running

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def api_sources(run: Service) -> dict[str, str]:
    answer = requests.get(f"http://127.0.0.1:{run.port}/api/sources", timeout=10)
    assert answer.status_code == 200
    return {row["id"]: row["name"] for row in answer.json()}


def page(run: Service, path: str) -> str:
    answer = requests.get(f"http://127.0.0.1:{run.port}{path}", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.text


def add_registration(database: Path, source_id: str, name: str, url: str) -> str:
    """An organizer's registration, pending; returns its status token."""
    token = new_token()
    store = Store(database)
    try:
        store.add_registration(
            NewRegistration(
                id=source_id,
                name=name,
                email=f"{source_id}@example.se",
                url=url,
                url_key=source_id,
                kind="ical",
                municipality="Vimmerby",
                categories=(),
                preview='{"found": true, "kind": "ical", "total": 1, "upcoming": 1, "events": []}',
                token_hash=hash_token(token),
            ),
            NOW,
        )
    finally:
        store.close()
    return token


def calendar_answer(path: Path, delay: float = 0.0) -> Answer:
    return Answer(path.read_bytes(), 200, {"Content-Type": "text/calendar"}, delay=delay)


def test_a_source_added_to_sources_yaml_shows_on_the_pages_of_a_running_service(
    tmp_path: Path, service: Callable[[Path], Service]
) -> None:
    teater = write_calendar(tmp_path / "teater.ics", event("t1@x", "Julrevy", "20261212T190000"))
    kyrka = write_calendar(tmp_path / "kyrka.ics", event("k1@x", "Luciakonsert", "20261213T180000"))
    a = {"id": "teater", "name": "Teatern", "path": str(teater)}
    b = {"id": "kyrka", "name": "Kyrkan i Pelarne", "path": str(kyrka)}
    config = configure(tmp_path, [a])
    run = service(config)
    run.wait_for("the first harvest", lambda: "Julrevy" in titles(tmp_path / "feeds" / "all.ics"))
    run.wait_for("the web app", lambda: api_sources(run) == {"teater": "Teatern"})
    assert "Kyrkan i Pelarne" not in page(run, "/kallor")

    configure(tmp_path, [a, b])
    run.wait_for("the added source at /api/sources", lambda: "kyrka" in api_sources(run))
    assert api_sources(run) == {"teater": "Teatern", "kyrka": "Kyrkan i Pelarne"}
    assert "Kyrkan i Pelarne" in page(run, "/kallor")
    assert "Kyrkan i Pelarne" in page(run, "/prenumerera"), "its organizer feed is offered"

    # a renamed source and a changed setting reach the pages too
    configure(tmp_path, [a, {**b, "name": "Pelarne kyrka"}])
    run.wait_for("the new name", lambda: api_sources(run).get("kyrka") == "Pelarne kyrka")
    assert "Kyrkan i Pelarne" not in page(run, "/kallor")
    path = configure(tmp_path, [a, {**b, "name": "Pelarne kyrka"}])
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "calendar_name: Allt som sker", "calendar_name: Allt i Pelarne"
        ),
        encoding="utf-8",
    )
    run.wait_for("the new calendar name", lambda: "Allt i Pelarne" in page(run, "/kallor"))

    configure(tmp_path, [a])  # removed: gone from the pages at once
    run.wait_for("the removed source to leave", lambda: "kyrka" not in api_sources(run))
    assert "Pelarne kyrka" not in page(run, "/kallor")
    assert run.stop() == 0


def test_hamta_nu_meeting_a_scheduled_harvest_never_sends_a_host_two_requests(
    tmp_path: Path, service: Callable[[Path], Service]
) -> None:
    """The scheduled harvest of one source and an organizer's "Hämta nu" of another on
    the same host: the second request waits for the first to end."""
    teater = write_calendar(tmp_path / "teater.ics", event("t1@x", "Julrevy", "20261212T190000"))
    kyrka = write_calendar(tmp_path / "kyrka.ics", event("k1@x", "Luciakonsert", "20261213T180000"))
    with Hosts(1) as hosts:
        slow = {"now": calendar_answer(teater)}
        hosts.routes["/teater.ics"] = lambda r: slow["now"]
        hosts.routes["/kyrka.ics"] = lambda r: calendar_answer(kyrka)
        a = {"id": "teater", "name": "Teatern", "url": hosts.url(1, "/teater.ics")}
        config = configure(tmp_path, [a])
        token = add_registration(
            tmp_path / "test.db", "kyrka", "Kyrkan", hosts.url(1, "/kyrka.ics")
        )
        assert main(["--config", str(config), "sources", "approve", "kyrka"]) == 0
        run = service(config)
        all_ics = tmp_path / "feeds" / "all.ics"
        run.wait_for("both first harvests", lambda: titles(all_ics) == {"Julrevy", "Luciakonsert"})
        assert hosts.max_in_flight == {"127.0.0.1": 1}

        # an edit makes the teater source due now; its server takes its time to answer
        slow["now"] = calendar_answer(teater, delay=3.0)
        before = len(hosts.requests_to("/teater.ics"))
        configure(tmp_path, [{**a, "categories": ["Teater"]}])
        run.wait_for(
            "the scheduled request in flight",
            lambda: len(hosts.requests_to("/teater.ics")) > before,
        )
        kyrka_before = len(hosts.requests_to("/kyrka.ics"))
        status = f"http://127.0.0.1:{run.port}/registrera/status/{token}"
        answer = requests.post(status + "/hamta", timeout=60)
        assert answer.status_code == 200
        assert "Kalendern är oförändrad sedan förra hämtningen." in answer.text
        assert len(hosts.requests_to("/kyrka.ics")) == kyrka_before + 1, "one request, not two"
        assert hosts.max_in_flight == {"127.0.0.1": 1}, "never two requests at once to a host"
        assert run.stop() == 0


def test_hamta_nu_under_serve_alone_shares_one_gate_and_honours_retry_after(
    tmp_path: Path,
) -> None:
    first = write_calendar(tmp_path / "a.ics", event("a1@x", "Julrevy", "20261212T190000"))
    second = write_calendar(tmp_path / "b.ics", event("b1@x", "Luciakonsert", "20261213T180000"))
    with Hosts(1) as hosts:
        hosts.routes["/a.ics"] = lambda r: calendar_answer(first, delay=1.0)
        hosts.routes["/b.ics"] = lambda r: calendar_answer(second, delay=1.0)
        busy = {"now": Answer(b"busy", 503, {"Retry-After": "3600"})}
        hosts.routes["/c.ics"] = lambda r: busy["now"]
        config = configure(tmp_path, [])
        tokens = {
            sid: add_registration(tmp_path / "test.db", sid, f"Förening {sid}", hosts.url(1, path))
            for sid, path in (("forening-a", "/a.ics"), ("forening-b", "/b.ics"))
        }
        tokens["forening-c"] = add_registration(
            tmp_path / "test.db", "forening-c", "Förening c", hosts.url(1, "/c.ics")
        )
        for sid in tokens:
            assert main(["--config", str(config), "sources", "approve", sid]) == 0
        with running(config) as base:
            answers: dict[str, str] = {}

            def click(sid: str) -> None:
                url = f"{base}/registrera/status/{tokens[sid]}/hamta"
                answers[sid] = requests.post(url, timeout=60).text

            clicks = [
                threading.Thread(target=click, args=(s,)) for s in ("forening-a", "forening-b")
            ]
            for thread in clicks:
                thread.start()
            for thread in clicks:
                thread.join()
            assert "Hämtat: 1 evenemang (1 nya, 0 ändrade)." in answers["forening-a"]
            assert "Hämtat: 1 evenemang (1 nya, 0 ändrade)." in answers["forening-b"]
            assert hosts.max_in_flight == {"127.0.0.1": 1}, "the app's harvests share one gate"

            click("forening-c")
            assert "Hämtningen misslyckades" in answers["forening-c"]
            asked = len(hosts.requests_to("/c.ics"))
            busy["now"] = calendar_answer(first)
            store = Store(tmp_path / "test.db")
            try:  # ten minutes later the organizer may click again: the server's hour is not up
                store.conn.execute("UPDATE registrations SET last_refresh_at = NULL")
            finally:
                store.close()
            click("forening-c")
            assert "Kalendern hämtas inte nu: servern bad oss vänta till" in answers["forening-c"]
            assert len(hosts.requests_to("/c.ics")) == asked, "no request before its Retry-After"


def test_a_registration_preview_waits_for_a_host_the_scheduler_is_fetching(
    tmp_path: Path, service: Callable[[Path], Service]
) -> None:
    """A visitor's preview of an address on a host a harvest is using: one request at a
    time, like two harvests."""
    teater = write_calendar(tmp_path / "teater.ics", event("t1@x", "Julrevy", "20261212T190000"))
    kyrka = write_calendar(tmp_path / "kyrka.ics", event("k1@x", "Luciakonsert", "20261213T180000"))
    with Hosts(1) as hosts:
        slow = {"now": calendar_answer(teater)}
        hosts.routes["/teater.ics"] = lambda r: slow["now"]
        hosts.routes["/kyrka.ics"] = lambda r: calendar_answer(kyrka)
        a = {"id": "teater", "name": "Teatern", "url": hosts.url(1, "/teater.ics")}
        trusted = {"trusted_hosts": [f"127.0.0.1:{hosts.port}"]}
        config = write_config(tmp_path, [a], **trusted)
        run = service(config)
        run.wait_for("the first harvest", lambda: titles(tmp_path / "feeds" / "all.ics") != set())
        slow["now"] = calendar_answer(teater, delay=3.0)
        before = len(hosts.requests_to("/teater.ics"))
        write_config(tmp_path, [{**a, "categories": ["Teater"]}], **trusted)  # due now
        run.wait_for(
            "the harvest in flight", lambda: len(hosts.requests_to("/teater.ics")) > before
        )
        answer = requests.post(
            f"http://127.0.0.1:{run.port}/api/sources/preview",
            json={"name": "Kyrkan", "url": hosts.url(1, "/kyrka.ics"), "email": "k@example.se"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["found"] is True
        assert hosts.max_in_flight == {"127.0.0.1": 1}, "never two requests at once to a host"
        assert run.stop() == 0
