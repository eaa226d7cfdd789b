"""The `fnforge` Typer app, and the output options every command takes.

`--quiet` and `--json` are global: they may stand before the command name
(`fnforge --json check ...`) or anywhere among its own options (`fnforge check --json ...`).
The app's group class adds both options to every command and subcommand when the command
tree is built, so a command module only registers its commands on `app` and gets them too.
Command modules import `app` from here (not from `fnforge.cli`, which imports them).
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from fnforge.cli.output import MODE, set_mode

_QUIET = ("--quiet", "-q")
_JSON = ("--json",)
_QUIET_HELP = "Print only results and errors."
_JSON_HELP = "Print progress and results as JSON lines."


def _turn_quiet_on(value: bool) -> None:
    if value:  # never turns a mode off: `fnforge --quiet check` stays quiet
        MODE.quiet = True


def _turn_json_on(value: bool) -> None:
    if value:
        MODE.json_lines = True


def _output_options() -> list[Any]:
    """--quiet and --json as the parameters of a template command, to copy onto others.

    Built through Typer itself (it bundles its own click), not by hand."""
    template = typer.Typer(add_completion=False)

    @template.command()
    def _template(
        quiet: bool = typer.Option(
            False, *_QUIET, help=_QUIET_HELP, expose_value=False, callback=_turn_quiet_on
        ),
        json_lines: bool = typer.Option(
            False, *_JSON, help=_JSON_HELP, expose_value=False, callback=_turn_json_on
        ),
    ) -> None: ...

    return list(typer.main.get_command(template).params)


def _add_output_options(command: Any, options: list[Any]) -> None:
    """Give `command` (and, for a group, every command under it) --quiet and --json,
    unless it already has an option of that name."""
    taken = {opt for param in command.params for opt in getattr(param, "opts", [])}
    command.params.extend(o for o in options if taken.isdisjoint(o.opts))
    for sub in getattr(command, "commands", {}).values():
        _add_output_options(sub, options)


class OutputOptionsGroup(TyperGroup):
    """The root command group: every command under it accepts --quiet and --json."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        options = _output_options()
        for command in self.commands.values():
            _add_output_options(command, options)


app = typer.Typer(
    name="fnforge",
    cls=OutputOptionsGroup,
    help=(
        "Train an LLM agent's functions instead of its weights.\n\n"
        "A function set is a git branch you own; every proposed edit is a commit, kept only "
        "if it passes the gates (static, property tests in a sandbox, validation). "
        "Start with `fnforge init DIR --task gsm8k`, or `fnforge demo` for a tour."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(
    quiet: bool = typer.Option(False, *_QUIET, help=_QUIET_HELP),
    json_lines: bool = typer.Option(False, *_JSON, help=_JSON_HELP),
) -> None:
    set_mode(quiet=quiet, json_lines=json_lines)
