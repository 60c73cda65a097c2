"""The catalogue index's change token (issue 17): one row, a new random token in every
transaction that changes agreements, their links, organisations, countries or regions.

Revision ID: 0012_catalogue_state
Revises: 0010_comment_endorsements
Create Date: 2026-12-03 13:20:00

"""

import uuid

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_catalogue_state"
down_revision = "0010_comment_endorsements"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "catalogue_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_state")),
    )
    op.bulk_insert(table, [{"id": 1, "token": str(uuid.uuid4())}])


def downgrade():
    op.drop_table("catalogue_state")
