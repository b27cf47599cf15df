"""Right / no answer / wrong of ``harvest.swedish_dates`` on the named-case table, per family.

    .venv/bin/python -m bench.swedish_dates_quality [--verbose] [--speed] [PATH]

The table (``tests/data/swedish_dates/cases.tsv``) holds real listing phrasing with the
instant a reader would take from it, or ``-`` where the phrase does not say (a list of
performances, a weekday that contradicts the date). A phrase whose expected answer is
"no answer" is right only when the parser gives none. ``tests/test_swedish_dates.py``
asserts every line; this prints the figures the issue asks for.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

from aggregator.harvest.swedish_dates import (
    SwedishDate,
    SwedishDateError,
    find_swedish_datetime,
    parse_swedish_datetime,
)

CASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "swedish_dates" / "cases.tsv"
DEFAULT_NOW = datetime.fromisoformat("2026-11-27T12:00+01:00")  # a Friday


class Verdict(StrEnum):
    RIGHT = "right"
    NO_ANSWER = "no answer"
    WRONG = "wrong"


@dataclass(frozen=True, slots=True)
class Case:
    family: str
    id: str
    text: str
    expected: SwedishDate | None
    now: datetime
    reference: datetime | None  # the item's publication time, for "på lördag"
    field: bool  # a date field (parse_swedish_datetime) rather than prose
    default_date: date | None
    gap: bool  # a known gap: no answer is accepted (a wrong answer never is)


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    got: SwedishDate | None
    error: str


def load_cases(path: Path = CASES) -> list[Case]:
    cases = []
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [line.split("\t") for line in lines if not line.startswith("#")]
    header, body = rows[0], rows[1:]
    assert header == ["family", "id", "text", "expected", "options"], header
    for number, row in enumerate(body, start=2):
        assert len(row) == 5, f"{path}: line {number} has {len(row)} columns, not 5"
        family, case_id, text, expected, options = row
        settings = _options(options)
        cases.append(
            Case(
                family=family,
                id=case_id,
                text=text.replace("\\n", "\n"),
                expected=_expected(expected),
                now=datetime.fromisoformat(settings["now"]) if "now" in settings else DEFAULT_NOW,
                reference=datetime.fromisoformat(settings["ref"]) if "ref" in settings else None,
                field="field" in settings,
                default_date=date.fromisoformat(settings["default"])
                if "default" in settings
                else None,
                gap="gap" in settings,
            )
        )
    ids = Counter(case.id for case in cases)
    assert not [i for i, n in ids.items() if n > 1], "case ids must be unique"
    return cases


def _options(text: str) -> dict[str, str]:
    settings = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, _, value = part.partition("=")
        settings[key] = value
    return settings


def _expected(text: str) -> SwedishDate | None:
    if text == "-":
        return None
    start_text, _, end_text = text.partition("/")
    start = _value(start_text)
    if isinstance(start, datetime):
        return SwedishDate(start, _value(end_text) if end_text else None, False)
    end = _value(end_text) if end_text else date.fromordinal(start.toordinal() + 1)
    return SwedishDate(start, end, True)


def _value(text: str) -> datetime | date:
    if "T" in text:
        return datetime.fromisoformat(text)
    return date.fromisoformat(text)


def read(case: Case) -> SwedishDate | None:
    """What the parser makes of the case (SwedishDateError propagates)."""
    function = parse_swedish_datetime if case.field else find_swedish_datetime
    kwargs: dict = {"now": case.now}
    if case.default_date is not None:
        kwargs["default_date"] = case.default_date
    if case.reference is not None and "reference" in inspect.signature(function).parameters:
        kwargs["reference"] = case.reference
    return function(case.text, **kwargs)


def outcome(case: Case) -> Outcome:
    try:
        got = read(case)
    except SwedishDateError as exc:
        got, error = None, str(exc)
    else:
        error = ""
    if got is None:
        verdict = Verdict.RIGHT if case.expected is None else Verdict.NO_ANSWER
    elif case.expected is not None and _same(got, case.expected):
        verdict = Verdict.RIGHT
    else:
        verdict = Verdict.WRONG
    return Outcome(verdict, got, error)


def _same(a: SwedishDate, b: SwedishDate) -> bool:
    """Equal instants (aware datetimes compare across offsets) and the same all-day flag."""
    return (a.start, a.end, a.all_day) == (b.start, b.end, b.all_day) and type(a.start) is type(
        b.start
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=CASES)
    parser.add_argument("--verbose", action="store_true", help="list every case not right")
    parser.add_argument("--speed", action="store_true", help="time the table and hostile texts")
    args = parser.parse_args(argv)
    cases = load_cases(args.path)
    results = [(case, outcome(case)) for case in cases]
    families = list(dict.fromkeys(case.family for case in cases))
    print(
        f"{'':<10} {'':>5}   {'phrases with an answer':^28}   {'phrases with none':^19}\n"
        f"{'family':<10} {'cases':>5}   {'right':>8} {'no answer':>9} {'wrong':>7}"
        f"   {'refused':>9} {'answered':>9}"
    )
    for family in [*families, "all"]:
        chosen = [(c, r) for c, r in results if family in ("all", c.family)]
        _row(family, chosen)
    if args.speed:
        _speed(cases)
    if args.verbose:
        for case, result in results:
            if result.verdict is not Verdict.RIGHT:
                print(f"\n[{result.verdict}] {case.family}/{case.id}: {case.text!r}")
                print(f"    expected {case.expected}\n    got      {result.got} {result.error}")
    return 0


# texts that make a careless regex grammar backtrack or rescan: each must stay linear
HOSTILE = {
    "day list": "5, " * 10_000 + "december",
    "fractions": "1/2 " * 10_000,
    "times": "19.00 " * 10_000,
    "dated lines": "lör 5/12 kl 19. " * 10_000,
    "named days": "julafton kl 15 " * 10_000,
    "digits": "1" * 100_000,
}


def _speed(cases: list[Case]) -> None:
    """Phrases per second on the table, and seconds for each hostile text (~100 KB)."""
    start = time.perf_counter()
    rounds = 5
    for _ in range(rounds):
        for case in cases:
            outcome(case)
    elapsed = time.perf_counter() - start
    print(f"\ntable: {rounds * len(cases) / elapsed:,.0f} phrases/s")
    for name, text in HOSTILE.items():
        start = time.perf_counter()
        with contextlib.suppress(SwedishDateError):  # a refusal is a fine answer here
            find_swedish_datetime(text, now=DEFAULT_NOW)
        print(f"hostile {name:<12} {len(text):>8,} chars {time.perf_counter() - start:6.2f} s")


def _row(name: str, results: list[tuple[Case, Outcome]]) -> None:
    answered = Counter(r.verdict for c, r in results if c.expected is not None)
    refusals = Counter(r.verdict for c, r in results if c.expected is None)
    print(
        f"{name:<10} {len(results):>5}   {answered[Verdict.RIGHT]:>8} "
        f"{answered[Verdict.NO_ANSWER]:>9} {answered[Verdict.WRONG]:>7}"
        f"   {refusals[Verdict.RIGHT]:>9} {refusals[Verdict.WRONG]:>9}"
    )


if __name__ == "__main__":
    sys.exit(main())
