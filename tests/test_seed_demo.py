"""``flask seed-demo``: a large, realistic, multilingual and idempotent demo data set."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from portal.accounts.models import User
from portal.agreements.models import Agreement, AgreementParty
from portal.extensions import db
from portal.partners.models import Country, Organization, Region
from tests.conftest import login

REAL_ACTORS = [
    ("Government of Sweden", "SE", "10"),
    ("Government of Germany", "DE", "10"),
    ("Government of Switzerland", "CH", "10"),
    ("Catalytic Action", "LB", "22"),
    ("UCL Development Planning Unit", "GB", "80"),
    ("UNICEF", "US", "40"),
    ("United Nations Office for Disarmament Affairs", "US", "40"),
    ("Université Joseph Ki-Zerbo de Ouagadougou", "BF", "80"),
    ("Université Cheikh Anta Diop de Dakar", "SN", "80"),
    ("University of Nairobi", "KE", "80"),
    ("World Bank", "US", "40"),
    ("International Urban Training Center, Gangwon Province", "KR", "15"),
    ("Food and Agriculture Organization of the United Nations", "IT", "40"),
    ("United Cities and Local Governments", "ES", "21"),
    ("Organisation for Economic Co-operation and Development", "FR", "40"),
    ("Songyang County People's Government", "CN", "11"),
    ("Junta de Andalucía", "ES", "11"),
    ("Ayuntamiento de Madrid", "ES", "11"),
    ("Miasto Katowice", "PL", "11"),
    ("UN-Habitat", "KE", "40"),
]


def counts() -> tuple[int, int, int, int]:
    return (
        db.session.scalar(select(func.count(Organization.id))),
        db.session.scalar(select(func.count(Agreement.id))),
        db.session.scalar(select(func.count(AgreementParty.id))),
        db.session.scalar(select(func.count(User.id))),
    )


def test_seed_demo_builds_a_realistic_data_set_once(runner, client):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    for email in (
        "admin@example.org",
        "staff@example.org",
        "partner@example.org",
        "reviewer@example.org",
    ):
        assert email in result.output
    assert "demo-password-2026" in result.output

    orgs, agreements, parties, users = counts()
    assert orgs >= 300 and agreements >= 1000 and users == 4 + 12  # + advisory group members

    # The real actors of the Executive Board report, with the right type and country.
    for name, country, org_type in REAL_ACTORS:
        org = db.session.scalar(
            select(Organization).where(
                Organization.name == name, Organization.country_code == country
            )
        )
        assert org is not None, name
        assert org.org_type == org_type, name
    decid = db.session.scalar(select(Agreement).where(Agreement.reference == "UNH/2020/LB/DECID"))
    assert {p.organization.name for p in decid.parties} >= {
        "Catalytic Action",
        "UNICEF",
        "UN-Habitat",
    }

    # Every continent (level 2) and sub-region (level 3) that has countries has partners.
    regions = {r.code: r for r in db.session.scalars(select(Region))}
    partner_regions: set[str] = set()
    for (region_code,) in db.session.execute(
        select(Country.region_code).join(Organization, Organization.country_code == Country.code)
    ):
        node = regions.get(region_code)
        while node is not None:
            partner_regions.add(node.code)
            node = regions.get(node.parent_code)
    country_regions: set[str] = set()
    for (region_code,) in db.session.execute(
        select(Country.region_code).where(Country.region_code.isnot(None))
    ):
        node = regions.get(region_code)
        while node is not None:
            country_regions.add(node.code)
            node = regions.get(node.parent_code)
    for region in regions.values():
        if region.level in (2, 3) and region.code in country_regions:
            assert region.code in partner_regions, f"no partner in {region.code} {region.name}"

    # Names in several UN languages, a realistic mix of visibilities, SDG 11 mostly, 2012–2026.
    names = db.session.scalars(select(Organization.name)).all()
    assert any(re.search(r"[\u4e00-\u9fff]", n) for n in names)  # Chinese
    assert any(re.search(r"[\u0600-\u06ff]", n) for n in names)  # Arabic
    assert any(re.search(r"[\u0400-\u04ff]", n) for n in names)  # Russian
    assert any(n.startswith(("Ville de", "Université de")) for n in names)  # French
    assert any(n.startswith(("Municipalidad de", "Universidad de")) for n in names)  # Spanish
    share = dict(
        db.session.execute(
            select(Agreement.visibility, func.count()).group_by(Agreement.visibility)
        ).all()
    )
    assert 0.68 < share["public"] / agreements < 0.82
    assert 0.10 < share["partners"] / agreements < 0.20
    assert 0.05 < share["internal"] / agreements < 0.15
    years = db.session.execute(
        select(func.min(Agreement.start_on), func.max(Agreement.start_on))
    ).one()
    assert years[0].year >= 2012 and years[1].year <= 2026
    statuses = set(db.session.scalars(select(Agreement.status).distinct()))
    assert statuses == {"draft", "negotiation", "signed", "active", "closed", "terminated"}
    domains = set(db.session.scalars(select(Agreement.domain_of_change).distinct()))
    assert domains == {1, 2, 3, 4}

    # Public text never names a partner the directory hides (its party line says "Undisclosed
    # partner"): 18 of 19 such summaries once did, and search found them by that name.
    hidden = set(db.session.scalars(select(Organization.name).where(~Organization.is_public)))
    assert hidden
    leaks = [
        a.reference
        for a in db.session.scalars(select(Agreement).where(Agreement.visibility == "public"))
        if any(name in f"{a.title} {a.summary}" for name in hidden)
    ]
    assert not leaks, leaks[:5]

    # After `search rebuild` nothing is left pending (status said ~1,400 pending while check
    # said the index agreed).
    from portal.search.outbox import pending_count

    assert runner.invoke(args=["search", "rebuild"]).exit_code == 0
    assert pending_count() == 0
    assert runner.invoke(args=["search", "check"]).exit_code == 0

    # The partner demo user belongs to Catalytic Action; the demo users can log in.
    partner = db.session.scalar(select(User).where(User.email == "partner@example.org"))
    assert partner.organization.name == "Catalytic Action"
    assert login(client, "staff@example.org", "demo-password-2026").status_code in (302, 303)

    # Running it again changes nothing, with or without --force.
    before = counts()
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0
    assert "already has" in again.output and "nothing" in again.output
    assert counts() == before
    forced = runner.invoke(args=["seed-demo", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "nothing was added" in forced.output
    assert counts() == before


def test_force_adds_only_what_is_missing(runner, factories):
    factories.make_org("Catalytic Action", country="LB", regions=("145",))
    db.session.commit()
    assert "already has 1 organisations" in runner.invoke(args=["seed-demo"]).output
    assert counts()[1] == 0

    result = runner.invoke(args=["seed-demo", "--force"])
    assert result.exit_code == 0, result.output
    catalytic = db.session.scalars(
        select(Organization).where(Organization.name == "Catalytic Action")
    ).all()
    assert len(catalytic) == 1  # matched on name + country, not duplicated
    assert db.session.scalar(select(func.count(Agreement.id))) >= 1000


def test_every_demo_login_passes_the_e_mail_checks():
    """Demo addresses were on `.local`, which the e-mail validator refuses (reviewer lists,
    password reset): a newcomer could not invite or reset a demo user."""
    from email_validator import validate_email

    from portal.demo import engagement_data
    from portal.demo.seed import DEMO_USERS
    from portal.reviews.audience import parse_email_list

    addresses = [u[0] for u in DEMO_USERS] + [m["email"] for m in engagement_data.MEMBERS]
    addresses += [email for email, _role in engagement_data.WUF_MEMBERS]
    addresses = list(dict.fromkeys(addresses))
    for address in addresses:
        assert validate_email(address, check_deliverability=False).normalized == address
    parsed = parse_email_list("\n".join(addresses))
    assert parsed.emails == addresses and not parsed.invalid
