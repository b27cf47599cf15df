"""/kallor tells each source's real interval; an unknown category is refused (422) as an
unknown municipality is, while a known one without events is an empty answer. Real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.web.pages import how_often
from tests.support import write_config
from tests.web_server import running
from tests.web_site import KOMMUN, TEATER

EMPTY = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Tom//SV\r\nEND:VCALENDAR\r\n"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("kallor")
    for name, text in (("teater.ics", TEATER), ("kommun.ics", KOMMUN), ("dans.ics", EMPTY)):
        (folder / name).write_text(text, encoding="utf-8")
    config_file = write_config(
        folder,
        [
            {"id": "teater", "name": "Teatern", "path": str(folder / "teater.ics"),
             "municipality": "Vimmerby", "categories": ["Teater"], "interval": "1m"},
            {"id": "kommun", "name": "Kommunen", "path": str(folder / "kommun.ics"),
             "municipality": "Hultsfred", "interval": "6h"},
            {"id": "dans", "name": "Dansbanan", "path": str(folder / "dans.ics"),
             "municipality": "Hultsfred", "categories": ["Dans"], "interval": "1d"},
        ],
        municipalities=["Vimmerby", "Hultsfred"],
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGGREGATOR_NOW", "2026-11-26T12:00:00+00:00")
        assert main(["--config", str(config_file), "run", "--once"]) == 0
        with running(load_config(config_file)) as url:
            yield url


def test_sources_page_says_each_interval(base: str) -> None:
    html = requests.get(f"{base}/kallor", timeout=10).text
    assert "varje timme" not in html, "no source here is read every hour"
    rows = dict(
        re.findall(r"<tr class=\"source [^\"]*\"><td>([^<]+)</td>.*?<td>(var[^<]*)</td>", html)
    )
    assert rows == {"Teatern": "varje minut", "Kommunen": "var 6:e timme", "Dansbanan": "varje dag"}


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (60, "varje minut"),
        (120, "varannan minut"),
        (900, "var 15:e minut"),
        (1260, "var 21:a minut"),
        (660, "var 11:e minut"),
        (3600, "varje timme"),
        (5400, "var 90:e minut"),
        (21600, "var 6:e timme"),
        (86400, "varje dag"),
        (172800, "varannan dag"),
        (90061, "var 90061:a sekund"),
    ],
)
def test_intervals_in_swedish(seconds: int, said: str) -> None:
    assert how_often(seconds) == said


def test_unknown_category_is_refused_naming_the_known_ones(base: str) -> None:
    for feed in ("", ".ics", ".rss", ".json"):
        answer = requests.get(f"{base}/api/events{feed}?category=nope", timeout=10)
        assert answer.status_code == 422
        body = answer.json()
        assert body["field"] == "category"
        assert "nope" in body["error"] and "teater" in body["error"] and "dans" in body["error"]


def test_known_categories_answer_even_when_empty(base: str) -> None:
    teater = requests.get(f"{base}/api/events?category=teater", timeout=10)
    assert teater.status_code == 200 and teater.json()["events"]
    offered = {c["slug"] for c in requests.get(f"{base}/api/categories", timeout=10).json()}
    assert "teater" in offered
    for query in ("category=dans", "category=Dans", "category=teater&to=2026-11-26"):
        answer = requests.get(f"{base}/api/events?{query}", timeout=10)
        assert answer.status_code == 200 and answer.json()["events"] == [], query


def test_the_front_page_and_subscribe_page_refuse_an_unknown_category(base: str) -> None:
    page = requests.get(f"{base}/", params={"kategori": "nope"}, timeout=10)
    assert "Okänd kategori" in page.text
    assert requests.get(f"{base}/prenumerera?kategori=nope", timeout=10).status_code == 422
    assert requests.get(f"{base}/prenumerera?kategori=dans", timeout=10).status_code == 200
