"""The ``rulebook`` command line (DESIGN §4). Every verb takes ``--json`` and exits non-zero on
any error, with a message naming what was wrong."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from rules.document import Document, load_document
from rules.errors import Problem, RulesError

__all__ = ["main"]


def _fail(exc: RulesError, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(json.dumps(_error_json(exc), indent=2, ensure_ascii=False))
    else:
        click.echo(f"error: {exc}", err=True)
    sys.exit(exc.exit_code if exc.exit_code else 1)


def _error_json(exc: RulesError) -> dict[str, Any]:
    return {
        "error": str(exc).splitlines()[0],
        "kind": type(exc).__name__,
        "problems": [p.as_dict() for p in exc.problems],
    }


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise click.FileError(path, hint=exc.strerror) from exc


def _document(path: str, as_json: bool) -> Document:
    try:
        return load_document(_read(path))
    except RulesError as exc:
        _fail(exc, as_json)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rulebook")
def main() -> None:
    """Rulebook: a governed decision service."""


@main.group()
def ruleset() -> None:
    """Check ruleset documents."""


@ruleset.command("check")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable output.")
def check(file: str, as_json: bool) -> None:
    """Run the static checks on FILE; exit 1 if any is an error."""
    from rules.check import check_document

    doc = _document(file, as_json)
    problems = check_document(doc)
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        _echo_json(
            {
                "file": file,
                "name": doc.name,
                "hash": doc.hash,
                "ok": not errors,
                "problems": [p.as_dict() for p in problems],
            }
        )
    else:
        for p in problems:
            click.echo(f"{file}: {p.severity}: {p}")
        warnings = len(problems) - len(errors)
        click.echo(f"{doc.name}: {len(errors)} error(s), {warnings} warning(s)")
    sys.exit(1 if errors else 0)


def _parse_facts(text: str, as_json: bool) -> Any:
    source = text
    if text.startswith("@"):
        source = _read(text[1:]).decode("utf-8")
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        problem = Problem("RB400", "facts", f"not valid JSON: {exc.msg} at column {exc.colno}")
        _fail(RulesError("--facts must be a JSON object", [problem]), as_json)


@main.command("eval")
@click.argument("file")
@click.option("--facts", "facts_text", required=True, help="JSON object, or @FILE.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable output.")
def eval_(file: str, facts_text: str, as_json: bool) -> None:
    """Evaluate FILE on facts; nothing is recorded."""
    from rules.engine import evaluate

    doc = _document(file, as_json)
    facts = _parse_facts(facts_text, as_json)
    try:
        result = evaluate(doc, facts)
    except RulesError as exc:
        _fail(exc, as_json)
    if as_json:
        _echo_json({"ruleset": doc.name, "version_hash": doc.hash, **result.to_dict()})
        return
    click.echo(f"outputs:   {json.dumps(result.outputs, ensure_ascii=False)}")
    click.echo(f"rule_ids:  {', '.join(result.rule_ids) or '(defaults)'}")
    click.echo(f"matched:   {', '.join(result.matched) or '(none)'}")
    click.echo(f"exception: {'yes' if result.exception else 'no'}")
    if result.error:
        click.echo(f"error:     {result.error}")
    for rule_id, reason in result.reasons.items():
        click.echo(f"reason:    {rule_id}: {reason}")


@main.group()
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

    from rules.dmn import import_dmn

    try:
        doc = import_dmn(_read(model), decision=decision)
    except RulesError as exc:
        _fail(exc, as_json)
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
@click.argument("file")
@click.option("-o", "--output", help="Write the DMN model here instead of stdout.")
def dmn_export(file: str, output: str | None) -> None:
    """Write a ruleset document FILE as a DMN 1.5 model."""
    from rules.dmn import export_dmn

    doc = _document(file, False)
    try:
        text = export_dmn(doc)
    except RulesError as exc:
        _fail(exc, False)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@dmn.command("verify")
@click.argument("model")
@click.argument("tests")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable output.")
def dmn_verify(model: str, tests: str, as_json: bool) -> None:
    """Run a DMN TCK test file through import and the engine; exit 1 on any failure."""
    from rules.dmn import verify

    try:
        report = verify(_read(model), _read(tests))
    except RulesError as exc:
        _fail(exc, as_json)
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(str(report))
    sys.exit(0 if report.passed else 1)
