"""What ``harvest`` and ``run --once`` show while they work: on a terminal a live line
(sources done, events, failures) and a final table; nothing when not a terminal (cron,
logs), where the summary and the log lines say what happened."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from aggregator.model import Outcome
from aggregator.pipeline import SourceReport


class Progress:
    """A callable for ``pipeline.harvest_all(progress=…)``; thread-safe."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.total = total
        self.done = 0
        self.events = 0
        self.failed = 0
        self._lock = threading.Lock()

    def __call__(self, report: SourceReport) -> None:
        with self._lock:
            self.done += 1
            self.events += report.events
            self.failed += report.outcome == Outcome.FAILED
            if self.live:
                self.stream.write(
                    f"\r\x1b[K  {self.done}/{self.total} sources, {self.events} events, "
                    f"{self.failed} failed — {report.source_id}: {report.outcome}"
                )
                self.stream.flush()

    def finish(self, reports: Sequence[SourceReport], out: TextIO | None = None) -> None:
        """Clear the live line and, on a terminal, print one row per source."""
        if not self.live:
            return
        self.stream.write("\r\x1b[K")
        self.stream.flush()
        print_table(reports, out or sys.stdout)


def print_table(reports: Sequence[SourceReport], out: TextIO) -> None:
    rows = [("SOURCE", "RESULT", "EVENTS", "NEW", "CHANGED", "REMOVED", "TIME", "NOTE")]
    for r in reports:
        note = r.message if r.outcome in (Outcome.FAILED, Outcome.HELD) else ""
        if r.outcome == Outcome.SKIPPED or (r.outcome == Outcome.FAILED and r.reason):
            note = "; ".join(p for p in (note, r.reason) if p)
        elif r.advice:
            note = f"{len(r.advice)} råd: {r.advice[0].text}"
        elif r.warnings:
            note = f"{len(r.warnings)} warnings"
        rows.append(
            (
                r.source_id,
                r.outcome,
                str(r.events),
                str(r.new),
                str(r.changed),
                str(r.removed),
                f"{r.duration_ms / 1000:.1f} s",
                note[:100],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    right = {2, 3, 4, 5, 6}
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row[:-1])
        ]
        out.write("  ".join(cells) + "  " + row[-1] + "\n")
