"""Query builders for the partner directory and the region pages.

Views and the JSON API share these, so filtering, sorting and facet counting are written once.
Every builder takes the viewer and applies ``visible_organizations_filter`` itself: a caller
cannot forget it, and facet counts never include organisations the viewer may not see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, distinct, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased, selectinload

from portal.agreements import catalogue_index
from portal.agreements.models import Agreement, AgreementParty
from portal.agreements.permissions import visible_agreements_filter
from portal.extensions import db
from portal.partners.models import (
    ORG_TYPES,
    STAKEHOLDER_GROUPS,
    Country,
    Organization,
    Region,
    organization_regions,
)
from portal.partners.permissions import visible_organizations_filter
from portal.partners.place_names import place_name

WORLD = "001"
MAX_TEXT_FILTER = 200


# --------------------------------------------------------------------------- shared helpers


@dataclass
class FacetOption:
    """One value of a filter with the number of visible items it would select."""

    value: str
    label: str
    count: int
    selected: bool = False
    level: int = 0  # indentation for tree-shaped facets (regions)


def clean_text(value: str | None, limit: int = MAX_TEXT_FILTER) -> str | None:
    value = (value or "").strip()[:limit]
    return value or None


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE wildcards in the user's text taken literally (escape char ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def normalise_region_code(raw: str | None) -> str | None:
    """M49 codes are zero-padded; accept ``2`` or ``002`` alike."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"\d{1,3}", raw):
        return ""
    return raw.zfill(3)


class RegionTree:
    """All M49 regions in memory (a few dozen rows), for descendants, paths and tree order."""

    def __init__(self, regions: list[Region]):
        self.by_code = {r.code: r for r in regions}
        self.children: dict[str | None, list[Region]] = {}
        for region in sorted(regions, key=lambda r: r.name):
            self.children.setdefault(region.parent_code, []).append(region)

    @classmethod
    def load(cls) -> RegionTree:
        return cls(list(db.session.scalars(select(Region))))

    def get(self, code: str | None) -> Region | None:
        return self.by_code.get(code or "")

    def subtree_codes(self, code: str) -> set[str]:
        """The region and all its descendants."""
        codes, stack = set(), [code]
        while stack:
            current = stack.pop()
            codes.add(current)
            stack.extend(child.code for child in self.children.get(current, []))
        return codes

    def path(self, code: str) -> list[Region]:
        """Ancestors from the continent down to (excluding) the region itself; no World."""
        chain, node = [], self.get(code)
        node = self.get(node.parent_code) if node else None
        while node is not None and node.code != WORLD:
            chain.append(node)
            node = self.get(node.parent_code)
        return list(reversed(chain))

    def walk(self, code: str = WORLD, depth: int = 0):
        """(region, depth) pairs under ``code`` in display order (depth-first, by name)."""
        for child in self.children.get(code, []):
            yield child, depth
            yield from self.walk(child.code, depth + 1)


def region_closure():
    """A recursive CTE of (ancestor, descendant) region pairs, each region paired with itself.

    Counting members per region *including descendants* then becomes one GROUP BY, exact even
    when an organisation is linked to a region twice (by country and by regions served).
    """
    regions = Region.__table__
    closure = select(regions.c.code.label("ancestor"), regions.c.code.label("descendant")).cte(
        "region_closure", recursive=True
    )
    child = aliased(regions)
    return closure.union_all(
        select(closure.c.ancestor, child.c.code).join(
            child, child.c.parent_code == closure.c.descendant
        )
    )


def organization_region_links():
    """(entity_id, region_code): the region of an organisation's country and each region served."""
    by_country = (
        select(Organization.id.label("entity_id"), Country.region_code.label("region_code"))
        .join(Country, Organization.country_code == Country.code)
        .where(Country.region_code.is_not(None))
    )
    served = select(
        organization_regions.c.organization_id.label("entity_id"),
        organization_regions.c.region_code.label("region_code"),
    )
    return union_all(by_country, served).subquery("org_region_links")


def counts_per_region(links, entity_ids: Select) -> dict[str, int]:
    """Distinct entities per region, descendants included, limited to ``entity_ids``."""
    closure = region_closure()
    rows = db.session.execute(
        select(closure.c.ancestor, func.count(distinct(links.c.entity_id)))
        .select_from(links)
        .join(closure, closure.c.descendant == links.c.region_code)
        .where(links.c.entity_id.in_(entity_ids))
        .group_by(closure.c.ancestor)
    ).all()
    return {code: count for code, count in rows}


def region_facet(
    tree: RegionTree, counts: Mapping[str, int], selected: str | None
) -> list[FacetOption]:
    """Regions in tree order; only those with something in them (or the selected one)."""
    return [
        FacetOption(
            region.code,
            place_name(region.name),
            counts.get(region.code, 0),
            region.code == selected,
            depth,
        )
        for region, depth in tree.walk()
        if counts.get(region.code) or region.code == selected
    ]


def organization_in_region(codes: set[str]) -> ColumnElement[bool]:
    """Based in a country of these regions, or serving one of them."""
    return or_(
        Organization.country_code.in_(select(Country.code).where(Country.region_code.in_(codes))),
        Organization.id.in_(
            select(organization_regions.c.organization_id).where(
                organization_regions.c.region_code.in_(codes)
            )
        ),
    )


def visible_agreement_count(user):
    """Correlated count of the agreements the viewer may see in which the organisation is a party.

    The party table is aliased: the visibility filter has its own EXISTS on agreement_parties,
    which must not be correlated to this subquery's party row.
    """
    party = aliased(AgreementParty)
    return (
        select(func.count(distinct(party.agreement_id)))
        .join(Agreement, Agreement.id == party.agreement_id)
        .where(party.organization_id == Organization.id, visible_agreements_filter(user))
        .correlate(Organization)
        .scalar_subquery()
    )


def contribution_measure(user, measure: str, currency: str | None = None):
    """A subquery (org_id, measure) for ordering the directory by a partner's contribution —
    one GROUP BY over the visible agreements, joined once, not a subquery per organisation.

    ``funding`` / ``implementing``: number of visible agreements in that role; ``value``: total
    value, in one currency, of the visible agreements it funds or implements (each agreement
    once, even when the partner both funds and implements it).
    """
    party = aliased(AgreementParty)
    if measure in CONTRIBUTING_ROLES:
        return (
            select(
                party.organization_id.label("org_id"),
                func.count(distinct(party.agreement_id)).label("measure"),
            )
            .join(Agreement, Agreement.id == party.agreement_id)
            .where(party.role == measure, visible_agreements_filter(user))
            .group_by(party.organization_id)
            .subquery("contribution")
        )
    pairs = (
        select(party.organization_id.label("org_id"), party.agreement_id.label("agreement_id"))
        .where(party.role.in_(CONTRIBUTING_ROLES))
        .distinct()
        .subquery("contributing")
    )
    return (
        select(pairs.c.org_id, func.sum(Agreement.amount).label("measure"))
        .join(Agreement, Agreement.id == pairs.c.agreement_id)
        .where(Agreement.currency == (currency or ""), visible_agreements_filter(user))
        .group_by(pairs.c.org_id)
        .subquery("contribution")
    )


def agreement_counts_for(user, org_ids: list[int]) -> dict[int, int]:
    if not org_ids:
        return {}
    snap = catalogue_index.snapshot()
    if snap is not None:
        counts = snap.count_by(snap.party, snap.visible(user))
        return {
            oid: int(counts[snap.org_index[oid]])
            for oid in org_ids
            if oid in snap.org_index and counts[snap.org_index[oid]]
        }
    party = aliased(AgreementParty)
    rows = db.session.execute(
        select(party.organization_id, func.count(distinct(party.agreement_id)))
        .join(Agreement, Agreement.id == party.agreement_id)
        .where(party.organization_id.in_(org_ids), visible_agreements_filter(user))
        .group_by(party.organization_id)
    ).all()
    return {org_id: n for org_id, n in rows}


def region_arg(args: Mapping[str, str], tree: RegionTree | None, problems: list[str]) -> str | None:
    """The ``region`` query argument of a list (partners, agreements, insights) as a known M49
    code; None when absent or unknown, and then a note in ``problems`` if one was given."""
    region = normalise_region_code(args.get("region"))
    if region is None:
        return None
    tree = tree or RegionTree.load()
    if region and tree.get(region):
        return region
    problems.append(_("Unknown region code; the region filter was ignored."))
    return None


def choice_arg(value: str | None, allowed, problems: list[str], problem: str) -> str | None:
    """A list filter's value when it is one of ``allowed`` (codes of a fixed list); None when
    empty, or not one of them — then ``problem`` is noted in ``problems``."""
    value = (value or "").strip()
    if not value:
        return None
    if value in allowed:
        return value
    problems.append(problem)
    return None


def country_arg(args: Mapping[str, str], problems: list[str]) -> str | None:
    """The ``country`` query argument of a list as a known ISO alpha-2 code; None when absent
    or unknown, and then a note in ``problems`` if one was given."""
    country = (args.get("country") or "").strip().upper()
    if not country:
        return None
    if len(country) == 2 and db.session.get(Country, country) is not None:
        return country
    problems.append(_("Unknown country code; the country filter was ignored."))
    return None


# --------------------------------------------------------------------------- partner directory

PARTNER_SORTS = ("name", "since", "recent", "agreements", "funding", "implementing", "value")
CONTRIBUTING_ROLES = ("funding", "implementing")
CURRENCY_CODE = re.compile(r"[A-Z]{3}")


@dataclass
class PartnerFilters:
    region: str | None = None
    country: str | None = None
    org_type: str | None = None
    stakeholder_group: str | None = None
    q: str | None = None
    sort: str = "name"
    currency: str | None = None  # for sort=value: contributions are never summed across currencies
    # Human-readable notes about filter values that were ignored (bad input is never a 500).
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: Mapping[str, str], tree: RegionTree | None = None) -> PartnerFilters:
        f = cls()
        f.region = region_arg(args, tree, f.problems)
        f.country = country_arg(args, f.problems)
        f.org_type = choice_arg(
            args.get("org_type"),
            ORG_TYPES,
            f.problems,
            _("Unknown organisation type; that filter was ignored."),
        )
        f.stakeholder_group = choice_arg(
            args.get("stakeholder_group"),
            STAKEHOLDER_GROUPS,
            f.problems,
            _("Unknown stakeholder group; that filter was ignored."),
        )
        f.q = clean_text(args.get("q"))
        sort = (args.get("sort") or "name").strip()
        if sort in PARTNER_SORTS:
            f.sort = sort
        else:
            f.problems.append(_("Unknown sort order; sorted by name instead."))
        currency = (args.get("currency") or "").strip().upper()
        if currency:
            if CURRENCY_CODE.fullmatch(currency):
                f.currency = currency
            else:
                f.problems.append(
                    _("A currency is three letters, like USD; that currency was ignored.")
                )
        return f

    @property
    def is_filtered(self) -> bool:
        return any((self.region, self.country, self.org_type, self.stakeholder_group, self.q))


def partner_conditions(
    filters: PartnerFilters, user, *, skip: str | None = None, tree: RegionTree | None = None
) -> list[ColumnElement[bool]]:
    """WHERE clauses for the filters (minus ``skip``, for facet counts), visibility included."""
    conds: list[ColumnElement[bool]] = [visible_organizations_filter(user)]
    if filters.region and skip != "region":
        tree = tree or RegionTree.load()
        conds.append(organization_in_region(tree.subtree_codes(filters.region)))
    if filters.country and skip != "country":
        conds.append(Organization.country_code == filters.country)
    if filters.org_type and skip != "org_type":
        conds.append(Organization.org_type == filters.org_type)
    if filters.stakeholder_group and skip != "stakeholder_group":
        conds.append(Organization.stakeholder_group == filters.stakeholder_group)
    if filters.q and skip != "q":
        pattern = like_pattern(filters.q)
        conds.append(
            or_(
                Organization.name.ilike(pattern, escape="\\"),
                Organization.acronym.ilike(pattern, escape="\\"),
            )
        )
    return conds


def partners_query(filters: PartnerFilters, user, tree: RegionTree | None = None) -> Select:
    stmt = (
        select(Organization)
        .where(*partner_conditions(filters, user, tree=tree))
        .options(selectinload(Organization.country))
    )
    name = func.lower(Organization.name)
    if filters.sort == "since":
        order = (Organization.partner_since.asc().nulls_last(), name)
    elif filters.sort == "recent":
        order = (Organization.partner_since.desc().nulls_last(), name)
    elif filters.sort == "agreements":
        order = (visible_agreement_count(user).desc(), name)
    elif filters.sort in ("funding", "implementing", "value"):
        measure = contribution_measure(user, filters.sort, filters.currency)
        stmt = stmt.outerjoin(measure, measure.c.org_id == Organization.id)
        order = (func.coalesce(measure.c.measure, literal(0)).desc(), name)
    else:
        order = (name,)
    return stmt.order_by(*order, Organization.id)


def _org_masks(snap, filters: PartnerFilters, user) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(visibility mask, {filter: mask}) over the index's organisations (no free text)."""
    masks: dict[str, np.ndarray] = {}
    if filters.region:
        masks["region"] = snap.having_org(snap.org_region, filters.region)
    if filters.country:
        code = filters.country
        index = snap.country_codes.index(code) if code in snap.country_codes else -2
        masks["country"] = snap.org_country_code == index
    if filters.org_type:
        index = snap.org_types.index(filters.org_type) if filters.org_type in snap.org_types else -2
        masks["org_type"] = snap.org_type == index
    if filters.stakeholder_group:
        group = filters.stakeholder_group
        index = snap.groups.index(group) if group in snap.groups else -2
        masks["stakeholder_group"] = snap.org_group == index
    return snap.visible_orgs(user), masks


def _org_measure(snap, user, sort: str, currency: str | None) -> np.ndarray:
    """The directory's contribution measure per organisation (``contribution_measure``)."""
    visible = snap.visible(user)
    if sort == "agreements":
        return snap.count_by(snap.party, visible).astype(np.float64)
    if sort in CONTRIBUTING_ROLES:
        pairs = snap.roles.get(sort)
        if pairs is None:
            return np.zeros(len(snap.org_ids))
        return snap.count_by(pairs, visible).astype(np.float64)
    # value: each (organisation, agreement) once over the contributing roles, in one currency
    if currency not in snap.currencies:
        return np.zeros(len(snap.org_ids))
    key, pos = snap.contributing.key, snap.contributing.pos
    keep = visible[pos] & (snap.currency[pos] == snap.currencies.index(currency))
    key, pos = key[keep], pos[keep]
    weights = snap.cents_hi[pos] * catalogue_index.HI + snap.cents_lo[pos]
    return np.bincount(key, weights=weights, minlength=len(snap.org_ids))


def indexed_directory_page(
    filters: PartnerFilters, user, page: int, per_page: int, *, clamp: bool = True
):
    """(organisation ids of one page, total, page) from the catalogue index, in the order
    ``partners_query`` gives; None when SQL must answer (free text, no index)."""
    if filters.q:
        return None
    snap = catalogue_index.snapshot()
    if snap is None:
        return None
    visible, masks = _org_masks(snap, filters, user)
    mask = snap.combine(visible, masks)
    total = int(mask.sum())
    if clamp:
        page = min(page, max(1, -(-total // per_page)))
    if filters.sort in snap.org_orders:
        order = snap.org_orders[filters.sort]
    elif filters.sort in ("agreements", "funding", "implementing", "value"):
        measure = _org_measure(snap, user, filters.sort, filters.currency)
        order = np.lexsort((snap.org_name_rank, -measure))
    else:
        order = snap.org_orders["name"]
    chosen = order[mask[order]][(page - 1) * per_page : page * per_page]
    return [snap.org_ids[i] for i in chosen.tolist()], total, page


def partner_facets(
    filters: PartnerFilters, user, tree: RegionTree | None = None
) -> dict[str, list[FacetOption]]:
    """Counts for each filter value, with every *other* filter applied (and visibility)."""
    tree = tree or RegionTree.load()
    if not filters.q:
        snap = catalogue_index.snapshot()
        if snap is not None:
            scope = (filters.region, filters.country, filters.org_type, filters.stakeholder_group)
            return snap.kept_for(
                user,
                "partner-facets",
                scope,
                lambda: _indexed_partner_facets(snap, filters, user, tree),
            )

    def grouped(column, skip: str) -> dict[str, int]:
        rows = db.session.execute(
            select(column, func.count(Organization.id))
            .where(*partner_conditions(filters, user, skip=skip, tree=tree), column.is_not(None))
            .group_by(column)
        ).all()
        return {str(value): n for value, n in rows}

    org_types = grouped(Organization.org_type, "org_type")
    groups = grouped(Organization.stakeholder_group, "stakeholder_group")
    countries = grouped(Organization.country_code, "country")
    country_names = {
        code: place_name(name)
        for code, name in db.session.execute(
            select(Country.code, Country.name).where(Country.code.in_(list(countries)))
        )
    }
    if filters.country and filters.country not in country_names:
        country_names[filters.country] = place_name(db.session.get(Country, filters.country).name)
    region_counts = counts_per_region(
        organization_region_links(),
        select(Organization.id).where(*partner_conditions(filters, user, skip="region", tree=tree)),
    )
    return _partner_facet_options(
        filters, tree, region_counts, countries, country_names, org_types, groups
    )


def _partner_facet_options(
    filters: PartnerFilters,
    tree: RegionTree,
    region_counts: dict,
    countries: dict,
    country_names: dict,
    org_types: dict,
    groups: dict,
) -> dict[str, list[FacetOption]]:
    """The directory's facets from their counts, whichever path counted them."""
    return {
        "region": region_facet(tree, region_counts, filters.region),
        "country": sorted(
            (
                FacetOption(code, name, countries.get(code, 0), code == filters.country)
                for code, name in country_names.items()
            ),
            key=lambda o: o.label,
        ),
        "org_type": [
            FacetOption(code, label, org_types.get(code, 0), code == filters.org_type)
            for code, label in ORG_TYPES.items()
            if org_types.get(code) or code == filters.org_type
        ],
        "stakeholder_group": [
            FacetOption(code, label, groups.get(code, 0), code == filters.stakeholder_group)
            for code, label in STAKEHOLDER_GROUPS.items()
            if groups.get(code) or code == filters.stakeholder_group
        ],
    }


def _indexed_partner_facets(snap, filters: PartnerFilters, user, tree: RegionTree):
    visible, masks = _org_masks(snap, filters, user)

    def base(skip: str) -> np.ndarray:
        return snap.combine(visible, masks, skip)

    def grouped(column: np.ndarray, keys: list, skip: str) -> dict[str, int]:
        values = column[base(skip)]
        values = values[values >= 0]
        counts = np.bincount(values, minlength=len(keys)).tolist()
        return {str(keys[i]): n for i, n in enumerate(counts) if n and keys[i]}

    org_types = grouped(snap.org_type, snap.org_types, "org_type")
    groups = grouped(snap.org_group, snap.groups, "stakeholder_group")
    countries = grouped(snap.org_country_code, snap.country_codes, "country")
    country_names = {code: place_name(snap.country_info[code][1]) for code in countries}
    if filters.country and filters.country not in country_names:
        country_names[filters.country] = place_name(snap.country_info[filters.country][1])
    counts = snap.count_by(snap.org_region, base("region")).tolist()
    region_counts = {c: n for c, n in zip(snap.org_region.keys, counts, strict=True) if n}
    return _partner_facet_options(
        filters, tree, region_counts, countries, country_names, org_types, groups
    )


# --------------------------------------------------------------------------- region pages


def partner_counts_by_region(user) -> dict[str, int]:
    snap = catalogue_index.snapshot()
    if snap is not None:
        counts = snap.count_by(snap.org_region, snap.visible_orgs(user)).tolist()
        return {code: n for code, n in zip(snap.org_region.keys, counts, strict=True) if n}
    return counts_per_region(
        organization_region_links(),
        select(Organization.id).where(visible_organizations_filter(user)),
    )


def partner_counts_by_country(user, country_codes: list[str] | None = None) -> dict[str, int]:
    snap = catalogue_index.snapshot()
    if snap is not None:
        wanted = None if country_codes is None else set(country_codes)
        counts: dict[str, int] = {}
        for i in np.flatnonzero(snap.visible_orgs(user)).tolist():
            code = snap.org_country[i]
            if code and (wanted is None or code in wanted):
                counts[code] = counts.get(code, 0) + 1
        return counts
    stmt = (
        select(Organization.country_code, func.count(Organization.id))
        .where(visible_organizations_filter(user), Organization.country_code.is_not(None))
        .group_by(Organization.country_code)
    )
    if country_codes is not None:
        stmt = stmt.where(Organization.country_code.in_(country_codes))
    return dict(db.session.execute(stmt).all())
