"""Every command and subcommand explains itself in ``--help`` (as sqlite-utils'
tests/test_docs.py checks its commands): a command added without help text fails here."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from aggregator.cli import build_parser, main


def subcommands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str | None, argparse.ArgumentParser]]:
    """(command words, the help its parent lists for it, its parser), depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {a.dest: a.help for a in action._choices_actions}
            for name, child in action.choices.items():
                yield (*path, name), listed.get(name), child
                yield from subcommands(child, (*path, name))


def flat(text: str) -> str:
    """Help output without argparse's line wrapping, for substring checks."""
    return " ".join(text.split())


COMMANDS = [(words, summary) for words, summary, _ in subcommands(build_parser())]
PARSERS = {words: parser for words, _, parser in subcommands(build_parser())}


def help_of(words: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*words, "--help"])
    assert exit_info.value.code == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def test_the_command_list_is_complete() -> None:
    """The walk below sees the commands DESIGN.md promises (so it walks at all)."""
    names = {" ".join(words) for words, _ in COMMANDS}
    assert {"run", "harvest", "publish", "serve", "sources list", "sources check"} <= names
    assert {"events list", "events show", "events merge", "events split"} <= names


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    out = flat(help_of((), capsys))
    assert out.startswith("usage: aggregator")
    for action in build_parser()._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            assert action.help, f"aggregator {action.option_strings[0]} has no help text"
            assert f"{', '.join(action.option_strings)} " in out
    for words, summary in COMMANDS:
        if len(words) == 1:
            assert summary, f"`{words[0]}` has no help text in the command list"
            assert f"{words[0]} {flat(summary)}" in out


@pytest.mark.parametrize(("words", "summary"), COMMANDS, ids=[" ".join(w) for w, _ in COMMANDS])
def test_every_command_has_help_text(
    words: tuple[str, ...], summary: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert summary and summary.strip(), f"`aggregator {' '.join(words)}` has no help text"
    out = flat(help_of(words, capsys))
    assert out.startswith(f"usage: aggregator {' '.join(words)}")
    for action in PARSERS[words]._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            if isinstance(action, argparse._SubParsersAction):
                for child in action._choices_actions:
                    assert f"{child.dest} {flat(child.help or '')}" in out
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help != argparse.SUPPRESS, (
            f"`aggregator {' '.join(words)}`: {name} has no help text"
        )
        assert (action.option_strings or [action.metavar or action.dest])[0] in out
