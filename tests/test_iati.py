"""IATI 2.03 files: valid against the official XSDs, codes from the IATI codelists, public only.

The schemas and codelists are vendored under tests/data/iati (CC BY 4.0, see its LICENSE).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import event, insert, select

from portal.agreements.models import (
    AGREEMENT_STATUSES,
    AGREEMENT_TYPES,
    PARTY_ROLES,
    Agreement,
    AgreementParty,
    AgreementSdgTarget,
    agreement_countries,
    agreement_regions,
)
from portal.extensions import db
from portal.opendata import iati_codes
from portal.partners.models import ORG_TYPES, Country, Organization
from tests import factories

IATI_DATA = Path(__file__).parent / "data" / "iati"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(IATI_DATA / "schemas" / name)))


@pytest.fixture(scope="module")
def activities_schema() -> etree.XMLSchema:
    return _schema("iati-activities-schema.xsd")


@pytest.fixture(scope="module")
def organisations_schema() -> etree.XMLSchema:
    return _schema("iati-organisations-schema.xsd")


def codelist(name: str) -> set[str]:
    tree = etree.parse(str(IATI_DATA / "codelists" / f"{name}.xml"))
    return {code.text.strip() for code in tree.iter("code")}


def fetch_xml(client, path: str) -> etree._Element:
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.mimetype == "application/xml"
    return etree.fromstring(resp.data)


def assert_valid(schema: etree.XMLSchema, root: etree._Element) -> None:
    if not schema.validate(root):
        errors = "\n".join(f"{e.line}: {e.message}" for e in list(schema.error_log)[:10])
        pytest.fail(f"not valid against the IATI XSD:\n{errors}")


@pytest.fixture
def catalogue():
    """Public, partners-only and internal agreements; a hidden partner; many languages."""
    habitat = factories.make_org("UN-Habitat", org_type="40", country="KE", regions=("001",))
    quito = factories.make_org(
        "Municipio de Quito", org_type="11", country="EC", regions=("419",), iati_ref="EC-MUN-1701"
    )
    hidden = factories.make_org("Hidden Donor Trust", org_type="60", is_public=False)
    arabic = factories.make_org("بلدية عمّان الكبرى", org_type="11", country="JO", regions=("145",))
    arabic.website = "https://www.ammancity.gov.jo/"
    agreements = {
        "funded": factories.make_agreement(
            "Nairobi water kiosks",
            parties=[(habitat, "accountable"), (quito, "implementing"), (hidden, "funding")],
            countries=("KE", "UG"),
            regions=("014",),
            sdg_targets=("11.1", "6.1", "11.a"),
            status="closed",
            start_on=date(2020, 1, 1),
            end_on=date(2021, 12, 31),
            amount=Decimal("1250000.50"),
            currency="EUR",
            agreement_type="contribution-agreement",
        ),
        "arabic": factories.make_agreement(
            "تحسين الأحياء غير الرسمية في عمّان",
            summary="شراكة لتحسين الخدمات الأساسية",
            parties=[(arabic, "implementing")],
            countries=("JO",),
            regions=(),
            agreement_type="mou",
            amount=None,
            currency=None,
        ),
        "chinese": factories.make_agreement(
            "城市伙伴关系",
            summary="",
            parties=[(habitat, "accountable"), (quito, "funding")],
            countries=(),
            regions=(),
            sdg_targets=(),
            status="draft",
            signed_on=None,
            start_on=None,
            end_on=None,
            reference="UNH/2025 CN&01?",
        ),
        "hostile": factories.make_agreement(
            'Quotes " < > & and a bell \x07 character',
            summary="Line one\nline two\ttabbed — ünïcödé",
            parties=[(quito, "extending")],
            status="active",
            start_on=date(2024, 1, 1),
            end_on=date(2199, 12, 31),
        ),
        "partners": factories.make_agreement(
            "Partners-only sanitation pact", parties=[quito], visibility="partners"
        ),
        "internal": factories.make_agreement(
            "Internal budget memo", parties=[quito], visibility="internal"
        ),
    }
    factories.make_document(agreements["funded"], filename="signed.pdf", title="Signed agreement")
    factories.make_document(
        agreements["arabic"], filename="mou.bin", content_type="text/html", title="مذكرة تفاهم"
    )
    factories.make_document(agreements["partners"], filename="secret.pdf", title="Secret annex")
    db.session.commit()
    return {"orgs": {"habitat": habitat, "quito": quito, "hidden": hidden}, **agreements}


def activity(root: etree._Element, title: str) -> etree._Element:
    for node in root.iter("iati-activity"):
        if node.findtext("title/narrative") == title:
            return node
    raise AssertionError(f"no activity titled {title!r}")


# --------------------------------------------------------------------------- validity


def test_activities_file_is_valid_iati(client, catalogue, activities_schema):
    root = fetch_xml(client, "/open-data/iati/activities.xml")
    assert_valid(activities_schema, root)
    assert root.get("version") == "2.03"
    assert root.get("generated-datetime")
    assert len(root.findall("iati-activity")) == 4
    for node in root.iter("iati-activity"):
        assert node.get("last-updated-datetime")
        assert node.findtext("iati-identifier").startswith("XM-DAC-41120-")
        assert node.find("reporting-org").get("ref") == "XM-DAC-41120"


def test_organisations_file_is_valid_iati(client, catalogue, organisations_schema):
    root = fetch_xml(client, "/open-data/iati/organisations.xml")
    assert_valid(organisations_schema, root)
    orgs = root.findall("iati-organisation")
    ids = [o.findtext("organisation-identifier") for o in orgs]
    names = [o.findtext("name/narrative") for o in orgs]
    # The publisher first (once, though it is also in the catalogue), then the public partners.
    assert ids[0] == "XM-DAC-41120" and ids.count("XM-DAC-41120") == 1
    assert "EC-MUN-1701" in ids
    assert "بلدية عمّان الكبرى" in names
    assert "Hidden Donor Trust" not in names
    amman = orgs[names.index("بلدية عمّان الكبرى")]
    assert amman.find("name/narrative").get(XML_LANG) == "ar"
    link = amman.find("document-link")
    assert link.get("url") == "https://www.ammancity.gov.jo/"
    assert link.find("category").get("code") == "B16"
    assert all(o.get("last-updated-datetime") for o in orgs)


def test_demo_catalogue_is_valid_iati(client, activities_schema, organisations_schema):
    from portal.demo.seed import build_demo_set, country_region_codes, load_demo

    load_demo(build_demo_set(country_region_codes()))
    db.session.commit()
    root = fetch_xml(client, "/open-data/iati/activities.xml")
    assert_valid(activities_schema, root)
    public = db.session.scalar(
        select(db.func.count(Agreement.id)).where(Agreement.visibility == "public")
    )
    assert len(root.findall("iati-activity")) == public > 500
    assert_valid(organisations_schema, fetch_xml(client, "/open-data/iati/organisations.xml"))
    assert_codes_in_codelists(root)


# --------------------------------------------------------------------------- content


def test_activity_content(client, catalogue):
    root = fetch_xml(client, "/open-data/iati/activities.xml")
    funded = activity(root, "Nairobi water kiosks")
    assert funded.get("default-currency") == "EUR"
    assert funded.find("activity-status").get("code") == "4"  # closed
    dates = {d.get("type"): d.get("iso-date") for d in funded.findall("activity-date")}
    assert dates == {"1": "2020-01-01", "2": "2020-01-01", "3": "2021-12-31", "4": "2021-12-31"}
    roles = [(p.get("role"), p.findtext("narrative")) for p in funded.findall("participating-org")]
    assert roles == [
        ("2", "UN-Habitat"),
        ("4", "Municipio de Quito"),
        ("1", "Undisclosed partner"),
    ]
    habitat, quito, hidden = funded.findall("participating-org")
    assert habitat.get("ref") == "XM-DAC-41120" and habitat.get("type") == "40"
    assert quito.get("ref") == "EC-MUN-1701" and quito.get("type") == "11"
    assert hidden.get("ref") is None and hidden.get("type") is None
    assert funded.find("other-identifier").get("ref") == catalogue["funded"].reference
    assert funded.find("other-identifier").get("type") == "A1"
    places = [
        (e.tag, e.get("code"), e.get("vocabulary"), e.get("percentage"))
        for e in funded
        if e.tag in ("recipient-country", "recipient-region")
    ]
    assert places == [
        ("recipient-country", "KE", None, "33.34"),
        ("recipient-country", "UG", None, "33.33"),
        ("recipient-region", "014", "2", "33.33"),
    ]
    sectors = [(s.get("vocabulary"), s.get("code")) for s in funded.findall("sector")]
    assert sorted(sectors) == [("8", "11.1"), ("8", "11.a"), ("8", "6.1")]
    assert sum(Decimal(s.get("percentage")) for s in funded.findall("sector")) == 100
    # Funded by a partner (undisclosed, so not named): money comes in to the publisher.
    transaction = funded.find("transaction")
    assert transaction.find("transaction-type").get("code") == "11"
    value = transaction.find("value")
    assert (value.text, value.get("currency")) == ("1250000.50", "EUR")
    assert value.get("value-date") == catalogue["funded"].signed_on.isoformat()
    assert transaction.find("provider-org") is None
    assert transaction.find("receiver-org").get("ref") == "XM-DAC-41120"
    link = funded.find("document-link")
    assert link.get("format") == "application/pdf"
    assert link.get("url").endswith(
        f"/agreements/{catalogue['funded'].id}/documents/{catalogue['funded'].documents[0].id}"
    )
    assert link.find("category").get("code") == "A11"
    assert link.findtext("title/narrative") == "Signed agreement"


def test_narratives_carry_their_language(client, catalogue):
    root = fetch_xml(client, "/open-data/iati/activities.xml")
    assert root.find("iati-activity").get(XML_LANG) == "en"
    arabic = activity(root, "تحسين الأحياء غير الرسمية في عمّان")
    assert arabic.find("title/narrative").get(XML_LANG) == "ar"
    assert arabic.find("description/narrative").get(XML_LANG) == "ar"
    assert arabic.find("description/narrative").text == "شراكة لتحسين الخدمات الأساسية"
    # Untyped document: sent as an opaque download, described so in IATI too; MoU category.
    link = arabic.find("document-link")
    assert link.get("format") == "application/octet-stream"
    assert link.find("category").get("code") == "A09"
    assert link.find("title/narrative").get(XML_LANG) == "ar"
    # No accountable party named: the publisher is; no value, no transaction.
    accountable = [p for p in arabic.findall("participating-org") if p.get("role") == "2"]
    assert [p.get("ref") for p in accountable] == ["XM-DAC-41120"]
    assert arabic.find("transaction") is None
    chinese = activity(root, "城市伙伴关系")
    assert chinese.find("title/narrative").get(XML_LANG) == "zh"
    # No summary: the title describes it; English text carries no xml:lang (the default).
    assert chinese.find("description/narrative").text == "城市伙伴关系"
    english = activity(root, "Nairobi water kiosks")
    assert english.find("title/narrative").get(XML_LANG) is None


def test_identifiers_dates_and_value_without_funder(client, catalogue):
    root = fetch_xml(client, "/open-data/iati/activities.xml")
    chinese = activity(root, "城市伙伴关系")
    # "/", "&", "?" and spaces are not allowed in IATI identifiers.
    assert chinese.findtext("iati-identifier") == "XM-DAC-41120-UNH-2025-CN-01"
    assert chinese.find("other-identifier").get("ref") == "UNH/2025 CN&01?"
    assert chinese.find("activity-status").get("code") == "1"  # draft: pipeline
    # No dates at all, but IATI needs one: planned to start when the record was created.
    dates = [(d.get("type"), d.get("iso-date")) for d in chinese.findall("activity-date")]
    assert dates == [("1", catalogue["chinese"].created_at.date().isoformat())]
    # A funding partner who is public: incoming commitment from Quito, named with its ref.
    transaction = chinese.find("transaction")
    assert transaction.find("transaction-type").get("code") == "11"
    assert transaction.find("provider-org").get("ref") == "EC-MUN-1701"
    hostile = activity(root, 'Quotes " < > & and a bell  character')
    assert hostile.find("description/narrative").text == "Line one\nline two\ttabbed — ünïcödé"
    dates = {d.get("type"): d.get("iso-date") for d in hostile.findall("activity-date")}
    # Active and started: actual start; the end is in the future, so only planned.
    assert dates == {"1": "2024-01-01", "2": "2024-01-01", "3": "2199-12-31"}
    transaction = hostile.find("transaction")
    assert transaction.find("transaction-type").get("code") == "2"  # the publisher commits
    assert transaction.find("provider-org").get("ref") == "XM-DAC-41120"


def test_only_public_records_whoever_asks(client, catalogue):
    staff = factories.make_user("staff")
    member = factories.make_user("partner", organization=catalogue["orgs"]["quito"])
    db.session.commit()
    from tests.conftest import login

    for email in (None, member.email, staff.email):
        if email:
            assert login(client, email).status_code == 302
        body = client.get("/open-data/iati/activities.xml").get_data(as_text=True)
        assert "Nairobi water kiosks" in body
        assert "Partners-only sanitation pact" not in body
        assert "Internal budget memo" not in body
        assert "Secret annex" not in body
        assert "Hidden Donor Trust" not in body
        orgs = client.get("/open-data/iati/organisations.xml").get_data(as_text=True)
        assert "Hidden Donor Trust" not in orgs
        client.post("/account/logout")


def test_archived_agreement_leaves_the_file(client, catalogue):
    catalogue["funded"].archived_at = datetime.now(UTC)
    db.session.commit()
    body = client.get("/open-data/iati/activities.xml").get_data(as_text=True)
    assert "Nairobi water kiosks" not in body


def test_empty_catalogue_is_still_a_document(client, activities_schema, organisations_schema):
    # iati-activities needs at least one activity, so an empty catalogue fails the schema —
    # but the file must still be well-formed XML, and the organisation file stays valid.
    root = fetch_xml(client, "/open-data/iati/activities.xml")
    assert root.tag == "iati-activities" and len(root) == 0
    assert_valid(organisations_schema, fetch_xml(client, "/open-data/iati/organisations.xml"))


# --------------------------------------------------------------------------- codelists


def assert_codes_in_codelists(root: etree._Element) -> None:
    """Every coded value in an activity file is on its IATI codelist."""
    lists = {
        name: codelist(name)
        for name in (
            "OrganisationRole",
            "OrganisationType",
            "ActivityStatus",
            "ActivityDateType",
            "SectorVocabulary",
            "UNSDG-Targets",
            "RegionVocabulary",
            "Country",
            "Currency",
            "Language",
            "TransactionType",
            "DocumentCategory",
            "FileFormat",
            "OtherIdentifierType",
            "DescriptionType",
        )
    }
    checks = [
        ("participating-org", "role", "OrganisationRole"),
        ("participating-org", "type", "OrganisationType"),
        ("reporting-org", "type", "OrganisationType"),
        ("activity-status", "code", "ActivityStatus"),
        ("activity-date", "type", "ActivityDateType"),
        ("sector", "vocabulary", "SectorVocabulary"),
        ("sector", "code", "UNSDG-Targets"),
        ("recipient-region", "vocabulary", "RegionVocabulary"),
        ("recipient-country", "code", "Country"),
        ("iati-activity", "default-currency", "Currency"),
        ("value", "currency", "Currency"),
        ("transaction-type", "code", "TransactionType"),
        ("category", "code", "DocumentCategory"),
        ("document-link", "format", "FileFormat"),
        ("other-identifier", "type", "OtherIdentifierType"),
        ("description", "type", "DescriptionType"),
        ("provider-org", "type", "OrganisationType"),
        ("receiver-org", "type", "OrganisationType"),
    ]
    seen = 0
    for tag, attr, name in checks:
        for node in root.iter(tag):
            value = node.get(attr)
            if value is not None:
                assert value in lists[name], f"{tag}/@{attr}={value!r} is not on {name}"
                seen += 1
    for node in root.iter():
        lang = node.get(XML_LANG)
        if lang is not None:
            assert lang in lists["Language"], lang
    assert seen > 0


def test_file_codes_are_on_the_codelists(client, catalogue):
    assert_codes_in_codelists(fetch_xml(client, "/open-data/iati/activities.xml"))


def test_every_mapping_is_on_its_codelist():
    assert set(iati_codes.ORGANISATION_ROLE) == set(PARTY_ROLES)
    assert set(iati_codes.ORGANISATION_ROLE.values()) <= codelist("OrganisationRole")
    assert set(iati_codes.ACTIVITY_STATUS) == set(AGREEMENT_STATUSES)
    assert set(iati_codes.ACTIVITY_STATUS.values()) <= codelist("ActivityStatus")
    assert set(ORG_TYPES) <= codelist("OrganisationType")
    assert {
        iati_codes.PLANNED_START,
        iati_codes.ACTUAL_START,
        iati_codes.PLANNED_END,
        iati_codes.ACTUAL_END,
    } == codelist("ActivityDateType")
    assert set(iati_codes.DOCUMENT_CATEGORY) == set(AGREEMENT_TYPES)
    documents = codelist("DocumentCategory")
    assert (
        set(iati_codes.DOCUMENT_CATEGORY.values()) | {iati_codes.ORGANISATION_WEB_PAGE} <= documents
    )
    assert iati_codes.SECTOR_VOCABULARY_SDG_TARGET in codelist("SectorVocabulary")
    assert iati_codes.REGION_VOCABULARY_M49 in codelist("RegionVocabulary")
    assert iati_codes.DESCRIPTION_GENERAL in codelist("DescriptionType")
    assert iati_codes.OTHER_IDENTIFIER_INTERNAL in codelist("OtherIdentifierType")
    assert {
        iati_codes.TRANSACTION_INCOMING_COMMITMENT,
        iati_codes.TRANSACTION_OUTGOING_COMMITMENT,
    } <= codelist("TransactionType")
    assert set(iati_codes.LANGUAGES) <= codelist("Language")
    from portal.core.security import SAFE_DOCUMENT_TYPES

    assert set(SAFE_DOCUMENT_TYPES) | {"application/octet-stream", "text/html"} <= codelist(
        "FileFormat"
    )


def test_catalogue_vocabularies_are_on_the_codelists():
    """Every country the portal knows and every SDG target the forms accept has an IATI code."""
    countries = set(db.session.scalars(select(Country.code)))
    assert len(countries) > 200
    assert countries <= codelist("Country"), sorted(countries - codelist("Country"))
    from portal.demo import data

    assert set(data.SDG11_TARGETS) | set(data.OTHER_TARGETS) <= codelist("UNSDG-Targets")


def test_percentages_and_languages_helpers():
    for n in range(1, 12):
        shares = iati_codes.split_percentages(n)
        assert len(shares) == n and sum(Decimal(s) for s in shares) == 100
    assert iati_codes.text_language("Вода и санитария", "fr") == "ru"
    assert iati_codes.text_language("水和卫生 (WASH)", "en") == "zh"
    assert iati_codes.text_language("المياه 2030", "en") == "ar"
    assert iati_codes.text_language("Eau et assainissement", "fr") == "fr"
    assert iati_codes.text_language("2030", "es") == "es"


# --------------------------------------------------------------------------- streaming


def count_agreement_selects():
    statements = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM agreements" in statement:
            statements.append(statement)

    return statements, listen


def test_activities_are_streamed_in_batches(app, client):
    orgs = [factories.make_org(f"Partner {n}") for n in range(3)]
    for n in range(7):
        factories.make_agreement(f"Streamed {n}", parties=[orgs[n % 3]])
    db.session.commit()
    app.config["OPEN_DATA_BATCH_SIZE"] = 2
    statements, listen = count_agreement_selects()
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        resp = client.get("/open-data/iati/activities.xml", buffered=False)
        assert resp.is_streamed
        assert not isinstance(resp.response, list | tuple)
        chunks = iter(resp.response)
        head = next(chunks)
        assert b"<iati-activities" in head and b"<iati-activity " not in head
        first_batch = next(chunks)
        assert first_batch.count(b"<iati-activity ") == 2
        body = head + first_batch + b"".join(chunks)
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
        app.config["OPEN_DATA_BATCH_SIZE"] = 500
        resp.close()
    assert body.count(b"<iati-activity ") == 7
    # Four batches, yet one query for the agreements and one per relationship (parties,
    # countries, regions, SDG targets, documents), each read as a stream: never one per row or
    # per batch, and never with everything loaded at once.
    main = [s for s in statements if "agreements.archived_at IS NULL" in s]
    assert len(main) == 6


# --------------------------------------------------------------------------- 10,000 agreements


def bulk_catalogue(n: int) -> None:
    """``n`` public agreements with parties, countries, regions and SDG targets, in bulk."""
    db.session.execute(
        insert(Organization.__table__),
        [
            {
                "name": f"Bulk partner {i}",
                "org_type": ("10", "22", "40", "80")[i % 4],
                "country_code": ("KE", "EC", "JO", "CN")[i % 4],
                "is_public": i % 10 != 0,
                "description": "",
            }
            for i in range(200)
        ],
    )
    org_ids = db.session.scalars(
        select(Organization.id).where(Organization.name.like("Bulk partner %"))
    ).all()
    start = date(2015, 1, 1)
    statuses = list(AGREEMENT_STATUSES)
    types = list(AGREEMENT_TYPES)
    rows = []
    for i in range(n):
        begin = start + timedelta(days=i % 3000)
        rows.append(
            {
                "reference": f"BULK/{i:06d}",
                "title": f"Bulk agreement {i} — شراكة {i}" if i % 7 == 0 else f"Bulk agreement {i}",
                "summary": "Upgrading informal settlements with community partners.",
                "agreement_type": types[i % len(types)],
                "status": statuses[i % len(statuses)],
                "signed_on": begin,
                "start_on": begin,
                "end_on": begin + timedelta(days=700),
                "amount": Decimal(10_000 + i) if i % 5 else None,
                "currency": ("USD", "EUR", "KES")[i % 3],
                "domain_of_change": 1 + i % 4,
                "visibility": "public",
            }
        )
    db.session.execute(insert(Agreement.__table__), rows)
    ids = db.session.scalars(
        select(Agreement.id).where(Agreement.reference.like("BULK/%")).order_by(Agreement.id)
    ).all()
    db.session.execute(
        insert(agreement_countries),
        [{"agreement_id": a, "country_code": ("KE", "UG", "EC")[i % 3]} for i, a in enumerate(ids)],
    )
    db.session.execute(
        insert(agreement_regions),
        [{"agreement_id": a, "region_code": "014"} for a in ids[::2]],
    )
    db.session.execute(
        insert(AgreementSdgTarget.__table__),
        [{"agreement_id": a, "target": ("11.1", "11.3", "6.2")[i % 3]} for i, a in enumerate(ids)],
    )
    db.session.execute(
        insert(AgreementParty.__table__),
        [
            {"agreement_id": a, "organization_id": org_ids[i % 200], "role": role}
            for i, a in enumerate(ids)
            for role in (("implementing", "funding") if i % 4 == 0 else ("implementing",))
        ],
    )
    db.session.commit()


def test_ten_thousand_agreements_are_valid_iati(client, activities_schema, organisations_schema):
    bulk_catalogue(10_000)
    resp = client.get("/open-data/iati/activities.xml")
    assert resp.status_code == 200
    root = etree.fromstring(resp.data)
    assert len(root.findall("iati-activity")) == 10_000
    assert_valid(activities_schema, root)
    assert_codes_in_codelists(root)
    assert_valid(organisations_schema, fetch_xml(client, "/open-data/iati/organisations.xml"))
