"""Proposals (typed operations, candidate document, system-attached evidence) and their
approvals; a version's proposal_id becomes a foreign key to the proposal it came from.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 19:00:56.402258
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rules.store.models import UTCDateTime

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "proposals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "ruleset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("base_number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column(
            "operations",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("candidate", sa.Text(), nullable=False),
        sa.Column("candidate_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "citations",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("impact", sa.String(length=8), nullable=True),
        sa.Column(
            "run",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "editors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("accepted_number", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(status = 'accepted') = (accepted_number IS NOT NULL)",
            name=op.f("ck_proposals_accepted_has_version"),
        ),
        sa.CheckConstraint(
            "impact IS NULL OR impact IN ('low', 'high')", name=op.f("ck_proposals_impact")
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'accepted', 'rejected', 'superseded')",
            name=op.f("ck_proposals_status"),
        ),
        sa.CheckConstraint("base_number >= 1", name=op.f("ck_proposals_base_positive")),
        sa.ForeignKeyConstraint(
            ["ruleset_id"], ["rulesets.id"], name=op.f("fk_proposals_ruleset_id_rulesets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_proposals_ruleset_id_status", ["ruleset_id", "status"], unique=False
        )

    op.create_table(
        "proposal_approvals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "proposal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("approver", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("approved_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_proposal_approvals_proposal_id_proposals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_approvals")),
        sa.UniqueConstraint(
            "proposal_id", "approver", name=op.f("uq_proposal_approvals_proposal_id_approver")
        ),
    )
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.alter_column(
            "proposal_id", existing_type=sa.Integer(), type_=ID, existing_nullable=True
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_versions_proposal_id_proposals"), "proposals", ["proposal_id"], ["id"]
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_versions_proposal_id_proposals"), type_="foreignkey"
        )
        batch_op.alter_column(
            "proposal_id", existing_type=ID, type_=sa.Integer(), existing_nullable=True
        )

    op.drop_table("proposal_approvals")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_proposals_ruleset_id_status")

    op.drop_table("proposals")
