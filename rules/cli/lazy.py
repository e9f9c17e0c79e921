"""A click group whose verbs are imported on first use.

The ``rulebook`` command lists verbs from three places: its own (the pure engine's), the
store-backed ones (``"module:attribute"`` names, imported when one runs) and those installed
packages add through an entry-point group (``rulebook.commands``: the review app's ``serve``,
the proposer's ``propose`` ...), since ``rules`` never imports those packages.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

from rules.errors import suggest

__all__ = ["LazyGroup"]


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
