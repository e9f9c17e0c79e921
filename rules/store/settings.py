"""Operator settings, and the LLM proposer's kill switch (DESIGN §5, §6).

The kill switch is **on** (the LLM proposer is disabled) when either holds:

* the environment sets ``RULEBOOK_LLM_DISABLED`` to anything but ``""``, ``0``, ``false``,
  ``no`` or ``off`` (an unreadable value disables it too: a kill switch fails safe);
* the ``settings`` table holds ``llm.enabled = false``, written by :func:`set_kill_switch`
  (an admin's action), which appends an ``llm.kill_switch`` audit event in the same
  transaction.

With neither, the LLM proposer may run (if a model is configured at all).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules import audit
from rules.errors import InvalidRequestError, Problem
from rules.store.models import Setting, utcnow

__all__ = [
    "ENV_LLM_DISABLED",
    "LLM_ENABLED",
    "KillSwitch",
    "kill_switch",
    "kill_switch_on",
    "set_kill_switch",
]

LLM_ENABLED = "llm.enabled"
ENV_LLM_DISABLED = "RULEBOOK_LLM_DISABLED"
_OFF = ("", "0", "false", "no", "off")
MAX_ACTOR = 100


@dataclass(frozen=True, slots=True)
class KillSwitch:
    """The kill switch's state: ``on`` when the LLM proposer is disabled, and why."""

    on: bool
    env: bool  # RULEBOOK_LLM_DISABLED forces it on
    database: bool  # llm.enabled is false in the settings table
    updated_by: str | None = None
    updated_at: datetime | None = None

    @property
    def source(self) -> str | None:
        """What turned it on: ``env``, ``database``, both (``env+database``), or None."""
        found = [name for name, flag in (("env", self.env), ("database", self.database)) if flag]
        return "+".join(found) or None

    def to_dict(self) -> dict[str, Any]:
        return {
            "on": self.on,
            "source": self.source,
            "env": self.env,
            "database": self.database,
            "updated_by": self.updated_by,
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
        }


def _env_on(environ: Mapping[str, str] | None) -> bool:
    value = (os.environ if environ is None else environ).get(ENV_LLM_DISABLED)
    return value is not None and value.strip().lower() not in _OFF


def kill_switch(session: Session, environ: Mapping[str, str] | None = None) -> KillSwitch:
    """The kill switch's state (``environ`` defaults to the process environment)."""
    env = _env_on(environ)
    row = session.scalar(select(Setting).where(Setting.key == LLM_ENABLED))
    database = row is not None and row.value is False
    if row is None:
        return KillSwitch(env or database, env, database)
    return KillSwitch(env or database, env, database, row.updated_by, row.updated_at)


def kill_switch_on(session: Session, environ: Mapping[str, str] | None = None) -> bool:
    """True when the LLM proposer must not run (see the module)."""
    return kill_switch(session, environ).on


def set_kill_switch(session: Session, on: bool, actor: str) -> KillSwitch:
    """Turn the database kill switch on (disable the LLM proposer) or off, in the caller's
    transaction, with an ``llm.kill_switch`` audit event. The environment variable, if set,
    still wins: turning the database switch off does not enable a process started with
    ``RULEBOOK_LLM_DISABLED=1``."""
    if not isinstance(on, bool):
        raise InvalidRequestError(
            "the kill switch is on or off", [Problem("RB960", "on", "give true or false")]
        )
    if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_ACTOR:
        raise InvalidRequestError(
            "the kill switch needs who changed it",
            [Problem("RB960", "actor", f"give who changes it (1 to {MAX_ACTOR} characters)")],
        )
    audit.lock_head(session)
    row = session.scalar(select(Setting).where(Setting.key == LLM_ENABLED).with_for_update())
    previous = None if row is None else row.value
    now = utcnow()
    if row is None:
        row = Setting(key=LLM_ENABLED, value=not on, updated_at=now, updated_by=actor)
        session.add(row)
    else:
        row.value, row.updated_at, row.updated_by = not on, now, actor
    session.flush()
    audit.append(
        session,
        actor,
        "llm.kill_switch",
        f"setting:{LLM_ENABLED}",
        {"key": LLM_ENABLED, "value": not on, "previous": previous, "kill_switch": on},
    )
    return kill_switch(session)
