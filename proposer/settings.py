"""The deterministic proposer's setting read from the environment (DESIGN §7).

======================================  =======  ===========================================
variable                                default  meaning
======================================  =======  ===========================================
RULEBOOK_PROPOSER_MAX_AGREEMENT_LOSS    3        the ceiling, in points of agreement, on what
                                                 the boldest proposal of a run may lose, in
                                                 its backtest and expected out of sample
                                                 (0: only changes that lose nothing)
======================================  =======  ===========================================
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from proposer.evidence import ConfigurationError
from rules.errors import Problem

__all__ = ["DEFAULT_MAX_AGREEMENT_LOSS", "ENV_MAX_AGREEMENT_LOSS", "check_max_loss", "max_loss"]

ENV_MAX_AGREEMENT_LOSS = "RULEBOOK_PROPOSER_MAX_AGREEMENT_LOSS"
DEFAULT_MAX_AGREEMENT_LOSS = 3.0


def check_max_loss(value: object, location: str) -> Problem | None:
    """What is wrong with ``value`` as a ceiling in points (a number from 0 to 100)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return Problem("RB941", location, f"{value!r} is not a number of points; give e.g. 3")
    if not 0 <= value <= 100:
        return Problem("RB941", location, f"{value!r} is out of range: give 0 to 100 points")
    return None


def max_loss(environ: Mapping[str, str] | None = None) -> float:
    """The ceiling set in ``environ`` (default: the process environment); a value that is set
    but not a number of points from 0 to 100 raises ConfigurationError naming the variable."""
    env = os.environ if environ is None else environ
    text = env.get(ENV_MAX_AGREEMENT_LOSS, "").strip()
    if not text:
        return DEFAULT_MAX_AGREEMENT_LOSS
    try:
        value: object = float(text)
    except ValueError:
        value = text
    problem = check_max_loss(value, ENV_MAX_AGREEMENT_LOSS)
    if problem is not None:
        raise ConfigurationError(f"{ENV_MAX_AGREEMENT_LOSS} is not valid", [problem])
    return float(value)  # type: ignore[arg-type]
