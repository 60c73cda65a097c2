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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import Select, func, select

from portal.agreements.models import (
    Agreement,
    AgreementDocument,
    AgreementParty,
    AgreementSdgTarget,
    agreement_countries,
    agreement_regions,
)
from portal.agreements.permissions import visible_agreements_filter
from portal.extensions import db
from portal.partners.models import Country, Organization, organization_regions
from portal.partners.permissions import visible_organizations_filter

# The viewer whose permissions the public files follow: nobody signed in.
PUBLIC_VIEWER = None

T = TypeVar("T")


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


def batch_size() -> int:
    return max(1, int(current_app.config["OPEN_DATA_BATCH_SIZE"]))


# --------------------------------------------------------------------------- merged streams
#
# The whole-file path: one query per relationship for the whole file, whatever its size. The
# agreements are numbered in the file's order (``row_number()`` over the statement's own ORDER
# BY, the id last so ties are stable); the agreements and each relationship are read in that
# order, ``yield_per`` rows at a time (server-side cursors on PostgreSQL), and merged as they
# come, the way a merge join does. Rows are plain read-only records with the attributes the
# writers read — no ORM identity map, no per-batch IN lists — so memory holds one batch of
# each stream and the statement count is the same at 1,000 agreements as at 100,000.


@dataclass(slots=True)
class OrgRow:
    id: int
    name: str
    acronym: str | None
    org_type: str
    iati_ref: str | None
    is_public: bool
    archived_at: datetime | None


@dataclass(slots=True)
class PartyRow:
    role: str
    organization_id: int
    organization: OrgRow


@dataclass(slots=True)
class CodeRow:
    code: str


@dataclass(slots=True)
class TargetRow:
    target: str


@dataclass(slots=True)
class DocumentRow:
    id: int
    title: str
    filename: str
    content_type: str
    uploaded_at: datetime | None


@dataclass(slots=True)
class AgreementRow:
    """An agreement as the export writers read it (the ``Agreement`` attributes they use)."""

    id: int
    reference: str
    title: str
    summary: str | None
    agreement_type: str
    status: str
    signed_on: date | None
    start_on: date | None
    end_on: date | None
    amount: Decimal | None
    currency: str | None
    domain_of_change: int | None
    visibility: str
    created_at: datetime | None
    updated_at: datetime | None
    parties: list[PartyRow]
    countries: list[CodeRow]
    regions: list[CodeRow]
    sdg_targets: list[TargetRow]
    documents: list[DocumentRow]


_AGREEMENT_COLUMNS = (
    Agreement.id,
    Agreement.reference,
    Agreement.title,
    Agreement.summary,
    Agreement.agreement_type,
    Agreement.status,
    Agreement.signed_on,
    Agreement.start_on,
    Agreement.end_on,
    Agreement.amount,
    Agreement.currency,
    Agreement.domain_of_change,
    Agreement.visibility,
    Agreement.created_at,
    Agreement.updated_at,
)


def _stream(stmt) -> Iterator[Any]:
    """The rows of ``stmt``, read ``OPEN_DATA_BATCH_SIZE`` at a time."""
    result = db.session.execute(stmt.execution_options(yield_per=batch_size()))
    for partition in result.partitions():
        yield from partition


def _grouped(stmt, build) -> Iterator[tuple[int, list]]:
    """(position, [build(row) …]) for a child stream whose first column is the position."""
    current, items = None, []
    for row in _stream(stmt):
        if row[0] != current:
            if current is not None:
                yield current, items
            current, items = row[0], []
        items.append(build(row))
    if current is not None:
        yield current, items


class _Children:
    """One relationship's stream, asked for the children at each position in turn."""

    def __init__(self, groups: Iterator[tuple[int, list]]):
        self._groups = groups
        self._next = next(groups, None)

    def at(self, position: int) -> list:
        while self._next is not None and self._next[0] < position:
            self._next = next(self._groups, None)
        if self._next is not None and self._next[0] == position:
            found = self._next[1]
            self._next = next(self._groups, None)
            return found
        return []


def _numbered(stmt: Select, id_column):
    """``stmt``'s ids with their position in its order, as a subquery (id, pos)."""
    order = (*stmt._order_by_clauses, id_column)
    return (
        stmt.with_only_columns(
            id_column.label("id"), func.row_number().over(order_by=order).label("pos")
        )
        .order_by(None)
        .subquery("numbered")
    )


def _codes(numbered, owner, code, *, by_name=None) -> _Children:
    """One link table's codes (regions, countries) at each position of ``numbered``:
    ``owner`` is its column holding the agreement's or organisation's id, ``code`` the code.
    In code order; with ``by_name`` (a table with ``code`` and ``name``: ``Country``) only
    the codes it holds, in the order of their names."""
    stmt = select(numbered.c.pos, code).join(numbered, numbered.c.id == owner)
    order = code
    if by_name is not None:
        stmt = stmt.join(by_name, by_name.code == code)
        order = by_name.name
    return _Children(_grouped(stmt.order_by(numbered.c.pos, order), lambda r: CodeRow(r[1])))


def _in_batches(rows: Iterable[T]) -> Iterator[list[T]]:
    """``rows`` in lists of ``OPEN_DATA_BATCH_SIZE``."""
    batch: list[T] = []
    size = batch_size()
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def agreement_batches(stmt: Select) -> Iterator[list[AgreementRow]]:
    """The agreements of ``stmt`` (a ``select(Agreement)`` with its filters and order), with
    their parties, places, SDG targets and documents, in batches of ``OPEN_DATA_BATCH_SIZE``:
    six queries in all, read side by side."""
    numbered = _numbered(stmt, Agreement.id)
    pos = numbered.c.pos
    on = numbered.c.id
    agreements = select(pos, *_AGREEMENT_COLUMNS).join(numbered, on == Agreement.id).order_by(pos)
    parties = _Children(
        _grouped(
            select(
                pos,
                AgreementParty.role,
                Organization.id,
                Organization.name,
                Organization.acronym,
                Organization.org_type,
                Organization.iati_ref,
                Organization.is_public,
                Organization.archived_at,
            )
            .join(numbered, on == AgreementParty.agreement_id)
            .join(Organization, Organization.id == AgreementParty.organization_id)
            .order_by(pos, AgreementParty.id),
            lambda r: PartyRow(r[1], r[2], OrgRow(*r[2:])),
        )
    )
    countries = _codes(
        numbered,
        agreement_countries.c.agreement_id,
        agreement_countries.c.country_code,
        by_name=Country,
    )
    regions = _codes(numbered, agreement_regions.c.agreement_id, agreement_regions.c.region_code)
    targets = _Children(
        _grouped(
            select(pos, AgreementSdgTarget.target)
            .join(numbered, on == AgreementSdgTarget.agreement_id)
            .order_by(pos, AgreementSdgTarget.target),
            lambda r: TargetRow(r[1]),
        )
    )
    documents = _Children(
        _grouped(
            select(
                pos,
                AgreementDocument.id,
                AgreementDocument.title,
                AgreementDocument.filename,
                AgreementDocument.content_type,
                AgreementDocument.uploaded_at,
            )
            .join(numbered, on == AgreementDocument.agreement_id)
            .order_by(pos, AgreementDocument.uploaded_at, AgreementDocument.id),
            lambda r: DocumentRow(*r[1:]),
        )
    )
    yield from _in_batches(
        AgreementRow(
            *row[1:],
            parties=parties.at(row[0]),
            countries=countries.at(row[0]),
            regions=regions.at(row[0]),
            sdg_targets=targets.at(row[0]),
            documents=documents.at(row[0]),
        )
        for row in _stream(agreements)
    )


@dataclass(slots=True)
class PartnerRow:
    """An organisation as the export writers read it (the ``Organization`` attributes they use)."""

    id: int
    name: str
    acronym: str | None
    org_type: str
    iati_ref: str | None
    country_code: str | None
    stakeholder_group: str | None
    website: str | None
    description: str | None
    partner_since: date | None
    is_public: bool
    archived_at: datetime | None
    updated_at: datetime | None
    regions: list[CodeRow]


_PARTNER_COLUMNS = (
    Organization.id,
    Organization.name,
    Organization.acronym,
    Organization.org_type,
    Organization.iati_ref,
    Organization.country_code,
    Organization.stakeholder_group,
    Organization.website,
    Organization.description,
    Organization.partner_since,
    Organization.is_public,
    Organization.archived_at,
    Organization.updated_at,
)


def partner_batches(stmt: Select) -> Iterator[list[PartnerRow]]:
    """The organisations of ``stmt`` (a ``select(Organization)`` with its filters and order)
    with their regions, in batches of ``OPEN_DATA_BATCH_SIZE``: two queries in all."""
    numbered = _numbered(stmt, Organization.id)
    pos, on = numbered.c.pos, numbered.c.id
    regions = _codes(
        numbered, organization_regions.c.organization_id, organization_regions.c.region_code
    )
    organizations = (
        select(pos, *_PARTNER_COLUMNS).join(numbered, on == Organization.id).order_by(pos)
    )
    yield from _in_batches(
        PartnerRow(*row[1:], regions=regions.at(row[0])) for row in _stream(organizations)
    )
