"""Operator settings (the LLM proposer's kill switch, ``llm.enabled``) and the LLM proposer's
runs: each run's status, full record and the proposals it created.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 13:56:19.289603
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rules.store.models import UTCDateTime

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
RUN_STATUSES = (
    "status IN ('running', 'ok', 'no_proposal', 'failed', 'killed', 'not_configured', "
    "'budget_exhausted', 'call_limit', 'timeout')"
)

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    op.create_table(
        "llm_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("ruleset_id", ID, nullable=False),
        sa.Column("base_number", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("record", JSON, nullable=False),
        sa.Column("proposal_ids", JSON, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(RUN_STATUSES, name=op.f("ck_llm_runs_status")),
        sa.CheckConstraint(
            "base_number IS NULL OR base_number >= 1", name=op.f("ck_llm_runs_base_positive")
        ),
        sa.ForeignKeyConstraint(
            ["ruleset_id"], ["rulesets.id"], name=op.f("fk_llm_runs_ruleset_id_rulesets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_runs")),
    )
    with op.batch_alter_table("llm_runs", schema=None) as batch_op:
        batch_op.create_index("ix_llm_runs_ruleset_id_id", ["ruleset_id", "id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("llm_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_llm_runs_ruleset_id_id")
    op.drop_table("llm_runs")
    op.drop_table("settings")
