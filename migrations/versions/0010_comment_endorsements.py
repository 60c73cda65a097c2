"""Endorsements ("+1") of review comments, and the round setting that allows them; the
expiry of the link a visitor asks for to join a public consultation.

Revision ID: 0010_comment_endorsements
Revises: 0009_public_rounds
Create Date: 2026-12-03 12:50:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010_comment_endorsements"
down_revision = "0009_public_rounds"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("review_invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("review_rounds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "allow_endorsements", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.create_table(
        "comment_endorsements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["comment_id"], ["review_comments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("comment_id", "user_id"),
    )
    with op.batch_alter_table("comment_endorsements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comment_endorsements_comment_id"), ["comment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_comment_endorsements_user_id"), ["user_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("comment_endorsements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comment_endorsements_user_id"))
        batch_op.drop_index(batch_op.f("ix_comment_endorsements_comment_id"))
    op.drop_table("comment_endorsements")
    with op.batch_alter_table("review_rounds", schema=None) as batch_op:
        batch_op.drop_column("allow_endorsements")
    with op.batch_alter_table("review_invitations", schema=None) as batch_op:
        batch_op.drop_column("link_expires_at")
