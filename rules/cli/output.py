"""What every verb shares: ``--json``, printing, reading files and facts, and failing.

:func:`fail` is the one place an error becomes output and an exit status: its message (as JSON
on stdout with ``--json``, else on stderr) and the error's ``exit_code`` (1; 3 for something
that does not exist; 4 for a database that cannot be reached).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from rules.core.document import Document, load_document
from rules.errors import Problem, RulebookError

__all__ = [
    "echo_json",
    "fail",
    "json_option",
    "load_document_file",
    "parse_facts",
    "read_bytes",
]

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable output.")


def fail(exc: RulebookError, as_json: bool) -> NoReturn:
    """Print ``exc`` (as JSON on stdout with ``--json``, else on stderr) and exit with its code."""
    if as_json:
        click.echo(json.dumps(_error_json(exc), indent=2, ensure_ascii=False))
    else:
        click.echo(f"error: {exc}", err=True)
    sys.exit(exc.exit_code if exc.exit_code else 1)


def _error_json(exc: RulebookError) -> dict[str, Any]:
    return {
        "error": str(exc).splitlines()[0],
        "kind": type(exc).__name__,
        "problems": [p.as_dict() for p in exc.problems],
    }


def read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise click.FileError(path, hint=exc.strerror) from exc


def load_document_file(path: str, as_json: bool) -> Document:
    try:
        return load_document(read_bytes(path))
    except RulebookError as exc:
        fail(exc, as_json)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


def parse_facts(text: str, as_json: bool, field: str = "facts") -> Any:
    """The JSON of option ``--<field>`` (text, or ``@FILE``); a clear error naming it."""
    source = text
    if text.startswith("@"):
        source = read_bytes(text[1:]).decode("utf-8")
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        problem = Problem("RB400", field, f"not valid JSON: {exc.msg} at column {exc.colno}")
        fail(RulebookError(f"--{field} must be a JSON object", [problem]), as_json)
