"""Query builders for the agreement list and its facets (its downloads: portal/opendata).

Views and the JSON API share these. Every builder applies ``visible_agreements_filter`` for the
viewer itself, so a list, a count or a facet can never include an agreement the viewer may not
see, and a party organisation the viewer may not see never becomes a filter or a facet value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, case, distinct, func, or_, select, union_all
from sqlalchemy.orm import aliased, selectinload

from portal.agreements import catalogue_index
from portal.agreements.models import (
    AGREEMENT_STATUSES,
    AGREEMENT_TYPES,
    DOMAINS_OF_CHANGE,
    Agreement,
    AgreementParty,
    AgreementSdgTarget,
    agreement_countries,
    agreement_regions,
)
from portal.agreements.permissions import visible_agreements_filter
from portal.extensions import db
from portal.partners.models import Country, Organization
from portal.partners.permissions import can_view_organization, visible_organizations_filter
from portal.partners.place_names import place_name
from portal.partners.queries import (
    FacetOption,
    RegionTree,
    choice_arg,
    clean_text,
    country_arg,
    counts_per_region,
    like_pattern,
    region_arg,
    region_facet,
)

AGREEMENT_SORTS = ("signed", "signed_asc", "title", "amount")
SDG_GOALS = range(1, 18)
# An SDG goal (``11``) or target (``11.1``, ``11.a``).
SDG_PATTERN = re.compile(r"(?P<goal>\d{1,2})(?:\.(?P<target>[0-9]{1,2}|[a-z]))?")
PARTY_FACET_LIMIT = 30
UNDISCLOSED = "Undisclosed partner"


@dataclass
class AgreementFilters:
    agreement_type: str | None = None
    status: str | None = None
    year: int | None = None
    region: str | None = None
    country: str | None = None
    domain: int | None = None
    sdg: str | None = None
    party: int | None = None
    q: str | None = None
    sort: str = "signed"
    # Human-readable notes about filter values that were ignored (bad input is never a 500).
    problems: list[str] = field(default_factory=list)
    party_org: Organization | None = None

    @classmethod
    def from_args(
        cls, args: Mapping[str, str], user, tree: RegionTree | None = None
    ) -> AgreementFilters:
        f = cls()
        f.agreement_type = choice_arg(
            args.get("agreement_type") or args.get("type"),
            AGREEMENT_TYPES,
            f.problems,
            _("Unknown agreement type; that filter was ignored."),
        )
        f.status = choice_arg(
            args.get("status"),
            AGREEMENT_STATUSES,
            f.problems,
            _("Unknown status; that filter was ignored."),
        )
        value = (args.get("year") or "").strip()
        if value:
            if re.fullmatch(r"\d{4}", value) and 1900 <= int(value) <= 2200:
                f.year = int(value)
            else:
                f.problems.append(
                    _("The year must be four digits, like 2024; that filter was ignored.")
                )
        f.region = region_arg(args, tree, f.problems)
        f.country = country_arg(args, f.problems)
        value = (args.get("domain") or args.get("domain_of_change") or "").strip()
        if value:
            if value.isdigit() and int(value) in DOMAINS_OF_CHANGE:
                f.domain = int(value)
            else:
                f.problems.append(
                    _("The domain of change must be 1 to 4; that filter was ignored.")
                )
        value = (args.get("sdg") or "").strip().lower()
        if value:
            match = SDG_PATTERN.fullmatch(value)
            if match and int(match["goal"]) in SDG_GOALS:
                f.sdg = value
            else:
                f.problems.append(
                    _("The SDG must be a goal (11) or a target (11.1); that filter was ignored.")
                )
        value = (args.get("party") or "").strip()
        if value:
            org = (
                db.session.get(Organization, int(value))
                if value.isdigit() and len(value) < 10
                else None
            )
            # An organisation the viewer may not see is treated exactly like one that does not
            # exist, so the filter cannot be used to probe for hidden partners.
            if org is not None and can_view_organization(user, org):
                f.party, f.party_org = org.id, org
            else:
                f.problems.append(_("Unknown partner; the partner filter was ignored."))
        f.q = clean_text(args.get("q"))
        value = (args.get("sort") or "signed").strip()
        if value in AGREEMENT_SORTS:
            f.sort = value
        else:
            f.problems.append(_("Unknown sort order; sorted by signature date instead."))
        return f

    @property
    def is_filtered(self) -> bool:
        return any(
            v is not None
            for v in (
                self.agreement_type,
                self.status,
                self.year,
                self.region,
                self.country,
                self.domain,
                self.sdg,
                self.party,
                self.q,
            )
        )


def agreement_region_links():
    """(entity_id, region_code): regions named on the agreement and the regions of its countries."""
    named = select(
        agreement_regions.c.agreement_id.label("entity_id"),
        agreement_regions.c.region_code.label("region_code"),
    )
    by_country = (
        select(
            agreement_countries.c.agreement_id.label("entity_id"),
            Country.region_code.label("region_code"),
        )
        .join(Country, Country.code == agreement_countries.c.country_code)
        .where(Country.region_code.is_not(None))
    )
    return union_all(named, by_country).subquery("agreement_region_links")


def agreement_in_region(codes: set[str]) -> ColumnElement[bool]:
    return or_(
        Agreement.id.in_(
            select(agreement_regions.c.agreement_id).where(
                agreement_regions.c.region_code.in_(codes)
            )
        ),
        Agreement.id.in_(
            select(agreement_countries.c.agreement_id)
            .join(Country, Country.code == agreement_countries.c.country_code)
            .where(Country.region_code.in_(codes))
        ),
    )


def agreement_in_country(code: str) -> ColumnElement[bool]:
    return Agreement.id.in_(
        select(agreement_countries.c.agreement_id).where(agreement_countries.c.country_code == code)
    )


def _sdg_condition(sdg: str) -> ColumnElement[bool]:
    if "." in sdg:
        match = AgreementSdgTarget.target == sdg
    else:
        match = AgreementSdgTarget.target.like(f"{int(sdg)}.%")
    return Agreement.id.in_(select(AgreementSdgTarget.agreement_id).where(match))


def agreement_conditions(
    filters: AgreementFilters, user, *, skip: str | None = None, tree: RegionTree | None = None
) -> list[ColumnElement[bool]]:
    """WHERE clauses for the filters (minus ``skip``, for facet counts), visibility included."""
    conds: list[ColumnElement[bool]] = [visible_agreements_filter(user)]
    if filters.agreement_type and skip != "agreement_type":
        conds.append(Agreement.agreement_type == filters.agreement_type)
    if filters.status and skip != "status":
        conds.append(Agreement.status == filters.status)
    if filters.year and skip != "year":
        # A date range rather than EXTRACT(year), so the index on signed_on is used.
        conds.append(Agreement.signed_on >= date(filters.year, 1, 1))
        conds.append(Agreement.signed_on < date(filters.year + 1, 1, 1))
    if filters.region and skip != "region":
        tree = tree or RegionTree.load()
        conds.append(agreement_in_region(tree.subtree_codes(filters.region)))
    if filters.country and skip != "country":
        conds.append(agreement_in_country(filters.country))
    if filters.domain and skip != "domain":
        conds.append(Agreement.domain_of_change == filters.domain)
    if filters.sdg and skip != "sdg":
        conds.append(_sdg_condition(filters.sdg))
    if filters.party and skip != "party":
        conds.append(
            Agreement.id.in_(
                select(AgreementParty.agreement_id).where(
                    AgreementParty.organization_id == filters.party
                )
            )
        )
    if filters.q and skip != "q":
        pattern = like_pattern(filters.q)
        conds.append(
            or_(
                Agreement.title.ilike(pattern, escape="\\"),
                Agreement.reference.ilike(pattern, escape="\\"),
            )
        )
    return conds


def agreements_query(filters: AgreementFilters, user, tree: RegionTree | None = None) -> Select:
    stmt = select(Agreement).where(*agreement_conditions(filters, user, tree=tree))
    if filters.sort == "signed_asc":
        order = (Agreement.signed_on.asc().nulls_last(),)
    elif filters.sort == "title":
        order = (func.lower(Agreement.title),)
    elif filters.sort == "amount":
        order = (Agreement.amount.desc().nulls_last(),)
    else:
        order = (Agreement.signed_on.desc().nulls_last(),)
    return stmt.order_by(*order, Agreement.id.desc())


def with_list_details(stmt: Select) -> Select:
    """Eager-load what list pages and the CSV show, avoiding one query per row."""
    return stmt.options(
        selectinload(Agreement.countries),
        selectinload(Agreement.regions),
        selectinload(Agreement.sdg_targets),
        selectinload(Agreement.parties).selectinload(AgreementParty.organization),
    )


def agreement_facets(
    filters: AgreementFilters, user, tree: RegionTree | None = None
) -> dict[str, list[FacetOption]]:
    """Counts for each filter value, with every *other* filter applied (and visibility)."""
    tree = tree or RegionTree.load()
    if not filters.q:
        snap = catalogue_index.snapshot()
        if snap is not None:
            # Kept with the snapshot per reader class, language and filters: the same list
            # asked again (the unfiltered list above all) costs no counting at all.
            scope = (
                filters.agreement_type,
                filters.status,
                filters.year,
                filters.region,
                filters.country,
                filters.domain,
                filters.sdg,
                filters.party,
            )
            return snap.kept_for(
                user,
                "agreement-facets",
                scope,
                lambda: indexed_agreement_facets(snap, filters, user, tree),
            )

    def conds(skip: str):
        return agreement_conditions(filters, user, skip=skip, tree=tree)

    def grouped(column, skip: str) -> dict:
        rows = db.session.execute(
            select(column, func.count(Agreement.id))
            .where(*conds(skip), column.is_not(None))
            .group_by(column)
        ).all()
        return {value: n for value, n in rows}

    types = grouped(Agreement.agreement_type, "agreement_type")
    statuses = grouped(Agreement.status, "status")
    domains = grouped(Agreement.domain_of_change, "domain")

    year_expr = func.extract("year", Agreement.signed_on)
    years = {int(y): n for y, n in grouped(year_expr, "year").items()}

    country_rows = db.session.execute(
        select(Country.code, Country.name, func.count(distinct(agreement_countries.c.agreement_id)))
        .join(agreement_countries, agreement_countries.c.country_code == Country.code)
        .where(
            agreement_countries.c.agreement_id.in_(select(Agreement.id).where(*conds("country")))
        )
        .group_by(Country.code, Country.name)
    ).all()
    countries = [
        FacetOption(code, place_name(name), n, code == filters.country)
        for code, name, n in country_rows
    ]

    # One row of 17 conditional counts: an agreement with 11.1 and 11.3 counts once for goal 11.
    sdg_ids = select(Agreement.id).where(*conds("sdg"))
    goal_counts = db.session.execute(
        select(
            *(
                func.count(
                    distinct(
                        case(
                            (
                                AgreementSdgTarget.target.like(f"{goal}.%"),
                                AgreementSdgTarget.agreement_id,
                            )
                        )
                    )
                )
                for goal in SDG_GOALS
            )
        ).where(AgreementSdgTarget.agreement_id.in_(sdg_ids))
    ).one()
    target_counts = dict(
        db.session.execute(
            select(AgreementSdgTarget.target, func.count(distinct(AgreementSdgTarget.agreement_id)))
            .where(AgreementSdgTarget.agreement_id.in_(sdg_ids))
            .group_by(AgreementSdgTarget.target)
        ).all()
    )

    # Only organisations the viewer may see become facet values (an undisclosed partner
    # never appears by name or by id). The party table is aliased so that the EXISTS inside
    # the agreement visibility filter keeps its own agreement_parties.
    # Counted per organisation id first, then joined to the (visible) organisations: the
    # planner then starts from the matching agreements rather than from every organisation.
    party = aliased(AgreementParty)
    per_org = (
        select(
            party.organization_id.label("org_id"),
            func.count(distinct(party.agreement_id)).label("n"),
        )
        .where(party.agreement_id.in_(select(Agreement.id).where(*conds("party"))))
        .group_by(party.organization_id)
        .subquery("party_counts")
    )
    party_rows = db.session.execute(
        select(Organization.id, Organization.name, per_org.c.n)
        .join(per_org, per_org.c.org_id == Organization.id)
        .where(visible_organizations_filter(user))
        .order_by(per_org.c.n.desc(), Organization.name)
        .limit(PARTY_FACET_LIMIT)
    ).all()
    parties = [FacetOption(str(i), name, n, i == filters.party) for i, name, n in party_rows]

    region_counts = counts_per_region(
        agreement_region_links(), select(Agreement.id).where(*conds("region"))
    )
    return _facet_options(
        filters,
        tree,
        types,
        statuses,
        years,
        region_counts,
        countries,
        domains,
        goal_counts,
        target_counts,
        parties,
    )


def _facet_options(
    filters: AgreementFilters,
    tree: RegionTree,
    types: dict,
    statuses: dict,
    years: dict,
    region_counts: dict,
    countries: list[FacetOption],
    domains: dict,
    goal_counts: Sequence[int],
    target_counts: dict[str, int],
    parties: list[FacetOption],
) -> dict[str, list[FacetOption]]:
    """The list's facets from their counts, whichever path counted them (SQL or the index):
    ``goal_counts`` has one count per SDG goal, ``target_counts`` the targets counted.
    A chosen value stays offered, with 0, when nothing visible has it."""
    if filters.party_org is not None and not any(o.selected for o in parties):
        parties = [*parties, FacetOption(str(filters.party), filters.party_org.name, 0, True)]
    if filters.country and not any(o.selected for o in countries):
        name = db.session.get(Country, filters.country).name
        countries = [*countries, FacetOption(filters.country, place_name(name), 0, True)]
    sdg_options: list[FacetOption] = []
    for goal, n in zip(SDG_GOALS, goal_counts, strict=True):
        if n or filters.sdg == str(goal):
            sdg_options.append(
                FacetOption(str(goal), _("Goal %(goal)s", goal=goal), n, filters.sdg == str(goal))
            )
        for target in sorted(
            (t for t in target_counts if t.split(".")[0] == str(goal)), key=_target_sort_key
        ):
            sdg_options.append(
                FacetOption(target, target, target_counts[target], filters.sdg == target, level=1)
            )
    return {
        "agreement_type": [
            FacetOption(code, label, types.get(code, 0), code == filters.agreement_type)
            for code, label in AGREEMENT_TYPES.items()
            if types.get(code) or code == filters.agreement_type
        ],
        "status": [
            FacetOption(code, label, statuses.get(code, 0), code == filters.status)
            for code, label in AGREEMENT_STATUSES.items()
            if statuses.get(code) or code == filters.status
        ],
        "year": [
            FacetOption(str(y), str(y), years.get(y, 0), y == filters.year)
            for y in sorted(set(years) | ({filters.year} if filters.year else set()), reverse=True)
        ],
        "region": region_facet(tree, region_counts, filters.region),
        "country": sorted(countries, key=lambda o: o.label),
        "domain": [
            FacetOption(str(d), f"{d}. {label}", domains.get(d, 0), d == filters.domain)
            for d, label in DOMAINS_OF_CHANGE.items()
            if domains.get(d) or d == filters.domain
        ],
        "sdg": sdg_options,
        "party": sorted(parties, key=lambda o: o.label),
    }


def indexed_agreement_facets(snap, filters: AgreementFilters, user, tree: RegionTree):
    """``agreement_facets`` answered by the catalogue index (same counts, same order)."""
    visible, masks = snap.filter_masks(filters, user, tree)

    def base(skip: str):
        return snap.combine(visible, masks, skip)

    def column(values, skip: str, size: int) -> dict[int, int]:
        counts = snap.column_counts(values, base(skip), size)
        return {i: int(c) for i, c in enumerate(counts.tolist()) if c}

    types = {
        snap.types[i - 1]: n
        for i, n in column(snap.type + 1, "agreement_type", 1 + len(snap.types)).items()
        if i
    }
    statuses = {
        snap.statuses[i - 1]: n
        for i, n in column(snap.status + 1, "status", 1 + len(snap.statuses)).items()
        if i
    }
    domains = {i: n for i, n in column(snap.domain, "domain", 5).items() if i}
    year_mask = base("year")
    year_counts = np.bincount(snap.year[year_mask])
    years = {y: int(year_counts[y]) for y in np.flatnonzero(year_counts).tolist() if y}

    country_counts = snap.count_by(snap.country, base("country"))
    countries = [
        FacetOption(code, place_name(snap.country_info[code][1]), int(n), code == filters.country)
        for code, n in zip(snap.country.keys, country_counts.tolist(), strict=True)
        if n
    ]

    sdg_mask = base("sdg")
    goal_counts = snap.count_by(snap.goal, sdg_mask).tolist()
    target_counts = {
        t: int(n)
        for t, n in zip(
            snap.target.keys, snap.count_by(snap.target, sdg_mask).tolist(), strict=True
        )
        if n
    }

    per_org = snap.count_by(snap.party, base("party"))
    per_org[~snap.visible_orgs(user)] = 0
    top = snap.top_orgs(per_org, PARTY_FACET_LIMIT)
    parties = [
        FacetOption(
            str(snap.org_ids[i]),
            snap.org_names[i],
            int(per_org[i]),
            snap.org_ids[i] == filters.party,
        )
        for i in top
    ]

    region_counts = snap.count_by(snap.region, base("region")).tolist()
    region_counts = {code: n for code, n in zip(snap.region.keys, region_counts, strict=True) if n}
    return _facet_options(
        filters,
        tree,
        types,
        statuses,
        years,
        region_counts,
        countries,
        domains,
        goal_counts,
        target_counts,
        parties,
    )


def indexed_page_ids(
    filters: AgreementFilters,
    user,
    tree: RegionTree,
    page: int,
    per_page: int,
    *,
    clamp: bool = True,
):
    """(ids of one page, total, page) from the catalogue index; None when SQL must answer."""
    if filters.q:
        return None
    snap = catalogue_index.snapshot()
    if snap is None:
        return None
    visible, masks = snap.filter_masks(filters, user, tree)
    mask = snap.combine(visible, masks)
    total = int(mask.sum())
    if clamp:
        page = min(page, max(1, -(-total // per_page)))
    return snap.page(mask, filters.sort, (page - 1) * per_page, per_page), total, page


def _target_sort_key(target: str) -> tuple[int, int, str]:
    goal, _dot, rest = target.partition(".")
    return (int(goal) if goal.isdigit() else 0, int(rest) if rest.isdigit() else 100, rest)


# --------------------------------------------------------------------------- region pages


def agreement_counts_by_region(user) -> dict[str, int]:
    snap = catalogue_index.snapshot()
    if snap is not None:
        counts = snap.count_by(snap.region, snap.visible(user)).tolist()
        return {code: n for code, n in zip(snap.region.keys, counts, strict=True) if n}
    return counts_per_region(
        agreement_region_links(), select(Agreement.id).where(visible_agreements_filter(user))
    )


def agreement_counts_by_country(user, country_codes: list[str] | None = None) -> dict[str, int]:
    snap = catalogue_index.snapshot()
    if snap is not None:
        counts = snap.count_by(snap.country, snap.visible(user)).tolist()
        wanted = None if country_codes is None else set(country_codes)
        return {
            code: n
            for code, n in zip(snap.country.keys, counts, strict=True)
            if n and (wanted is None or code in wanted)
        }
    stmt = (
        select(agreement_countries.c.country_code, func.count(distinct(Agreement.id)))
        .join(Agreement, Agreement.id == agreement_countries.c.agreement_id)
        .where(visible_agreements_filter(user))
        .group_by(agreement_countries.c.country_code)
    )
    if country_codes is not None:
        stmt = stmt.where(agreement_countries.c.country_code.in_(country_codes))
    return dict(db.session.execute(stmt).all())


def organization_parties(org: Organization, user) -> list[tuple[Agreement, list[AgreementParty]]]:
    """The agreements the viewer may see in which ``org`` is a party, newest first, each with
    the organisation's party rows (one per role)."""
    party = aliased(AgreementParty)
    rows = db.session.execute(
        select(Agreement, party)
        .join(party, party.agreement_id == Agreement.id)
        .where(party.organization_id == org.id, visible_agreements_filter(user))
        .order_by(Agreement.signed_on.desc().nulls_last(), Agreement.id.desc(), party.id)
        # The list shows each agreement's countries: one query for all, not one per row
        # (/partners/1 ran 723 statements).
        .options(selectinload(Agreement.countries))
    ).all()
    grouped: dict[int, tuple[Agreement, list[AgreementParty]]] = {}
    for agreement, p in rows:
        grouped.setdefault(agreement.id, (agreement, []))[1].append(p)
    return list(grouped.values())


def agreements_of_organization(org: Organization, user) -> list[tuple[Agreement, list[str]]]:
    """The agreements the viewer may see in which ``org`` is a party, with its role labels."""
    return [
        (agreement, [p.role_label for p in parties])
        for agreement, parties in organization_parties(org, user)
    ]


def organization_agreements_page(org: Organization, user, page: int, per_page: int):
    """One page of the agreements the viewer may see in which ``org`` is a party, newest
    first, each with the organisation's role labels, and the total.

    A busy partner (the organisation itself is party to thousands) must cost the same as a
    small one: the page is chosen on agreement ids first (one narrow query with LIMIT), then
    only that page's agreements, parties and countries are loaded.
    """
    from portal.core.pagination import Page, rows_in_order

    snap = catalogue_index.snapshot()
    if snap is not None:
        mask = np.zeros(snap.n, dtype=bool)
        mask[snap.agreements_of_org(org.id)] = True
        mask &= snap.visible(user)
        total = int(mask.sum())
        page = min(max(1, page), max(1, -(-total // per_page)))
        id_page = Page(
            items=snap.page(mask, "signed", (page - 1) * per_page, per_page),
            total=total,
            page=page,
            per_page=per_page,
        )
    else:
        id_page = _organization_id_page(org, user, page, per_page)
    ids = id_page.items
    items: list[tuple[Agreement, list[str]]] = []
    if ids:
        agreements = {
            a.id: a for a in rows_in_order(Agreement, ids, selectinload(Agreement.countries))
        }
        # Every party row of the page's few agreements, kept for this organisation here: a
        # filter on organization_id lets the planner walk a busy partner's thousands of rows.
        roles: dict[int, list[str]] = {}
        for p in db.session.scalars(
            select(AgreementParty)
            .where(AgreementParty.agreement_id.in_(ids))
            .order_by(AgreementParty.id)
        ):
            if p.organization_id == org.id:
                roles.setdefault(p.agreement_id, []).append(p.role_label)
        items = [(agreements[i], roles[i]) for i in ids if i in agreements and i in roles]
    return Page(items=items, total=id_page.total, page=id_page.page, per_page=per_page)


def _organization_id_page(org: Organization, user, page: int, per_page: int):
    from portal.core.pagination import paginate

    ids_of_org = (
        select(AgreementParty.agreement_id)
        .where(AgreementParty.organization_id == org.id)
        .distinct()
        .subquery("ids_of_org")
    )
    base = (
        select(Agreement.id)
        .join(ids_of_org, ids_of_org.c.agreement_id == Agreement.id)
        .where(visible_agreements_filter(user))
    )
    return paginate(
        base.order_by(Agreement.signed_on.desc().nulls_last(), Agreement.id.desc()),
        max(1, page),
        per_page,
    )
