"""Rewrite the expected-result files beside the corpus files (see tests/expected.py).

    .venv/bin/python -m tests.regen_expected          # every corpus file
    .venv/bin/python -m tests.regen_expected hulme    # only files whose name contains it

Each file keeps the ``now:`` it was read at; a new corpus file gets a default one.
Review the diff (`git diff tests/data`) before committing: it is what changed in reading.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tests.expected import corpus_files, default_now, recorded_now, render


def main(argv: Sequence[str]) -> int:
    chosen = [c for c in corpus_files() if not argv or any(a in c.path.name for a in argv)]
    if not chosen:
        sys.stderr.write(f"no corpus file matches {' '.join(argv)}\n")
        return 1
    changed = 0
    for corpus in chosen:
        text = render(corpus, recorded_now(corpus) or default_now(corpus))
        path = corpus.expected_path
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            path.write_text(text, encoding="utf-8")
            changed += 1
            sys.stdout.write(f"{'wrote' if old is None else 'changed'} {path}\n")
    sys.stdout.write(f"{changed} of {len(chosen)} expected files changed\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
