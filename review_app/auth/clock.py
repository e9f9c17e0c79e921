"""The review app's clock: ``app.config["CLOCK"]`` if a test set one, else the real UTC time.

A test seam in the style of httpx's ``MockTransport``: tests pass a plain function instead of
monkeypatching, e.g. to let a login lockout expire.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from rules.store.models import utcnow

__all__ = ["now"]


def now() -> datetime:
    clock: Callable[[], datetime] = current_app.config.get("CLOCK") or utcnow
    return clock()
