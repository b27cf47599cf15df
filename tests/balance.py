"""How ``pytest -n auto`` shares the suite among its workers: whole modules, handed out as
workers run short, chosen so that computing and waiting modules run side by side.

xdist's ``worksteal`` gives each worker an equal *count* of tests in collection order.
Here counts say little (637 of the 2,084 tests take 2 s together, one test 6 s), and the
modules that mostly wait (on services, slow test servers, deadlines) sit together near the
end of the alphabet: a run ended with ~15 s in which the two CPUs were a third idle while
four workers waited (mean CPU use 86–89 %). Handing out the longest module left, of the
computing kind while fewer of those run than there are CPUs and else of the waiting kind,
keeps the CPUs busy (91 %) and ends on short modules. A module stays on one worker, so its
module-scoped fixtures are built once.

The times come from ``tests/durations.txt`` (one line per module: CPU seconds, its own and
its subprocesses', and wall seconds, as measured under ``-n auto``), rewritten by
``./run-tests.sh --durations-to tests/durations.txt``. A module that is not there counts as
``DEFAULT``; a stale file only makes the run slower, never different: every test still runs
exactly once.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DURATIONS = Path(__file__).parent / "durations.txt"
CPU_KEY = "cpu_seconds"  # the user property a worker reports each test's CPU under


@dataclass(frozen=True)
class Cost:
    cpu: float
    wall: float


DEFAULT = Cost(cpu=0.5, wall=0.5)


def module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def read_costs(path: Path = DURATIONS) -> dict[str, Cost]:
    costs: dict[str, Cost] = {}
    if not path.exists():
        return costs
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            module, cpu, wall = line.split()
            costs[module] = Cost(float(cpu), float(wall))
        except ValueError:
            raise ValueError(
                f"{path}:{number}: not 'module cpu-seconds wall-seconds': {line!r} "
                "(rewrite it with ./run-tests.sh --durations-to tests/durations.txt)"
            ) from None
    return costs


WAITING = 0.3  # a module using less than this share of a CPU while it runs mostly waits


def computes(cost: Cost) -> bool:
    return cost.wall <= 0 or cost.cpu / cost.wall >= WAITING


def next_module(
    remaining: dict[str, Cost], running: Sequence[Cost], cpus: int, workers: int
) -> str:
    """Which module a worker that is running out of work takes next: the longest left
    (so the run ends on short ones) of those that mostly compute while fewer of them run
    than there are CPUs, else of those that mostly wait; whichever kind is left. A module
    as long as a worker's share of all that is left goes first whatever its kind: started
    later, it would be the run's last."""
    longest = max(remaining, key=lambda m: (remaining[m].wall, m))
    if remaining[longest].wall * workers >= sum(c.wall for c in remaining.values()):
        return longest
    computing = sum(1 for c in running if computes(c))
    wanted = [m for m, c in remaining.items() if computes(c) == (computing < cpus)]
    return max(wanted or remaining, key=lambda m: (remaining[m].wall, m))


def balanced_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's ``loadscope`` by module, the next module chosen by ``next_module``."""
    from xdist.scheduler import LoadScopeScheduling

    costs = read_costs()
    cpus = len(os.sched_getaffinity(0))

    class Balanced(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return module_of(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            # what the other workers will be running when this one starts its next module:
            # each its current one (xdist hands out the next before the last test ends)
            running = [
                costs.get(current, DEFAULT)
                for other, work in self.assigned_work.items()
                if other is not node and (current := _first_unfinished(work)) is not None
            ]
            remaining = {scope: costs.get(scope, DEFAULT) for scope in self.workqueue}
            chosen = next_module(remaining, running, cpus, len(self.assigned_work) or self.numnodes)
            self.workqueue.move_to_end(chosen, last=False)
            super()._assign_work_unit(node)

    return Balanced(config, log)


def _first_unfinished(work: dict[str, dict[str, bool]]) -> str | None:
    """The module a worker is running: the first of its modules with a test not done."""
    return next((module for module, done in work.items() if not all(done.values())), None)


class CostRecorder:
    """``--durations-to PATH``: each module's CPU and wall seconds over this run, written
    where balance reads them (by the controller; workers report each test's CPU)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        module = module_of(report.nodeid)
        self.wall[module] = self.wall.get(module, 0.0) + report.duration
        for key, value in report.user_properties:
            if key == CPU_KEY:
                self.cpu[module] = self.cpu.get(module, 0.0) + float(value)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput"):
            return  # a worker: the controller writes
        lines = [
            "# module, CPU seconds, wall seconds under -n auto (see tests/balance.py)",
            *(
                f"{m} {self.cpu.get(m, 0.0):.2f} {self.wall[m]:.2f}"
                for m in sorted(self.wall, key=lambda m: (-self.wall[m], m))
            ),
        ]
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")


_STARTED = pytest.StashKey[float]()


def _cpu_seconds() -> float:
    """This process's CPU and its children's (the `aggregator` commands, services and
    browsers a test starts and waits for)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def start_cpu(item: pytest.Item) -> None:
    item.stash[_STARTED] = _cpu_seconds()


def cpu_property(item: pytest.Item) -> tuple[str, float] | None:
    """The test's CPU seconds since its setup began, as a report's user property."""
    started = item.stash.get(_STARTED, None)
    return None if started is None else (CPU_KEY, _cpu_seconds() - started)
