from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import TimestampMixin, utcnow
from portal.extensions import db

AGREEMENT_TYPES: dict[str, LazyString] = {
    "mou": _l("Memorandum of understanding"),
    "cooperation-agreement": _l("Cooperation agreement"),
    "contribution-agreement": _l("Contribution agreement"),
    "project-cooperation-agreement": _l("Project cooperation agreement"),
    "grant": _l("Grant"),
    "letter-of-intent": _l("Letter of intent"),
    "other": _l("Other"),
}

AGREEMENT_STATUSES: dict[str, LazyString] = {
    # A context of their own: "Signed" is also the signing-date column, "Active" a user state.
    "draft": _lp("agreement status", "Draft"),
    "negotiation": _lp("agreement status", "In negotiation"),
    "signed": _lp("agreement status", "Signed"),
    "active": _lp("agreement status", "Active"),
    "closed": _lp("agreement status", "Closed"),
    "terminated": _lp("agreement status", "Terminated"),
}

# Our status → IATI ActivityStatus code (1 pipeline, 2 implementation, 3 finalisation,
# 4 closed, 5 cancelled), for open-data export.
IATI_ACTIVITY_STATUS = {
    "draft": "1",
    "negotiation": "1",
    "signed": "2",
    "active": "2",
    "closed": "4",
    "terminated": "5",
}

# IATI OrganisationRole codes: 1 funding, 2 accountable, 3 extending, 4 implementing.
PARTY_ROLES: dict[str, LazyString] = {
    "funding": _l("Funding"),
    "accountable": _l("Accountable"),
    "extending": _l("Extending"),
    "implementing": _l("Implementing"),
}

# UN-Habitat Strategic Plan 2020–2025/2026–2029 domains of change.
DOMAINS_OF_CHANGE: dict[int, LazyString] = {
    1: _l("Reduced spatial inequality and poverty in communities across the urban-rural continuum"),
    2: _l("Enhanced shared prosperity of cities and regions"),
    3: _l("Strengthened climate action and improved urban environment"),
    4: _l("Effective urban crisis prevention and response"),
}


class Visibility(enum.StrEnum):
    PUBLIC = "public"  # anyone
    PARTNERS = "partners"  # staff and members of the parties' organisations
    INTERNAL = "internal"  # staff only


agreement_countries = Table(
    "agreement_countries",
    db.metadata,
    Column("agreement_id", ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True),
    Column("country_code", ForeignKey("countries.code"), primary_key=True),
)

agreement_regions = Table(
    "agreement_regions",
    db.metadata,
    Column("agreement_id", ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True),
    Column("region_code", ForeignKey("regions.code"), primary_key=True),
)


class Agreement(TimestampMixin, db.Model):
    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Language of the text people wrote here (BCP 47); detected when not given.
    language: Mapped[str | None] = mapped_column(String(16))
    __content_text__ = ("summary", "title")
    # The organisation's own reference, e.g. "UNH/2023/KE/014"; imports upsert on it.
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    agreement_type: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    signed_on: Mapped[date | None] = mapped_column(Date, index=True)
    start_on: Mapped[date | None] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency: Mapped[str | None] = mapped_column(String(3))  # ISO 4217
    domain_of_change: Mapped[int | None] = mapped_column(Integer, index=True)  # 1–4
    visibility: Mapped[str] = mapped_column(String(20), default=Visibility.PUBLIC.value, index=True)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    parties = relationship(
        "AgreementParty",
        back_populates="agreement",
        cascade="all, delete-orphan",
        order_by="AgreementParty.id",
    )
    countries = relationship("Country", secondary=agreement_countries, order_by="Country.name")
    regions = relationship("Region", secondary=agreement_regions, order_by="Region.code")
    sdg_targets = relationship(
        "AgreementSdgTarget",
        back_populates="agreement",
        cascade="all, delete-orphan",
        order_by="AgreementSdgTarget.target",
    )
    documents = relationship(
        "AgreementDocument",
        back_populates="agreement",
        cascade="all, delete-orphan",
        order_by="(AgreementDocument.uploaded_at, AgreementDocument.id)",
    )

    def __repr__(self) -> str:
        return f"<Agreement {self.reference}>"

    @property
    def type_label(self) -> str:
        return AGREEMENT_TYPES.get(self.agreement_type, self.agreement_type)

    @property
    def status_label(self) -> str:
        return AGREEMENT_STATUSES.get(self.status, self.status)

    @property
    def year(self) -> int | None:
        day = self.signed_on or self.start_on
        return day.year if day else None

    @property
    def party_organization_ids(self) -> set[int]:
        return {p.organization_id for p in self.parties}


class AgreementParty(db.Model):
    __tablename__ = "agreement_parties"
    __table_args__ = (UniqueConstraint("agreement_id", "organization_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    role: Mapped[str] = mapped_column(
        String(20)
    )  # IATI role: funding/accountable/extending/implementing

    agreement = relationship("Agreement", back_populates="parties")
    organization = relationship("Organization", back_populates="parties")

    def __repr__(self) -> str:
        return f"<AgreementParty a={self.agreement_id} org={self.organization_id} {self.role}>"

    @property
    def role_label(self) -> str:
        return PARTY_ROLES.get(self.role, self.role)


class AgreementSdgTarget(db.Model):
    __tablename__ = "agreement_sdg_targets"

    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True
    )
    target: Mapped[str] = mapped_column(String(10), primary_key=True, index=True)  # e.g. "11.1"

    agreement = relationship("Agreement", back_populates="sdg_targets")

    def __repr__(self) -> str:
        return f"<AgreementSdgTarget {self.agreement_id} {self.target}>"

    @property
    def goal(self) -> int:
        return int(self.target.split(".")[0])


class AgreementDocument(db.Model):
    """A file attached to an agreement; stored under UPLOAD_DIR, never under static/."""

    __tablename__ = "agreement_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(255))  # the uploader's name, sanitised
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)  # random, on disk
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    agreement = relationship("Agreement", back_populates="documents")
    uploaded_by = relationship("User")

    def __repr__(self) -> str:
        return f"<AgreementDocument {self.id} {self.filename!r}>"
