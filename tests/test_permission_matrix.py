"""Who sees what, page by page: the acceptance matrix of DESIGN §2 for the public catalogue.

Roles: anonymous, a member of organisation A, a member of organisation B, a reviewer (no
organisation), staff and admin. Three agreements, all with organisation A as a party: one
public, one for the parties only ("partners") and one internal. Organisation B is *not* public
and is a funding party of the public agreement only.

Every read path is checked: the agreement page, its document, the list, the CSV, the counts (home
page figures and facets) and the partner pages. Hidden things answer 404 — never 403 — and are
never counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from portal.accounts.models import Role
from portal.extensions import db
from tests import factories
from tests.conftest import login

ROLES = ("anonymous", "partner_a", "partner_b", "reviewer", "staff", "admin")
KINDS = ("public", "partners", "internal")

TITLES = {
    "public": "Open Water Compact",
    "partners": "Partners Sanitation Pact",
    "internal": "Internal Budget Memo",
}
# A distinct type per agreement, so each one's presence in the type facet can be read alone.
TYPES = {
    "public": ("mou", "Memorandum of understanding"),
    "partners": ("grant", "Grant"),
    "internal": ("letter-of-intent", "Letter of intent"),
}

# The expected matrix: which roles may see each agreement.
SEES_AGREEMENT = {
    "public": set(ROLES),
    "partners": {"partner_a", "staff", "admin"},
    "internal": {"staff", "admin"},
}
# Organisation B is not public: its own members and staff see it, nobody else.
SEES_ORG_B = {"partner_b", "staff", "admin"}


@dataclass
class World:
    org_a: object
    org_b: object
    agreements: dict
    documents: dict
    emails: dict


@pytest.fixture
def world() -> World:
    org_a = factories.make_org("Org Alpha", country="KE", regions=("014",))
    org_b = factories.make_org("Org Beta Hidden", country="UG", regions=("014",), is_public=False)
    emails = {
        "partner_a": factories.make_user(Role.PARTNER, organization=org_a).email,
        "partner_b": factories.make_user(Role.PARTNER, organization=org_b).email,
        "reviewer": factories.make_user(Role.REVIEWER).email,
        "staff": factories.make_user(Role.STAFF).email,
        "admin": factories.make_user(Role.ADMIN).email,
    }
    agreements, documents = {}, {}
    for kind in KINDS:
        parties = [org_a, (org_b, "funding")] if kind == "public" else [org_a]
        agreements[kind] = factories.make_agreement(
            TITLES[kind], parties=parties, visibility=kind, agreement_type=TYPES[kind][0]
        )
        documents[kind] = factories.make_document(
            agreements[kind], filename=f"{kind}-terms.pdf", content=f"%PDF-1.4 {kind}".encode()
        )
    db.session.commit()
    return World(org_a, org_b, agreements, documents, emails)


def as_role(client, world: World, role: str):
    if role != "anonymous":
        resp = login(client, world.emails[role])
        assert resp.status_code == 302, f"login as {role} failed"
    return client


def expected_status(role: str, kind: str) -> int:
    return 200 if role in SEES_AGREEMENT[kind] else 404


def facet_count(html: str, value: str, label: str) -> int:
    """The count shown next to a facet option, 0 when the option is not offered at all."""
    match = re.search(
        rf'<option value="{re.escape(value)}"[^>]*>\s*{re.escape(label)} \((\d+)\)</option>', html
    )
    return int(match.group(1)) if match else 0


MATRIX = [(role, kind) for role in ROLES for kind in KINDS]


@pytest.mark.parametrize(("role", "kind"), MATRIX)
def test_agreement_page(client, world, role, kind):
    as_role(client, world, role)
    resp = client.get(f"/agreements/{world.agreements[kind].id}")
    assert resp.status_code == expected_status(role, kind)
    body = resp.get_data(as_text=True)
    assert (TITLES[kind] in body) == (resp.status_code == 200)


@pytest.mark.parametrize(("role", "kind"), MATRIX)
def test_document_download(client, world, role, kind):
    as_role(client, world, role)
    doc = world.documents[kind]
    resp = client.get(f"/agreements/{world.agreements[kind].id}/documents/{doc.id}")
    assert resp.status_code == expected_status(role, kind)
    if resp.status_code == 200:
        assert resp.data == f"%PDF-1.4 {kind}".encode()
        assert "attachment" in resp.headers["Content-Disposition"]


@pytest.mark.parametrize(("role", "kind"), MATRIX)
def test_appears_in_agreement_list(client, world, role, kind):
    as_role(client, world, role)
    body = client.get("/agreements/").get_data(as_text=True)
    assert (TITLES[kind] in body) == (role in SEES_AGREEMENT[kind])


@pytest.mark.parametrize(("role", "kind"), MATRIX)
def test_appears_in_csv(client, world, role, kind):
    as_role(client, world, role)
    resp = client.get("/agreements/?format=csv")
    assert resp.status_code == 200
    text = resp.data.decode("utf-8-sig")
    assert (TITLES[kind] in text) == (role in SEES_AGREEMENT[kind])


@pytest.mark.parametrize(("role", "kind"), MATRIX)
def test_counted_in_type_facet(client, world, role, kind):
    as_role(client, world, role)
    body = client.get("/agreements/").get_data(as_text=True)
    value, label = TYPES[kind]
    assert facet_count(body, value, label) == (1 if role in SEES_AGREEMENT[kind] else 0)


@pytest.mark.parametrize(("role", "kind"), MATRIX)
def test_listed_on_partner_profile(client, world, role, kind):
    as_role(client, world, role)
    resp = client.get(f"/partners/{world.org_a.id}")
    assert resp.status_code == 200
    assert (TITLES[kind] in resp.get_data(as_text=True)) == (role in SEES_AGREEMENT[kind])


@pytest.mark.parametrize("role", ROLES)
def test_counts_include_only_visible_agreements(client, world, role):
    """Home page figure, partner facet, partner directory column, region page: same number."""
    as_role(client, world, role)
    visible = sum(1 for kind in KINDS if role in SEES_AGREEMENT[kind])

    home = client.get("/").get_data(as_text=True)
    figure = re.search(
        r'<span class="number">(\d+)</span><span class="label">agreements</span>', home
    )
    assert figure is not None and int(figure.group(1)) == visible

    listing = client.get("/agreements/").get_data(as_text=True)
    assert facet_count(listing, str(world.org_a.id), "Org Alpha") == visible
    assert f"{visible} agreement" in listing  # "1 agreement" / "3 agreements"

    directory = client.get("/partners/?q=Alpha").get_data(as_text=True)
    row = re.search(r"Org Alpha</a>.*?<td>(\d+)</td>\s*</tr>", directory, re.S)
    assert row is not None and int(row.group(1)) == visible

    region = client.get("/regions/014").get_data(as_text=True)
    agreements_figure = re.search(
        r'<span class="number">(\d+)</span><span class="label">agreements</span>', region
    )
    assert agreements_figure is not None and int(agreements_figure.group(1)) == visible


@pytest.mark.parametrize("role", ROLES)
def test_non_public_partner_profile(client, world, role):
    as_role(client, world, role)
    resp = client.get(f"/partners/{world.org_b.id}")
    assert resp.status_code == (200 if role in SEES_ORG_B else 404)


@pytest.mark.parametrize("role", ROLES)
def test_non_public_partner_in_directory_and_facets(client, world, role):
    as_role(client, world, role)
    body = client.get("/partners/").get_data(as_text=True)
    sees = role in SEES_ORG_B
    assert ("Org Beta Hidden" in body) == sees
    # Organisation B is the only one in Uganda: the country facet must not betray it.
    assert ("Uganda" in body) == sees
    assert facet_count(body, "014", "Eastern Africa") == (2 if sees else 1)


@pytest.mark.parametrize("role", ROLES)
def test_non_public_party_is_undisclosed(client, world, role):
    as_role(client, world, role)
    page = client.get(f"/agreements/{world.agreements['public'].id}").get_data(as_text=True)
    csv_text = client.get("/agreements/?format=csv").data.decode("utf-8-sig")
    sees = role in SEES_ORG_B
    assert ("Org Beta Hidden" in page) == sees
    assert ("Undisclosed partner" in page) == (not sees)
    assert (f"/partners/{world.org_b.id}" in page) == sees
    assert ("Org Beta Hidden|funding" in csv_text) == sees
    assert ("Undisclosed partner|funding" in csv_text) == (not sees)


@pytest.mark.parametrize("role", ROLES)
def test_hidden_partner_cannot_be_probed_through_the_party_filter(client, world, role):
    as_role(client, world, role)
    body = client.get(f"/agreements/?party={world.org_b.id}").get_data(as_text=True)
    if role in SEES_ORG_B:
        assert "Unknown partner" not in body
        assert TITLES["public"] in body
    else:
        # Exactly what a made-up id gives: the filter is ignored, nothing is confirmed.
        assert "Unknown partner; the partner filter was ignored." in body
        made_up = client.get("/agreements/?party=999999").get_data(as_text=True)
        assert "Unknown partner; the partner filter was ignored." in made_up
