"""Staff manage organisations and agreements through the real forms; partners propose edits;
every change lands in the audit log, which staff browse."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.accounts.models import Role
from portal.agreements.models import Agreement
from portal.core.audit import AuditLog
from portal.extensions import db
from portal.partners.models import Organization, OrganizationEditProposal
from tests.conftest import login


def field_error(page: str, field_id: str) -> str | None:
    """The error text rendered beside a field (the macro links it as <id>-err), or None."""
    match = re.search(
        rf'<ul class="errors" id="{re.escape(field_id)}-err"[^>]*>(.*?)</ul>', page, re.S
    )
    if match is None:
        return None
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def audit_rows(object_type: str, object_id: int | None = None) -> list[AuditLog]:
    db.session.expire_all()
    stmt = select(AuditLog).where(AuditLog.object_type == object_type)
    if object_id is not None:
        stmt = stmt.where(AuditLog.object_id == object_id)
    return list(db.session.scalars(stmt.order_by(AuditLog.id)))


@pytest.fixture
def staff(factories):
    user = factories.make_user(Role.STAFF, name="Stella Staff")
    db.session.commit()
    return user


@pytest.fixture
def staff_client(client, staff):
    resp = login(client, staff.email)
    assert resp.status_code == 302
    return client


def org_form(**overrides) -> dict:
    data = {
        "name": "Slum Dwellers International",
        "acronym": "SDI",
        "org_type": "21",
        "iati_ref": "",
        "country_code": "ZA",
        "regions": ["002", "202"],
        "stakeholder_group": "grassroots",
        "website": "https://sdinet.org",
        "description": "A network of community-based organisations of the urban poor.",
        "partner_since": "2012-06-01",
        "is_public": "y",
    }
    data.update(overrides)
    return data


def agreement_form(parties=(), **overrides) -> dict:
    data = {
        "reference": "UNH/2025/ZA/001",
        "title": "Community-led upgrading in Cape Town",
        "summary": "Settlement profiling and upgrading with federations of the urban poor.",
        "agreement_type": "project-cooperation-agreement",
        "status": "active",
        "visibility": "public",
        "signed_on": "2025-01-15",
        "start_on": "2025-02-01",
        "end_on": "2027-01-31",
        "amount": "480000.50",
        "currency": "usd",
        "domain_of_change": "1",
        "sdg_targets": "11.1; 11.3; 1.4",
        "countries": ["ZA"],
        "regions": ["202"],
    }
    for i in range(6):
        org, role = parties[i] if i < len(parties) else ("", "")
        data[f"parties-{i}-organization_id"] = str(org.id) if org else ""
        data[f"parties-{i}-role"] = role
    data.update(overrides)
    return data


# --- Organisations --------------------------------------------------------------------------


def test_staff_create_organisation_through_form_is_audited(staff_client, staff):
    resp = staff_client.post("/partners/new", data=org_form())
    assert resp.status_code == 302
    org = db.session.scalars(
        select(Organization).where(Organization.name == "Slum Dwellers International")
    ).one()
    assert resp.headers["Location"].endswith(f"/partners/{org.id}")
    assert org.acronym == "SDI" and org.country_code == "ZA"
    assert [r.code for r in org.regions] == ["002", "202"]
    [entry] = audit_rows("organization", org.id)
    assert entry.action == "create"
    assert entry.actor_id == staff.id
    assert entry.after["name"] == "Slum Dwellers International"
    assert entry.after["regions"] == ["002", "202"]
    # The new profile is public and reachable.
    assert "Slum Dwellers International" in staff_client.get(f"/partners/{org.id}").get_data(
        as_text=True
    )


def test_staff_edit_organisation_records_only_changed_fields(staff_client, staff, factories):
    org = factories.make_org("Habitat for Humanity Kenya", website="http://old.example.org")
    db.session.commit()
    page = staff_client.get(f"/partners/{org.id}/edit").get_data(as_text=True)
    assert 'value="Habitat for Humanity Kenya"' in page  # the form starts from the profile
    resp = staff_client.post(
        f"/partners/{org.id}/edit",
        data=org_form(
            name="Habitat for Humanity Kenya",
            country_code="KE",
            regions=["014"],
            website="https://habitatkenya.org",
            acronym="",
            stakeholder_group="civil-society",
            org_type="22",
            description=org.description,
            partner_since="2019-05-01",
        ),
    )
    assert resp.status_code == 302
    entry = audit_rows("organization", org.id)[-1]
    assert entry.action == "update" and entry.actor_id == staff.id
    assert entry.before == {"website": "http://old.example.org"}
    assert entry.after == {"website": "https://habitatkenya.org"}


def test_archive_and_restore_organisation(staff_client, factories, client):
    org = factories.make_org("Shack Dwellers Federation of Namibia", country="NA")
    db.session.commit()
    resp = staff_client.post(f"/partners/{org.id}/archive")
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Organization, org.id).archived_at is not None
    # Staff see it among the archived on the dashboard, with a way back to restore it.
    dashboard = staff_client.get("/staff/").get_data(as_text=True)
    assert "Shack Dwellers Federation of Namibia" in dashboard
    resp = staff_client.post(f"/partners/{org.id}/restore")
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Organization, org.id).archived_at is None
    actions = [e.action for e in audit_rows("organization", org.id)]
    assert actions == ["archive", "restore"]
    archive_entry = audit_rows("organization", org.id)[0]
    assert archive_entry.before == {"archived_at": None}
    assert archive_entry.after["archived_at"]


def test_archived_organisation_hidden_from_public(staff_client, factories, app):
    org = factories.make_org("Hidden After Archive")
    db.session.commit()
    staff_client.post(f"/partners/{org.id}/archive")
    anonymous = app.test_client()
    assert anonymous.get(f"/partners/{org.id}").status_code == 404


def test_organisation_errors_beside_fields_and_input_kept(staff_client, factories):
    factories.make_org("Cities Alliance", country="BE")
    db.session.commit()
    resp = staff_client.post(
        "/partners/new",
        data=org_form(
            name="Cities Alliance",
            country_code="BE",
            website="ftp://cities.example",
            acronym="CA-X",
        ),
    )
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "already exists in this country" in field_error(page, "name")
    assert "http://" in field_error(page, "website")
    assert 'value="CA-X"' in page  # what the user typed is still there
    assert db.session.scalar(select(Organization).where(Organization.acronym == "CA-X")) is None


# --- Agreements -----------------------------------------------------------------------------


def test_staff_create_agreement_with_two_parties(staff_client, staff, factories):
    sdi = factories.make_org("Slum Dwellers International", country="ZA")
    city = factories.make_org("City of Cape Town", country="ZA", org_type="11")
    db.session.commit()
    resp = staff_client.post(
        "/agreements/new", data=agreement_form(parties=[(sdi, "implementing"), (city, "funding")])
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    agreement = db.session.scalars(
        select(Agreement).where(Agreement.reference == "UNH/2025/ZA/001")
    ).one()
    assert resp.headers["Location"].endswith(f"/agreements/{agreement.id}")
    assert sorted((p.organization.name, p.role) for p in agreement.parties) == [
        ("City of Cape Town", "funding"),
        ("Slum Dwellers International", "implementing"),
    ]
    assert sorted(t.target for t in agreement.sdg_targets) == ["1.4", "11.1", "11.3"]
    assert agreement.amount == Decimal("480000.50") and agreement.currency == "USD"
    assert [c.code for c in agreement.countries] == ["ZA"]
    [entry] = audit_rows("agreement", agreement.id)
    assert entry.action == "create" and entry.actor_id == staff.id
    assert entry.after["reference"] == "UNH/2025/ZA/001"
    assert len(entry.after["parties"]) == 2
    # The public page shows both parties.
    page = staff_client.get(f"/agreements/{agreement.id}").get_data(as_text=True)
    assert "City of Cape Town" in page and "Slum Dwellers International" in page


def test_staff_edit_agreement_parties_and_title(staff_client, staff, factories):
    a = factories.make_org("Org Alpha")
    b = factories.make_org("Org Beta")
    c = factories.make_org("Org Gamma")
    agreement = factories.make_agreement(
        "Old title", parties=[(a, "implementing"), (b, "funding")], reference="UNH/2024/EDIT"
    )
    db.session.commit()
    page = staff_client.get(f"/agreements/{agreement.id}/edit").get_data(as_text=True)
    assert 'value="UNH/2024/EDIT"' in page
    resp = staff_client.post(
        f"/agreements/{agreement.id}/edit",
        data=agreement_form(
            parties=[(a, "implementing"), (c, "funding")],
            reference="UNH/2024/EDIT",
            title="New title",
        ),
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.session.expire_all()
    agreement = db.session.get(Agreement, agreement.id)
    assert agreement.title == "New title"
    assert sorted((p.organization.name, p.role) for p in agreement.parties) == [
        ("Org Alpha", "implementing"),
        ("Org Gamma", "funding"),
    ]
    entry = audit_rows("agreement", agreement.id)[-1]
    assert entry.action == "update" and entry.actor_id == staff.id
    assert entry.before["title"] == "Old title" and entry.after["title"] == "New title"
    assert any("Org Beta" in p for p in entry.before["parties"])
    assert not any("Org Beta" in p for p in entry.after["parties"])
    assert "reference" not in entry.after  # unchanged fields are not logged


def test_archive_and_restore_agreement(staff_client, factories, app):
    org = factories.make_org()
    agreement = factories.make_agreement("Archivable agreement", parties=[org])
    db.session.commit()
    assert staff_client.post(f"/agreements/{agreement.id}/archive").status_code == 302
    anonymous = app.test_client()
    assert anonymous.get(f"/agreements/{agreement.id}").status_code == 404
    assert staff_client.post(f"/agreements/{agreement.id}/restore").status_code == 302
    assert anonymous.get(f"/agreements/{agreement.id}").status_code == 200
    assert [e.action for e in audit_rows("agreement", agreement.id)] == ["archive", "restore"]


@pytest.mark.parametrize(
    ("overrides", "field_id", "expected"),
    [
        ({"reference": "UNH/TAKEN"}, "reference", "already uses the reference"),
        (
            {"start_on": "2025-06-01", "end_on": "2025-05-31"},
            "end_on",
            "cannot be before the start",
        ),
        ({"sdg_targets": "11.1; 18.2; 11.x1"}, "sdg_targets", "18.2"),
        ({"currency": "XYZ"}, "currency", "ISO 4217"),
        ({"amount": "-5"}, "amount", "cannot be negative"),
        ({"currency": ""}, "currency", "Give the currency"),
    ],
)
def test_agreement_errors_beside_fields(staff_client, factories, overrides, field_id, expected):
    org = factories.make_org("Party Org")
    factories.make_agreement(reference="UNH/TAKEN", parties=[org])
    db.session.commit()
    data = agreement_form(parties=[(org, "implementing")], title="Kept title 协议")
    data.update(overrides)
    resp = staff_client.post("/agreements/new", data=data)
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert expected in (field_error(page, field_id) or "")
    assert 'value="Kept title 协议"' in page  # the user's input is kept
    assert db.session.scalar(select(Agreement).where(Agreement.title == "Kept title 协议")) is None


def test_agreement_without_parties_is_refused(staff_client):
    resp = staff_client.post("/agreements/new", data=agreement_form(parties=[]))
    assert resp.status_code == 400
    assert "at least one party" in field_error(resp.get_data(as_text=True), "parties")
    assert db.session.scalar(select(Agreement)) is None


def test_duplicate_party_and_half_filled_row_are_refused(staff_client, factories):
    org = factories.make_org("Twice Org")
    db.session.commit()
    resp = staff_client.post(
        "/agreements/new", data=agreement_form(parties=[(org, "funding"), (org, "funding")])
    )
    assert resp.status_code == 400
    assert "listed twice" in field_error(resp.get_data(as_text=True), "parties")
    data = agreement_form(parties=[(org, "funding")])
    data["parties-1-organization_id"] = str(org.id)  # organisation without a role
    resp = staff_client.post("/agreements/new", data=data)
    assert resp.status_code == 400
    assert "Choose the organisation's role" in resp.get_data(as_text=True)


# --- Access -----------------------------------------------------------------------------------


def _staff_urls(org_id: int, agreement_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/staff/"),
        ("GET", "/staff/audit"),
        ("GET", "/staff/proposals"),
        ("GET", "/partners/new"),
        ("POST", "/partners/new"),
        ("GET", f"/partners/{org_id}/edit"),
        ("POST", f"/partners/{org_id}/archive"),
        ("POST", f"/partners/{org_id}/restore"),
        ("GET", "/agreements/new"),
        ("GET", f"/agreements/{agreement_id}/edit"),
        ("POST", f"/agreements/{agreement_id}/archive"),
        ("GET", f"/agreements/{agreement_id}/documents/new"),
    ]


def test_partner_members_get_403_on_staff_pages(client, factories):
    org = factories.make_org()
    agreement = factories.make_agreement(parties=[org])
    partner = factories.make_user(Role.PARTNER, organization=org)
    db.session.commit()
    login(client, partner.email)
    for method, url in _staff_urls(org.id, agreement.id):
        resp = client.open(url, method=method, data=org_form())
        assert resp.status_code == 403, (method, url)
    db.session.expire_all()
    assert db.session.get(Organization, org.id).archived_at is None
    assert audit_rows("organization") == []


def test_anonymous_visitors_are_sent_to_login(client, factories):
    org = factories.make_org()
    agreement = factories.make_agreement(parties=[org])
    db.session.commit()
    for method, url in _staff_urls(org.id, agreement.id):
        resp = client.open(url, method=method)
        assert resp.status_code == 302, (method, url)
        assert "/account/login" in resp.headers["Location"]


# --- Proposals ------------------------------------------------------------------------------


def propose_form(org: Organization, **changes) -> dict:
    """The proposal form as a browser sends it: every field, prefilled from the profile."""
    data = {
        "acronym": org.acronym or "",
        "website": org.website or "",
        "stakeholder_group": org.stakeholder_group or "",
        "description": org.description,
    }
    data.update(changes)
    return data


@pytest.fixture
def member_org(factories):
    org = factories.make_org("Huairou Commission", country="US", website="https://old.huairou.org")
    member = factories.make_user(Role.PARTNER, organization=org, name="Mia Member")
    db.session.commit()
    return org, member


def test_proposal_approved_end_to_end(app, staff, member_org):
    org, member = member_org
    partner = app.test_client()
    login(partner, member.email)
    profile = partner.get(f"/partners/{org.id}").get_data(as_text=True)
    assert f"/partners/{org.id}/propose" in profile  # "Propose an edit" is offered
    resp = partner.post(
        f"/partners/{org.id}/propose",
        data={
            "acronym": "HC",
            "website": "https://huairou.org",
            "stakeholder_group": "women",
            "description": org.description,
        },
    )
    assert resp.status_code == 302
    proposal = db.session.scalars(select(OrganizationEditProposal)).one()
    assert proposal.status == "pending"
    assert proposal.changes == {
        "acronym": "HC",
        "website": "https://huairou.org",
        "stakeholder_group": "women",
    }
    db.session.expire_all()
    assert (
        db.session.get(Organization, org.id).website == "https://old.huairou.org"
    )  # not yet applied
    assert "pending" in partner.get(f"/partners/{org.id}/propose").get_data(as_text=True)

    staff_client = app.test_client()
    login(staff_client, staff.email)
    queue = staff_client.get("/staff/proposals").get_data(as_text=True)
    assert "Huairou Commission" in queue
    assert "https://old.huairou.org" in queue and "https://huairou.org" in queue  # before and after
    resp = staff_client.post(
        f"/staff/proposals/{proposal.id}/approve", data={f"p{proposal.id}-note": ""}
    )
    assert resp.status_code == 302

    db.session.expire_all()
    assert db.session.get(OrganizationEditProposal, proposal.id).status == "approved"
    assert "https://huairou.org" in partner.get(f"/partners/{org.id}").get_data(as_text=True)
    entry = [e for e in audit_rows("organization", org.id) if e.action == "approve_edit"][0]
    assert entry.actor_id == staff.id
    assert entry.before["website"] == "https://old.huairou.org"
    assert entry.after["website"] == "https://huairou.org"
    assert entry.after["acronym"] == "HC"
    propose_entry = [e for e in audit_rows("organization", org.id) if e.action == "propose_edit"][0]
    assert propose_entry.actor_id == member.id


def test_proposal_rejected_needs_a_note(app, staff, member_org):
    org, member = member_org
    partner = app.test_client()
    login(partner, member.email)
    partner.post(
        f"/partners/{org.id}/propose", data=propose_form(org, website="https://spam.example")
    )
    proposal = db.session.scalars(select(OrganizationEditProposal)).one()

    staff_client = app.test_client()
    login(staff_client, staff.email)
    resp = staff_client.post(
        f"/staff/proposals/{proposal.id}/reject", data={f"p{proposal.id}-note": " "}
    )
    assert resp.status_code == 400
    assert "why the proposal is rejected" in field_error(
        resp.get_data(as_text=True), f"p{proposal.id}-note"
    )
    resp = staff_client.post(
        f"/staff/proposals/{proposal.id}/reject",
        data={f"p{proposal.id}-note": "Please use your organisation's own domain."},
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Organization, org.id).website == "https://old.huairou.org"
    assert db.session.get(OrganizationEditProposal, proposal.id).status == "rejected"
    mine = partner.get(f"/partners/{org.id}/propose").get_data(as_text=True)
    assert "rejected" in mine and "Please use your organisation&#39;s own domain." in mine
    actions = [e.action for e in audit_rows("organization", org.id)]
    assert actions == ["propose_edit", "reject_edit"]
    # A reviewed proposal cannot be approved afterwards.
    staff_client.post(f"/staff/proposals/{proposal.id}/approve", data={})
    db.session.expire_all()
    assert db.session.get(Organization, org.id).website == "https://old.huairou.org"


def test_proposal_rules(app, member_org, factories):
    org, member = member_org
    other = factories.make_org("Someone Else")
    db.session.commit()
    partner = app.test_client()
    login(partner, member.email)
    assert partner.get(f"/partners/{other.id}/propose").status_code == 403
    resp = partner.post(f"/partners/{org.id}/propose", data=propose_form(org, website="not a url"))
    assert resp.status_code == 400
    assert "http://" in field_error(resp.get_data(as_text=True), "website")
    resp = partner.post(
        f"/partners/{org.id}/propose",
        data=propose_form(org),
    )
    assert resp.status_code == 400
    assert "Nothing changed" in resp.get_data(as_text=True)
    assert db.session.scalars(select(OrganizationEditProposal)).all() == []


# --- Audit browser and dashboard --------------------------------------------------------------


def test_audit_browser_filters_and_links(staff_client, staff, factories):
    staff_client.post("/partners/new", data=org_form(name="Audit Org One"))
    org = db.session.scalars(select(Organization).where(Organization.name == "Audit Org One")).one()
    party = factories.make_org("Audit Party")
    db.session.commit()
    staff_client.post("/agreements/new", data=agreement_form(parties=[(party, "funding")]))

    page = staff_client.get("/staff/audit").get_data(as_text=True)
    assert "Audit Org One" in page and "UNH/2025/ZA/001" in page
    only_orgs = staff_client.get("/staff/audit?object_type=organization").get_data(as_text=True)
    assert "Audit Org One" in only_orgs and "UNH/2025/ZA/001" not in only_orgs
    assert f'href="/partners/{org.id}"' in only_orgs  # link to the object
    by_actor = staff_client.get(f"/staff/audit?actor={staff.id}&action=create").get_data(
        as_text=True
    )
    assert "2 entries" in by_actor
    # Changes made from the command line (imports) have no actor and are filtered as "system".
    from portal.partners.services import OrganizationData, create_organization

    create_organization(
        None, OrganizationData(name="Imported Org", org_type="80", country_code="FR")
    )
    db.session.commit()
    system = staff_client.get("/staff/audit?actor=system").get_data(as_text=True)
    assert "1 entry" in system and "Imported Org" in system and "Audit Org One" not in system
    future = staff_client.get("/staff/audit?date_from=2999-01-01").get_data(as_text=True)
    assert "0 entries" in future
    bad = staff_client.get("/staff/audit?date_from=yesterday")
    assert bad.status_code == 200 and "Use a date like" in bad.get_data(as_text=True)


def test_audit_browser_shows_before_and_after_and_paginates(staff_client, factories):
    org = factories.make_org("Paged Org", website="https://v0.example.org")
    db.session.commit()
    for i in range(1, 4):
        staff_client.post(
            f"/partners/{org.id}/edit",
            data=org_form(
                name="Paged Org",
                country_code="KE",
                regions=["014"],
                website=f"https://v{i}.example.org",
            ),
        )
    page = staff_client.get("/staff/audit?per_page=2").get_data(as_text=True)
    assert "https://v2.example.org" in page and "https://v3.example.org" in page
    assert "Page 1 of 2" in page
    page2 = staff_client.get("/staff/audit?per_page=2&page=2").get_data(as_text=True)
    assert "https://v0.example.org" in page2 and "https://v1.example.org" in page2


def test_dashboard_counts(staff_client, factories, member_org):
    org, member = member_org
    factories.make_agreement(parties=[org], status="active", visibility="public")
    factories.make_agreement(parties=[org], status="active", visibility="internal")
    factories.make_agreement(parties=[org], status="draft", visibility="partners")
    gone = factories.make_org("Gone Org")
    db.session.commit()
    staff_client.post(f"/partners/{gone.id}/archive")
    from portal.partners.services import propose_organization_edit

    propose_organization_edit(member, org, {"acronym": "HUC"})
    db.session.commit()
    page = staff_client.get("/staff/").get_data(as_text=True)
    assert re.search(r'<span class="number">1</span><span class="label">organisations', page)
    assert re.search(r'<span class="number">3</span><span class="label">agreements', page)
    assert re.search(
        r'<span class="number">1</span><span class="label">edit proposals waiting', page
    )
    by_status = re.search(r'id="by-status">(.*?)</table>', page, re.S).group(1)
    assert re.search(r"Active</td><td>2<", by_status) and re.search(r"Draft</td><td>1<", by_status)
    assert "Archived organisation" in page  # the latest audit entry
    assert "/partners/new" in page and "/agreements/new" in page
    assert "/account/users" in page  # link to user management (it exists)


def test_staff_pages_render(staff_client, factories):
    org = factories.make_org("Rendered Org")
    agreement = factories.make_agreement("Rendered agreement", parties=[org])
    db.session.commit()
    for method, url in _staff_urls(org.id, agreement.id):
        if method == "GET":
            resp = staff_client.get(url)
            assert resp.status_code == 200, url
    new_agreement = staff_client.get("/agreements/new").get_data(as_text=True)
    # Six party rows, organisations sorted by name, all four IATI roles.
    assert new_agreement.count('name="parties-5-organization_id"') == 1
    assert "Rendered Org" in new_agreement and ">Implementing<" in new_agreement
