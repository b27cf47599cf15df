"""What the web serves to subscribers' calendars: a filtered ``/api/events.ics`` over
real HTTP never passes Google's 1 MB; it is cut as the published feeds are."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import icalendar
import pytest
import requests

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.publish.formats import MAX_SUBSCRIPTION_BYTES
from tests.support import write_config
from tests.web_server import running
from tests.web_site import calendar, vevent

FIRST_DAY = date(2026, 12, 1)
DAYS = 400  # one event a day, each with a long description: far more than 1 MB in all
LONG_TEXT = "Körsång, fika och lotterier i bygdegården. " * 80  # ~3.5 kB a day


def big_calendar() -> str:
    events = []
    for n in range(DAYS):
        day = (FIRST_DAY + timedelta(days=n)).strftime("%Y%m%d")
        events.append(
            vevent(
                f"dag{n}@bygd.se",
                f"{day}T180000",
                f"{day}T200000",
                f"Kväll {n} i bygdegården",
                DESCRIPTION=LONG_TEXT,
            )
        )
    return calendar(*events)


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("big")
    (folder / "bygd.ics").write_text(big_calendar(), encoding="utf-8")
    path = write_config(
        folder,
        [
            {
                "id": "bygd",
                "name": "Bygdegårdsföreningen",
                "path": str(folder / "bygd.ics"),
                "municipality": "Högsby",
            }
        ],
        workers=1,  # parsed here: a parse worker would add its start and imports
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGGREGATOR_NOW", "2026-11-26T12:00:00+00:00")
        assert main(["--config", str(path), "run", "--once"]) == 0
    return path


def test_a_filtered_calendar_is_cut_to_1_mb_nearest_days_first(config_path: Path) -> None:
    with running(load_config(config_path)) as base:
        listed = requests.get(
            f"{base}/api/events.json", params={"municipality": "hogsby"}, timeout=30
        )
        assert listed.status_code == 200
        every = [item["title"] for item in listed.json()["items"]]
        assert len(every) == 400 and every[0] == "Kväll 0 i bygdegården", "500 events uncut"
        uncut_size = sum(len(LONG_TEXT) for _ in every)
        assert uncut_size > 1.2 * MAX_SUBSCRIPTION_BYTES, "the test needs a calendar over 1 MB"

        for params in ({"municipality": "hogsby"}, {"organizer": "bygd", "limit": 500}, {}):
            answer = requests.get(
                f"{base}/api/events.ics",
                params=params,  # type: ignore[arg-type]
                headers={"Accept-Encoding": "identity"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            assert len(answer.content) <= MAX_SUBSCRIPTION_BYTES, params
            parsed = icalendar.Calendar.from_ical(answer.content)
            titles = [str(event["SUMMARY"]) for event in parsed.walk("VEVENT")]
            assert 100 < len(titles) < 400, "cut, but not to nothing"
            assert titles == every[: len(titles)], "the nearest days are kept, in order"
            last_day = FIRST_DAY + timedelta(days=len(titles) - 1)
            said = f"Evenemang till och med {last_day.day} "
            assert said in str(parsed["DESCRIPTION"]) and said in str(parsed["X-WR-CALDESC"])

        cut = requests.get(f"{base}/api/events.ics", timeout=30)
        again = requests.get(
            f"{base}/api/events.ics", headers={"If-None-Match": cut.headers["ETag"]}, timeout=30
        )
        assert again.status_code == 304, "the cut calendar keeps its ETag"


def test_a_small_filtered_calendar_is_whole_and_says_no_horizon(config_path: Path) -> None:
    with running(load_config(config_path)) as base:
        answer = requests.get(
            f"{base}/api/events.ics", params={"from": "2026-12-01", "to": "2026-12-10"}, timeout=30
        )
        parsed = icalendar.Calendar.from_ical(answer.content)
        assert len(list(parsed.walk("VEVENT"))) == 10
        assert "X-WR-CALDESC" not in parsed
