"""Who submitted a proposal is recorded on the proposal (``proposals.submitted_by``), so the
four-eyes check reads it from the row rather than from the audit events; existing proposals
take it from their ``proposal.submitted`` event, and a submitted or accepted proposal must
have one.

Revision ID: 0005
Revises: 0004
Create Date: 2027-01-10 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The actor of the proposal's latest proposal.submitted event (subject "proposal:<id>").
FILL = sa.text(
    """
    UPDATE proposals SET submitted_by = (
        SELECT e.actor FROM audit_events e
         WHERE e.action = 'proposal.submitted'
           AND e.subject = 'proposal:' || CAST(proposals.id AS VARCHAR(20))
         ORDER BY e.seq DESC LIMIT 1
    )
    """
)


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submitted_by", sa.String(length=100), nullable=True))
    op.execute(FILL)
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_proposals_submitted_has_submitter"),
            "status NOT IN ('submitted', 'accepted') OR submitted_by IS NOT NULL",
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_proposals_submitted_has_submitter"), type_="check")
        batch_op.drop_column("submitted_by")
