"""Read use cases of the open-data files: which rows a file holds, fetched in bounded batches.

Visibility is never decided here: every statement is built on the domain predicates
(``visible_agreements_filter``, ``visible_organizations_filter`` and, through the list
builders, the filters of the agreement list and the partner directory).

- The files at ``/open-data/`` are the *public* catalogue: what an anonymous visitor may see,
  whoever downloads them (so a cached or shared copy never leaks anything).
- A filtered list's own CSV/XLSX/JSON links follow the *viewer's* permissions, exactly like the
  list page they come from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from portal.agreements.models import Agreement, AgreementParty
from portal.agreements.permissions import visible_agreements_filter
from portal.extensions import db
from portal.partners.models import Organization
from portal.partners.permissions import visible_organizations_filter

# The viewer whose permissions the public files follow: nobody signed in.
PUBLIC_VIEWER = None


@dataclass(frozen=True)
class Licence:
    """The licence the organisation puts on its open data (``PORTAL_OPEN_DATA_LICENCE*``)."""

    name: str  # SPDX identifier, e.g. CC-BY-4.0
    title: str
    url: str

    @classmethod
    def from_config(cls) -> Licence:
        config = current_app.config
        return cls(
            name=config["OPEN_DATA_LICENCE"],
            title=config["OPEN_DATA_LICENCE_TITLE"],
            url=config["OPEN_DATA_LICENCE_URL"],
        )

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "title": self.title, "path": self.url}


def public_agreements_statement() -> Select:
    """Every agreement the public may see, in a stable order."""
    return select(Agreement).where(visible_agreements_filter(PUBLIC_VIEWER)).order_by(Agreement.id)


def public_organizations_statement() -> Select:
    """Every organisation the public may see, in a stable order."""
    return (
        select(Organization)
        .where(visible_organizations_filter(PUBLIC_VIEWER))
        .order_by(Organization.id)
    )


def with_agreement_details(stmt: Select) -> Select:
    """Eager-load what an agreement record shows, one query per batch and relationship."""
    return stmt.options(
        selectinload(Agreement.countries),
        selectinload(Agreement.regions),
        selectinload(Agreement.sdg_targets),
        selectinload(Agreement.documents),
        selectinload(Agreement.parties).selectinload(AgreementParty.organization),
    )


def with_organization_details(stmt: Select) -> Select:
    return stmt.options(selectinload(Organization.regions))


def batch_size() -> int:
    return max(1, int(current_app.config["OPEN_DATA_BATCH_SIZE"]))


def in_batches(stmt: Select) -> Iterator[list]:
    """The statement's rows, ``OPEN_DATA_BATCH_SIZE`` at a time.

    ``yield_per`` reads the result with a server-side cursor on PostgreSQL (fetchmany on
    SQLite) and runs each eager load once per batch; the session's identity map holds weak
    references, so a finished batch is garbage and memory stays flat at any catalogue size.
    """
    result = db.session.scalars(stmt.execution_options(yield_per=batch_size()))
    for partition in result.partitions():
        yield list(partition)
