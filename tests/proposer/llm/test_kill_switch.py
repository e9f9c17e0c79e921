"""The kill switch (rules.store.settings): an audited database setting, forced on by the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rules import audit
from rules.errors import InvalidRequestError
from rules.store import Database
from rules.store.settings import ENV_LLM_DISABLED, kill_switch, kill_switch_on, set_kill_switch


@pytest.fixture
def switch_off(db: Database) -> Iterator[None]:
    yield
    with db.session() as s:
        set_kill_switch(s, False, "user:admin")


@pytest.mark.usefixtures("switch_off")
def test_turning_it_on_and_off_is_audited(db: Database) -> None:
    with db.session() as s:
        assert not kill_switch_on(s, environ={})
        after = max((e.seq for e in audit.events(s)), default=0)
        state = set_kill_switch(s, True, "user:admin")
    assert (state.on, state.source, state.updated_by) == (True, "database", "user:admin")
    with db.session() as s:
        assert kill_switch_on(s, environ={})
        set_kill_switch(s, False, "user:root")
        assert not kill_switch_on(s, environ={})
        events = list(audit.events(s, action="llm.kill_switch", after=after))
        assert audit.verify(s).ok
    assert [(e.actor, e.payload["kill_switch"], e.payload["value"]) for e in events] == [
        ("user:admin", True, False),
        ("user:root", False, True),
    ]
    assert events[0].subject == "setting:llm.enabled"


@pytest.mark.parametrize(
    ("value", "on"),
    [("1", True), ("true", True), ("yes please", True), ("0", False), ("off", False), ("", False)],
)
def test_the_environment_forces_it_on(db: Database, value: str, on: bool) -> None:
    with db.session() as s:
        state = kill_switch(s, environ={ENV_LLM_DISABLED: value})
    assert state.on is on
    assert state.source == ("env" if on else None)


def test_it_needs_who_and_a_boolean(db: Database) -> None:
    with db.session() as s, pytest.raises(InvalidRequestError) as err:
        set_kill_switch(s, True, " ")
    assert err.value.problems[0].location == "actor"
    with db.session() as s, pytest.raises(InvalidRequestError):
        set_kill_switch(s, "yes", "user:admin")  # type: ignore[arg-type]
