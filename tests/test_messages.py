"""What reaches an organizer is Swedish and actionable: sizes, HTTP answers, zone advice."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from aggregator.errors import FetchError
from aggregator.fetch.http import fetch_url
from aggregator.harvest import harvest_bytes
from aggregator.harvest.lint import lint_harvest
from aggregator.model import Settings, Source
from aggregator.normalize.text import human_seconds, human_size
from aggregator.normalize.timezones import iana_name_for_tzid
from tests.support import DATA

CORPUS = DATA / "corpus" / "ical"  # the real calendars kept with the tests


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (1, "1 byte"),
        (1023, "1023 byte"),
        (1024, "1 kB"),
        (1536, "1,5 kB"),
        (10 * 1024, "10 kB"),
        (1024**2, "1 MB"),
        (int(2.5 * 1024**2), "2,5 MB"),
        (50 * 1024**2, "50 MB"),
    ],
)
def test_human_size_never_says_zero(size: int, shown: str) -> None:
    assert human_size(size) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (1, "1 sekund"),
        (1.0, "1 sekund"),
        (0.5, "0,5 sekunder"),
        (1.5, "1,5 sekunder"),
        (30, "30 sekunder"),
    ],
)
def test_human_seconds_in_swedish(seconds: float, shown: str) -> None:
    assert human_seconds(seconds) == shown


def test_a_small_size_limit_is_named_in_kilobytes(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big.ics").respond_with_data(b"x" * 5000)
    with pytest.raises(FetchError) as info:
        fetch_url(
            httpserver.url_for("/big.ics"), Settings(allow_private_hosts=True, max_bytes=1024)
        )
    assert "gränsen på 1 kB" in info.value.message and "0 MB" not in info.value.message


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (404, "inte finns"),
        (410, "inte finns"),
        (403, "nekade"),
        (429, "bad oss vänta"),
        (503, "tillfälligt otillgänglig"),
        (500, "fick ett fel"),
        (418, "svarade med ett fel"),
    ],
)
def test_http_errors_are_swedish(httpserver: HTTPServer, status: int, words: str) -> None:
    httpserver.expect_request("/x.ics").respond_with_data("nej", status=status)
    with pytest.raises(FetchError) as info:
        fetch_url(httpserver.url_for("/x.ics"), Settings(allow_private_hosts=True))
    message = info.value.message
    assert words in message and f"HTTP {status}" in message
    assert "the server" not in message and "Not Found" not in message


@pytest.mark.parametrize(
    ("tzid", "zone"),
    [
        ("(GMT+10:00) Canberra, Melbourne, Sydney", "Australia/Sydney"),
        ("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "Europe/Berlin"),
        ("GMT+0100", "Etc/GMT-1"),
    ],
)
def test_display_names_map_to_the_zone_windows_means(tzid: str, zone: str) -> None:
    assert iana_name_for_tzid(tzid) == zone


@pytest.mark.parametrize(
    ("name", "quoted", "zone"),
    [
        (
            "exchange2010_owa__gmt_plus10.ics",
            "(GMT+10:00) Canberra, Melbourne, Sydney",
            "Australia/Sydney",
        ),
        (
            "outlook__tzid_city_list.ics",
            "Amsterdam, Belgrade, Berlin, Brussels, Budapest, Madrid, Paris, Prague, Stockholm",
            "Europe/Berlin",
        ),
    ],
)
def test_zone_advice_quotes_the_whole_tzid_and_names_the_zone_used(
    name: str, quoted: str, zone: str
) -> None:
    from datetime import UTC, datetime

    content = (CORPUS / name).read_bytes()
    settings = Settings()
    source = Source(id="k", name="Kalender", kind="ical")
    harvest = harvest_bytes(content, source, settings, now=datetime(2026, 12, 1, tzinfo=UTC))
    advice = lint_harvest(content, harvest, settings)  # what the pipeline asks after a harvest
    texts = [a.text for a in advice if a.finding == "windows-zone"]
    assert texts and f"(”{quoted}”)" in texts[0]
    assert f"översatt det till {zone}," in texts[0]
