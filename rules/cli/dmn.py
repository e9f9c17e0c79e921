"""``rulebook dmn``: import a DMN decision table, export a ruleset as DMN, run TCK files.

Pure engine verbs, except ``dmn export NAME``, which reads a recorded version through
:func:`rules.cli.rulesets.recorded_document`, imported only then: exporting a document file
loads no database code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from rules.cli.output import echo_json, fail, json_option, load_document_file, read_bytes
from rules.core.document import SLUG, Document
from rules.errors import RulebookError

__all__ = ["dmn"]


@click.group()
def dmn() -> None:
    """DMN interchange: import, export, and run DMN TCK test files."""


@dmn.command("import")
@click.argument("model")
@click.option("-o", "--output", help="Write the ruleset document here (YAML) instead of stdout.")
@click.option("--decision", help="Which decision to import when the model has several.")
@click.option("--json", "as_json", is_flag=True, help="Write JSON instead of YAML.")
def dmn_import(model: str, output: str | None, decision: str | None, as_json: bool) -> None:
    """Turn a DMN decision table into a ruleset document."""
    import yaml

    from rules.core.dmn import import_dmn

    try:
        doc = import_dmn(read_bytes(model), decision=decision)
    except RulebookError as exc:
        fail(exc, as_json)
    data = doc.to_dict()
    if as_json:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}: {doc.name}, {len(doc.rules)} rules", err=True)
    else:
        click.echo(text, nl=False)


@dmn.command("export")
@click.argument("source", metavar="NAME|FILE")
@click.option("-o", "--output", help="Write the DMN model here instead of stdout.")
@click.option(
    "--version", "number", type=click.IntRange(min=1), help="Export this version of NAME."
)
@click.option(
    "--database-url",
    envvar="RULEBOOK_DATABASE_URL",
    show_envvar=True,
    metavar="URL",
    help="SQLAlchemy URL of the database that holds NAME (default: the instance folder's).",
)
def dmn_export(
    source: str, output: str | None, number: int | None, database_url: str | None
) -> None:
    """Write a ruleset as a DMN 1.5 model: the active version of the recorded ruleset NAME
    (or --version N), or a ruleset document FILE.

    The argument is read as a FILE when a file of that name exists, and as a ruleset NAME
    otherwise; to export a recorded ruleset whose name is also a file here, run from another
    folder. DMN has no place for review settings or protected/pii flags, so they are not
    written.
    """
    from rules.core.dmn import export_dmn

    doc, number = _export_source(source, number, database_url)
    try:
        text = export_dmn(doc)
    except RulebookError as exc:
        fail(exc, False)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise click.FileError(output, hint=exc.strerror) from exc
        which = f" version {number}" if number is not None else ""
        click.echo(f"wrote {output}: {doc.name}{which}, {len(doc.rules)} rules", err=True)
    else:
        click.echo(text, nl=False)


def _export_source(
    source: str, number: int | None, database_url: str | None
) -> tuple[Document, int | None]:
    """The document ``dmn export`` writes, and its version number when it is recorded."""
    if Path(source).is_file():
        if number is not None:
            message = f"{source} is a file, which has no versions: use --version with a NAME"
            fail(RulebookError(message), False)
        return load_document_file(source, False), None
    if not SLUG.match(source):
        fail(
            RulebookError(
                f"{source!r} is neither an existing file nor a ruleset name (a ruleset name is "
                "a slug such as mortgage-approval)"
            ),
            False,
        )
    from rules.cli.rulesets import recorded_document
    from rules.store import default_url

    try:
        return recorded_document(database_url or default_url(), source, number)
    except RulebookError as exc:
        fail(exc, False)


@dmn.command("verify")
@click.argument("model")
@click.argument("tests")
@json_option
def dmn_verify(model: str, tests: str, as_json: bool) -> None:
    """Run a DMN TCK test file through import and the engine; exit 1 on any failure."""
    from rules.core.dmn import verify

    try:
        report = verify(read_bytes(model), read_bytes(tests))
    except RulebookError as exc:
        fail(exc, as_json)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(str(report))
    sys.exit(0 if report.passed else 1)
