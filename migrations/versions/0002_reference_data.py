"""Reference data: UN M49 regions and ISO 3166-1 countries (offline, from our data file and pycountry).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from portal.partners.reference import country_rows, region_rows

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

regions = sa.table(
    "regions",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("parent_code", sa.String),
    sa.column("level", sa.Integer),
)
countries = sa.table(
    "countries",
    sa.column("code", sa.String),
    sa.column("alpha3", sa.String),
    sa.column("numeric", sa.String),
    sa.column("name", sa.String),
    sa.column("region_code", sa.String),
)


def upgrade():
    # Parents before children, for the self-referencing foreign key.
    op.bulk_insert(regions, sorted(region_rows(), key=lambda r: r["level"]))
    op.bulk_insert(countries, country_rows())


def downgrade():
    op.execute(countries.delete())
    # Children before parents.
    for level in (4, 3, 2, 1):
        op.execute(regions.delete().where(regions.c.level == level))
