"""``rulebook ruleset create|list|show|versions|diff|activate``: recorded rulesets.

A ruleset's first version comes from ``create``; later versions only from proposals accepted
in review (DESIGN §3), so there is deliberately no verb that adds a version from a file.
:func:`recorded_document` is the database half of ``rulebook dmn export NAME``.
"""

from __future__ import annotations

import click
import yaml
from sqlalchemy.exc import SQLAlchemyError

from rules.cli.output import read_bytes
from rules.cli.service import Cli, database_error, service_command, when
from rules.core.document import Document, load_document
from rules.errors import NotFoundError
from rules.store import versions
from rules.store.versions import ActivationInfo, VersionInfo

__all__ = [
    "activate_",
    "create_",
    "diff_",
    "list_",
    "recorded_document",
    "show_",
    "versions_",
]


@click.command("create")
@click.argument("file")
@service_command
def create_(cli: Cli, file: str) -> None:
    """Record FILE as version 1 of a new ruleset and activate it."""
    doc = load_document(read_bytes(file))
    with cli.session() as session:
        info = versions.create_ruleset(session, doc, cli.actor)
    cli.emit(
        info.to_dict(with_document=False),
        [f"created {info.ruleset} version {info.number} (sha256 {info.hash}), active"],
    )


@click.command("list")
@service_command
def list_(cli: Cli) -> None:
    """List the rulesets with their active and latest versions."""
    with cli.session() as session:
        found = versions.list_rulesets(session)
    lines = [f"{'name':<32} {'active':>6} {'latest':>6}  title"]
    lines += [
        f"{r.name:<32} {r.active_number or '-':>6} {r.latest_number:>6}  {r.title or ''}"
        for r in found
    ]
    cli.emit({"rulesets": [r.to_dict() for r in found]}, lines if found else ["no rulesets yet"])


@click.command("show")
@click.argument("name")
@click.option("--version", "number", type=int, help="Show this version (default: the active one).")
@service_command
def show_(cli: Cli, name: str, number: int | None) -> None:
    """Print a version's document as YAML (default: the active one)."""
    with cli.session() as session:
        info = versions.get_version(session, name, number)
    header = (
        f"# {info.ruleset} version {info.number}{' (active)' if info.active else ''}, "
        f"sha256 {info.hash}, by {info.author} at {when(info.created_at)}"
    )
    body = yaml.safe_dump(info.document.to_dict(), sort_keys=False, allow_unicode=True)
    cli.emit(info.to_dict(), [header, body.rstrip("\n")])


def _version_line(v: VersionInfo) -> str:
    parent = str(v.parent) if v.parent is not None else "-"
    mark = "*" if v.active else " "
    return f"{mark} {v.number:>7}  {v.hash[:12]}  {parent:>6}  {v.author:<24} {when(v.created_at)}"


def _activation_line(a: ActivationInfo) -> str:
    was = f" (was {a.previous})" if a.previous is not None else ""
    note = f" ({a.note})" if a.note else ""
    return f"  {when(a.at)}  version {a.number}{was} by {a.actor}{note}"


@click.command("versions")
@click.argument("name")
@service_command
def versions_(cli: Cli, name: str) -> None:
    """List a ruleset's versions and its activation history."""
    with cli.session() as session:
        found = versions.list_versions(session, name)
        history = versions.activations(session, name)
    active = next((v.number for v in found if v.active), None)
    lines = [
        f"{name}: {len(found)} version(s), version {active or '(none)'} active",
        f"  {'version':>7}  {'hash':<12}  {'parent':>6}  {'author':<24} created",
        *(_version_line(v) for v in reversed(found)),
        "activations:",
        *(_activation_line(a) for a in history),
    ]
    data = {
        "ruleset": name,
        "active_version": active,
        "versions": [v.to_dict(with_document=False) for v in found],
        "activations": [a.to_dict() for a in history],
    }
    cli.emit(data, lines)


@click.command("diff")
@click.argument("name")
@click.argument("a", type=int)
@click.argument("b", type=int)
@service_command
def diff_(cli: Cli, name: str, a: int, b: int) -> None:
    """Show what changed from version A to version B of a ruleset."""
    with cli.session() as session:
        diff = versions.diff_versions(session, name, a, b)

    def names(items: tuple[str, ...]) -> str:
        return ", ".join(items) or "-"

    lines = [
        f"{name}: version {a} -> {b}",
        f"  rules added:      {names(diff.added)}",
        f"  rules removed:    {names(diff.removed)}",
        f"  rules changed:    {names(diff.changed)}",
        f"  rules moved:      {names(diff.moved)}",
        f"  settings changed: {names(diff.settings_changed)}",
    ]
    if diff.text:
        lines.append(diff.text.rstrip("\n"))
    cli.emit(diff.to_dict(), lines)


@click.command("activate")
@click.argument("name")
@click.argument("number", type=int)
@click.option("--note", help="Why this version is being activated (kept in the record).")
@service_command
def activate_(cli: Cli, name: str, number: int, note: str | None) -> None:
    """Make version NUMBER active (activating an older one rolls back)."""
    with cli.session() as session:
        info = versions.activate(session, name, number, cli.actor, note)
    was = f" (was {info.previous})" if info.previous is not None else ""
    cli.emit(info.to_dict(), [f"{name}: version {info.number} is now active{was}"])


def recorded_document(url: str, name: str, number: int | None) -> tuple[Document, int]:
    """Version ``number`` (default: the active one) of ruleset ``name``: its document and
    number. NotFoundError if there is no such ruleset (saying that no such file exists
    either) or version; UnavailableError if the database cannot be used."""
    cli = Cli(url, as_json=False)
    try:
        with cli.session() as session:
            try:
                versions.get_ruleset(session, name)
            except NotFoundError as exc:
                raise NotFoundError(f"there is no file {name!r}, and {exc}") from exc
            info = versions.get_version(session, name, number)
        return info.document, info.number
    except SQLAlchemyError as exc:
        raise database_error(exc, url) from exc
    finally:
        cli.close()
