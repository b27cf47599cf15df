"""Filtered feeds (/api/events.ics|.rss|.json) with more than 500 events, over real HTTP:
a calendar is cut only at 1 MB (whole days, nearest first, the horizon stated), never at
a silent count; a count cut (``limit``) also falls between days and says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from xml.etree import ElementTree

import icalendar
import pytest
import requests

from aggregator.cli import main
from aggregator.config import load_config
from tests.support import write_config
from tests.web_server import running

NOW = "2026-11-26T12:00:00+00:00"
FIRST = date(2026, 12, 1)
DAYS, PER_DAY = 200, 7  # 1,400 events a source: far past the old cap of 500


def many(uid: str, padding: int) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//Many//SV"]
    for n in range(DAYS):
        day = FIRST + timedelta(days=n)
        for hour in range(10, 10 + PER_DAY):
            lines += [
                "BEGIN:VEVENT",
                f"UID:{uid}-{n}-{hour}@test",
                f"DTSTART;TZID=Europe/Stockholm:{day:%Y%m%d}T{hour:02d}0000",
                f"DTEND;TZID=Europe/Stockholm:{day:%Y%m%d}T{hour:02d}3000",
                f"SUMMARY:{uid} {day.isoformat()} {hour}",
                f"DESCRIPTION:{'Lång beskrivning. ' * padding}",
                "END:VEVENT",
            ]
    return "\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("many")
    (folder / "small.ics").write_text(many("Liten", 1), encoding="utf-8")
    (folder / "large.ics").write_text(many("Stor", 60), encoding="utf-8")
    config_file = write_config(
        folder,
        [
            {"id": "small", "name": "Små", "path": str(folder / "small.ics"),
             "municipality": "Vimmerby"},
            {"id": "large", "name": "Stora", "path": str(folder / "large.ics"),
             "municipality": "Hultsfred"},
        ],
        municipalities=["Vimmerby", "Hultsfred"],
        workers=1,  # parsed here: a parse worker per file would add its start and imports
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGGREGATOR_NOW", NOW)
        assert main(["--config", str(config_file), "run", "--once"]) == 0
        with running(load_config(config_file)) as url:
            yield url


def calendar(base: str, query: str) -> tuple[icalendar.Calendar, bytes]:
    answer = requests.get(f"{base}/api/events.ics?{query}", timeout=60)
    assert answer.status_code == 200
    return icalendar.Calendar.from_ical(answer.content), answer.content


def days_of(cal: icalendar.Calendar) -> list[date]:
    return [e.decoded("DTSTART").date() for e in cal.walk("VEVENT")]


def test_a_calendar_under_1_mb_holds_every_event(base: str) -> None:
    cal, data = calendar(base, "organizer=small")
    assert len(data) < 1_000_000
    assert len(cal.walk("VEVENT")) == DAYS * PER_DAY
    assert "X-WR-CALDESC" not in cal and "DESCRIPTION" not in cal


def test_a_calendar_over_1_mb_is_cut_at_whole_days_and_says_so(base: str) -> None:
    cal, data = calendar(base, "municipality=hultsfred")
    assert len(data) <= 1_000_000
    days = days_of(cal)
    assert len(days) > 500, "cut by size, not at 500 events"
    assert len(days) < DAYS * PER_DAY
    assert days[0] == FIRST, "the nearest days are kept"
    assert all(days.count(day) == PER_DAY for day in set(days)), "whole days only"
    last = max(days)
    assert sorted(set(days)) == [FIRST + timedelta(days=n) for n in range((last - FIRST).days + 1)]
    months = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
              "september", "oktober", "november", "december")  # fmt: skip
    said = f"Evenemang till och med {last.day} {months[last.month - 1]} {last.year}"
    assert said in str(cal["X-WR-CALDESC"]) and said in str(cal["DESCRIPTION"])


def test_rss_and_json_carry_more_than_500_events_without_a_horizon(base: str) -> None:
    feed = requests.get(f"{base}/api/events.json?organizer=small", timeout=60).json()
    assert len(feed["items"]) == DAYS * PER_DAY and "description" not in feed
    rss = requests.get(f"{base}/api/events.rss?organizer=small", timeout=60)
    channel = ElementTree.fromstring(rss.content).find("channel")
    assert channel is not None and len(channel.findall("item")) == DAYS * PER_DAY
    assert "till och med" not in (channel.findtext("description") or "")


@pytest.mark.parametrize("extension", ["ics", "rss", "json"])
def test_a_limit_cuts_at_whole_days_and_says_so(base: str, extension: str) -> None:
    """limit=10 with seven events a day: the first day (seven), never three of the next."""
    answer = requests.get(f"{base}/api/events.{extension}?organizer=small&limit=10", timeout=60)
    assert answer.status_code == 200
    said = "Evenemang till och med 1 december 2026"
    if extension == "ics":
        cal = icalendar.Calendar.from_ical(answer.content)
        assert days_of(cal) == [FIRST] * PER_DAY
        assert said in str(cal["X-WR-CALDESC"])
    elif extension == "json":
        feed = json.loads(answer.content)
        assert len(feed["items"]) == PER_DAY and said in feed["description"]
    else:
        channel = ElementTree.fromstring(answer.content).find("channel")
        assert channel is not None and len(channel.findall("item")) == PER_DAY
        assert said in (channel.findtext("description") or "")


def test_a_limit_that_ends_a_day_cuts_nothing_more(base: str) -> None:
    feed = requests.get(f"{base}/api/events.json?organizer=small&limit=14", timeout=60).json()
    assert len(feed["items"]) == 14 and "till och med 2 december 2026" in feed["description"]


def test_a_day_larger_than_the_limit_is_given_whole(base: str) -> None:
    feed = requests.get(f"{base}/api/events.json?organizer=small&limit=3", timeout=60).json()
    assert len(feed["items"]) == PER_DAY
    assert "till och med 1 december 2026" in feed["description"]


def test_a_filtered_calendar_still_answers_304(base: str) -> None:
    first = requests.get(f"{base}/api/events.ics?municipality=hultsfred", timeout=60)
    again = requests.get(
        f"{base}/api/events.ics?municipality=hultsfred",
        headers={"If-None-Match": first.headers["ETag"]},
        timeout=60,
    )
    assert again.status_code == 304
