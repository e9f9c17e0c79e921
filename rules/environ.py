"""Reading ``RULEBOOK_*`` settings from the environment, with errors that name the variable.

The logging settings (:mod:`rules.logs`), the database pool (:mod:`rules.store.pool`) and
``rulebook serve`` (:mod:`review_app.serving`) read their variables through these helpers, so
a bad value is always a :class:`SettingsError` whose problems name each variable, the value
found and what would be right (``RULEBOOK_WORKERS: 'lots' is not a whole number; set 1 to
64``). An unset or empty variable means the default.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from rules.errors import Problem, SettingsError

__all__ = ["CODE", "EnvReader"]

CODE = "RB980"  # a setting from the environment is not valid


class EnvReader:
    """Reads variables from ``environ`` and collects every problem; :meth:`check` raises one
    :class:`SettingsError` naming them all."""

    def __init__(self, environ: Mapping[str, str], what: str) -> None:
        self.environ = environ
        self.what = what
        self.problems: list[Problem] = []

    def raw(self, var: str) -> str | None:
        value = self.environ.get(var, "").strip()
        return value or None

    def integer(self, var: str, default: int, low: int, high: int, unit: str) -> int:
        raw = self.raw(var)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            self._bad(var, raw, f"is not a whole number of {unit} from {low} to {high}", default)
            return default
        return value

    def number(self, var: str, default: float, low: float, high: float, unit: str) -> float:
        raw = self.raw(var)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not low <= value <= high:
            self._bad(var, raw, f"is not a number of {unit} from {low:g} to {high:g}", default)
            return default
        return value

    def choice(self, var: str, default: str, choices: Iterable[str]) -> str:
        raw = self.raw(var)
        if raw is None:
            return default
        allowed = tuple(choices)
        found = next((c for c in allowed if c.lower() == raw.lower()), None)
        if found is None:
            self._bad(var, raw, f"is not one of {', '.join(allowed)}", default)
            return default
        return found

    def _bad(self, var: str, raw: str, why: str, default: object) -> None:
        message = f"{raw!r} {why} (unset, it is {default})"
        self.problems.append(Problem(CODE, var, message))

    def check(self) -> None:
        """Raise :class:`SettingsError` if any variable read so far was not valid."""
        if self.problems:
            raise SettingsError(f"{self.what} are not valid", self.problems)
