"""The ``rulebook`` command line (DESIGN §4). Every verb takes ``--json`` and exits non-zero on
any error, with a message naming what was wrong.

The engine verbs (``ruleset check``, ``eval``, ``dmn``) live here and use only the pure core
(``dmn export NAME`` reads a recorded version through :mod:`rules.commands.dmn`, imported then).
The verbs backed by the system of record live in :mod:`rules.commands` and are imported on
first use (:class:`LazyGroup`), so importing this module loads no SQLAlchemy. Packages built on
``rules`` contribute verbs through the ``rulebook.commands`` entry-point group (the review app's
``serve``), since ``rules`` never imports them.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import click

from rules.core.document import SLUG, Document, load_document
from rules.errors import Problem, RulesError, suggest

__all__ = [
    "COMMANDS",
    "ENTRY_POINT_GROUP",
    "LazyGroup",
    "echo_json",
    "fail",
    "json_option",
    "main",
    "parse_facts",
    "read_bytes",
]

ENTRY_POINT_GROUP = "rulebook.commands"
# Verbs backed by the system of record: name -> "module:attribute", imported on first use.
COMMANDS = {
    "apikeys": "rules.commands.accounts:apikeys",
    "audit": "rules.commands.audit:audit",
    "db": "rules.commands.db:db",
    "decide": "rules.commands.decisions:decide",
    "demo": "rules.commands.demo:demo",
    "history": "rules.commands.history:history",
    "replay": "rules.commands.decisions:replay",
    "users": "rules.commands.accounts:users",
}
RULESET_COMMANDS = {
    name: f"rules.commands.rulesets:{name}_"
    for name in ("activate", "create", "diff", "list", "show", "versions")
}

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable output.")


class LazyGroup(click.Group):
    """A group whose subcommands are imported when first used: from ``lazy`` (name ->
    ``"module:attribute"``) and, if ``entry_point_group`` is given, from installed packages'
    entry points in that group. Built-in verbs win over a plugin of the same name."""

    def __init__(
        self,
        *args: Any,
        lazy: Mapping[str, str] | None = None,
        entry_point_group: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self.entry_point_group = entry_point_group

    def _targets(self) -> dict[str, str]:
        targets: dict[str, str] = {}
        if self.entry_point_group:
            from importlib.metadata import entry_points

            targets.update((ep.name, ep.value) for ep in entry_points(group=self.entry_point_group))
        targets.update(self.lazy)
        return targets

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._targets()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        target = self.lazy.get(cmd_name) or self._targets().get(cmd_name)
        if target is None:
            return None
        command = _load_command(cmd_name, target)
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but a verb that cannot be loaded is listed with the reason."""
        rows: list[tuple[str, str]] = []
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(n) for n in names), default=0)
        for name in names:
            try:
                command = self.get_command(ctx, name)
            except click.ClickException as exc:
                rows.append((name, f"(unavailable: {exc.message})"))
                continue
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        unknown = name[:1] not in ("", "-") and self.get_command(ctx, name) is None
        if unknown and not ctx.resilient_parsing:
            hint = suggest(name, self.list_commands(ctx))
            ctx.fail(f"No such command {name!r}." + (f" Did you mean {hint!r}?" if hint else ""))
        return super().resolve_command(ctx, args)


def _load_command(name: str, target: str) -> click.Command:
    module_name, _, attribute = target.partition(":")
    try:
        command = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise click.ClickException(
            f"the {name!r} command ({target}) cannot be loaded: {exc}"
        ) from exc
    if not isinstance(command, click.Command):
        raise click.ClickException(f"the {name!r} command ({target}) is not a click command")
    return command


def fail(exc: RulesError, as_json: bool) -> NoReturn:
    """Print ``exc`` (as JSON on stdout with ``--json``, else on stderr) and exit with its code."""
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


def read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise click.FileError(path, hint=exc.strerror) from exc


def _document(path: str, as_json: bool) -> Document:
    try:
        return load_document(read_bytes(path))
    except RulesError as exc:
        fail(exc, as_json)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    entry_point_group=ENTRY_POINT_GROUP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="rulebook")
def main() -> None:
    """Rulebook: a governed decision service."""


@main.group(cls=LazyGroup, lazy=RULESET_COMMANDS)
def ruleset() -> None:
    """Check, create, show, diff and activate rulesets."""


@ruleset.command("check")
@click.argument("file")
@json_option
def check(file: str, as_json: bool) -> None:
    """Run the static checks on FILE; exit 1 if any is an error."""
    from rules.core.check import check_document

    doc = _document(file, as_json)
    problems = check_document(doc)
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        echo_json(
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


def parse_facts(text: str, as_json: bool) -> Any:
    source = text
    if text.startswith("@"):
        source = read_bytes(text[1:]).decode("utf-8")
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        problem = Problem("RB400", "facts", f"not valid JSON: {exc.msg} at column {exc.colno}")
        fail(RulesError("--facts must be a JSON object", [problem]), as_json)


@main.command("eval")
@click.argument("file")
@click.option("--facts", "facts_text", required=True, help="JSON object, or @FILE.")
@json_option
def eval_(file: str, facts_text: str, as_json: bool) -> None:
    """Evaluate FILE on facts; nothing is recorded."""
    from rules.core.engine import evaluate

    doc = _document(file, as_json)
    facts = parse_facts(facts_text, as_json)
    try:
        result = evaluate(doc, facts)
    except RulesError as exc:
        fail(exc, as_json)
    if as_json:
        echo_json({"ruleset": doc.name, "version_hash": doc.hash, **result.to_dict()})
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

    from rules.core.dmn import import_dmn

    try:
        doc = import_dmn(read_bytes(model), decision=decision)
    except RulesError as exc:
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
    except RulesError as exc:
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
            fail(RulesError(message), False)
        return _document(source, False), None
    if not SLUG.match(source):
        fail(
            RulesError(
                f"{source!r} is neither an existing file nor a ruleset name (a ruleset name is "
                "a slug such as mortgage-approval)"
            ),
            False,
        )
    from rules.commands.dmn import recorded_document
    from rules.store import default_url

    try:
        return recorded_document(database_url or default_url(), source, number)
    except RulesError as exc:
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
    except RulesError as exc:
        fail(exc, as_json)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(str(report))
    sys.exit(0 if report.passed else 1)
