"""The rebuild queue of the public open-data files (issue 17): a row per pending rebuild,
written by the transaction that changes the catalogue.

Revision ID: 0013_open_data_builds
Revises: 0012_catalogue_state
Create Date: 2026-12-03 20:50:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013_open_data_builds"
down_revision = "0012_catalogue_state"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "open_data_builds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("withdraws", sa.Boolean(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_data_builds")),
    )


def downgrade():
    op.drop_table("open_data_builds")
