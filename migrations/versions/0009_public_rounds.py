"""Public consultations: a review round readable without an account.

Revision ID: 0009_public_rounds
Revises: 0008_review_fidelity
Create Date: 2026-12-03 10:40:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009_public_rounds"
down_revision = "0008_review_fidelity"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("review_rounds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade():
    with op.batch_alter_table("review_rounds", schema=None) as batch_op:
        batch_op.drop_column("public")
