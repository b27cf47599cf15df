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
