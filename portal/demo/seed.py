"""Build and load the demo data set.

Generation is pure and deterministic (a fixed random seed, a fixed "today"): the same records
come out on every run, so loading is idempotent — an organisation is matched on name + country,
an agreement on its reference, a user on e-mail — and ``--force`` adds only what is missing.
Rows go in with bulk INSERTs (one statement per table), so 1,000+ agreements load in seconds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select

from portal.accounts.models import Role, User
from portal.agreements.models import (
    Agreement,
    AgreementParty,
    AgreementSdgTarget,
    agreement_countries,
    agreement_regions,
)
from portal.core.audit import record_audit
from portal.core.models import utcnow
from portal.demo import data
from portal.extensions import db
from portal.partners.models import Country, Organization, Region, organization_regions
from portal.search.models import SearchOutbox

SEED = 20220329  # the day the Executive Board met in Nairobi
TODAY = date(2025, 11, 1)  # fixed, so statuses do not drift from one run to the next
GENERATED_PARTNERS = 300
GENERATED_AGREEMENTS = 1050
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 — public, documented demo login
DEMO_USERS = [
    ("admin@example.org", "Demo Admin", Role.ADMIN, None),
    ("staff@example.org", "Demo Staff", Role.STAFF, None),
    (
        "partner@example.org",
        "Demo Partner",
        Role.PARTNER,
        ("Catalytic Action", "LB"),
    ),
    ("reviewer@example.org", "Demo Reviewer", Role.REVIEWER, None),
]
HABITAT = ("UN-Habitat", "KE")

OrgKey = tuple[str, str | None]


@dataclass
class DemoSet:
    organizations: list[dict] = field(default_factory=list)  # column values + "regions"
    agreements: list[dict] = field(
        default_factory=list
    )  # + "sdg", "countries", "regions", "parties"


@dataclass
class SeedReport:
    organizations: int = 0
    agreements: int = 0
    users: int = 0
    # Consultations and reviews records added by portal/demo/engagement.py (the CLI fills it).
    engagement: int = 0

    @property
    def total(self) -> int:
        return self.organizations + self.agreements + self.users + self.engagement


# --- generation (no database) -----------------------------------------------------------------


def build_demo_set(country_regions: dict[str, str]) -> DemoSet:
    """Every demo record, deterministically.

    ``country_regions`` maps alpha-2 → the country's smallest M49 region."""
    rng = random.Random(SEED)
    demo = DemoSet()
    for actor in data.REAL_ACTORS:
        demo.organizations.append(
            {
                "name": actor["name"],
                "acronym": actor["acronym"],
                "org_type": actor["org_type"],
                "country_code": actor["country"],
                "stakeholder_group": actor["group"],
                "website": actor["website"],
                "description": actor["description"],
                "partner_since": date.fromisoformat(actor["since"]),
                "is_public": True,
                "regions": actor["regions"],
                "lang": "en",
                "city": None,
            }
        )
    _generate_partners(rng, demo, country_regions)
    for spec in data.REAL_AGREEMENTS:
        demo.agreements.append(_real_agreement(spec))
    _generate_agreements(rng, demo, country_regions)
    return demo


def _generate_partners(rng: random.Random, demo: DemoSet, country_regions: dict[str, str]) -> None:
    taken = {(o["name"], o["country_code"]) for o in demo.organizations}
    by_region: dict[str, list[str]] = {}
    for country in sorted(data.CITIES):
        by_region.setdefault(country_regions[country], []).append(country)
    kinds = list(data.PARTNER_KINDS)
    weights = [k[3] for k in kinds]
    # Two partners in every leaf region first, so every continent and sub-region has partners;
    # then the rest spread over all countries.
    countries = [c for region in sorted(by_region) for c in by_region[region][:2]]
    all_countries = sorted(data.CITIES)
    while len(countries) < GENERATED_PARTNERS:
        countries.append(rng.choice(all_countries))
    for country in countries:
        lang, cities = data.CITIES[country]
        for _attempt in range(20):
            kind, org_type, group, _w = rng.choices(kinds, weights)[0]
            city = rng.choice(cities)
            name = rng.choice(data.NAMES[lang][kind]).format(city=city)
            if (name, country) not in taken:
                break
        else:
            # Every name drawn is taken (only in catalogues far larger than the demo: the
            # benchmarks' 12,500 partners): number the last one, "… (2)", "… (3)".
            base, number = name, 2
            name = f"{base} ({number})"
            while (name, country) in taken:
                number += 1
                name = f"{base} ({number})"
        taken.add((name, country))
        topic = rng.choice(data.TOPICS[lang])
        leaf = country_regions[country]
        regions = (
            [leaf]
            if rng.random() < 0.85
            else sorted({leaf, rng.choice(["002", "019", "142", "150", "009"])})
        )
        demo.organizations.append(
            {
                "name": name,
                "acronym": None,
                "org_type": org_type,
                "country_code": country,
                "stakeholder_group": group,
                "website": f"https://partner{len(taken):03d}.example.org"
                if rng.random() < 0.7
                else None,
                "description": data.ORG_DESCRIPTIONS[lang].format(city=city, topic=topic),
                "partner_since": date(
                    rng.randint(2008, 2025), rng.randint(1, 12), rng.randint(1, 28)
                ),
                # A few partners are not yet public (profile awaiting their consent).
                "is_public": rng.random() < 0.93,
                "regions": regions,
                "lang": lang,
                "city": city,
            }
        )


def _real_agreement(spec: dict) -> dict:
    return {
        "reference": spec["reference"],
        "title": spec["title"],
        "summary": spec["summary"],
        "agreement_type": spec["type"],
        "status": spec["status"],
        "signed_on": date.fromisoformat(spec["signed"]),
        "start_on": date.fromisoformat(spec["start"]),
        "end_on": date.fromisoformat(spec["end"]),
        "amount": Decimal(spec["amount"]) if spec["amount"] else None,
        "currency": spec["currency"],
        "domain_of_change": spec["domain"],
        "visibility": spec["visibility"],
        "language": spec.get("language", "en"),
        "sdg": spec["sdg"],
        "countries": spec["countries"],
        "regions": spec["regions"],
        "parties": [(_actor_key(name), role) for name, role in spec["parties"]],
    }


def _actor_key(name: str) -> OrgKey:
    actor = next(a for a in data.REAL_ACTORS if a["name"] == name)
    return (actor["name"], actor["country"])


TYPE_WEIGHTS = {
    "mou": 14,
    "cooperation-agreement": 20,
    "contribution-agreement": 14,
    "project-cooperation-agreement": 28,
    "grant": 14,
    "letter-of-intent": 6,
    "other": 4,
}


def _generate_agreements(
    rng: random.Random, demo: DemoSet, country_regions: dict[str, str]
) -> None:
    partners = [o for o in demo.organizations if o["city"] is not None]
    # Partners by country, in the same order as ``partners`` (so the same choices come out):
    # looking them up per agreement made generating 100,000 agreements quadratic.
    by_country: dict[str, list[dict]] = {}
    for partner in partners:
        by_country.setdefault(partner["country_code"], []).append(partner)
    donors = [_actor_key(name) for name in data.DONORS]
    types, type_weights = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
    for n in range(1, GENERATED_AGREEMENTS + 1):
        lead = rng.choice(partners)
        lang, city, country = lead["lang"], lead["city"], lead["country_code"]
        topic_index = rng.randrange(len(data.TOPICS[lang]))
        topic = data.TOPICS[lang][topic_index]
        agreement_type = rng.choices(types, type_weights)[0]
        signed = date(2012, 1, 1) + timedelta(
            days=rng.randrange((date(2026, 6, 30) - date(2012, 1, 1)).days)
        )
        start = signed + timedelta(days=rng.randint(0, 90))
        end = start + timedelta(days=30 * rng.randint(6, 48))
        status = _status(rng, signed, start, end)
        parties: list[tuple[OrgKey, str]] = []
        if rng.random() < 0.88:
            parties.append((HABITAT, "accountable"))
        else:
            parties.append(((lead["name"], country), "accountable"))
        if parties[0][0] != (lead["name"], country):
            parties.append(((lead["name"], country), "implementing"))
        if rng.random() < 0.25:
            other = rng.choice(by_country.get(country) or partners)
            key = (other["name"], other["country_code"])
            if all(key != k for k, _ in parties):
                parties.append((key, "implementing"))
        donor = None
        if agreement_type in ("contribution-agreement", "grant") or rng.random() < 0.3:
            donor = rng.choice(donors)
            parties.append((donor, "funding"))
        amount, currency = None, None
        if agreement_type not in ("mou", "letter-of-intent") or rng.random() < 0.1:
            amount = Decimal(
                round(math.exp(rng.uniform(math.log(20_000), math.log(8_000_000))), -3)
            )
            roll = rng.random()
            if donor and donor[0] in data.DONOR_CURRENCY and roll < 0.6:
                currency = data.DONOR_CURRENCY[donor[0]]
            elif country in data.LOCAL_CURRENCY and roll > 0.85:
                currency = data.LOCAL_CURRENCY[country]
            else:
                currency = "USD"
        targets = set(rng.sample(data.SDG11_TARGETS, rng.randint(1, 3)))
        if rng.random() < 0.15:
            targets.add(rng.choice(data.OTHER_TARGETS))
        visibility = rng.choices(["public", "partners", "internal"], [75, 15, 10])[0]
        leaf = country_regions[country]
        demo.agreements.append(
            {
                "reference": f"UNH/{signed.year}/{country}/{n:04d}",
                "title": rng.choice(data.TITLES[lang]).format(topic=topic, city=city)[:500],
                "summary": data.SUMMARIES[lang].format(
                    org=lead["name"] if lead["is_public"] else data.UNNAMED_PARTNER[lang],
                    topic=topic,
                    city=city,
                ),
                "agreement_type": agreement_type,
                "status": status,
                "signed_on": None if status in ("draft", "negotiation") else signed,
                "start_on": start,
                "end_on": end,
                "amount": amount,
                "currency": currency,
                "domain_of_change": 1 + (topic_index + rng.randint(0, 1)) % 4,
                "visibility": visibility,
                "language": lang,  # the six UN languages, as its title and summary are written
                "sdg": sorted(targets),
                "countries": [country],
                "regions": [leaf],
                "parties": parties,
            }
        )


def _status(rng: random.Random, signed: date, start: date, end: date) -> str:
    if signed > TODAY:
        return rng.choice(["draft", "negotiation"])
    if end < TODAY:
        return "terminated" if rng.random() < 0.05 else "closed"
    if start > TODAY:
        return "signed"
    return "terminated" if rng.random() < 0.03 else "active"


# --- loading -----------------------------------------------------------------------------------

Advance = Callable[[str, int], None]


def has_data() -> tuple[int, int]:
    orgs = db.session.scalar(select(func.count(Organization.id))) or 0
    agreements = db.session.scalar(select(func.count(Agreement.id))) or 0
    return orgs, agreements


def country_region_codes() -> dict[str, str]:
    return dict(db.session.execute(select(Country.code, Country.region_code)).all())


def load_demo(demo: DemoSet, advance: Advance | None = None) -> SeedReport:
    """Insert the records of ``demo`` that are missing. Never updates existing rows."""
    report = SeedReport()
    step = advance or (lambda _label, _n: None)
    known_regions = set(db.session.scalars(select(Region.code)))

    org_ids = _org_ids()
    new_orgs = [o for o in demo.organizations if (o["name"], o["country_code"]) not in org_ids]
    if new_orgs:
        columns = [
            "name",
            "acronym",
            "org_type",
            "country_code",
            "stakeholder_group",
            "website",
            "description",
            "partner_since",
            "is_public",
        ]
        before = db.session.scalar(select(func.max(Organization.id))) or 0
        db.session.execute(insert(Organization), [{c: o[c] for c in columns} for o in new_orgs])
        ids = _new_ids(Organization, before, [(o["name"], o["country_code"]) for o in new_orgs])
        links = [
            {"organization_id": i, "region_code": r}
            for i, o in zip(ids, new_orgs, strict=True)
            for r in o["regions"]
            if r in known_regions
        ]
        if links:
            db.session.execute(insert(organization_regions), links)
        _queue_search("organization", ids)
        org_ids = _org_ids()
    report.organizations = len(new_orgs)
    step("organizations", len(demo.organizations))

    existing = set(db.session.scalars(select(Agreement.reference)))
    new_agreements = [a for a in demo.agreements if a["reference"] not in existing]
    if new_agreements:
        columns = [
            "reference",
            "title",
            "summary",
            "agreement_type",
            "status",
            "signed_on",
            "start_on",
            "end_on",
            "amount",
            "currency",
            "domain_of_change",
            "visibility",
            "language",
        ]
        before = db.session.scalar(select(func.max(Agreement.id))) or 0
        db.session.execute(insert(Agreement), [{c: a[c] for c in columns} for a in new_agreements])
        ids = _new_ids(Agreement, before, [a["reference"] for a in new_agreements])
        pairs = list(zip(ids, new_agreements, strict=True))
        parties = [
            {"agreement_id": i, "organization_id": org_ids[key], "role": role}
            for i, a in pairs
            for key, role in a["parties"]
            if key in org_ids
        ]
        db.session.execute(insert(AgreementParty), parties)
        db.session.execute(
            insert(AgreementSdgTarget),
            [{"agreement_id": i, "target": t} for i, a in pairs for t in a["sdg"]],
        )
        countries = [
            {"agreement_id": i, "country_code": c} for i, a in pairs for c in a["countries"]
        ]
        if countries:
            db.session.execute(insert(agreement_countries), countries)
        regions = [
            {"agreement_id": i, "region_code": r}
            for i, a in pairs
            for r in a["regions"]
            if r in known_regions
        ]
        if regions:
            db.session.execute(insert(agreement_regions), regions)
        _queue_search("agreement", ids)
    report.agreements = len(new_agreements)
    step("agreements", len(demo.agreements))

    report.users = _load_users(org_ids)
    step("users", len(DEMO_USERS))
    if report.total:
        record_audit(
            "seed",
            "demo",
            summary=(
                f"Demo data: {report.organizations} organisations, {report.agreements} "
                f"agreements, {report.users} users added"
            ),
            after={
                "organizations": report.organizations,
                "agreements": report.agreements,
                "users": report.users,
            },
        )
    db.session.flush()
    return report


def _new_ids(model, before: int, keys: list) -> list[int]:
    """The ids of the rows just inserted, in the order of ``keys`` (an organisation's name and
    country, an agreement's reference). An executemany INSERT and one SELECT: bulk INSERT …
    RETURNING spliced its result batches together in quadratic time (100,000 agreements took
    minutes)."""
    if model is Agreement:
        key_columns = (Agreement.reference,)
    else:
        key_columns = (Organization.name, Organization.country_code)
    rows = db.session.execute(select(model.id, *key_columns).where(model.id > before))
    found = {(row[1] if len(row) == 2 else tuple(row[1:])): row[0] for row in rows}
    return [found[key] for key in keys]


def _org_ids() -> dict[OrgKey, int]:
    return {
        (name, country): oid
        for oid, name, country in db.session.execute(
            select(Organization.id, Organization.name, Organization.country_code)
        )
    }


def _load_users(org_ids: dict[OrgKey, int]) -> int:
    emails = set(db.session.scalars(select(User.email)))
    added = 0
    for email, name, role, org_key in DEMO_USERS:
        if email in emails:
            continue
        user = User(
            email=email,
            name=name,
            role=role.value,
            organization_id=org_ids.get(org_key) if org_key else None,
        )
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
        added += 1
    return added


def _queue_search(kind: str, ids: list[int]) -> None:
    """Bulk INSERTs bypass the ORM flush listener, so queue the search documents ourselves;
    ``flask search sync`` (or the worker) indexes them."""
    now = utcnow()
    db.session.execute(
        insert(SearchOutbox),
        [
            {"doc_id": f"{kind}:{i}", "created_at": now, "attempts": 0, "next_attempt_at": now}
            for i in ids
        ],
    )
