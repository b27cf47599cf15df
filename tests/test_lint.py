"""The feed linter: what we repaired or could not use, as Swedish sentences for the organizer.

Real calendars from the corpus with the findings they must give, small named cases for
each finding, and the way to the organizer: stored with the health, shown by
``sources list`` and ``sources show``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.config import Config
from aggregator.harvest.lint import Finding, lint_harvest
from aggregator.model import Settings, Source
from aggregator.pipeline import parse_source_bytes
from tests.hosts import Answer, Hosts
from tests.support import DATA, write_config

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def findings(content: bytes, settings: Settings | None = None) -> dict[Finding, str]:
    settings = settings or Settings()
    config = Config(path=Path("sources.yaml"), settings=settings, sources=())
    source = Source(id="s", name="S", path="x")
    result = parse_source_bytes(content, source, config, NOW)
    return {a.finding: a.text for a in lint_harvest(content, result, settings)}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "ical/facebook_v09__upcoming_events.ics",
            {Finding.FLOATING_TIMES, Finding.PRIVATE_SKIPPED},
        ),
        ("ical/exchange2010_owa__gmt_plus10.ics", {Finding.WINDOWS_ZONE, Finding.NO_VTIMEZONE}),
        ("ical/office365_published__zion_centre.ics", {Finding.WINDOWS_ZONE}),
        ("ical/exchange2010__w_europe_standard_time.ics", set()),  # Windows name only in VTIMEZONE
        ("ical/apple_macos11__tentative.ics", {Finding.NO_VTIMEZONE}),
        ("ical/calendarlabs__germany_holidays_rrule.ics", {Finding.INCLUSIVE_END}),
        ("ical/exchange_cdo__gmt_plus_0100_tzid.ics", {Finding.UNKNOWN_ZONE}),
        ("ical/floating_with_x_wr_timezone.ics", set()),  # Google's dialect: X-WR-TIMEZONE says
        ("ical/plone__unicode_fields.ics", {Finding.NO_START}),
        ("ical/meetup_calendar10__group_feed.ics", {Finding.NO_PLACE}),
        ("ical/google_public__hulme_moss_side.ics", set()),
        ("rss/community_calendar__davis_latest.rss", {Finding.NO_PLACE}),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_corpus_calendars(path: str, expected: set[Finding]) -> None:
    kind, name = path.split("/")
    folder = DATA / "corpus" / "ical" if kind == "ical" else DATA / "rss" / "corpus"
    assert set(findings((folder / name).read_bytes())) == expected


def ical(*lines: str, head: str = "") -> bytes:
    body = "\r\n".join(lines)
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//T//SV\r\n{head}"
        f"BEGIN:VEVENT\r\nUID:a@x\r\nSUMMARY:Julmarknad\r\n{body}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


PLACE = "LOCATION:Torget\\, Vimmerby"


@pytest.mark.parametrize(
    ("content", "finding", "words"),
    [
        pytest.param(
            ical("DTSTART:20261212T100000", PLACE),
            Finding.FLOATING_TIMES,
            "svensk tid",
            id="floating",
        ),
        pytest.param(
            ical("DTSTART;TZID=Europe/Stockholm:20261212T100000", PLACE),
            Finding.NO_VTIMEZONE,
            "VTIMEZONE",
            id="tzid-without-vtimezone",
        ),
        pytest.param(
            ical('DTSTART;TZID="W. Europe Standard Time":20261212T100000', PLACE),
            Finding.WINDOWS_ZONE,
            "W. Europe Standard Time",
            id="windows-zone",
        ),
        pytest.param(
            ical("DTSTART;TZID=Mars/Olympus:20261212T100000", PLACE),
            Finding.UNKNOWN_ZONE,
            "Mars/Olympus",
            id="unknown-zone",
        ),
        pytest.param(
            ical("DTSTART;VALUE=DATE:20261212", "DTEND;VALUE=DATE:20261212", PLACE),
            Finding.INCLUSIVE_END,
            "dagen efter",
            id="inclusive-all-day-end",
        ),
        pytest.param(
            ical("DTSTART:20261212T100000Z"), Finding.NO_PLACE, "saknas plats", id="no-place"
        ),
        pytest.param(
            ical("DTSTART:20261212T100000Z", PLACE, "CLASS:CONFIDENTIAL"),
            Finding.PRIVATE_SKIPPED,
            "privata",
            id="confidential",
        ),
        pytest.param(ical(PLACE), Finding.NO_START, "DTSTART", id="no-start"),
    ],
)
def test_each_finding_is_one_swedish_sentence(content: bytes, finding: Finding, words: str) -> None:
    found = findings(content)
    assert finding in found
    sentence = found[finding]
    assert words in sentence
    assert sentence[0].isupper() and sentence.endswith("."), "one sentence"
    assert re.sub("”[^”]*”", "", sentence).count(". ") == 0, "(quoted names aside)"


RSS_DATE_ONLY = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/">
<channel><title>F</title><link>https://f.se/</link><description>x</description>
<item><title>Julmarknad</title><link>https://f.se/julmarknad</link><guid>https://f.se/julmarknad</guid>
<ev:startdate>2026-12-12</ev:startdate><ev:location>Torget, Vimmerby</ev:location></item>
</channel></rss>"""


def test_an_rss_event_without_a_time() -> None:
    found = findings(RSS_DATE_ONLY)
    assert set(found) == {Finding.NO_TIME}
    assert "saknas klockslag för 1 evenemang" in found[Finding.NO_TIME]


def test_a_clean_calendar_has_no_advice() -> None:
    assert findings(ical("DTSTART:20261212T100000Z", "DTEND:20261212T120000Z", PLACE)) == {}


def test_floating_times_with_an_x_wr_timezone_are_not_flagged() -> None:
    content = ical("DTSTART:20261212T100000", PLACE, head="X-WR-TIMEZONE:Europe/Stockholm\r\n")
    assert Finding.FLOATING_TIMES not in findings(content)


def test_near_the_size_limit() -> None:
    content = ical("DTSTART:20261212T100000Z", PLACE, "DESCRIPTION:" + "x" * 2000)
    found = findings(content, Settings(max_bytes=2200))
    assert "nära gränsen" in found[Finding.OVERSIZE]


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def test_advice_reaches_sources_list_and_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kyrka.ics"
    path.write_bytes(ical("DTSTART:20261212T100000"))  # floating, no place
    config = write_config(tmp_path, [{"id": "kyrka", "name": "Kyrkan", "path": str(path)}])
    assert run(config, "run", "--once") == 0
    capsys.readouterr()
    assert run(config, "sources", "list") == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("kyrka"))
    assert "Din kalender saknar tidszon" in line and "(+1 råd)" in line
    assert run(config, "sources", "show", "kyrka") == 0
    shown = capsys.readouterr().out
    assert "Advice for the organizer" in shown
    assert "Din kalender saknar tidszon för 1 evenemang; vi tolkar tiderna som svensk tid" in shown
    assert "saknas plats" in shown
    path.write_bytes(ical("DTSTART:20261212T100000Z", PLACE))  # fixed at the source
    assert run(config, "run", "--once") == 0
    capsys.readouterr()
    run(config, "sources", "show", "kyrka")
    assert "Advice: none" in capsys.readouterr().out


def events_with_uids(*uids: str) -> bytes:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:Konsert {n}\r\nDTSTART:202612{10 + n}T180000Z\r\n"
        f"{PLACE}\r\nEND:VEVENT\r\n"
        for n, uid in enumerate(uids)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//T//SV\r\n{events}END:VCALENDAR\r\n".encode()


def test_uids_that_change_between_fetches_and_a_collapse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "k.ics"
    path.write_bytes(events_with_uids("a1", "a2"))
    config = write_config(tmp_path, [{"id": "k", "name": "K", "path": str(path)}])
    run(config, "run", "--once")
    path.write_bytes(events_with_uids("b1", "b2"))  # same events, new UIDs
    monkeypatch.setenv("AGGREGATOR_NOW", "2026-11-26T13:00:00+00:00")
    run(config, "run", "--once")
    capsys.readouterr()
    run(config, "sources", "show", "k")
    assert (
        "I din kalender fick 2 evenemang ett nytt UID sedan förra hämtningen"
        in capsys.readouterr().out
    )
    path.write_bytes(events_with_uids(*(f"c{i}" for i in range(6))))
    monkeypatch.setenv("AGGREGATOR_NOW", "2026-11-26T14:00:00+00:00")
    run(config, "run", "--once")
    path.write_bytes(events_with_uids("c0"))
    monkeypatch.setenv("AGGREGATOR_NOW", "2026-11-26T15:00:00+00:00")
    run(config, "run", "--once")
    capsys.readouterr()
    run(config, "sources", "show", "k")
    assert "Nästan alla kommande evenemang försvann på en gång" in capsys.readouterr().out


def test_a_calendar_over_the_size_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Hosts(1) as hosts:
        hosts.routes["/k.ics"] = lambda r: Answer(events_with_uids("a") + b" " * 5000)
        config = write_config(
            tmp_path, [{"id": "k", "name": "K", "url": hosts.url(1, "/k.ics")}], max_bytes=4096
        )
        run(config, "run", "--once")
    capsys.readouterr()
    run(config, "sources", "show", "k")
    assert "större än gränsen" in capsys.readouterr().out
