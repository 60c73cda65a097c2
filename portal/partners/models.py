from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import TimestampMixin, utcnow
from portal.extensions import db

# IATI OrganisationType codelist (https://iatistandard.org/en/iati-standard/203/codelists/organisationtype/).
ORG_TYPES: dict[str, LazyString] = {
    "10": _l("Government"),
    "11": _l("Local Government"),
    "15": _l("Other Public Sector"),
    "21": _l("International NGO"),
    "22": _l("National NGO"),
    "23": _l("Regional NGO"),
    "24": _l("Partner Country based NGO"),
    "30": _l("Public Private Partnership"),
    "40": _l("Multilateral"),
    "60": _l("Foundation"),
    "70": _l("Private Sector"),
    "71": _l("Private Sector in Provider Country"),
    "72": _l("Private Sector in Aid Recipient Country"),
    "73": _l("Private Sector in Third Country"),
    "80": _l("Academic, Training and Research"),
    "90": _l("Other"),
}

# The 16 partner constituent groups of UN-Habitat's General Assembly of Partners.
STAKEHOLDER_GROUPS: dict[str, LazyString] = {
    "local-authorities": _l("Local and subnational authorities"),
    "research-academia": _l("Research and academia"),
    "civil-society": _l("Civil society organisations"),
    "grassroots": _l("Grassroots organisations"),
    "women": _l("Women"),
    "parliamentarians": _l("Parliamentarians"),
    "children-youth": _l("Children and youth"),
    "business-industries": _l("Business and industries"),
    "foundations-philanthropies": _l("Foundations and philanthropies"),
    "professionals": _l("Professionals"),
    "trade-unions-workers": _l("Trade unions and workers"),
    "farmers": _l("Farmers"),
    "indigenous-peoples": _l("Indigenous peoples"),
    "media": _l("Media"),
    "persons-with-disabilities": _l("Persons with disabilities"),
    "older-persons": _l("Older persons"),
}


class ProposalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Region(db.Model):
    """A UN M49 region (world, continent, sub-region or intermediate region)."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)  # zero-padded M49 code
    name: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    # 1 = world, 2 = continent, 3 = sub-region, 4 = intermediate region
    level: Mapped[int] = mapped_column(Integer)

    parent = relationship("Region", remote_side=[code], back_populates="children")
    children = relationship("Region", back_populates="parent", order_by="Region.name")
    countries = relationship("Country", back_populates="region", order_by="Country.name")

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"

    def ancestors(self) -> list[Region]:
        chain, node = [], self.parent
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain


class Country(db.Model):
    """ISO 3166-1 country, attached to its smallest M49 region."""

    __tablename__ = "countries"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)  # alpha-2
    alpha3: Mapped[str] = mapped_column(String(3), unique=True)
    numeric: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(String(100))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)

    region = relationship("Region", back_populates="countries")

    def __repr__(self) -> str:
        return f"<Country {self.code} {self.name}>"


organization_regions = Table(
    "organization_regions",
    db.metadata,
    Column("organization_id", ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
    Column("region_code", ForeignKey("regions.code"), primary_key=True),
)


class Organization(TimestampMixin, db.Model):
    __tablename__ = "organizations"
    # Imports upsert on name + country (DESIGN §7).
    __table_args__ = (UniqueConstraint("name", "country_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Language of the text people wrote here (BCP 47); detected when not given.
    language: Mapped[str | None] = mapped_column(String(16))
    __content_text__ = ("description", "name")
    name: Mapped[str] = mapped_column(String(300), index=True)
    acronym: Mapped[str | None] = mapped_column(String(50))
    org_type: Mapped[str] = mapped_column(String(2), index=True)  # IATI OrganisationType code
    iati_ref: Mapped[str | None] = mapped_column(String(100))  # IATI organisation identifier
    country_code: Mapped[str | None] = mapped_column(ForeignKey("countries.code"), index=True)
    stakeholder_group: Mapped[str | None] = mapped_column(String(40), index=True)
    website: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    partner_since: Mapped[date | None] = mapped_column(Date)
    # Non-public organisations are seen only by staff and their own members.
    is_public: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    # Archived instead of deleted: agreements and the audit log keep pointing at it.
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    country = relationship("Country")
    regions = relationship("Region", secondary=organization_regions, order_by="Region.code")
    members = relationship("User", back_populates="organization")
    contacts = relationship(
        "Contact",
        back_populates="organization",
        cascade="all, delete-orphan",
        order_by="Contact.name",
    )
    parties = relationship("AgreementParty", back_populates="organization")

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name!r}>"

    @property
    def org_type_label(self) -> str:
        return ORG_TYPES.get(self.org_type, self.org_type)

    @property
    def stakeholder_group_label(self) -> str:
        return STAKEHOLDER_GROUPS.get(self.stakeholder_group or "", self.stakeholder_group or "")


class Contact(TimestampMixin, db.Model):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    # Only public contacts appear on the public profile (focal points); others are staff-only.
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)

    organization = relationship("Organization", back_populates="contacts")

    def __repr__(self) -> str:
        return f"<Contact {self.name!r} org={self.organization_id}>"


class OrganizationEditProposal(db.Model):
    """A partner member's proposed change to their organisation's profile, awaiting staff."""

    __tablename__ = "organization_edit_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # {field: new value} for the profile fields partners may edit.
    changes: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(
        String(20), default=ProposalStatus.PENDING.value, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_note: Mapped[str | None] = mapped_column(Text)

    organization = relationship("Organization")
    proposed_by = relationship("User", foreign_keys=[proposed_by_id])
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id])

    def __repr__(self) -> str:
        return f"<OrganizationEditProposal {self.id} org={self.organization_id} {self.status}>"
