"""One length limit for a search text, the store's, said in one Swedish sentence by the
CLI (`events list --q`, exit 2 as for any bad input), the API's q and the front page."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from aggregator.cli import main
from aggregator.store.search import MAX_CHARS
from tests.web_site import Site

SENTENCE = f"Söktexten är längre än {MAX_CHARS} tecken."
LONGEST = ("jul " * MAX_CHARS)[:MAX_CHARS]  # few words, exactly at the limit
TOO_LONG = LONGEST + "x"


def test_the_limit_is_the_one_the_readme_states() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"more than {MAX_CHARS} characters" in readme
    assert f"the same limit of {MAX_CHARS} characters" in readme


def test_cli_refuses_past_the_limit_in_swedish_with_exit_2(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(site.config.path)
    assert main(["--config", config, "events", "list", "--q", TOO_LONG]) == 2
    assert capsys.readouterr().err.strip() == f"aggregator: --q: {SENTENCE}"


def test_cli_searches_at_the_limit(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    text = "jul*".ljust(MAX_CHARS)
    assert main(["--config", str(site.config.path), "events", "list", "--q", text]) == 0
    assert "Julmarknad i Lönneberga" in capsys.readouterr().out


def test_api_refuses_past_the_limit_with_the_same_sentence(base: str) -> None:
    answer = requests.get(f"{base}/api/events", params={"q": TOO_LONG}, timeout=10)
    assert answer.status_code == 422
    assert answer.json() == {"error": SENTENCE, "field": "q"}
    for feed in ("ics", "rss", "json"):
        refused = requests.get(f"{base}/api/events.{feed}", params={"q": TOO_LONG}, timeout=10)
        assert refused.status_code == 422 and refused.json()["error"] == SENTENCE


def test_api_and_page_search_at_the_limit(base: str) -> None:
    text = "julmarknad".ljust(MAX_CHARS)
    answer = requests.get(f"{base}/api/events", params={"q": text}, timeout=10)
    assert answer.status_code == 200
    assert [e["title"] for e in answer.json()["events"]] == ["Julmarknad i Lönneberga"]
    page = requests.get(f"{base}/", params={"q": text}, timeout=10)
    assert page.status_code == 200 and "Julmarknad i Lönneberga" in page.text


def test_the_front_page_says_the_same_sentence(base: str) -> None:
    page = requests.get(f"{base}/", params={"q": TOO_LONG}, timeout=10)
    assert SENTENCE in page.text
