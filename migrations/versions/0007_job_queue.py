"""One job queue: the mail outbox, the search outbox and review jobs get the same queue
columns (portal.core.queue) — a worker's lease (``claimed_until``) and a dead letter
(``dead_at``); review jobs also get retries (``attempts``, ``next_attempt_at``).

Revision ID: 0007_job_queue
Revises: 0006_content_language
Create Date: 2026-12-03 09:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0007_job_queue"
down_revision = "0006_content_language"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("outgoing_mail", "search_outbox"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True)
            )
            batch_op.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
    # (A mail claimed before this revision kept its lease in next_attempt_at: due again then.)
    with op.batch_alter_table("background_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE background_jobs SET next_attempt_at = created_at")
    # A job that failed before this revision is a dead letter now.
    op.execute("UPDATE background_jobs SET dead_at = finished_at WHERE status = 'failed'")
    with op.batch_alter_table("background_jobs", schema=None) as batch_op:
        batch_op.alter_column(
            "next_attempt_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )


def downgrade():
    with op.batch_alter_table("background_jobs", schema=None) as batch_op:
        batch_op.drop_column("dead_at")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
    for table in ("search_outbox", "outgoing_mail"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("dead_at")
            batch_op.drop_column("claimed_until")
