"""Aggregates behind /insights, the scoped panels on region, country and partner pages, and
partners' contributions.

Every figure starts from ``agreement_conditions`` (portal/agreements/queries.py), which begins
with ``visible_agreements_filter``: the public's charts, map and totals are computed from public
agreements only; a partner's from what its pages show it; staff see everything not archived.
Organisations are counted only when the viewer may see them (``visible_organizations_filter``).

Each breakdown is one GROUP BY over (key, currency), so the page costs a handful of queries
whatever the size of the catalogue. Values are kept per currency and never added across
currencies: an agreement in KES and one in USD are two figures, not one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, case, distinct, func, select, union
from sqlalchemy.orm import aliased

from portal.agreements import catalogue_index
from portal.agreements.models import (
    AGREEMENT_TYPES,
    DOMAINS_OF_CHANGE,
    PARTY_ROLES,
    Agreement,
    AgreementParty,
    AgreementSdgTarget,
    agreement_countries,
    agreement_regions,
)
from portal.agreements.permissions import visible_agreements_filter
from portal.agreements.queries import (
    AgreementFilters,
    agreement_conditions,
)
from portal.extensions import db
from portal.partners.models import STAKEHOLDER_GROUPS, Country, Organization
from portal.partners.permissions import visible_organizations_filter
from portal.partners.place_names import place_name
from portal.partners.queries import CONTRIBUTING_ROLES, WORLD, RegionTree

NONE_KEY = ""  # the bucket of agreements without a value for the dimension
SDG_GOAL_NAMES = {
    1: _l("No poverty"),
    2: _l("Zero hunger"),
    3: _l("Good health and well-being"),
    4: _l("Quality education"),
    5: _l("Gender equality"),
    6: _l("Clean water and sanitation"),
    7: _l("Affordable and clean energy"),
    8: _l("Decent work and economic growth"),
    9: _l("Industry, innovation and infrastructure"),
    10: _l("Reduced inequalities"),
    11: _l("Sustainable cities and communities"),
    12: _l("Responsible consumption and production"),
    13: _l("Climate action"),
    14: _l("Life below water"),
    15: _l("Life on land"),
    16: _l("Peace, justice and strong institutions"),
    17: _l("Partnerships for the goals"),
}


@dataclass
class Bucket:
    """One row of a breakdown: a key, its label, agreements and value per currency."""

    key: str
    label: str
    count: int = 0
    values: dict[str, Decimal] = field(default_factory=dict)  # currency → total, never mixed
    filter_value: str | None = None  # the /insights filter that narrows to this row

    def value_in(self, currency: str | None) -> Decimal:
        return self.values.get(currency or "", Decimal(0))

    def other_values(self, currency: str | None) -> list[tuple[str, Decimal]]:
        return sorted((c, v) for c, v in self.values.items() if c != currency)


@dataclass
class Breakdown:
    name: str  # region, year, type, domain, sdg, stakeholder_group
    title: str
    rows: list[Bucket]
    unit: str = "agreements"  # or "partners" (no values)
    note: str | None = None  # e.g. "an agreement in two regions counts in each"
    filter_param: str | None = None  # the /insights query argument a row's link sets
    unassigned: int = 0  # agreements (or partners) without a value for this dimension

    @property
    def has_values(self) -> bool:
        return self.unit == "agreements"

    @property
    def total(self) -> int:
        return sum(row.count for row in self.rows)

    def top(self) -> Bucket | None:
        rows = [r for r in self.rows if r.count]
        return max(rows, key=lambda r: r.count) if rows else None

    def top_by_value(self, currency: str | None) -> Bucket | None:
        rows = [r for r in self.rows if r.value_in(currency)]
        return max(rows, key=lambda r: r.value_in(currency)) if rows and currency else None


@dataclass
class CountryCount:
    code: str  # alpha-2
    numeric: str
    name: str
    region_code: str | None
    count: int


@dataclass
class Totals:
    agreements: int
    partners: int
    countries: int
    by_currency: list[tuple[str, int, Decimal]]  # (currency, agreements with a value, total)
    without_value: int


@dataclass
class Insights:
    filters: AgreementFilters
    currency: str | None
    currencies: list[str]
    totals: Totals
    breakdowns: list[Breakdown]
    countries: list[CountryCount]
    regions: Breakdown  # agreements per region one level below the focus (or continents)
    highlight_region: str | None = None
    highlight_country: str | None = None

    def breakdown(self, name: str) -> Breakdown | None:
        return next((b for b in self.breakdowns if b.name == name), None)


# --------------------------------------------------------------------------- helpers


def scoped_ids(filters: AgreementFilters, user, tree: RegionTree) -> Select:
    return select(Agreement.id).where(*agreement_conditions(filters, user, tree=tree))


def party_ids(ids: Select) -> Select:
    """The organisations that are a party to any of ``ids`` (the table aliased, so the
    agreement visibility filter inside ``ids`` keeps its own agreement_parties)."""
    party = aliased(AgreementParty)
    return select(party.organization_id).where(party.agreement_id.in_(ids))


def _fold(rows, labeller) -> dict[str, Bucket]:
    """(key, currency, count, sum) rows → buckets; count is summed over currencies (each
    agreement has one currency), values stay apart."""
    buckets: dict[str, Bucket] = {}
    for key, currency, count, total in rows:
        key = NONE_KEY if key is None else str(key)
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = Bucket(key, labeller(key))
        bucket.count += count
        if currency and total is not None:
            bucket.values[currency] = bucket.values.get(currency, Decimal(0)) + Decimal(total)
    return buckets


def _by_column(column, conds: list[ColumnElement[bool]]):
    return db.session.execute(
        select(column, Agreement.currency, func.count(Agreement.id), func.sum(Agreement.amount))
        .where(*conds)
        .group_by(column, Agreement.currency)
    ).all()


def _by_pairs(pairs, key_column):
    """Rows for a (agreement_id, key) pair table: each pair counts once."""
    return db.session.execute(
        select(
            key_column,
            Agreement.currency,
            func.count(Agreement.id),
            func.sum(Agreement.amount),
        )
        .join(Agreement, Agreement.id == pairs.c.agreement_id)
        .group_by(key_column, Agreement.currency)
    ).all()


def sdg_goal_expr(target_column):
    """The goal of an SDG target ('11.1' → '11', '6.a' → '6'), portable across databases."""
    return case(
        (func.substr(target_column, 2, 1) == ".", func.substr(target_column, 1, 1)),
        else_=func.substr(target_column, 1, 2),
    )


def sdg_goal_label(goal: int) -> str:
    return _("Goal %(goal)s: %(name)s", goal=goal, name=SDG_GOAL_NAMES[goal])


# --------------------------------------------------------------------------- breakdowns


def region_rollup(ids: Select, tree: RegionTree, wanted: set[str]) -> dict[str, Bucket]:
    """Agreements (and value per currency) in each of the ``wanted`` regions, descendants
    included — one GROUP BY, each agreement counted once per region.

    An agreement is in a region when it names the region or one of its countries lies in it
    (``agreement_region_links``). Every linked region code is mapped to the wanted region above
    it with a CASE built from the M49 tree in memory (a few dozen codes), so no recursive query
    runs: at 10,000 agreements the recursive CTE joined in SQL was the slowest part of the page.
    The wanted regions must not contain one another.
    """
    mapping: dict[str, str] = {}
    for code in tree.by_code:
        for candidate in (code, *(r.code for r in reversed(tree.path(code)))):
            if candidate in wanted:
                mapping[code] = candidate
                break
    if not mapping:
        return {}
    # Countries map straight to the wanted region too, so no join to countries is needed.
    country_mapping = {
        country: mapping[region]
        for country, region in db.session.execute(select(Country.code, Country.region_code))
        if region in mapping
    }
    by_region = case(mapping, value=agreement_regions.c.region_code, else_=None)
    named = select(agreement_regions.c.agreement_id.label("agreement_id"), by_region.label("key"))
    named = named.where(agreement_regions.c.agreement_id.in_(ids), by_region.is_not(None))
    parts = [named]
    if country_mapping:
        by_country = case(country_mapping, value=agreement_countries.c.country_code, else_=None)
        placed = select(
            agreement_countries.c.agreement_id.label("agreement_id"), by_country.label("key")
        ).where(agreement_countries.c.agreement_id.in_(ids), by_country.is_not(None))
        parts.append(placed)
    # UNION (not UNION ALL): an agreement named in a region and placed there by a country
    # counts once.
    pairs = union(*parts).subquery("region_pairs")
    buckets = _fold(_by_pairs(pairs, pairs.c.key), lambda k: place_name(tree.get(k).name))
    for bucket in buckets.values():
        bucket.filter_value = bucket.key
    return buckets


def region_breakdown(ids: Select, tree: RegionTree, focus: str | None) -> Breakdown:
    """Agreements per region one level below ``focus`` (continents when there is none)."""
    parent = focus or WORLD
    children = tree.children.get(parent, [])
    if not children:  # a leaf region: show the region itself
        children = [tree.get(parent)] if tree.get(parent) else []
    buckets = region_rollup(ids, tree, {r.code for r in children})
    rows = sorted(buckets.values(), key=lambda b: (-b.count, b.label))
    return Breakdown(
        "region",
        _("Agreements by region"),
        rows,
        note=_("An agreement that names several regions counts in each of them."),
        filter_param="region",
    )


def year_breakdown(conds: list[ColumnElement[bool]]) -> Breakdown:
    return _year_breakdown(_by_column(func.extract("year", Agreement.signed_on), conds))


def _year_breakdown(rows) -> Breakdown:
    buckets = _fold(rows, lambda k: k)
    unsigned = buckets.pop(NONE_KEY, None)
    rows = []
    if buckets:
        years = [int(float(k)) for k in buckets]
        by_year = {int(float(k)): b for k, b in buckets.items()}
        for y in range(min(years), max(years) + 1):  # every year, gaps shown as zero
            bucket = by_year.get(y) or Bucket(str(y), str(y))
            bucket.key = bucket.label = bucket.filter_value = str(y)
            rows.append(bucket)
    return Breakdown(
        "year",
        _("Agreements by year of signature"),
        rows,
        filter_param="year",
        unassigned=unsigned.count if unsigned else 0,
        note=_("Agreements not signed yet have no year and are not in this chart."),
    )


def type_breakdown(conds: list[ColumnElement[bool]]) -> Breakdown:
    return _type_breakdown(_by_column(Agreement.agreement_type, conds))


def _type_breakdown(rows) -> Breakdown:
    buckets = _fold(rows, lambda k: str(AGREEMENT_TYPES.get(k, k)))
    rows = [buckets[k] for k in AGREEMENT_TYPES if k in buckets]
    for row in rows:
        row.filter_value = row.key
    return Breakdown("type", _("Agreements by type"), rows, filter_param="type")


def domain_breakdown(conds: list[ColumnElement[bool]]) -> Breakdown:
    return _domain_breakdown(_by_column(Agreement.domain_of_change, conds))


def _domain_breakdown(rows) -> Breakdown:
    buckets = _fold(rows, lambda k: f"{k}. {DOMAINS_OF_CHANGE[int(k)]}" if k else "")
    none = buckets.pop(NONE_KEY, None)
    rows = [buckets[str(d)] for d in DOMAINS_OF_CHANGE if str(d) in buckets]
    for row in rows:
        row.filter_value = row.key
    return Breakdown(
        "domain",
        _("Agreements by domain of change"),
        rows,
        filter_param="domain",
        unassigned=none.count if none else 0,
    )


def sdg_breakdown(ids: Select) -> Breakdown:
    goal = sdg_goal_expr(AgreementSdgTarget.target)
    pairs = (
        select(AgreementSdgTarget.agreement_id.label("agreement_id"), goal.label("key"))
        .where(AgreementSdgTarget.agreement_id.in_(ids))
        .distinct()
        .subquery("goal_pairs")
    )
    return _sdg_breakdown(_by_pairs(pairs, pairs.c.key))


def _sdg_breakdown(rows) -> Breakdown:
    buckets = _fold(rows, lambda k: k)
    rows = []
    for number in SDG_GOAL_NAMES:
        bucket = buckets.get(str(number))
        if bucket:
            bucket.label = sdg_goal_label(number)
            bucket.filter_value = str(number)
            rows.append(bucket)
    return Breakdown(
        "sdg",
        _("Agreements by Sustainable Development Goal"),
        rows,
        note=_("An agreement with targets under several goals counts under each goal."),
        filter_param="sdg",
    )


def stakeholder_breakdown(ids: Select, user) -> Breakdown:
    rows = db.session.execute(
        select(Organization.stakeholder_group, func.count(Organization.id))
        .where(Organization.id.in_(party_ids(ids)), visible_organizations_filter(user))
        .group_by(Organization.stakeholder_group)
    ).all()
    return _stakeholder_breakdown({key or NONE_KEY: n for key, n in rows})


def _stakeholder_breakdown(counts: dict[str, int]) -> Breakdown:
    buckets = [
        Bucket(key, str(label), counts[key])
        for key, label in STAKEHOLDER_GROUPS.items()
        if key in counts
    ]
    buckets.sort(key=lambda b: (-b.count, b.label))
    return Breakdown(
        "stakeholder_group",
        _("Partners by stakeholder group"),
        buckets,
        unit="partners",
        unassigned=counts.get(NONE_KEY, 0),
        note=_("Partners that are a party to at least one of these agreements."),
    )


def country_counts(ids: Select) -> list[CountryCount]:
    rows = db.session.execute(
        select(
            Country.code,
            Country.numeric,
            Country.name,
            Country.region_code,
            func.count(distinct(agreement_countries.c.agreement_id)),
        )
        .join(agreement_countries, agreement_countries.c.country_code == Country.code)
        .where(agreement_countries.c.agreement_id.in_(ids))
        .group_by(Country.code, Country.numeric, Country.name, Country.region_code)
    ).all()
    out = [CountryCount(c, num, place_name(name), reg, n) for c, num, name, reg, n in rows]
    return sorted(out, key=lambda c: (-c.count, c.name))


def totals_for(conds: list[ColumnElement[bool]], ids: Select, user) -> Totals:
    rows = db.session.execute(
        select(Agreement.currency, func.count(Agreement.id), func.sum(Agreement.amount))
        .where(*conds)
        .group_by(Agreement.currency)
    ).all()
    agreements = sum(n for _c, n, _s in rows)
    by_currency = sorted(
        ((cur, n, Decimal(total or 0)) for cur, n, total in rows if cur and total is not None),
        key=lambda r: (-r[1], r[0]),
    )
    partners = db.session.scalar(
        select(func.count(Organization.id)).where(
            Organization.id.in_(party_ids(ids)), visible_organizations_filter(user)
        )
    )
    countries = db.session.scalar(
        select(func.count(distinct(agreement_countries.c.country_code))).where(
            agreement_countries.c.agreement_id.in_(ids)
        )
    )
    return Totals(
        agreements=agreements,
        partners=partners or 0,
        countries=countries or 0,
        by_currency=by_currency,
        without_value=agreements - sum(n for _c, n, _t in by_currency),
    )


def choose_currency(requested: str | None, totals: Totals) -> str | None:
    """The currency value charts show: the one asked for if it occurs, else the most used."""
    present = [cur for cur, _n, _t in totals.by_currency]
    if requested and requested.upper() in present:
        return requested.upper()
    return present[0] if present else None


def build_insights(
    filters: AgreementFilters,
    user,
    tree: RegionTree,
    *,
    currency: str | None = None,
    only: set[str] | None = None,
) -> Insights:
    """Every figure for one scope: totals, six breakdowns, agreements per country and region."""
    if not filters.q:
        snap = catalogue_index.snapshot()
        if snap is not None:
            return indexed_insights(snap, filters, user, tree, currency=currency, only=only)
    conds = agreement_conditions(filters, user, tree=tree)
    ids = select(Agreement.id).where(*conds)
    totals = totals_for(conds, ids, user)
    regions = region_breakdown(ids, tree, filters.region)
    if only is None:
        only = {"region", "year", "type", "domain", "sdg", "stakeholder_group"}
    builders = {
        "region": lambda: regions,
        "year": lambda: year_breakdown(conds),
        "type": lambda: type_breakdown(conds),
        "domain": lambda: domain_breakdown(conds),
        "sdg": lambda: sdg_breakdown(ids),
        "stakeholder_group": lambda: stakeholder_breakdown(ids, user),
    }
    breakdowns = [build() for name, build in builders.items() if name in only]
    return Insights(
        filters=filters,
        currency=choose_currency(currency, totals),
        currencies=[cur for cur, _n, _t in totals.by_currency],
        totals=totals,
        breakdowns=breakdowns,
        countries=country_counts(ids),
        regions=regions,
        highlight_region=filters.region,
        highlight_country=filters.country,
    )


# --------------------------------------------------------------------------- from the index


def _index_rows(grouped: dict, key_of) -> list[tuple]:
    """``Snapshot.grouped`` output as the (key, currency, count, total) rows ``_fold`` takes."""
    rows = []
    for k, (count, values) in grouped.items():
        key = key_of(k)
        rows.append((key, None, count, None))
        rows.extend((key, cur, 0, total) for cur, total in values.items())
    return rows


def _index_region_rollup(snap, mask, tree: RegionTree, wanted: set[str]) -> dict[str, Bucket]:
    """``region_rollup`` from the index: the region pairs hold every ancestor of an
    agreement's regions, so an agreement is in a wanted region when that pair exists."""
    pos, key = snap.region_pairs_among(wanted)
    if not len(pos):
        return {}
    grouped = snap.grouped(mask, pos, key)
    buckets = _fold(
        _index_rows(grouped, lambda k: snap.region.keys[k]),
        lambda k: place_name(tree.get(k).name),
    )
    for bucket in buckets.values():
        bucket.filter_value = bucket.key
    return buckets


def _index_countries(snap, mask) -> list[CountryCount]:
    counts = snap.count_by(snap.country, mask).tolist()
    out = []
    for code, n in zip(snap.country.keys, counts, strict=True):
        if n:
            numeric, name, region = snap.country_info[code]
            out.append(CountryCount(code, numeric, place_name(name), region, n))
    return sorted(out, key=lambda c: (-c.count, c.name))


def _index_party_orgs(snap, mask, user) -> np.ndarray:
    """Indexes of the organisations the viewer may see that are a party to ``mask``."""
    hit = snap.count_by(snap.party, mask) > 0
    return np.flatnonzero(hit & snap.visible_orgs(user))


def indexed_insights(
    snap,
    filters: AgreementFilters,
    user,
    tree: RegionTree,
    *,
    currency: str | None = None,
    only: set[str] | None = None,
) -> Insights:
    """``build_insights`` answered by the catalogue index (the same figures; see
    tests/test_catalogue_index.py)."""
    visible, masks = snap.filter_masks(filters, user, tree)
    mask = snap.combine(visible, masks)
    orgs = _index_party_orgs(snap, mask, user)
    by_currency = snap.currency_totals(mask)
    agreements = int(mask.sum())
    totals = Totals(
        agreements=agreements,
        partners=len(orgs),
        countries=int((snap.count_by(snap.country, mask) > 0).sum()),
        by_currency=by_currency,
        without_value=agreements - sum(n for _c, n, _t in by_currency),
    )

    parent = filters.region or WORLD
    children = tree.children.get(parent, []) or ([tree.get(parent)] if tree.get(parent) else [])
    region_buckets = _index_region_rollup(snap, mask, tree, {r.code for r in children})
    regions = Breakdown(
        "region",
        _("Agreements by region"),
        sorted(region_buckets.values(), key=lambda b: (-b.count, b.label)),
        note=_("An agreement that names several regions counts in each of them."),
        filter_param="region",
    )
    if only is None:
        only = {"region", "year", "type", "domain", "sdg", "stakeholder_group"}

    def column_rows(column, none_value, key_of):
        grouped = snap.grouped(mask, None, column)
        return _index_rows(grouped, lambda k: None if k == none_value else key_of(k))

    def stakeholders():
        groups = snap.org_group[orgs]
        counts = {
            snap.groups[g] or NONE_KEY: int(n)
            for g, n in zip(*np.unique(groups, return_counts=True), strict=True)
        }
        return _stakeholder_breakdown(counts)

    builders = {
        "region": lambda: regions,
        "year": lambda: _year_breakdown(column_rows(snap.year, 0, int)),
        "type": lambda: _type_breakdown(column_rows(snap.type + 1, 0, lambda k: snap.types[k - 1])),
        "domain": lambda: _domain_breakdown(column_rows(snap.domain, 0, int)),
        "sdg": lambda: _sdg_breakdown(
            _index_rows(
                snap.grouped(mask, snap.goal.pos, snap.goal.key), lambda k: snap.goal.keys[k]
            )
        ),
        "stakeholder_group": stakeholders,
    }
    return Insights(
        filters=filters,
        currency=choose_currency(currency, totals),
        currencies=[cur for cur, _n, _t in totals.by_currency],
        totals=totals,
        breakdowns=[build() for name, build in builders.items() if name in only],
        countries=_index_countries(snap, mask),
        regions=regions,
        highlight_region=filters.region,
        highlight_country=filters.country,
    )


# --------------------------------------------------------------------------- partners


@dataclass
class Contribution:
    """What one partner brings, as far as the viewer may see: never summed across currencies."""

    roles: list[tuple[str, str, int]]  # (role, label, agreements)
    values: list[tuple[str, str, str, int, Decimal]]  # (role, label, currency, agreements, total)
    countries: list[CountryCount]
    regions: list[tuple[str, str, int, int]]  # (code, name, level, agreements)
    agreements: int
    first_year: int | None
    last_year: int | None
    since_year: int | None
    years_of_partnership: int | None


def _org_agreement_ids(org_id: int, user) -> Select:
    party = aliased(AgreementParty)
    return (
        select(party.agreement_id)
        .join(Agreement, Agreement.id == party.agreement_id)
        .where(party.organization_id == org_id, visible_agreements_filter(user))
    )


def partner_contribution(org: Organization, user, tree: RegionTree, today: date) -> Contribution:
    snap = catalogue_index.snapshot()
    if snap is not None:
        return _indexed_contribution(snap, org, user, tree, today)
    ids = _org_agreement_ids(org.id, user)
    party = aliased(AgreementParty)
    role_rows = dict(
        db.session.execute(
            select(party.role, func.count(distinct(party.agreement_id)))
            .join(Agreement, Agreement.id == party.agreement_id)
            .where(party.organization_id == org.id, visible_agreements_filter(user))
            .group_by(party.role)
        ).all()
    )
    roles = [(r, str(label), role_rows[r]) for r, label in PARTY_ROLES.items() if r in role_rows]
    value_rows = db.session.execute(
        select(
            party.role,
            Agreement.currency,
            func.count(distinct(Agreement.id)),
            func.sum(Agreement.amount),
        )
        .join(Agreement, Agreement.id == party.agreement_id)
        .where(
            party.organization_id == org.id,
            party.role.in_(CONTRIBUTING_ROLES),
            visible_agreements_filter(user),
            Agreement.amount.is_not(None),
            Agreement.currency.is_not(None),
        )
        .group_by(party.role, Agreement.currency)
    ).all()
    values = sorted(
        (
            (role, str(PARTY_ROLES[role]), cur, n, Decimal(total))
            for role, cur, n, total in value_rows
        ),
        key=lambda v: (CONTRIBUTING_ROLES.index(v[0]), -v[3], v[2]),
    )
    years = db.session.execute(
        select(func.min(Agreement.signed_on), func.max(Agreement.signed_on), func.count()).where(
            Agreement.id.in_(ids)
        )
    ).one()
    first, last, count = years
    regions = []
    for level in (2, 3):  # continents, then sub-regions
        codes = {code for code, region in tree.by_code.items() if region.level == level}
        regions.extend(
            (b.key, b.label, level, b.count) for b in region_rollup(ids, tree, codes).values()
        )
    regions.sort(key=lambda r: (r[2], -r[3], r[1]))
    since = org.partner_since.year if org.partner_since else (first.year if first else None)
    return Contribution(
        roles=roles,
        values=values,
        countries=country_counts(ids),
        regions=regions,
        agreements=count,
        first_year=first.year if first else None,
        last_year=last.year if last else None,
        since_year=since,
        years_of_partnership=(today.year - since + 1) if since and since <= today.year else None,
    )


def _indexed_contribution(snap, org, user, tree: RegionTree, today: date) -> Contribution:
    """``partner_contribution`` from the catalogue index."""
    visible = snap.visible(user)
    mask = np.zeros(snap.n, dtype=bool)
    mask[snap.agreements_of_org(org.id)] = True
    mask &= visible
    index = snap.org_index.get(org.id)

    def role_positions(role: str) -> np.ndarray:
        pairs = snap.roles.get(role)
        if pairs is None or index is None:
            return np.zeros(0, np.int64)
        pos = pairs.pos[pairs.key == index]
        return pos[mask[pos]]

    roles = []
    values = []
    for role, label in PARTY_ROLES.items():
        pos = role_positions(role)
        if len(pos):
            roles.append((role, str(label), len(pos)))
        if role in CONTRIBUTING_ROLES and len(pos):
            only = np.zeros(snap.n, dtype=bool)
            only[pos] = True
            only &= snap.has_amount & (snap.currency >= 0)
            values.extend(
                (role, str(label), cur, n, total) for cur, n, total in snap.currency_totals(only)
            )
    values.sort(key=lambda v: (CONTRIBUTING_ROLES.index(v[0]), -v[3], v[2]))
    years = snap.year[mask]
    years = years[years > 0]
    first_year = int(years.min()) if len(years) else None
    last_year = int(years.max()) if len(years) else None
    regions = []
    for level in (2, 3):  # continents, then sub-regions
        codes = {code for code, region in tree.by_code.items() if region.level == level}
        regions.extend(
            (b.key, b.label, level, b.count)
            for b in _index_region_rollup(snap, mask, tree, codes).values()
        )
    regions.sort(key=lambda r: (r[2], -r[3], r[1]))
    since = org.partner_since.year if org.partner_since else first_year
    return Contribution(
        roles=roles,
        values=values,
        countries=_index_countries(snap, mask),
        regions=regions,
        agreements=int(mask.sum()),
        first_year=first_year,
        last_year=last_year,
        since_year=since,
        years_of_partnership=(today.year - since + 1) if since and since <= today.year else None,
    )


def contribution_figures(
    org_ids: list[int], user, currency: str | None
) -> dict[int, dict[str, object]]:
    """For a directory page: agreements funded / implemented and value in ``currency``."""
    if not org_ids:
        return {}
    snap = catalogue_index.snapshot()
    if snap is not None:
        return _indexed_contribution_figures(snap, org_ids, user, currency)
    party = aliased(AgreementParty)
    out: dict[int, dict[str, object]] = {oid: Counter() for oid in org_ids}
    rows = db.session.execute(
        select(party.organization_id, party.role, func.count(distinct(party.agreement_id)))
        .join(Agreement, Agreement.id == party.agreement_id)
        .where(
            party.organization_id.in_(org_ids),
            party.role.in_(CONTRIBUTING_ROLES),
            visible_agreements_filter(user),
        )
        .group_by(party.organization_id, party.role)
    ).all()
    for oid, role, n in rows:
        out[oid][role] = n
    if currency:
        # Distinct (organisation, agreement) first: a partner that both funds and implements
        # an agreement counts its value once, as in the directory's sort.
        pairs = (
            select(party.organization_id.label("org_id"), party.agreement_id.label("agreement_id"))
            .where(party.organization_id.in_(org_ids), party.role.in_(CONTRIBUTING_ROLES))
            .distinct()
            .subquery("contributing")
        )
        for oid, total in db.session.execute(
            select(pairs.c.org_id, func.sum(Agreement.amount))
            .join(Agreement, Agreement.id == pairs.c.agreement_id)
            .where(Agreement.currency == currency, visible_agreements_filter(user))
            .group_by(pairs.c.org_id)
        ).all():
            out[oid]["value"] = Decimal(total or 0)
    return out


def _indexed_contribution_figures(snap, org_ids, user, currency):
    visible = snap.visible(user)
    out: dict[int, dict[str, object]] = {oid: Counter() for oid in org_ids}
    indexes = {snap.org_index[oid]: oid for oid in org_ids if oid in snap.org_index}
    wanted = np.fromiter(indexes, dtype=np.int64, count=len(indexes))
    contributing = np.zeros(0, np.int64), np.zeros(0, np.int64)
    for role in CONTRIBUTING_ROLES:
        pairs = snap.roles.get(role)
        if pairs is None:
            continue
        keep = snap.among(pairs.key, wanted, len(snap.org_ids)) & visible[pairs.pos]
        pos, key = pairs.pos[keep], pairs.key[keep]
        for k, n in zip(*np.unique(key, return_counts=True), strict=True):
            out[indexes[int(k)]][role] = int(n)
        contributing = (
            np.concatenate([contributing[0], pos]),
            np.concatenate([contributing[1], key]),
        )
    if currency and currency in snap.currencies:
        pos, key = contributing
        # Each (organisation, agreement) once: funding and implementing the same agreement
        # counts its value once, as in the directory's sort.
        width = snap.n + 1
        packed = np.unique(key * width + pos)
        key, pos = packed // width, packed % width
        in_currency = snap.currency[pos] == snap.currencies.index(currency)
        key, pos = key[in_currency], pos[in_currency]
        for k in np.unique(key).tolist():
            chosen = pos[key == k]
            cents = int(snap.cents_hi[chosen].sum()) * catalogue_index.HI + int(
                snap.cents_lo[chosen].sum()
            )
            out[indexes[k]]["value"] = Decimal(cents).scaleb(-2)
    return out


def catalogue_currencies(user) -> list[str]:
    """Currencies of the agreements the viewer may see, most used first."""
    snap = catalogue_index.snapshot()
    if snap is not None:
        mask = snap.visible(user) & snap.has_amount
        return [cur for cur, _n, _t in snap.currency_totals(mask)]
    rows = db.session.execute(
        select(Agreement.currency, func.count(Agreement.id))
        .where(
            visible_agreements_filter(user),
            Agreement.currency.is_not(None),
            Agreement.amount.is_not(None),
        )
        .group_by(Agreement.currency)
    ).all()
    return [cur for cur, _n in sorted(rows, key=lambda r: (-r[1], r[0]))]
