"""``rulebook demo load``: the Boston HMDA walkthrough, with logins and an API key."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rules.cli.history import report_lines
from rules.cli.service import Cli, service_command, show_url
from rules.store.demo import DEMO_CSV, DEMO_RULESET, EXAMPLE_FACTS, DemoLoad, is_empty, load_demo

__all__ = ["curl_example", "demo"]

DEMO_NAME = "mortgage-approval"


def curl_example(url: str, ruleset: str, key: str) -> list[str]:
    """A ready-to-paste decision request."""
    body = json.dumps({"facts": EXAMPLE_FACTS})
    return [
        f"  curl -s {url.rstrip('/')}/api/v1/rulesets/{ruleset}/decisions \\",
        f'    -H "Authorization: Bearer {key}" \\',
        '    -H "Content-Type: application/json" \\',
        f"    -d '{body}'",
    ]


def _relative(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (a checkout), else as
    it is (an installed package's file)."""
    here = Path.cwd()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def _loaded_lines(cli: Cli, done: DemoLoad, url: str) -> list[str]:
    width = max(len(name) for name in done.passwords)
    return [
        f"Loaded the demo into {show_url(cli.url)}:",
        f"  ruleset {done.ruleset} version {done.version} from {_relative(DEMO_RULESET)}, active",
        *(f"  {line.strip()}" for line in report_lines(done.history)),
        "",
        "Review app logins at " + url.rstrip("/") + "/login (shown only now; keep them):",
        *(f"  {name:<{width}}  {password}" for name, password in done.passwords.items()),
        "",
        "Demo API key, scopes decide, resolve, read (shown only now; keep it):",
        f"  {done.api_key}",
        "",
        "Try a decision:",
        *curl_example(url, done.ruleset, done.api_key),
    ]


def _skipped_lines(cli: Cli, url: str) -> list[str]:
    return [
        f"{show_url(cli.url)} already holds data, so the demo was not loaded again.",
        "Its logins and API key were printed when it was first loaded. To make another key:",
        "  rulebook apikeys create my-app --scopes decide,resolve,read",
        "and another user:  rulebook users create NAME --role admin --password-stdin",
        "Then try a decision:",
        *curl_example(url, DEMO_NAME, "$RULEBOOK_API_KEY"),
    ]


@click.group()
def demo() -> None:
    """The Boston HMDA demo."""


@demo.command("load")
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing if the database already holds rulesets, users or API keys.",
)
@click.option(
    "--url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Where the service will listen, for the printed examples.",
)
@service_command
def load(cli: Cli, if_empty: bool, url: str) -> None:
    """Load the HMDA ruleset, its history, users and an API key.

    Creates the ruleset from the demo's hmda.yaml, imports the 2,380 real applications of
    its hmda_boston.csv with the lender's decisions, and creates a user per role and an API
    key, whose secrets are printed this once (both files ship in rules/store/demo/)."""
    with cli.session() as session:
        if if_empty and not is_empty(session):
            cli.emit({"loaded": False, "database": show_url(cli.url)}, _skipped_lines(cli, url))
            return
        done = load_demo(session, cli.actor, ruleset_file=DEMO_RULESET, csv_file=DEMO_CSV)
    cli.emit(done.to_dict(), _loaded_lines(cli, done, url))
