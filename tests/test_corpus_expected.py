"""What we read from each real-world corpus file matches the expected file beside it
(tests/expected.py explains the files; `python -m tests.regen_expected` rewrites them)."""

from __future__ import annotations

import difflib

import pytest

from tests.expected import (
    FOLDERS,
    REGENERATE,
    SUFFIX,
    CorpusFile,
    corpus_files,
    recorded_now,
    render,
)

CORPUS = corpus_files()


def test_every_corpus_file_has_an_expected_file_and_no_expected_file_is_orphaned() -> None:
    assert len(CORPUS) > 70 and {c.kind for c in CORPUS} == {"ical", "feed", "html", "facebook"}
    missing = [c.id for c in CORPUS if not c.expected_path.exists()]
    assert missing == [], f"no expected file for {missing}: run `{REGENERATE}`"
    inputs = {c.expected_path for c in CORPUS}
    orphans = [p for f in FOLDERS for p in f.path.glob(f"*{SUFFIX}") if p not in inputs]
    assert orphans == [], f"expected files without their corpus file: {orphans}"


@pytest.mark.parametrize("corpus", CORPUS, ids=[c.id for c in CORPUS])
def test_what_we_read_matches_the_expected_file(corpus: CorpusFile) -> None:
    now = recorded_now(corpus)
    assert now is not None, f"{corpus.expected_path} has no `now:` line"
    expected = corpus.expected_path.read_text(encoding="utf-8")
    actual = render(corpus, now)
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            f"{corpus.id}{SUFFIX} (expected)",
            "what we read now",
            lineterm="",
            n=1,
        )
        pytest.fail(
            f"what we read from {corpus.id} changed; if that is right, run "
            f"`{REGENERATE} {corpus.path.name}` and commit the diff:\n" + "\n".join(diff),
            pytrace=False,
        )
