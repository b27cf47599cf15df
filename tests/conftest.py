from __future__ import annotations

import gc
import os
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.model import Settings, Source
from tests import balance, support
from tests.web_server import running
from tests.web_site import Site, build_site

if TYPE_CHECKING:
    from tests.test_run_service import Service

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
WORKERS_PER_CPU = 2  # see pytest_xdist_auto_num_workers


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per CPU this process may run on. Much of the suite waits
    (on `aggregator run` subprocesses, parse workers, uvicorn, chromium, slow test servers)
    rather than computes, so one worker per CPU leaves a CPU idle for much of the run."""
    return WORKERS_PER_CPU * len(os.sched_getaffinity(0))


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs at the same instant, so fixtures dated 2026–2027 never age out."""
    monkeypatch.setenv("AGGREGATOR_NOW", NOW.isoformat())


@pytest.fixture(autouse=True)
def markers_of_this_test(request: pytest.FixtureRequest) -> None:
    """Tell tests.support which markers the running test has (see require_marker)."""
    support.current_markers.clear()
    support.current_markers.update(m.name for m in request.node.iter_markers())


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--durations-to",
        type=Path,
        default=None,
        metavar="PATH",
        help="write each test module's CPU and wall seconds to PATH (tests/durations.txt: "
        "how -n auto shares the modules among its workers, see tests/balance.py)",
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("durations_to")
    if path is not None and not hasattr(config, "workerinput"):
        config.pluginmanager.register(balance.CostRecorder(path), "balance-cost-recorder")


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist worksteal`` (pyproject's): whole modules, the next one chosen by its
    recorded times (tests/balance.py); any other ``--dist`` is xdist's own."""
    if config.getoption("dist") != "worksteal":
        return None
    return balance.balanced_scheduler(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.config.getoption("durations_to"):
        balance.start_cpu(item)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection leaves (every test module, the app, its libraries, 2,000 items) lives
    until the end; frozen out of the collector, the cyclic garbage collections the tests
    set off no longer walk it each time: ~2 s less CPU per worker (6.7 → 4.7 s of GC
    over a run, measured with gc.callbacks)."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A skipped test fails: the suite has no optional parts, and a missing tool (node,
    ical.js, chromium) must stop CI rather than quietly test less. Deselecting with
    ``-m "not browser"`` is how to leave a tool out locally."""
    report = yield
    recording = call.when == "teardown" and item.config.getoption("durations_to")
    if recording and (cpu := balance.cpu_property(item)) is not None:
        report.user_properties.append(cpu)  # for the controller's balance.CostRecorder
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, and skips count as failures here: {reason}"
    return report


@pytest.fixture(scope="session", autouse=True)
def shared_corpus_harvests(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Under pytest-xdist, a folder of this run that every worker sees (beside their own
    temporary folders), where tests.expected.harvest_corpus leaves what it parsed."""
    from tests import expected

    if os.environ.get("PYTEST_XDIST_WORKER") and not expected.SHARED_HARVESTS:
        folder = tmp_path_factory.getbasetemp().parent / "corpus-harvests"
        folder.mkdir(exist_ok=True)
        expected.SHARED_HARVESTS.append(folder)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def source() -> Source:
    return Source(id="test-source", name="Testföreningen", path="x.ics", municipality="Vimmerby")


# -- shared fixtures: a module's own definition of the same name wins --------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The web tests' published example site, built once per module at a fixed instant."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGGREGATOR_NOW", "2026-11-26T12:00:00+00:00")
        return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def base(site: Site) -> Iterator[str]:
    """A real uvicorn serving ``site`` on a free port."""
    with running(site.config) as url:
        yield url


@pytest.fixture
def service() -> Iterator[Callable[[Path], Service]]:
    """Start ``aggregator run`` subprocesses; every one is stopped when the test ends."""
    from tests.test_run_service import Service

    started: list[Service] = []

    def start(config: Path) -> Service:
        started.append(Service(config))
        return started[-1]

    yield start
    for one in started:
        one.close()
