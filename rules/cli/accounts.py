"""``rulebook users`` and ``rulebook apikeys``: people and applications."""

from __future__ import annotations

import sys

import click

from rules.cli.service import Cli, service_command, when
from rules.errors import InvalidRequestError, Problem
from rules.store import accounts
from rules.store.models import ROLES, SCOPES

__all__ = ["apikeys", "users"]


@click.group()
def users() -> None:
    """Create and list review-app users; reset a forgotten password."""


def _password(from_stdin: bool, refused: str = "the user cannot be created") -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidRequestError(
                refused, [Problem("RB703", "password", "--password-stdin read an empty line")]
            )
        return password
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user may do.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (else: prompt).",
)
@service_command
def create_user(cli: Cli, name: str, role: str, password_stdin: bool) -> None:
    """Create a review-app user NAME with a role."""
    password = _password(password_stdin)
    with cli.session() as session:
        info = accounts.create_user(session, name, role, password, cli.actor)
    cli.emit(
        {"username": info.username, "role": info.role, "created_at": info.created_at.isoformat()},
        [f"created user {info.username} ({info.role})"],
    )


@users.command("reset-password")
@click.argument("name")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the temporary password from the first line of standard input (else: prompt).",
)
@service_command
def reset_password(cli: Cli, name: str, password_stdin: bool) -> None:
    """Give user NAME a temporary password: their sessions end, and at their next sign-in
    they must choose a new one. Recorded as user.password_reset."""
    password = _password(password_stdin, "the password cannot be reset")
    with cli.session() as session:
        info = accounts.reset_password(session, name, password, cli.actor)
    cli.emit(
        {"username": info.username, "must_change_password": info.must_change_password},
        [f"reset the password of {info.username}: they must change it at their next sign-in"],
    )


@users.command("list")
@service_command
def list_users(cli: Cli) -> None:
    """List the users and their roles."""
    with cli.session() as session:
        found = accounts.list_users(session)
    lines = [f"{'username':<24} {'role':<9} {'status':<8} created"]
    lines += [
        f"{u.username:<24} {u.role:<9} {'disabled' if u.disabled else 'active':<8} "
        f"{when(u.created_at)}{'  (must change password)' if u.must_change_password else ''}"
        for u in found
    ]
    data = [
        {
            "username": u.username,
            "role": u.role,
            "disabled": u.disabled,
            "must_change_password": u.must_change_password,
        }
        for u in found
    ]
    cli.emit({"users": data}, lines if found else ["no users yet"])


@click.group()
def apikeys() -> None:
    """Create, list and revoke the API keys that applications use."""


def _key_dict(info: accounts.ApiKeyInfo) -> dict[str, object]:
    return {
        "name": info.name,
        "prefix": info.prefix,
        "scopes": sorted(info.scopes),
        "created_at": info.created_at.isoformat(),
        "revoked": info.revoked,
    }


@apikeys.command("create")
@click.argument("name")
@click.option(
    "--scopes",
    required=True,
    metavar="LIST",
    help=f"Comma-separated, from: {', '.join(SCOPES)}.",
)
@service_command
def create_key(cli: Cli, name: str, scopes: str) -> None:
    """Create an API key NAME; the key is printed once and never stored."""
    with cli.session() as session:
        info, token = accounts.create_api_key(session, name, scopes.split(","), cli.actor)
    scope_list = ", ".join(sorted(info.scopes))
    cli.note(f"created API key {info.name!r} (prefix {info.prefix}), scopes {scope_list}")
    cli.note("Store it now: it is shown only this once.")
    cli.emit({**_key_dict(info), "key": token}, [token])


@apikeys.command("list")
@service_command
def list_keys(cli: Cli) -> None:
    """List the API keys (never the keys themselves)."""
    with cli.session() as session:
        found = accounts.list_api_keys(session)
    lines = [f"{'prefix':<14} {'name':<24} {'scopes':<20} {'status':<8} created"]
    lines += [
        f"{k.prefix:<14} {k.name:<24} {','.join(sorted(k.scopes)):<20} "
        f"{'revoked' if k.revoked else 'active':<8} {when(k.created_at)}"
        for k in found
    ]
    cli.emit({"api_keys": [_key_dict(k) for k in found]}, lines if found else ["no API keys yet"])


@apikeys.command("revoke")
@click.argument("prefix")
@service_command
def revoke_key(cli: Cli, prefix: str) -> None:
    """Revoke the API key with PREFIX (as shown by `apikeys list`)."""
    with cli.session() as session:
        info = accounts.revoke_api_key(session, prefix, cli.actor)
    cli.emit(_key_dict(info), [f"revoked API key {info.name!r} (prefix {info.prefix})"])
