"""Registrations in the store and on the command line: statuses, how they join the
configured sources, ``sources pending | approve | reject | export``, and the key that
recognises a calendar however its address is written."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

from aggregator.cli import main
from aggregator.config import load_config, parse_config
from aggregator.normalize.source_urls import url_key
from aggregator.store import Store
from aggregator.store.registrations import (
    NewRegistration,
    RegistrationError,
    RegistrationStatus,
    Upload,
    hash_token,
    merge_registered_sources,
)
from aggregator.web.preview import hint_for
from tests.support import write_config

EXAMPLES = Path(__file__).parent.parent / "examples"


def _new(registration_id: str, path: Path, **fields: object) -> NewRegistration:
    values: dict[str, object] = {
        "id": registration_id,
        "name": "Lönneberga hembygdsförening",
        "email": "kontakt@forening.example",
        "url": "",
        "url_key": "",
        "kind": "ical",
        "municipality": "Hultsfred",
        "categories": ("Hembygd",),
        "preview": '{"found": true, "kind": "ical", "total": 2, "upcoming": 2, "events": []}',
        "token_hash": hash_token(registration_id + "-token-0123456789abcdef"),
    }
    values.update(fields)
    return NewRegistration(**values)  # type: ignore[arg-type]


@pytest.fixture
def configured(tmp_path: Path) -> Path:
    return write_config(
        tmp_path,
        [
            {
                "id": "vimmerby-teater",
                "name": "Teatern",
                "path": str(EXAMPLES / "vimmerby-teater.ics"),
            }
        ],
    )


def _store(config_file: Path) -> Store:
    return Store(load_config(config_file).settings.database)


def test_statuses_follow_their_transitions(configured: Path, now: datetime) -> None:
    store = _store(configured)
    store.add_registration(_new("forening", configured), now)
    assert store.registration_by_token("forening-token-0123456789abcdef") is not None
    assert store.registration_by_token("fel-token") is None
    with pytest.raises(RegistrationError, match="kan inte bli pausad"):
        store.change_registration_status("forening", RegistrationStatus.PAUSED, now)
    store.change_registration_status(
        "forening", RegistrationStatus.REJECTED, now, reason="Ingen kalender"
    )
    with pytest.raises(RegistrationError, match="bara väntande"):
        store.approve_registration("forening", now)
    with pytest.raises(RegistrationError, match="ingen registrering"):
        store.approve_registration("finns-inte", now)
    history = [action for _, action, _ in store.registration_history("forening")]
    assert history == ["registered", "rejected"]


def test_approval_refuses_ids_that_are_taken_or_malformed(configured: Path, now: datetime) -> None:
    store = _store(configured)
    store.add_registration(_new("forening", configured), now)
    store.add_registration(_new("annan", configured, token_hash=hash_token("b" * 40)), now)
    for new_id, words in (
        ("vimmerby-teater", "sources.yaml"),
        ("annan", "används redan"),
        ("Med Versaler", "små bokstäver"),
    ):
        with pytest.raises(RegistrationError, match=words):
            store.approve_registration(
                "forening", now, new_id=new_id, taken_ids=["vimmerby-teater"]
            )
    with pytest.raises(RegistrationError, match="0–100"):
        store.approve_registration("forening", now, priority=101)


def test_only_active_registrations_join_and_sources_yaml_wins(
    configured: Path, now: datetime
) -> None:
    config = load_config(configured)
    store = _store(configured)
    store.add_registration(_new("forening", configured, url="https://forening.example/k.ics"), now)
    store.add_registration(
        _new("vimmerby-teater", configured, url="https://x.example/a.ics", token_hash="t2"), now
    )
    assert merge_registered_sources(config, store) == config, "pending: not harvested"
    store.approve_registration("forening", now, priority=70)
    # an id that later appears in sources.yaml: the file wins, the registration waits
    store.conn.execute("UPDATE registrations SET status = 'active' WHERE id = 'vimmerby-teater'")
    merged = merge_registered_sources(config, store)
    assert [s.id for s in merged.sources] == ["vimmerby-teater", "forening"]
    assert merged.source("vimmerby-teater").path == str(EXAMPLES / "vimmerby-teater.ics")
    registered = merged.source("forening")
    assert (registered.url, registered.kind, registered.priority) == (
        "https://forening.example/k.ics",
        "ical",
        70,
    )
    store.change_registration_status("forening", RegistrationStatus.PAUSED, now)
    # a paused registration stays a source, paused by a moderator (not harvested, its
    # events out of the feeds), so every list of sources shows it as paused
    merged = merge_registered_sources(config, store)
    assert [s.id for s in merged.sources] == ["vimmerby-teater", "forening"]
    paused = store.schedule_state("forening")
    assert paused is not None and paused.paused_by_moderator
    store.change_registration_status("forening", RegistrationStatus.WITHDRAWN, now)
    assert [s.id for s in merge_registered_sources(config, store).sources] == ["vimmerby-teater"]


def test_an_approved_export_is_harvested_from_a_file_the_database_keeps(
    configured: Path, now: datetime, capsys: pytest.CaptureFixture[str]
) -> None:
    ics = (EXAMPLES / "lonneberga-hembygd.ics").read_bytes()
    export = b'{"your_events": [{"name": "Dans", "start_timestamp": 1797436800}]}'
    store = _store(configured)
    store.add_registration(
        _new("fb-export", configured, kind="facebook", upload=Upload("your_events.json", export)),
        now,
    )
    store.approve_registration("fb-export", now)
    store.close()
    assert ics  # the example calendar is there for the configured source
    assert main(["--config", str(configured), "run", "--once"]) == 0
    capsys.readouterr()
    store = _store(configured)
    files = list((configured.parent / "uploads").glob("fb-export-*.json"))
    assert len(files) == 1 and files[0].read_bytes() == export
    health = {h.id: h for h in store.source_health()}
    assert health["fb-export"].status == "ok" and health["fb-export"].event_count == 1
    files[0].unlink()  # a restored backup without the uploads folder
    assert main(["--config", str(configured), "harvest", "--source", "fb-export"]) == 0
    assert files[0].read_bytes() == export


def test_cli_pending_approve_reject_and_export(
    configured: Path, now: datetime, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _store(configured)
    store.add_registration(_new("forening", configured, url="https://forening.example/k.ics"), now)
    store.add_registration(_new("spam", configured, token_hash="t3", name="Spam AB"), now)
    store.close()
    run = lambda *args: main(["--config", str(configured), "sources", *args])  # noqa: E731
    assert run("pending") == 0
    out = capsys.readouterr()
    assert "forening  Lönneberga hembygdsförening  (Hultsfred)" in out.out
    assert "aggregator sources approve forening" in out.out
    assert "2 registreringar väntar" in out.err

    assert run("approve", "forening", "--municipality", "Stockholm") == 1
    assert "Vi täcker inte ”Stockholm”" in capsys.readouterr().err
    assert (
        run(
            "approve",
            "forening",
            "--id",
            "lonneberga-hembygd",
            "--municipality",
            "Högsby",
            "--category",
            "Hembygd",
            "--category",
            "Musik",
            "--priority",
            "65",
        )
        == 0
    )
    assert "approved lonneberga-hembygd" in capsys.readouterr().out
    assert run("reject", "spam", "--reason", "  Inga   evenemang ") == 0
    assert "avvisad (Inga evenemang)" in capsys.readouterr().out
    assert run("reject", "spam", "--reason", "igen") == 1
    assert run("export") == 0
    exported = capsys.readouterr().out
    entries = yaml.safe_load(exported)["sources"]
    assert entries == [
        {
            "id": "lonneberga-hembygd",
            "name": "Lönneberga hembygdsförening",
            "url": "https://forening.example/k.ics",
            "kind": "ical",
            "municipality": "Högsby",
            "categories": ["Hembygd", "Musik"],
            "interval": "60m",
            "priority": 65,
            "max_pages": 30,
        }
    ]
    # sources.yaml accepts what export writes, as the same source
    text = configured.read_text(encoding="utf-8")
    combined = yaml.safe_load(text)
    combined["sources"].extend(entries)
    reparsed = parse_config(yaml.safe_dump(combined, allow_unicode=True), configured)
    merged = merge_registered_sources(load_config(configured), _store(configured))
    assert reparsed.source("lonneberga-hembygd") == merged.source("lonneberga-hembygd")


def test_cli_has_help_for_each_new_command(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("pending", "approve", "reject", "export"):
        with pytest.raises(SystemExit) as stop:
            main(["sources", command, "--help"])
        assert stop.value.code == 0
        assert "usage: aggregator sources " + command in capsys.readouterr().out


SAME = [
    ("webcal://kalender.example/k.ics", "https://kalender.example/k.ics"),
    ("webcals://kalender.example/k.ics", "https://kalender.example/k.ics"),
    ("http://kalender.example/k.ics", "https://kalender.example/k.ics"),
    ("https://Kalender.EXAMPLE/k.ics", "https://kalender.example/k.ics"),
    ("https://kalender.example./k.ics", "https://kalender.example/k.ics"),
    ("https://www.kalender.example/k.ics", "https://kalender.example/k.ics"),
    ("https://kalender.example:443/k.ics", "https://kalender.example/k.ics"),
    ("http://kalender.example:80/k.ics", "https://kalender.example/k.ics"),
    ("https://kalender.example/k.ics/", "https://kalender.example/k.ics"),
    ("https://kalender.example/", "https://kalender.example"),
    ("https://kalender.example//a//k.ics", "https://kalender.example/a/k.ics"),
    ("https://kalender.example/a/./b/../k.ics", "https://kalender.example/a/k.ics"),
    ("https://kalender.example/k.ics#juni", "https://kalender.example/k.ics"),
    (
        "https://kalender.example/k.ics?utm_source=nyhetsbrev&utm_medium=e",
        "https://kalender.example/k.ics",
    ),
    ("https://kalender.example/k.ics?fbclid=IwAR0x", "https://kalender.example/k.ics"),
    ("https://kalender.example/k.ics?gclid=1&mc_cid=2&_ga=3", "https://kalender.example/k.ics"),
    ("https://kalender.example/k?b=2&a=1", "https://kalender.example/k?a=1&b=2"),
    ("https://kalender.example/h%c3%a4ndelser", "https://kalender.example/händelser"),
    ("https://xn--lnneberga-07a.example/k", "https://lönneberga.example/k"),
    (
        "https://m.facebook.com/VimmerbyTeater/events?ref=page_internal",
        "https://www.facebook.com/vimmerbyteater",
    ),
    (
        "https://facebook.com/profile.php?id=123&sk=events",
        "https://www.facebook.com/profile.php?id=123",
    ),
    (
        "https://calendar.google.com/calendar/embed?src=abc%40group.calendar.google.com&ctz=Europe%2FStockholm",
        "https://calendar.google.com/calendar/ical/abc%40group.calendar.google.com/public/basic.ics",
    ),
]
DIFFERENT = [
    ("https://kalender.example/a.ics", "https://kalender.example/b.ics"),
    (
        "https://kalender.example/K.ics",
        "https://kalender.example/k.ics",
    ),  # paths are case-sensitive
    ("https://kalender.example:8080/k.ics", "https://kalender.example/k.ics"),
    ("https://kalender.example/k?id=1", "https://kalender.example/k?id=2"),
    ("https://a.kalender.example/k", "https://b.kalender.example/k"),
    ("https://www.facebook.com/teatern", "https://www.facebook.com/kyrkan"),
]


@pytest.mark.parametrize(("a", "b"), SAME, ids=[a[:50] for a, _ in SAME])
def test_one_key_for_one_calendar(a: str, b: str) -> None:
    assert url_key(a) == url_key(b) != ""


@pytest.mark.parametrize(("a", "b"), DIFFERENT, ids=[a[:50] for a, _ in DIFFERENT])
def test_different_calendars_keep_different_keys(a: str, b: str) -> None:
    assert url_key(a) != url_key(b)


def test_unparseable_addresses_have_no_key() -> None:
    assert url_key("http://[bad") == "" and url_key("not a url") == ""


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://calendar.google.com/calendar/u/0/r", "Hemlig adress i iCal-format"),
        ("https://calendar.google.com/calendar/embed?src=x", "Hemlig adress i iCal-format"),
        ("https://www.facebook.com/vimmerbyteater/events", "Ladda ned din information"),
        ("https://outlook.live.com/owa/calendar/x/calendar.html", "Publicera en kalender"),
        ("https://p12-caldav.icloud.com/x", "Apple Kalender"),
        ("https://forening.example/kalender", "Prenumerera"),
    ],
)
def test_hints_fit_the_address(url: str, words: str) -> None:
    assert words in hint_for(url, b"<html></html>")
