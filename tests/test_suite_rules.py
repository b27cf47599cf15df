"""The suite's own rules (tests/conftest.py, tests/support.py), run on a probe suite: a skip
fails, a missing tool fails, and a test that needs ical.js must say so with its marker."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import pytest

CONFTEST = Path(__file__).parent / "conftest.py"
PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"


def plugin_options() -> str:
    """The suite's plugin options (no entry-point autoload, the ``-p`` it loads instead):
    the probe runs in this process, and a plugin the suite never loads (schemathesis,
    hypothesis) would otherwise be imported, and its modules assertion-rewritten, afresh
    by every probe."""
    addopts = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"][
        "addopts"
    ].split()
    autoload = [flag for flag in addopts if flag == "--disable-plugin-autoload"]
    # xdist too: conftest.py implements one of its hooks
    loaded = [
        f"-p {name}"
        for flag, name in itertools.pairwise(addopts)
        if flag == "-p" and name != "pytester"  # already this process's
    ]
    return " ".join(autoload + loaded)


MARKERS = (
    "[pytest]\nmarkers =\n    icaljs: ical.js\n    browser: chromium\n"
    f"addopts = --strict-markers -p no:cacheprovider {plugin_options()}\n"
)


@pytest.fixture
def probe(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makeini(MARKERS)
    return pytester


def test_a_skipped_test_fails(probe: pytest.Pytester) -> None:
    probe.makepyfile(
        test_probe="import pytest\n\ndef test_needs_a_tool():\n    pytest.skip('node is not here')\n"
    )
    result = probe.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*skips count as failures*node is not here*"])


def test_ical_js_without_its_marker_fails(probe: pytest.Pytester) -> None:
    probe.makepyfile(
        test_probe=(
            "from pathlib import Path\nfrom tests.support import read_with_icaljs\n\n"
            "def test_unmarked(tmp_path: Path) -> None:\n"
            "    read_with_icaljs([tmp_path / 'x.ics'])\n"
        )
    )
    result = probe.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*mark it @pytest.mark.icaljs*"])


def test_a_missing_chromium_fails(probe: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import support

    monkeypatch.setattr(support, "CHROMIUM", probe.path / "no-chromium")
    probe.makepyfile(
        test_probe=(
            "import pytest\nfrom tests.support import require_chromium\n\n"
            "@pytest.mark.browser\ndef test_page() -> None:\n    require_chromium()\n"
        )
    )
    result = probe.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no-chromium is missing*install-test-deps.sh*"])


def test_deselecting_a_marker_leaves_the_rest(probe: pytest.Pytester) -> None:
    probe.makepyfile(
        test_probe=(
            "import pytest\n\n@pytest.mark.browser\ndef test_page() -> None:\n    assert False\n\n"
            "def test_plain() -> None:\n    assert True\n"
        )
    )
    result = probe.runpytest_inprocess("-m", "not browser")
    result.assert_outcomes(passed=1, deselected=1)


RSS = (
    '<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"{xmlns}><channel>'
    "<title>Evenemang</title><item><title>{title}</title></item></channel></rss>\n"
)


def crafted_feeds() -> dict[str, bytes]:
    """Well-formed and ill-formed feeds of the kinds rss_bozo must judge as feedparser does."""
    good = RSS.format(encoding="utf-8", xmlns="", title="Julmarknad på torget")
    return {
        "good": good.encode("utf-8"),
        "no declaration": good.split("\n", 1)[1].encode("utf-8"),
        "utf-16 with a BOM": good.replace("utf-8", "utf-16").encode("utf-16"),
        "latin-1 bytes declared utf-8": good.encode("latin-1"),
        "utf-8 bytes declared us-ascii": good.replace("utf-8", "us-ascii").encode("utf-8"),
        "a namespaced element": RSS.format(
            encoding="utf-8",
            xmlns=' xmlns:dc="http://purl.org/dc/elements/1.1/"',
            title="<dc:creator>Föreningen</dc:creator>",
        ).encode("utf-8"),
        "an unbound prefix": RSS.format(
            encoding="utf-8", xmlns="", title="<dc:creator>Föreningen</dc:creator>"
        ).encode("utf-8"),
        "an HTML entity": good.replace("på", "p&aring;").encode("utf-8"),
        "a control character": good.replace("på", "p\x01").encode("utf-8"),
        "an unescaped ampersand": good.replace("på", "&").encode("utf-8"),
        "an unclosed element": good.replace("</item>", "").encode("utf-8"),
        "cut short": good.encode("utf-8")[:-30],
    }


def test_rss_bozo_agrees_with_feedparser() -> None:
    """tests.support.rss_bozo stands in for feedparser.parse(...).bozo in
    assert_feeds_valid: on the RSS test files (real feeds, feedparser's own ill-formed
    samples, hostile ones) and on crafted ones, both give the same verdict and the same
    exception."""
    import feedparser

    from tests.support import DATA, rss_bozo

    samples = {
        str(path.relative_to(DATA)): path.read_bytes()
        for path in sorted((DATA / "rss").rglob("*"))
        # the 800 kB feed adds nothing the smaller real feeds do not (a well-formed one)
        if path.is_file()
        and not path.name.endswith(".expected.txt")
        and path.stat().st_size < 200_000
    }
    samples.update(crafted_feeds())
    verdicts = set()
    for name, data in samples.items():
        theirs = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
        ours = rss_bozo(data)
        assert bool(theirs.bozo) == (ours is not None), name
        exc = theirs.get("bozo_exception")
        assert (type(exc), str(exc)) == (type(ours), str(ours)), name
        verdicts.add(bool(theirs.bozo))
    assert verdicts == {True, False}
