"""IATI 2.03 activity and organisation files, written as a stream of text.

Plain string building with XML escaping: lxml would need the whole tree (or ``xmlfile`` with a
file object) while a generator of strings goes straight into a streamed response. Validity is
checked by tests/test_iati.py against the official XSDs and codelists.

Only public records are written, whoever asks (IATI files are public by nature): the
statements come from ``services.public_*_statement`` and a party organisation the public may
not see appears as an undisclosed participating organisation without name or identifier, as on
the agreement page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from xml.sax.saxutils import escape

from flask import current_app, url_for

from portal.agreements.models import Agreement
from portal.core.models import as_utc
from portal.core.security import safe_document_type
from portal.opendata import iati_codes as codes
from portal.opendata.dictionary import UNDISCLOSED
from portal.partners.models import Organization
from portal.partners.permissions import can_view_organization

# Characters XML 1.0 cannot carry at all; user text containing them must still give valid XML.
_ILLEGAL_XML_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# IATI identifiers must avoid these (Standard, iati-identifier guidance); they become "-".
_IDENTIFIER_UNSAFE = re.compile(r"[/&|?\s]+")
_ATTR_ENTITIES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def xml_text(value: object) -> str:
    return escape(_ILLEGAL_XML_CHARS.sub("", str(value)))


def xml_attr(value: object) -> str:
    return escape(_ILLEGAL_XML_CHARS.sub("", str(value)), _ATTR_ENTITIES)


def iati_datetime(value: datetime | None) -> str:
    value = as_utc(value) or datetime.now(UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Publisher:
    """The reporting organisation (``PORTAL_IATI_PUBLISHER_*``)."""

    ref: str
    name: str
    type: str
    language: str

    @classmethod
    def from_config(cls) -> Publisher:
        config = current_app.config
        return cls(
            ref=config["IATI_PUBLISHER_REF"],
            name=config["IATI_PUBLISHER_NAME"],
            type=config["IATI_PUBLISHER_TYPE"],
            language=config["IATI_DEFAULT_LANGUAGE"],
        )

    def is_publisher(self, org: Organization) -> bool:
        """Whether a catalogue organisation is the publisher itself (by IATI ref, else name)."""
        if org.iati_ref:
            return org.iati_ref.strip() == self.ref
        return org.name == self.name or (org.acronym or "") == self.name

    def activity_identifier(self, agreement: Agreement) -> str:
        """``<publisher ref>-<agreement reference>``: globally unique, stable across edits."""
        reference = _IDENTIFIER_UNSAFE.sub("-", agreement.reference.strip()).strip("-")
        return f"{self.ref}-{reference or agreement.id}"

    def reporting_org(self) -> str:
        return (
            f'<reporting-org ref="{xml_attr(self.ref)}" type="{xml_attr(self.type)}">'
            f"{self.narrative(self.name)}</reporting-org>"
        )

    def narrative(self, text: str) -> str:
        """A narrative, with ``xml:lang`` when its language differs from the file default."""
        lang = codes.text_language(text, self.language)
        attr = "" if lang == self.language else f' xml:lang="{lang}"'
        return f"<narrative{attr}>{xml_text(text)}</narrative>"


# --------------------------------------------------------------------------- activities


def activities_xml(
    batches: Iterable[list[Agreement]], publisher: Publisher, today: date
) -> Iterator[str]:
    """``iati-activities`` for the given (public) agreements, one chunk per batch."""
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<iati-activities version="{codes.IATI_VERSION}" '
        f'generated-datetime="{iati_datetime(None)}">\n'
    )
    for batch in batches:
        yield "".join(activity_xml(a, publisher, today) for a in batch)
    yield "</iati-activities>\n"


def activity_xml(agreement: Agreement, publisher: Publisher, today: date) -> str:
    a = agreement
    attrs = [
        f'last-updated-datetime="{iati_datetime(a.updated_at)}"',
        f'xml:lang="{xml_attr(publisher.language)}"',
    ]
    if a.currency:
        attrs.append(f'default-currency="{xml_attr(a.currency)}"')
    out = [f"<iati-activity {' '.join(attrs)}>"]
    out.append(f"<iati-identifier>{xml_text(publisher.activity_identifier(a))}</iati-identifier>")
    out.append(publisher.reporting_org())
    out.append(f"<title>{publisher.narrative(a.title)}</title>")
    # IATI requires a description; an agreement without a summary is described by its title.
    out.append(
        f'<description type="{codes.DESCRIPTION_GENERAL}">'
        f"{publisher.narrative(a.summary or a.title)}</description>"
    )
    out.extend(_participating_orgs(a, publisher))
    out.append(
        f'<other-identifier ref="{xml_attr(a.reference)}" '
        f'type="{codes.OTHER_IDENTIFIER_INTERNAL}"/>'
    )
    out.append(f'<activity-status code="{codes.ACTIVITY_STATUS[a.status]}"/>')
    created_on = (as_utc(a.created_at) or datetime.now(UTC)).date()
    dates = codes.activity_dates(a.status, a.start_on, a.end_on, a.signed_on, created_on, today)
    for kind, day in dates:
        out.append(f'<activity-date type="{kind}" iso-date="{day.isoformat()}"/>')
    out.extend(_recipients(a))
    shares = codes.split_percentages(len(a.sdg_targets))
    for target, share in zip(a.sdg_targets, shares, strict=True):
        out.append(
            f'<sector vocabulary="{codes.SECTOR_VOCABULARY_SDG_TARGET}" '
            f'code="{xml_attr(target.target)}" percentage="{share}"/>'
        )
    out.extend(_transaction(a, publisher))
    out.extend(_document_links(a, publisher))
    out.append("</iati-activity>\n")
    return "".join(out)


def _org_attrs(org: Organization, publisher: Publisher) -> str:
    ref = publisher.ref if publisher.is_publisher(org) else (org.iati_ref or "").strip()
    attrs = f' ref="{xml_attr(ref)}"' if ref else ""
    return attrs + f' type="{xml_attr(org.org_type)}"'


def _participating_orgs(a: Agreement, publisher: Publisher) -> list[str]:
    out = []
    roles = set()
    for party in a.parties:
        role = codes.ORGANISATION_ROLE[party.role]
        roles.add(party.role)
        org = party.organization
        if can_view_organization(None, org):
            out.append(
                f'<participating-org role="{role}"{_org_attrs(org, publisher)}>'
                f"{publisher.narrative(org.name)}</participating-org>"
            )
        else:
            out.append(
                f'<participating-org role="{role}">'
                f'<narrative xml:lang="en">{UNDISCLOSED}</narrative></participating-org>'
            )
    if "accountable" not in roles:
        # Every agreement is the publisher's own: it is accountable unless a party is named so.
        out.append(
            f'<participating-org role="{codes.ORGANISATION_ROLE["accountable"]}" '
            f'ref="{xml_attr(publisher.ref)}" type="{xml_attr(publisher.type)}">'
            f"{publisher.narrative(publisher.name)}</participating-org>"
        )
    return out


def _recipients(a: Agreement) -> list[str]:
    """Countries and regions share 100 % between them (IATI rule), equally."""
    places = [("country", c.code) for c in a.countries] + [("region", r.code) for r in a.regions]
    out = []
    for (kind, code), share in zip(places, codes.split_percentages(len(places)), strict=True):
        if kind == "country":
            out.append(f'<recipient-country code="{code}" percentage="{share}"/>')
        else:
            out.append(
                f'<recipient-region code="{code}" vocabulary="{codes.REGION_VOCABULARY_M49}" '
                f'percentage="{share}"/>'
            )
    return out


def _transaction(a: Agreement, publisher: Publisher) -> list[str]:
    if a.amount is None or not a.currency:
        return []
    day = a.signed_on or a.start_on or (as_utc(a.created_at) or datetime.now(UTC)).date()
    others: dict[str, list[Organization]] = {}  # the parties by IATI role, publisher aside
    for p in a.parties:
        if not publisher.is_publisher(p.organization):
            others.setdefault(p.role, []).append(p.organization)
    funders = others.get("funding", [])
    implementers = others.get("implementing", [])
    publisher_org = (
        f'ref="{xml_attr(publisher.ref)}" type="{xml_attr(publisher.type)}">'
        f"{publisher.narrative(publisher.name)}"
    )
    if funders:
        kind = codes.TRANSACTION_INCOMING_COMMITMENT
        provider = _transaction_org("provider-org", funders[0], publisher)
        receiver = f"<receiver-org {publisher_org}</receiver-org>"
    else:
        kind = codes.TRANSACTION_OUTGOING_COMMITMENT
        provider = f"<provider-org {publisher_org}</provider-org>"
        receiver = (
            _transaction_org("receiver-org", implementers[0], publisher) if implementers else ""
        )
    return [
        "<transaction>",
        f'<transaction-type code="{kind}"/>',
        f'<transaction-date iso-date="{day.isoformat()}"/>',
        f'<value currency="{xml_attr(a.currency)}" value-date="{day.isoformat()}">'
        f"{a.amount:.2f}</value>",
        provider,
        receiver,
        "</transaction>",
    ]


def _transaction_org(element: str, org: Organization, publisher: Publisher) -> str:
    if not can_view_organization(None, org):
        return ""  # an undisclosed partner is not named, not even by its identifier
    return f"<{element}{_org_attrs(org, publisher)}>{publisher.narrative(org.name)}</{element}>"


def _document_links(a: Agreement, publisher: Publisher) -> list[str]:
    category = codes.DOCUMENT_CATEGORY.get(a.agreement_type, "A11")
    out = []
    for doc in a.documents:
        url = url_for(
            "agreements.download_document", agreement_id=a.id, doc_id=doc.id, _external=True
        )
        uploaded = as_utc(doc.uploaded_at)
        out.append(
            f'<document-link url="{xml_attr(url)}" format="{safe_document_type(doc.content_type)}">'
            f"<title>{publisher.narrative(doc.title or doc.filename)}</title>"
            f'<category code="{category}"/>'
            + (f'<document-date iso-date="{uploaded.date().isoformat()}"/>' if uploaded else "")
            + "</document-link>"
        )
    return out


# --------------------------------------------------------------------------- organisations


def organisation_identifier(org: Organization, publisher: Publisher) -> str:
    """The organisation's IATI identifier, or one in the publisher's namespace when it has none."""
    if publisher.is_publisher(org):
        return publisher.ref
    return (org.iati_ref or "").strip() or f"{publisher.ref}-ORG-{org.id}"


def organisations_xml(
    batches: Iterable[list[Organization]], publisher: Publisher, updated: datetime | None
) -> Iterator[str]:
    """``iati-organisations``: the publisher first, then every public partner."""
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<iati-organisations version="{codes.IATI_VERSION}" '
        f'generated-datetime="{iati_datetime(None)}">\n'
    )
    yield (
        f'<iati-organisation last-updated-datetime="{iati_datetime(updated)}" '
        f'xml:lang="{xml_attr(publisher.language)}">'
        f"<organisation-identifier>{xml_text(publisher.ref)}</organisation-identifier>"
        f"<name>{publisher.narrative(publisher.name)}</name>"
        f"{publisher.reporting_org()}</iati-organisation>\n"
    )
    for batch in batches:
        yield "".join(
            organisation_xml(org, publisher) for org in batch if not publisher.is_publisher(org)
        )
    yield "</iati-organisations>\n"


def organisation_xml(org: Organization, publisher: Publisher) -> str:
    out = [
        f'<iati-organisation last-updated-datetime="{iati_datetime(org.updated_at)}" '
        f'xml:lang="{xml_attr(publisher.language)}">',
        f"<organisation-identifier>{xml_text(organisation_identifier(org, publisher))}"
        "</organisation-identifier>",
        f"<name>{publisher.narrative(org.name)}</name>",
        publisher.reporting_org(),
    ]
    website = (org.website or "").strip()
    if re.match(r"https?://[^\s\"<>]+$", website):
        out.append(
            f'<document-link url="{xml_attr(website)}" format="{codes.WEB_PAGE_FORMAT}">'
            f"<title>{publisher.narrative(org.name)}</title>"
            f'<category code="{codes.ORGANISATION_WEB_PAGE}"/></document-link>'
        )
    out.append("</iati-organisation>\n")
    return "".join(out)
