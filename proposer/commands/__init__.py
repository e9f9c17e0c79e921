"""The ``rulebook`` verbs the proposer adds (``propose``, ``backtest``, ``proposals``), found
through the ``rulebook.commands`` entry-point group (``rules`` never imports ``proposer``).

:func:`proposer_command` is :func:`rules.cli.service.service_command` (``--database-url``,
``--json``, a :class:`~rules.cli.service.Cli`, errors of the rules package as messages and exit
codes) that also turns a :class:`~proposer.errors.ProposerError` into a message naming each
located problem and its exit code (1; 3 for a proposal that does not exist). Nothing is
written when a verb fails: its transaction is rolled back.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from proposer.errors import ProposerError
from rules.cli.output import echo_json
from rules.cli.service import Cli, service_command

__all__ = ["fail_proposer", "proposer_command"]


def fail_proposer(exc: ProposerError, as_json: bool) -> NoReturn:
    """Print ``exc`` (as JSON on stdout with ``--json``, else on stderr) and exit."""
    if as_json:
        echo_json(
            {
                "error": str(exc).splitlines()[0],
                "kind": type(exc).__name__,
                "problems": [p.as_dict() for p in exc.problems],
            }
        )
    else:
        click.echo(f"error: {exc}", err=True)
    sys.exit(exc.exit_code or 1)


def proposer_command(func: Callable[..., None]) -> Callable[..., None]:
    """Like :func:`rules.cli.service.service_command`, and ProposerError is a message too."""

    @functools.wraps(func)
    def run(cli: Cli, **kwargs: Any) -> None:
        try:
            func(cli, **kwargs)
        except ProposerError as exc:
            fail_proposer(exc, cli.as_json)

    return service_command(run)
