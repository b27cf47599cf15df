"""``/admin`` over real HTTP: the token gate, cookies, CSRF, login limits, and each
moderation (approve with edits, reject, pause, resume, the review queue)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from starlette.requests import Request
from starlette.responses import Response

from aggregator.cli import main
from aggregator.web.admin import SESSION_COOKIE, _cookie
from tests.registration_support import file_server
from tests.support import write_config
from tests.web_server import running

TOKEN = "en-lang-och-slumpad-moderatornyckel"
CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Forening//SV\r\n"
    "BEGIN:VEVENT\r\nUID:jul@forening.example\r\n"
    "DTSTART;TZID=Europe/Stockholm:20261212T100000\r\n"
    "DTEND;TZID=Europe/Stockholm:20261212T150000\r\nSUMMARY:Julmarknad i Lönneberga\r\n"
    "LOCATION:Hembygdsgården\\, Lönneberga\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Admin:
    base: str
    calendars: str
    folder: Path
    config_file: Path
    browser: requests.Session

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.folder / "test.db")

    def register(
        self, name: str = "Lönneberga hembygdsförening", file: str = "forening.ics"
    ) -> dict[str, str]:
        answer = requests.post(
            f"{self.base}/api/sources",
            json={
                "name": name,
                "email": "kontakt@forening.example",
                "municipality": "Hultsfred",
                "url": f"http://{self.calendars}/{file}",
            },
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    def login(self) -> str:
        page = self.browser.get(f"{self.base}/admin", timeout=10)
        token = CSRF.search(page.text)
        assert token, page.text
        done = self.browser.post(
            f"{self.base}/admin/login", data={"csrf": token.group(1), "token": TOKEN}, timeout=10
        )
        assert done.status_code == 200 and "Moderering" in done.text  # after the 303
        return self.csrf()

    def csrf(self) -> str:
        found = CSRF.search(self.browser.get(f"{self.base}/admin", timeout=10).text)
        assert found
        return found.group(1)

    def post(self, path: str, **fields: str) -> requests.Response:
        return self.browser.post(f"{self.base}{path}", data=fields, timeout=60)

    def feed(self) -> str:
        return (self.folder / "feeds" / "all.ics").read_text(encoding="utf-8")


@pytest.fixture
def admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Admin]:
    www = tmp_path / "www"
    www.mkdir()
    (www / "forening.ics").write_text(CALENDAR, encoding="utf-8")
    monkeypatch.setenv("AGGREGATOR_ADMIN_TOKEN", TOKEN)
    with file_server(www) as host:
        config_file = write_config(tmp_path, [], trusted_hosts=[host])
        assert main(["--config", str(config_file), "publish"]) == 0
        with running(config_file) as base:
            yield Admin(base, host, tmp_path, config_file, requests.Session())


def test_admin_is_off_without_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGGREGATOR_ADMIN_TOKEN", raising=False)
    write_config(tmp_path, [])
    with running(tmp_path / "sources.yaml") as base:
        assert requests.get(f"{base}/admin", timeout=10).status_code == 404
        assert (
            requests.post(f"{base}/admin/login", data={"token": ""}, timeout=10).status_code == 404
        )
        assert (
            requests.post(f"{base}/admin/registreringar/x/godkann", timeout=10).status_code == 404
        )


def test_login_cookies_csrf_and_wrong_tokens(admin: Admin) -> None:
    page = admin.browser.get(f"{admin.base}/admin", timeout=10)
    assert page.status_code == 200 and 'type="password"' in page.text
    login_cookie = page.headers["set-cookie"]
    assert "HttpOnly" in login_cookie and "SameSite=lax" in login_cookie
    assert "Path=/admin" in login_cookie and "Secure" not in login_cookie, "plain http here"
    csrf = CSRF.search(page.text)
    assert csrf
    no_csrf = admin.post("/admin/login", token=TOKEN)
    assert no_csrf.status_code == 400 and "gått ut" in no_csrf.text
    csrf = CSRF.search(no_csrf.text)  # every login page comes with a fresh cookie and token
    assert csrf
    wrong = admin.post("/admin/login", csrf=csrf.group(1), token=TOKEN + "x")
    assert wrong.status_code == 401 and "Fel nyckel" in wrong.text
    assert SESSION_COOKIE not in admin.browser.cookies
    session = admin.browser.post(
        f"{admin.base}/admin/login",
        data={"csrf": CSRF.search(wrong.text).group(1), "token": TOKEN},  # type: ignore[union-attr]
        allow_redirects=False,
        timeout=10,
    )
    assert session.status_code == 303 and session.headers["location"] == "/admin"
    cookie = session.headers["set-cookie"]
    assert cookie.startswith(SESSION_COOKIE) and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Logga ut" in admin.browser.get(f"{admin.base}/admin", timeout=10).text


def test_login_attempts_are_rate_limited(admin: Admin) -> None:
    codes = [admin.post("/admin/login", token="gissning").status_code for _ in range(5)]
    assert codes == [400] * 5
    limited = admin.post("/admin/login", token=TOKEN)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_session_cookie_is_secure_over_https() -> None:
    scope = {
        "type": "http",
        "scheme": "https",
        "server": ("alltsomsker.test", 443),
        "path": "/admin",
        "headers": [],
        "method": "GET",
    }
    response = Response()
    _cookie(response, Request(scope), SESSION_COOKIE, "v", 60)
    assert "Secure" in response.headers["set-cookie"]


def test_every_form_needs_the_csrf_token(admin: Admin) -> None:
    registration = admin.register()
    csrf = admin.login()
    forged = admin.post(f"/admin/registreringar/{registration['id']}/godkann")
    assert forged.status_code == 403 and "CSRF" in forged.text
    # one hex digit changed, always to another one: "[:-1] + '0'" was the same token
    # whenever the real one ended in 0 (one login in 16), and the approval went through
    wrong = csrf[:-1] + ("1" if csrf[-1] == "0" else "0")
    assert wrong != csrf
    other = admin.post(f"/admin/registreringar/{registration['id']}/godkann", csrf=wrong)
    assert other.status_code == 403
    assert admin.db().execute("SELECT status FROM registrations").fetchone()[0] == "pending"
    outsider = requests.post(
        f"{admin.base}/admin/registreringar/{registration['id']}/godkann",
        data={"csrf": csrf},
        timeout=10,
    )
    assert outsider.status_code == 401, "a CSRF token without the session cookie is nothing"


def test_approve_with_edits_publishes_at_once(admin: Admin) -> None:
    registration = admin.register(name="<b>Lönneberga</b> hembygdsförening")
    csrf = admin.login()
    page = admin.browser.get(f"{admin.base}/admin", timeout=10).text
    assert "&lt;b&gt;Lönneberga&lt;/b&gt; hembygdsförening" in page and "<b>Lönneberga" not in page
    assert "lör 12 dec 2026 10:00–15:00" in page, "moderators see the preview"
    assert "Julmarknad i Lönneberga" not in admin.feed()
    done = admin.post(
        f"/admin/registreringar/{registration['id']}/godkann",
        csrf=csrf,
        id="lonneberga-hembygd",
        municipality="Hultsfred",
        categories="Hembygd, Jul",
        priority="60",
    )
    assert done.status_code == 200 and "Godkänd: lonneberga-hembygd" in done.text
    row = (
        admin.db().execute("SELECT id, status, categories, priority FROM registrations").fetchone()
    )
    assert row == ("lonneberga-hembygd", "active", '["Hembygd", "Jul"]', 60)
    assert "SUMMARY:Julmarknad i Lönneberga" in admin.feed()
    organizer = admin.folder / "feeds" / "organizer" / "lonneberga-hembygd.ics"
    assert "CATEGORIES:Hembygd,Jul" in organizer.read_text(encoding="utf-8")
    status_url = registration["status_url"].replace("https://alltsomsker.test", admin.base)
    status = requests.get(status_url, timeout=10).text
    assert "godkänd och aktiv" in status and "Senaste hämtningen gick bra." in status
    assert "lör 12 dec 2026 10:00–15:00" in status, "the events we read"
    refreshed = requests.post(status_url + "/hamta", timeout=30).text
    assert "Kalendern är oförändrad sedan förra hämtningen." in refreshed
    again = admin.post("/admin/registreringar/lonneberga-hembygd/godkann", csrf=csrf)
    assert again.status_code == 422 and "bara väntande" in again.text


def test_reject_pause_and_resume(admin: Admin) -> None:
    first = admin.register()
    second = admin.register(name="Spam AB", file="forening.ics?copy=1")
    csrf = admin.login()
    no_reason = admin.post(f"/admin/registreringar/{second['id']}/avvisa", csrf=csrf, reason=" ")
    assert no_reason.status_code == 422
    rejected = admin.post(
        f"/admin/registreringar/{second['id']}/avvisa",
        csrf=csrf,
        reason="Inga evenemang i våra kommuner",
    )
    assert rejected.status_code == 200 and "Avvisad" in rejected.text
    status = requests.get(
        second["status_url"].replace("https://alltsomsker.test", admin.base), timeout=10
    )
    assert "avvisad" in status.text and "Inga evenemang i våra kommuner" in status.text
    assert "UTC: registrerad</li><li>2026-11-26 12:00 UTC: avvisad" in status.text

    admin.post(f"/admin/registreringar/{first['id']}/godkann", csrf=csrf)
    assert "Julmarknad i Lönneberga" in admin.feed()
    paused = admin.post(f"/admin/registreringar/{first['id']}/pausa", csrf=csrf)
    assert paused.status_code == 200 and "Pausad" in paused.text
    assert "Julmarknad i Lönneberga" not in admin.feed(), "a paused source leaves the feeds"
    assert main(["--config", str(admin.config_file), "run", "--once"]) == 0
    assert "Julmarknad i Lönneberga" not in admin.feed(), "and is not harvested"
    resumed = admin.post(f"/admin/registreringar/{first['id']}/aterupta", csrf=csrf)
    assert resumed.status_code == 200 and "Återupptagen" in resumed.text
    assert "Julmarknad i Lönneberga" in admin.feed()


def _calendar(uid: str, title: str, start: str, place: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//X//SV\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTART;TZID=Europe/Stockholm:{start}\r\nSUMMARY:{title}\r\n"
        f"LOCATION:{place}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_review_queue_merge_from_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.ics").write_text(
        _calendar("a@x", "Luciatåg", "20261213T180000", "Kyrkan\\, Virserum"), encoding="utf-8"
    )
    (tmp_path / "b.ics").write_text(
        _calendar("b@y", "Luciatåg med kör och fika", "20261213T183000", "Virserum"),
        encoding="utf-8",
    )
    config_file = write_config(
        tmp_path,
        [
            {"id": "teater", "name": "Teatern", "path": str(tmp_path / "a.ics")},
            {"id": "kommun", "name": "Kommunen", "path": str(tmp_path / "b.ics")},
        ],
    )
    assert main(["--config", str(config_file), "run", "--once"]) == 0
    monkeypatch.setenv("AGGREGATOR_ADMIN_TOKEN", TOKEN)
    with running(config_file) as base:
        admin = Admin(base, "", tmp_path, config_file, requests.Session())
        csrf = admin.login()
        page = admin.browser.get(f"{base}/admin", timeout=10).text
        assert "Osäkra dubbletter (1)" in page
        ids = re.findall(
            r'name="a" value="([0-9a-f]+)"><input type="hidden" name="b" value="([0-9a-f]+)"', page
        )
        a, b = ids[0]
        merged = admin.post("/admin/granskning/samma", csrf=csrf, a=a, b=b)
        assert merged.status_code == 200 and "Sammanslagna" in merged.text
        assert "Osäkra dubbletter (0)" in merged.text
    events = sqlite3.connect(tmp_path / "test.db").execute(
        "SELECT count(*) FROM events WHERE removed_at IS NULL AND content_hash != ''"
    )
    assert events.fetchone()[0] == 1
