"""A ruleset's automation and exception rates per UTC day or week, counted in the database
(SQLite and PostgreSQL): days without decisions are left out, a log longer than two months
is shown by the week (Monday to Sunday), other rulesets' decisions never count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from rules.store import Database, decisions, versions
from rules.store.decisions.rates import DAYS_SHOWN, Bucket, fold, rates
from rules.store.models import Decision
from tests.rules.store.storecases import APPROVE, NAME, REFER, mortgage, variant

MONDAY = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday


def decide(db: Database, facts: dict[str, object], at: datetime, name: str = NAME) -> int:
    with db.session() as s:
        found, _ = decisions.DecisionService().decide(name, facts, caller="t", session=s)
        s.execute(update(Decision).where(Decision.id == found.id).values(decided_at=at))
    return found.id


@pytest.fixture
def log(db: Database) -> Database:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")
        versions.create_ruleset(s, variant(mortgage(), lambda _: None, "other"), "cli:setup")
    for facts in (APPROVE, APPROVE, APPROVE, REFER):  # day 0: 1 exception in 4
        decide(db, facts, MONDAY)
    decide(db, REFER, MONDAY + timedelta(hours=14, minutes=29))  # 23:59 UTC, still day 0
    decide(db, APPROVE, MONDAY + timedelta(days=2, hours=-9))  # day 2, just after midnight
    decide(db, REFER, MONDAY, name="other")
    return db


def test_rates_per_day(log: Database) -> None:
    with log.session() as s:
        found = rates(s, NAME)
    assert [(b.start, b.end, b.decisions, b.exceptions) for b in found] == [
        (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC), 5, 2),
        (datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC), 1, 0),
    ]  # day 1 had none: left out
    assert found[0].automated == 3
    assert (found[0].automation_rate, found[0].exception_rate) == (0.6, 0.4)
    assert (found[1].automation_rate, found[1].exception_rate) == (1.0, 0.0)


def test_rates_per_week_and_automatically_by_the_week_for_a_long_log(log: Database) -> None:
    later = timedelta(weeks=DAYS_SHOWN // 7 + 1)  # a Monday more than DAYS_SHOWN days later
    decide(log, REFER, MONDAY + later + timedelta(days=3))  # that week's Thursday
    with log.session() as s:
        weekly = rates(s, NAME, "week")
        auto = rates(s, NAME)
        daily = rates(s, NAME, "day")
    assert auto == weekly
    assert [(b.start.date(), b.decisions, b.exceptions) for b in weekly] == [
        (date(2026, 3, 2), 6, 2),
        (date(2026, 3, 2) + later, 1, 1),  # its week's Monday
    ]
    assert all(b.end - b.start == timedelta(days=7) for b in weekly)
    assert len(daily) == 3


def test_no_decisions_no_buckets(db: Database) -> None:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")
        assert rates(s, NAME) == []


def test_a_bucket_kind_that_does_not_exist_is_refused(db: Database) -> None:
    with db.session() as s, pytest.raises(ValueError, match="bucket is one of auto, day, week"):
        rates(s, NAME, "month")


def test_fold_sums_days_into_weeks() -> None:
    days = [(date(2026, 3, 1), 2, 1), (date(2026, 3, 2), 3, 0), (date(2026, 3, 8), 1, 1)]
    assert fold(days, "week") == [
        Bucket(datetime(2026, 2, 23, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC), 2, 1),
        Bucket(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC), 4, 1),
    ]
    assert fold([(date(2026, 3, 1), 0, 0)], "day") == []
