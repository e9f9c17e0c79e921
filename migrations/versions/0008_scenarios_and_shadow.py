"""Test scenarios and shadow runs (DESIGN §5).

- ``scenarios``: a ruleset's test scenarios (facts and expected outputs), unique by key per
  ruleset; not part of any version's hash.
- ``shadows``: shadow runs (a version or a proposal's candidate beside the active version), at
  most one running per ruleset (a partial unique index on the running ones).
- ``shadow_results``: the shadow's result for each live decision, linked to the decision.

Revision ID: 0008
Revises: 0007
Create Date: 2027-02-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rules.store.models import UTCDateTime

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "scenarios",
        sa.Column("id", ID, nullable=False),
        sa.Column("ruleset_id", ID, nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("facts", JSON, nullable=False),
        sa.Column("expect", JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("proposal_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_scenarios_proposal_id_proposals")
        ),
        sa.ForeignKeyConstraint(
            ["ruleset_id"], ["rulesets.id"], name=op.f("fk_scenarios_ruleset_id_rulesets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenarios")),
        sa.UniqueConstraint("ruleset_id", "key", name=op.f("uq_scenarios_ruleset_id_key")),
    )
    op.create_table(
        "shadows",
        sa.Column("id", ID, nullable=False),
        sa.Column("ruleset_id", ID, nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=True),
        sa.Column("proposal_id", ID, nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("document_hash", sa.String(length=64), nullable=False),
        sa.Column("started_by", sa.String(length=100), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("stopped_by", sa.String(length=100), nullable=True),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "(version_number IS NULL) <> (proposal_id IS NULL)",
            name=op.f("ck_shadows_version_or_proposal"),
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_shadows_proposal_id_proposals")
        ),
        sa.ForeignKeyConstraint(
            ["ruleset_id"], ["rulesets.id"], name=op.f("fk_shadows_ruleset_id_rulesets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadows")),
    )
    with op.batch_alter_table("shadows", schema=None) as batch_op:
        batch_op.create_index(
            "uq_shadows_running",
            ["ruleset_id"],
            unique=True,
            sqlite_where=sa.text("stopped_at IS NULL"),
            postgresql_where=sa.text("stopped_at IS NULL"),
        )
    op.create_table(
        "shadow_results",
        sa.Column("id", ID, nullable=False),
        sa.Column("shadow_id", ID, nullable=False),
        sa.Column("decision_id", ID, nullable=False),
        sa.Column("outputs", JSON, nullable=True),
        sa.Column("rule_ids", JSON, nullable=False),
        sa.Column("exception", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("differs", sa.Boolean(), nullable=False),
        sa.Column("evaluated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name=op.f("fk_shadow_results_decision_id_decisions")
        ),
        sa.ForeignKeyConstraint(
            ["shadow_id"], ["shadows.id"], name=op.f("fk_shadow_results_shadow_id_shadows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_results")),
        sa.UniqueConstraint(
            "shadow_id", "decision_id", name=op.f("uq_shadow_results_shadow_id_decision_id")
        ),
    )
    with op.batch_alter_table("shadow_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shadow_results_decision_id"), ["decision_id"])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("shadow_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shadow_results_decision_id"))
    op.drop_table("shadow_results")
    with op.batch_alter_table("shadows", schema=None) as batch_op:
        batch_op.drop_index("uq_shadows_running")
    op.drop_table("shadows")
    op.drop_table("scenarios")
