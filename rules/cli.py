"""The ``rulebook`` command line."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """Rulebook: a governed decision service."""
