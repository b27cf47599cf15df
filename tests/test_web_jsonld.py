"""schema.org Event JSON-LD on the event page, field by field, as Google's event rich
results read it: endDate is inclusive (an all-day event ends on its last day), the status
says cancelled, the place has an address, and nothing is claimed that we do not know."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from aggregator.cli import main
from aggregator.config import load_config
from tests.support import write_config
from tests.web_server import running
from tests.web_site import titles

CALENDAR = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Test//JSON-LD//SV\r
BEGIN:VEVENT\r
UID:julmarknad@test\r
DTSTART;VALUE=DATE:20261212\r
DTEND;VALUE=DATE:20261213\r
SUMMARY:Julmarknad\r
LOCATION:Hembygdsgården\\, Lönneberga\r
DESCRIPTION:Fika och lotter.\r
ORGANIZER;CN=Lönneberga hembygdsförening:mailto:info@hembygd.example\r
URL:https://hembygd.example/jul\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:utstallning@test\r
DTSTART;VALUE=DATE:20261218\r
DTEND;VALUE=DATE:20261221\r
SUMMARY:Julutställning\r
LOCATION:Vimmerby bibliotek\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:julafton@test\r
DTSTART;VALUE=DATE:20261224\r
SUMMARY:Julbord\r
LOCATION:Stadshotellet\\, Vimmerby\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:konsert@test\r
DTSTART;TZID=Europe/Stockholm:20261205T190000\r
DTEND;TZID=Europe/Stockholm:20261205T210000\r
SUMMARY:Konsert\r
LOCATION:Vimmerby kyrka\r
STATUS:CANCELLED\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:kanske@test\r
DTSTART;TZID=Europe/Stockholm:20260705T190000\r
DTEND;TZID=Europe/Stockholm:20260705T210000\r
SUMMARY:Sommarkväll\r
STATUS:TENTATIVE\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:okand-plats@test\r
DTSTART;TZID=Europe/Stockholm:20261206T100000\r
SUMMARY:Loppis\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("jsonld")
    (folder / "cal.ics").write_text(CALENDAR, encoding="utf-8")
    config_file = write_config(
        folder,
        [{"id": "cal", "name": "Kalendern", "path": str(folder / "cal.ics")}],
        municipalities=["Vimmerby", "Hultsfred"],
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGGREGATOR_NOW", "2026-06-26T12:00:00+00:00")
        assert main(["--config", str(config_file), "run", "--once"]) == 0
    return config_file, titles(load_config(config_file))


@pytest.fixture(scope="module")
def base(published: tuple[Path, dict[str, str]]) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGGREGATOR_NOW", "2026-06-26T12:00:00+00:00")
        with running(load_config(published[0])) as url:
            yield url


def jsonld(base: str, ids: dict[str, str], title: str) -> dict[str, object]:
    answer = requests.get(f"{base}/evenemang/{ids[title]}", timeout=10)
    assert answer.status_code == 200
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', answer.text, re.S)
    assert match, "no JSON-LD block"
    data: dict[str, object] = json.loads(match.group(1))
    assert data["@context"] == "https://schema.org" and data["@type"] == "Event"
    assert data["name"] == title
    return data


@pytest.mark.parametrize(
    ("title", "start", "end"),
    [
        pytest.param("Julmarknad", "2026-12-12", "2026-12-12", id="one-day"),
        pytest.param("Julutställning", "2026-12-18", "2026-12-20", id="three-days"),
        pytest.param("Julbord", "2026-12-24", "2026-12-24", id="no-dtend"),
        pytest.param(
            "Konsert", "2026-12-05T19:00:00+01:00", "2026-12-05T21:00:00+01:00", id="timed"
        ),
        pytest.param(
            "Sommarkväll", "2026-07-05T19:00:00+02:00", "2026-07-05T21:00:00+02:00", id="summer"
        ),
        pytest.param("Loppis", "2026-12-06T10:00:00+01:00", None, id="timed-no-end"),
    ],
)
def test_end_date_is_inclusive(
    base: str, published: tuple[Path, dict[str, str]], title: str, start: str, end: str | None
) -> None:
    data = jsonld(base, published[1], title)
    assert data["startDate"] == start
    assert data.get("endDate") == end


def test_a_full_event_has_every_field_google_reads(
    base: str, published: tuple[Path, dict[str, str]]
) -> None:
    data = jsonld(base, published[1], "Julmarknad")
    assert data["eventStatus"] == "https://schema.org/EventScheduled"
    assert data["eventAttendanceMode"] == "https://schema.org/OfflineEventAttendanceMode"
    assert data["description"] == "Fika och lotter."
    assert data["url"] == "https://hembygd.example/jul"
    assert data["organizer"] == {"@type": "Organization", "name": "Lönneberga hembygdsförening"}
    location = data["location"]
    assert isinstance(location, dict)
    assert location["@type"] == "Place" and location["name"] == "Hembygdsgården"
    address = location["address"]
    assert address["@type"] == "PostalAddress" and address["addressCountry"] == "SE"
    assert address["addressLocality"] == "Lönneberga"
    assert "addressRegion" not in address, "a municipality is not a region"


def test_cancelled_says_so(base: str, published: tuple[Path, dict[str, str]]) -> None:
    title = next(t for t in published[1] if "Konsert" in t)
    data = jsonld(base, published[1], title)
    assert data["eventStatus"] == "https://schema.org/EventCancelled"


def test_what_we_do_not_know_is_not_claimed(
    base: str, published: tuple[Path, dict[str, str]]
) -> None:
    tentative = jsonld(base, published[1], "Sommarkväll")
    assert "eventStatus" not in tentative, "schema.org has no tentative; Scheduled would lie"
    nowhere = jsonld(base, published[1], "Loppis")
    assert "location" not in nowhere and "eventAttendanceMode" not in nowhere
    assert nowhere["url"] == f"https://alltsomsker.test/evenemang/{published[1]['Loppis']}"
    assert "description" not in nowhere
