"""Registration over real HTTP: the app under uvicorn, organizers' calendars on loopback.

Tests run with ``allow_private_hosts: true`` (their calendars are on 127.0.0.1), which
must not open the registration path: only the exact ``trusted_hosts`` stand in for the
public internet here, and every other spelling of a private address is refused, with a
recording server on 127.0.0.1 and [::1] proving it was never reached.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import sqlite3
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from aggregator.cli import main
from aggregator.store import Store
from tests.registration_support import (
    file_server,
    recording_server,
    redirecting_server,
)
from tests.support import write_config
from tests.web_server import running

CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Forening//SV\r\n"
    "BEGIN:VEVENT\r\nUID:jul@forening.example\r\n"
    "DTSTART;TZID=Europe/Stockholm:20261212T100000\r\n"
    "DTEND;TZID=Europe/Stockholm:20261212T150000\r\nSUMMARY:Julmarknad i Lönneberga\r\n"
    "LOCATION:Hembygdsgården\\, Lönneberga\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:nasty@forening.example\r\nDTSTART:20261213T150000Z\r\n"
    'SUMMARY:Luciafika <3 & "lotter"\r\nEND:VEVENT\r\n'
    "BEGIN:VEVENT\r\nUID:old@forening.example\r\nDTSTART:20261101T150000Z\r\n"
    "SUMMARY:Höstmöte\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)
WORDPRESS_PAGE = (
    "<!doctype html><html><head><link rel='stylesheet' href='/wp-content/themes/x.css'></head>"
    "<body><h1>Välkommen till föreningen</h1><p>Vi ses!</p></body></html>"
)

TOKEN = "moderator-nyckel-som-ar-lang-nog"


LOOPBACK = ("127.", "::1", "::ffff:127.")


@pytest.fixture
def outside_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every TCP connect to an address off this machine, refused and recorded.

    The tests name private and link-local addresses (10.0.0.1, 169.254.169.254) that
    must be refused before any connection; should a regression let one through, this
    keeps the packet from leaving the machine and makes the test fail on the record.
    """
    attempts: list[str] = []
    original = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and not host.startswith(LOOPBACK):
            attempts.append(host)
            raise ConnectionRefusedError(f"test: no traffic to {host}")
        original(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@dataclass
class Site:
    base: str
    calendars: str  # host:port of the organizers' calendars (a trusted host)
    folder: Path
    config_file: Path

    def cal(self, name: str) -> str:
        return f"http://{self.calendars}/{name}"

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.folder / "test.db")

    def register(self, **fields: object) -> requests.Response:
        body = {
            "name": "Lönneberga hembygdsförening",
            "email": "ordforande@lonneberga.example",
            "municipality": "Hultsfred",
            "categories": ["Hembygd"],
            "url": self.cal("forening.ics"),
        }
        body.update(fields)
        return requests.post(f"{self.base}/api/sources", json=body, timeout=30)

    def preview(self, **fields: object) -> requests.Response:
        return requests.post(f"{self.base}/api/sources/preview", json=fields, timeout=30)


@pytest.fixture(scope="module")
def empty_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database the store created and migrated, closed (so it is one file), for each
    test to start from a copy of: the migrations are a third of what a test's site costs,
    and the same whichever test runs them (fresh databases are test_store's subject)."""
    path = tmp_path_factory.mktemp("empty") / "test.db"
    Store(path).close()
    assert [p.name for p in path.parent.iterdir()] == ["test.db"]
    return path


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_database: Path) -> Iterator[Site]:
    shutil.copyfile(empty_database, tmp_path / "test.db")  # write_config's database
    calendars = tmp_path / "www"
    calendars.mkdir()
    (calendars / "forening.ics").write_text(CALENDAR, encoding="utf-8")
    (calendars / "wordpress.html").write_text(WORDPRESS_PAGE, encoding="utf-8")
    (calendars / "teater.ics").write_text(CALENDAR.replace("forening", "teater"), encoding="utf-8")
    monkeypatch.setenv("AGGREGATOR_ADMIN_TOKEN", TOKEN)
    with file_server(calendars) as host:
        config_file = write_config(
            tmp_path,
            [
                {
                    "id": "vimmerby-teater",
                    "name": "Vimmerby Teaterförening",
                    "url": f"http://{host}/teater.ics",
                    "municipality": "Vimmerby",
                }
            ],
            trusted_hosts=[host],
        )
        with running(config_file) as base:
            yield Site(base, host, tmp_path, config_file)


# -- the happy path -----------------------------------------------------------------------------


def test_preview_shows_next_events_in_swedish_and_stores_nothing(site: Site) -> None:
    answer = site.preview(url=site.cal("forening.ics"))
    assert answer.status_code == 200
    body = answer.json()
    assert (body["found"], body["kind"], body["total"], body["upcoming"]) == (True, "ical", 3, 2)
    first = body["events"][0]
    assert first["when"] == "lör 12 dec 2026 10:00–15:00"
    assert first["title"] == "Julmarknad i Lönneberga"
    assert first["place"] == "Hembygdsgården, Lönneberga"
    assert site.db().execute("SELECT count(*) FROM registrations").fetchone()[0] == 0


def test_registration_is_pending_not_harvested_nor_published(site: Site) -> None:
    answer = site.register(url=f"webcal://{site.calendars}/forening.ics")
    # webcal:// means https://, which the organizer's plain-http server cannot answer
    assert answer.status_code == 422 and answer.json()["field"] == "url"
    answer = site.register()
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["id"] == "lonneberga-hembygdsforening"
    assert (body["status"], body["kind"]) == ("pending", "ical")
    assert body["preview"][0]["title"] == "Julmarknad i Lönneberga"
    token = body["status_url"].rsplit("/", 1)[-1]
    assert body["status_url"] == f"https://alltsomsker.test/registrera/status/{token}"
    row = site.db().execute("SELECT status, token_hash, email FROM registrations").fetchone()
    assert row[0] == "pending" and row[2] == "ordforande@lonneberga.example"
    assert token not in row[1] and len(row[1]) == 64, "only the token's hash is stored"

    assert main(["--config", str(site.config_file), "run", "--once"]) == 0
    sources = {r[0] for r in site.db().execute("SELECT id FROM sources")}
    assert sources == {"vimmerby-teater"}, "a pending registration is not harvested"
    assert not (site.folder / "feeds" / "organizer" / "lonneberga-hembygdsforening.ics").exists()


def test_facebook_export_upload_is_previewed_and_registered(site: Site) -> None:
    export = {
        "your_events": [
            {
                "name": "Sl\u00c3\u00a5tterdans",
                "start_timestamp": 1797436800,
                "place": {"name": "Logen"},
            }
        ]
    }
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr(
            "your_activity_across_facebook/events/your_events.json", json.dumps(export)
        )
    form = {
        "name": "Bygdegårdsföreningen",
        "email": "info@bygd.example",
        "municipality": "Eksjö",
    }
    answer = requests.post(
        f"{site.base}/api/sources",
        data=form,
        files={"file": ("facebook-export.zip", data.getvalue(), "application/zip")},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["kind"] == "facebook"
    assert answer.json()["preview"][0]["title"] == "Slåtterdans"


# -- every rule, one refusal each ---------------------------------------------------------------

LONG = "https://forening.example/" + "a" * 2000


@pytest.mark.parametrize(
    ("fields", "status", "field", "words"),
    [
        ({"name": ""}, 422, "name", "arrangörens namn"),
        ({"name": "x" * 121}, 422, "name", "för lång"),
        ({"email": "inte-en-adress"}, 422, "email", "namn@exempel.se"),
        ({"email": "a@" + "b" * 250 + ".se"}, 422, "email", "för lång"),
        ({"municipality": "Stockholm"}, 422, "municipality", "Vimmerby"),
        ({"categories": ["a", "b", "c", "d", "e", "f"]}, 422, "categories", "högst 5"),
        ({"categories": ["x" * 41]}, 422, "categories", "högst 40"),
        ({"categories": "Musik"}, 201, None, None),
        ({"url": ""}, 422, "url", "Ange adressen"),
        ({"url": LONG}, 422, "url", "2 000"),
        ({"url": "https://ola:hemligt@forening.example/kal.ics"}, 422, "url", "lösenord"),
        ({"url": "https://ola@forening.example/kal.ics"}, 422, "url", "användarnamn"),
        ({"url": "ftp://forening.example/kal.ics"}, 422, "url", "ftp:"),
        ({"url": "javascript:alert(1)"}, 422, "url", "javascript:"),
        ({"url": "file:///etc/passwd"}, 422, "url", "file:"),
        ({"url": "/etc/passwd"}, 422, "url", "sökväg"),
        ({"url": "C:\\kalender.ics"}, 422, "url", "sökväg"),
        ({"url": "https://forening.example:22/kal.ics"}, 422, "url", "port 22"),
        ({"url": "https://forening .example/"}, 422, "url", "mellanslag"),
        ({"path": "examples/vimmerby-teater.ics"}, 422, "path", "sökväg"),
        ({"kind": "ical"}, 422, "kind", "finns inte"),
        ({"hemsida": "http://spam.example"}, 422, "hemsida", "Lämna"),
        ({"name": 5}, 400, "name", "text"),
        ({"categories": {"a": 1}}, 400, "categories", "lista"),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, dict) else next(iter(v)),
)
def test_each_rule_refuses_with_a_sentence_and_its_field(
    site: Site, fields: dict[str, object], status: int, field: str | None, words: str | None
) -> None:
    answer = site.register(**fields)
    assert answer.status_code == status, answer.text
    if field is not None:
        body = answer.json()
        assert body["field"] == field
        assert words is not None and words in body["error"], body["error"]
        assert body["error"].endswith((".", "”.")), "a whole sentence for the organizer"


def test_bodies_that_are_not_a_form_are_400(site: Site) -> None:
    for data, ctype in (("{nej", "application/json"), ("[1, 2]", "application/json")):
        answer = requests.post(
            f"{site.base}/api/sources", data=data, headers={"Content-Type": ctype}, timeout=10
        )
        assert answer.status_code == 400 and "error" in answer.json()
    answer = requests.post(
        f"{site.base}/api/sources", data="x", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert answer.status_code == 415


def test_url_and_file_together_or_a_json_body_too_big(site: Site) -> None:
    answer = requests.post(
        f"{site.base}/api/sources",
        data={
            "name": "Föreningen",
            "email": "a@b.se",
            "municipality": "Eksjö",
            "url": site.cal("x"),
        },
        files={"file": ("e.json", b'{"your_events": []}', "application/json")},
        timeout=10,
    )
    assert answer.status_code == 422 and "antingen" in answer.json()["error"]
    answer = requests.post(
        f"{site.base}/api/sources",
        data=json.dumps({"name": "x" * 70_000}),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 413


# -- SSRF: every spelling of an inside address, through the registration path ------------------

INSIDE = [
    "http://127.0.0.1:{port}/cal.ics",  # loopback, but not the trusted port
    "http://localhost:{port}/cal.ics",
    "http://2130706433:{port}/cal.ics",  # decimal IPv4
    "http://0x7f000001:{port}/cal.ics",  # hex IPv4
    "http://0x7f.0.0.1:{port}/cal.ics",
    "http://0177.0.0.1:{port}/cal.ics",  # octal
    "http://127.1:{port}/cal.ics",  # short form
    "http://[::1]:{port}/cal.ics",  # IPv6 loopback
    "http://[::ffff:127.0.0.1]:{port}/cal.ics",  # IPv4-mapped
    "http://[::ffff:7f00:1]:{port}/cal.ics",
    "http://[::127.0.0.1]:{port}/cal.ics",  # IPv4-compatible
    "http://[::]:{port}/cal.ics",
    "http://017700000001:{port}/cal.ics",  # octal, one number
    "http://127.0.0.1.:{port}/cal.ics",  # trailing dot
    "http://0.0.0.0:{port}/cal.ics",
    "http://0:{port}/cal.ics",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fe80::1]/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://[fd00::1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://router/",
    "http://nas.local/kalender.ics",
    "http://intranet.lan/",
    "http://metadata.google.internal/computeMetadata/v1/",
]


@pytest.mark.parametrize("template", INSIDE)
def test_inside_addresses_are_refused_and_never_reached(
    site: Site, template: str, outside_attempts: list[str]
) -> None:
    with recording_server() as recorder:
        url = template.format(port=recorder.port)
        preview = site.preview(url=url)
        registration = site.register(url=url)
    assert preview.status_code == 422 and preview.json()["field"] == "url"
    assert "internt nätverk" in preview.json()["error"]
    assert registration.status_code == 422 and registration.json()["field"] == "url"
    assert recorder.requests == [], "the guard let a request through"
    assert outside_attempts == []


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://[::1]:{port}/",
        "http://2130706433:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
    ],
)
def test_public_host_redirecting_inside_is_refused_at_that_hop(
    target: str, tmp_path: Path, outside_attempts: list[str]
) -> None:
    with (
        recording_server() as recorder,
        redirecting_server(lambda path: target.format(port=recorder.port)) as redirector,
    ):
        # the redirector stands in for a public host: trusted like the calendars
        write_config(tmp_path, [], trusted_hosts=[redirector])
        with running(tmp_path / "sources.yaml") as base:
            body = {"url": f"http://{redirector}/kalender.ics"}
            preview = requests.post(f"{base}/api/sources/preview", json=body, timeout=30)
            registration = requests.post(
                f"{base}/api/sources",
                json={**body, "name": "Ett", "email": "a@b.se", "municipality": "Eksjö"},
                timeout=30,
            )
    assert preview.status_code == 200
    assert preview.json()["found"] is False
    assert "internt nätverk" in preview.json()["reason"]
    assert registration.status_code == 422 and "internt nätverk" in registration.json()["error"]
    assert recorder.requests == []
    assert outside_attempts == []


# -- what the organizer is told when nothing is found -------------------------------------------


def test_reasons_and_hints_in_swedish(site: Site) -> None:
    missing = site.preview(url=site.cal("finns-inte.ics")).json()
    assert (missing["found"], missing["reason"]) == (False, "Sidan finns inte (svar 404).")
    page = site.preview(url=site.cal("wordpress.html")).json()
    assert page["reason"] == "Vi hittade ingen kalender på sidan."
    assert (
        "The Events Calendar" in page["hint"] and "?post_type=tribe_events&ical=1" in page["hint"]
    )
    with file_server(site.folder / "www") as other:  # the same files, not a trusted host
        refused = site.preview(url=f"http://{other}/forening.ics").json()
    assert "internt nätverk" in refused["error"]


def test_closed_port_says_the_page_does_not_answer(tmp_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed = f"127.0.0.1:{probe.getsockname()[1]}"
    probe.close()
    write_config(tmp_path, [], trusted_hosts=[closed])
    with running(tmp_path / "sources.yaml") as base:
        body = requests.post(
            f"{base}/api/sources/preview", json={"url": f"http://{closed}/kal.ics"}, timeout=30
        ).json()
    assert (body["found"], body["reason"]) == (False, "Sidan svarar inte.")


def test_already_registered_or_configured_calendars_are_recognised(site: Site) -> None:
    configured = site.register(url=f"HTTP://{site.calendars}/teater.ics/?utm_source=nyhetsbrev")
    assert configured.status_code == 422
    assert (
        configured.json()["error"]
        == "Den här kalendern finns redan hos oss, hos Vimmerby Teaterförening."
    )
    assert site.register().status_code == 201
    again = site.register(name="Någon annan", url=site.cal("forening.ics") + "#kalender")
    assert again.status_code == 422
    assert (
        "registrerad av Lönneberga hembygdsförening och väntar på granskning"
        in again.json()["error"]
    )
    preview = site.preview(url=site.cal("forening.ics?fbclid=abc"))
    assert "väntar på granskning" in preview.json()["duplicate"]


# -- abuse limits -------------------------------------------------------------------------------


def test_registrations_are_rate_limited_per_client(site: Site) -> None:
    answers = [site.register(name="").status_code for _ in range(5)]
    assert answers == [422] * 5
    limited = site.register()
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "För många försök" in limited.json()["error"]
    wait = limited.headers["Retry-After"]
    assert f"vänta {wait} sekunder och försök igen" in limited.json()["error"]


def test_previews_are_rate_limited_per_client(site: Site) -> None:
    codes = [site.preview(url="ftp://x.example/").status_code for _ in range(30)]
    assert set(codes) == {422}
    assert site.preview(url="ftp://x.example/").status_code == 429


def _zip(members: dict[str, bytes]) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return data.getvalue()


@pytest.mark.parametrize(
    ("upload", "status", "words"),
    [
        # built when the test runs, not when every worker collects the table (60 MB)
        (lambda: b"x" * (10 * 1024 * 1024 + 1), 422, "10 MB"),
        (lambda: b"x" * (11 * 1024 * 1024), 413, "10 MB"),
        (lambda: _zip({f"f{i}.json": b"{}" for i in range(2001)}), 422, "2001 filer"),
        (lambda: _zip({"your_events.json": b"0" * (41 * 1024 * 1024)}), 422, "40 MB"),
        (lambda: b"PK\x03\x04 not really a zip", 422, "skadad"),
        (lambda: b"GIF89a....", 422, "varken en .zip eller en .json"),
        (lambda: b"", 422, "Ange adressen"),
    ],
    ids=[
        "over-cap",
        "body-over-cap",
        "too-many-members",
        "unpacks-too-big",
        "broken-zip",
        "not-an-export",
        "empty",
    ],
)
def test_upload_caps(site: Site, upload: Callable[[], bytes], status: int, words: str) -> None:
    answer = requests.post(
        f"{site.base}/api/sources",
        data={"name": "Föreningen", "email": "a@b.se", "municipality": "Eksjö"},
        files={"file": ("export.zip", upload(), "application/zip")},
        timeout=30,
    )
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]


# -- the organizer's status page ----------------------------------------------------------------


def test_status_page_escapes_and_withdraws(site: Site) -> None:
    answer = site.register(name="<script>alert('x')</script> Föreningen")
    assert answer.status_code == 201
    status_url = answer.json()["status_url"].replace("https://alltsomsker.test", site.base)
    page = requests.get(status_url, timeout=10)
    assert page.status_code == 200 and '<html lang="sv">' in page.text
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Föreningen" in page.text
    assert "Luciafika &lt;3 &amp; &#34;lotter&#34;" in page.text
    assert "väntar på granskning" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"

    refreshed = requests.post(status_url + "/hamta", timeout=30)
    assert "Förhandsvisningen är uppdaterad." in refreshed.text
    again = requests.post(status_url + "/hamta", timeout=30)
    assert "högst en gång var 10:e minut" in again.text

    unconfirmed = requests.post(status_url + "/aterkalla", data={}, timeout=10)
    assert "Kryssa i rutan" in unconfirmed.text
    withdrawn = requests.post(status_url + "/aterkalla", data={"bekrafta": "ja"}, timeout=10)
    assert withdrawn.status_code == 200 and "återkallad" in withdrawn.text
    assert site.db().execute("SELECT status FROM registrations").fetchone()[0] == "withdrawn"
    assert requests.get(site.base + "/registrera/status/" + "x" * 43, timeout=10).status_code == 404


def test_the_html_form_works_without_javascript(site: Site) -> None:
    page = requests.get(f"{site.base}/registrera", timeout=10)
    assert page.status_code == 200 and 'name="hemsida"' in page.text
    assert "Hultsfred" in page.text
    form = {
        "name": "Lönneberga hembygdsförening",
        "email": "ordforande@lonneberga.example",
        "municipality": "Hultsfred",
        "url": site.cal("forening.ics"),
        "hemsida": "",
    }
    preview = requests.post(
        f"{site.base}/registrera", data={**form, "atgard": "forhandsvisa"}, timeout=30
    )
    assert preview.status_code == 200
    assert "lör 12 dec 2026 10:00–15:00" in preview.text
    assert "Luciafika &lt;3 &amp; &#34;lotter&#34;" in preview.text
    assert 'value="ordforande@lonneberga.example"' in preview.text, "the form keeps what was typed"
    done = requests.post(
        f"{site.base}/registrera", data={**form, "atgard": "registrera"}, timeout=30
    )
    assert done.status_code == 201
    assert "/registrera/status/" in done.text and "Spara den här länken" in done.text
    bad = requests.post(
        f"{site.base}/registrera", data={**form, "email": "nej", "atgard": "registrera"}, timeout=30
    )
    assert bad.status_code == 422 and "E-postadressen ser inte ut att stämma" in bad.text


def _export(title: str) -> bytes:
    items = [{"name": title, "start_timestamp": 1797436800, "place": {"name": "Logen"}}]
    return _zip({"events/your_events.json": json.dumps({"your_events": items}).encode()})


def test_an_organizer_replaces_their_facebook_export(site: Site) -> None:
    form = {"name": "Bygdegården", "email": "info@bygd.example", "municipality": "Eksjö"}
    answer = requests.post(
        f"{site.base}/api/sources",
        data=form,
        files={"file": ("export.zip", _export("Slåtterdans"), "application/zip")},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    status_url = answer.json()["status_url"].replace("https://alltsomsker.test", site.base)
    assert "Ersätt Facebook-exporten" in requests.get(status_url, timeout=10).text
    replaced = requests.post(
        status_url + "/fil",
        files={"file": ("ny.zip", _export("Midsommardans"), "application/zip")},
        timeout=30,
    )
    assert "Den nya exporten är inläst: 1 kommande evenemang." in replaced.text
    assert "Midsommardans" in replaced.text and "ny export uppladdad" in replaced.text
    broken = requests.post(
        status_url + "/fil", files={"file": ("x.zip", b"GIF89a", "image/gif")}, timeout=30
    )
    assert "varken en .zip eller en .json" in broken.text
    stored = site.db().execute("SELECT upload_name FROM registrations").fetchone()[0]
    assert stored == "ny.zip"


def test_a_huge_text_field_in_a_form_is_refused_unread(site: Site) -> None:
    answer = requests.post(
        f"{site.base}/api/sources",
        files={"name": (None, "x" * 100_000), "email": (None, "a@b.se")},
        timeout=30,
    )
    assert answer.status_code == 400 and answer.json()["error"].startswith("Formuläret")


def test_status_tokens_never_reach_the_error_log() -> None:
    from aggregator.web.app import loggable_path

    assert loggable_path("/registrera/status/s3cr3t-t0ken") == "/registrera/status/[token]"
    assert loggable_path("/registrera/status/abc/hamta") == "/registrera/status/[token]/hamta"
    assert loggable_path("/api/events") == "/api/events"
