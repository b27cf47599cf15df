"""tests/balance.py: how ``-n auto`` shares the modules among its workers, and the file of
module times it is based on. The scheduler runs through pytest itself (a probe suite
under two workers): every test runs exactly once, a module stays on one worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.balance import DEFAULT, Cost, next_module, read_costs
from tests.test_suite_rules import probe as probe  # the fixture: our conftest, our plugins

ROOT = Path(__file__).parent.parent

COMPUTING_LONG = Cost(cpu=8.0, wall=10.0)
COMPUTING_SHORT = Cost(cpu=1.0, wall=1.5)
WAITING_LONG = Cost(cpu=1.0, wall=15.0)
WAITING_SHORT = Cost(cpu=0.1, wall=2.0)
WAITING_MANY = {f"waiting_{n}": WAITING_SHORT for n in range(30)}
REMAINING = {  # so much left that none of these is due to start at once
    "computing_long": COMPUTING_LONG,
    "computing_short": COMPUTING_SHORT,
    "waiting_long": WAITING_LONG,
    "waiting_short": WAITING_SHORT,
    **WAITING_MANY,
    **{f"computing_{n}": COMPUTING_SHORT for n in range(40)},
}


@pytest.mark.parametrize(
    ("running", "remaining", "expected"),
    [
        ([], REMAINING, "computing_long"),  # CPUs free: the longest that computes
        ([COMPUTING_LONG], REMAINING, "computing_long"),
        ([COMPUTING_LONG, COMPUTING_SHORT], REMAINING, "waiting_long"),  # both CPUs busy
        ([COMPUTING_LONG, WAITING_LONG, WAITING_SHORT], REMAINING, "computing_long"),
        # a kind that is used up: the other, longest first
        ([COMPUTING_LONG] * 2, {"computing_short": COMPUTING_SHORT}, "computing_short"),
        ([], {"waiting_short": WAITING_SHORT, "waiting_long": WAITING_LONG}, "waiting_long"),
        # a module the file does not know counts as computing
        ([], {"waiting_long": WAITING_LONG, "new": DEFAULT, **WAITING_MANY}, "new"),
        # the last long one goes before the run would end without it, whatever its kind
        (
            [COMPUTING_LONG],
            {"computing_short": COMPUTING_SHORT, "waiting_long": WAITING_LONG},
            "waiting_long",
        ),
    ],
    ids=[
        "idle",
        "one computing",
        "cpus full",
        "only waits besides",
        "no waiting left",
        "no computing left",
        "unknown module",
        "critical",
    ],
)
def test_next_module_keeps_a_cpu_s_worth_of_computing_per_cpu(
    running: list[Cost], remaining: dict[str, Cost], expected: str
) -> None:
    assert next_module(remaining, running, cpus=2, workers=4) == expected


def test_read_costs_skips_comments_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "durations.txt"
    assert read_costs(path) == {}
    path.write_text("# module cpu wall\ntests/test_a.py 1.50 3.25\n\n", encoding="utf-8")
    assert read_costs(path) == {"tests/test_a.py": Cost(1.5, 3.25)}


def test_a_malformed_line_is_named_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "durations.txt"
    path.write_text("tests/test_a.py 1.50 3.25\ntests/test_b.py 1,5\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"durations.txt:2: .*'tests/test_b.py 1,5'"):
        read_costs(path)


def test_the_repository_s_file_names_modules_that_exist() -> None:
    """A module renamed or removed leaves a stale line: harmless, but regenerate the file."""
    costs = read_costs()
    assert len(costs) >= 50
    missing = sorted(m for m in costs if not (ROOT / m).is_file())
    assert not missing, f"regenerate tests/durations.txt (see tests/balance.py): {missing}"


def test_two_workers_run_every_test_once_and_record_each_module(
    probe: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the workers import tests.balance
    # eight tests first: xdist's own worksteal would give the second worker the last of them
    probe.makepyfile(
        test_alpha="".join(f"def test_{n}() -> None:\n    pass\n\n" for n in range(8)),
        test_beta="".join(
            f"def test_{n}() -> None:\n    sum(range(100_000))\n\n" for n in range(5)
        ),
        test_gamma="import time\n\ndef test_waits() -> None:\n    time.sleep(0.2)\n",
    )
    recorded = probe.path / "durations.txt"
    result = probe.runpytest_subprocess(
        "-n", "2", "--dist", "worksteal", "--durations-to", str(recorded), "-v"
    )
    result.assert_outcomes(passed=14)
    ran = [line.split() for line in result.outlines if " PASSED " in line]
    # "[gw0] [ 7%] PASSED test_alpha.py::test_0": each test once, each module on one worker
    assert len(ran) == len({words[-1] for words in ran}) == 14, ran
    workers: dict[str, set[str]] = {}
    for words in ran:
        workers.setdefault(words[-1].split("::")[0], set()).add(words[0])
    assert all(len(w) == 1 for w in workers.values()), workers
    costs = read_costs(recorded)
    assert set(costs) == {"test_alpha.py", "test_beta.py", "test_gamma.py"}
    assert costs["test_gamma.py"].wall >= 0.2 > costs["test_gamma.py"].cpu
