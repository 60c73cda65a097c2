"""Faithful draft import: images of a version, and what the import could not keep.

Revision ID: 0008_review_fidelity
Revises: 0007_job_queue
Create Date: 2026-12-03 09:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_review_fidelity'
down_revision = '0007_job_queue'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_report', sa.JSON(), nullable=True))
    op.create_table(
        'review_images',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('stored_name', sa.String(length=100), nullable=False),
        sa.Column('content_type', sa.String(length=50), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('alt', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['document_versions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('stored_name'),
    )
    with op.batch_alter_table('review_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_images_version_id'), ['version_id'], unique=False)


def downgrade():
    with op.batch_alter_table('review_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_images_version_id'))
    op.drop_table('review_images')
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.drop_column('import_report')
