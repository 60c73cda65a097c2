"""Content language: the language of user-written text on organisations, agreements, meetings,
minutes and review comments (draft documents already have ``lang``).

Existing rows stay NULL here; the portal detects a language the next time a row is written, and
``flask --app portal content-language detect`` fills the rest at once.

Revision ID: 0006_content_language
Revises: 0005 (notifications)
Create Date: 2026-12-03 06:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_content_language'
down_revision = '0005'
branch_labels = None
depends_on = None

TABLES = ('organizations', 'agreements', 'meetings', 'minutes', 'review_comments')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('language')
