"""The catalogue's facet index: every count, facet and total of the public catalogue pages
without scanning the catalogue per request (issue 17).

What it is
    A column store of the agreements kept in each process's memory (numpy arrays, ~40 bytes an
    agreement plus ~10 per link): type, status, year, domain, visibility, currency and value per
    agreement, and the (agreement, key) pairs of its countries, regions (with their ancestors),
    SDG targets and goals and parties. A filter becomes a boolean mask; a count is a
    ``bincount`` over the pairs that the mask keeps. At 100,000 agreements the eight facets of
    the agreement list take a few milliseconds, where SQL took seconds (a ``count(DISTINCT)``
    over every visible agreement per facet).

Same answers as SQL
    The SQL builders in ``portal/agreements/queries.py`` and ``portal/insights/queries.py``
    remain the definition; ``tests/test_catalogue_index.py`` compares both for random filters
    and every kind of viewer (anonymous, partner, staff). Visibility is applied here exactly as
    ``visible_agreements_filter`` and ``visible_organizations_filter`` apply it.

Fresh after every change
    Any change to an agreement, its links, an organisation, a country or a region writes a new
    random token into ``catalogue_state`` in the same transaction (``after_flush`` and Core
    statements through the session). Each request reads the token (one primary-key read) and
    rebuilds the snapshot when it differs, so a page never shows figures older than the
    committed data — on every node of a cluster, with no message bus. A random token (not a
    counter) never comes back after a rollback, so a snapshot read inside a transaction that
    rolled back can never be mistaken for a committed state.

    A rebuild reads the catalogue once (four narrow SELECTs; 100,000 agreements ≈ 1 s), so the
    first request after a change pays it. Edits are rare next to reads in a catalogue; a
    write-heavy catalogue would add an incremental patch (docs/architecture.md).

When it is not used
    - ``catalogue_state`` missing (a database not migrated yet): the SQL path answers.
    - free-text ``q`` on the list: the substring match stays in SQL (the search page is the
      fast path for text).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from flask import current_app, g, render_template
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    String,
    Table,
    case,
    cast,
    event,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session

from portal.accounts.permissions import is_staff
from portal.agreements.models import (
    AGREEMENT_STATUSES,
    AGREEMENT_TYPES,
    Agreement,
    AgreementParty,
    AgreementSdgTarget,
    Visibility,
    agreement_countries,
    agreement_regions,
)
from portal.core.models import table_present
from portal.core.security import csp_nonce
from portal.extensions import db
from portal.partners.models import (
    ORG_TYPES,
    Country,
    Organization,
    Region,
    organization_regions,
)

catalogue_state = Table(
    "catalogue_state",
    db.metadata,
    Column("id", Integer, primary_key=True),
    Column("token", String(36), nullable=False),
)


@event.listens_for(catalogue_state, "after_create")
def _first_token(target, connection, **kw):
    connection.execute(catalogue_state.insert().values(id=1, token=str(uuid.uuid4())))


WATCHED_CLASSES = (Agreement, AgreementParty, AgreementSdgTarget, Organization, Country, Region)
WATCHED_TABLES = frozenset(
    {
        "agreements",
        "agreement_parties",
        "agreement_sdg_targets",
        "agreement_countries",
        "agreement_regions",
        "organizations",
        "countries",
        "regions",
    }
)
_BUMP = text("UPDATE catalogue_state SET token = :token WHERE id = 1")
HI = _HI = 1 << 26
CONTRIBUTING = (
    "funding",
    "implementing",
)  # the roles a partner contributes in  # amounts in cents are summed as two exact float64 halves


def bump(connection) -> None:
    """Mark the catalogue changed, in the caller's transaction."""
    connection.execute(_BUMP, {"token": str(uuid.uuid4())})


@event.listens_for(Session, "after_flush")
def _after_flush(session, flush_context):
    for obj in (*session.new, *session.deleted, *session.dirty):
        if isinstance(obj, WATCHED_CLASSES):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            _bump_quietly(session.connection())
            return


@event.listens_for(Session, "do_orm_execute")
def _on_execute(orm_execute_state):
    if not (
        orm_execute_state.is_insert or orm_execute_state.is_update or orm_execute_state.is_delete
    ):
        return
    table = getattr(orm_execute_state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in WATCHED_TABLES:
        _bump_quietly(orm_execute_state.session.connection())


# Called with the connection after a session's change moved the token, in its transaction
# (portal.opendata.prebuild queues the rebuild of the public files there).
CHANGE_LISTENERS: list = []


def _bump_quietly(connection) -> None:
    # A database created before the table existed (not migrated yet): nothing to mark.
    if _has_state_table(connection):
        bump(connection)
        for listener in CHANGE_LISTENERS:
            listener(connection)


def _has_state_table(connection) -> bool:
    return table_present(connection, "catalogue_state")


# --------------------------------------------------------------------------- the snapshot


@dataclass
class Pairs:
    """(agreement position, key index) pairs, each pair once."""

    pos: np.ndarray
    key: np.ndarray
    keys: list  # key index → key value

    def positions_of(self, key_index: int) -> np.ndarray:
        return self.pos[self.key == key_index]


class Snapshot:
    """The catalogue at one token. Immutable once built; shared by the threads of a process."""

    def __init__(self, token: str):
        self.token = token

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, token: str) -> Snapshot:
        """Read the catalogue: integer-only SELECTs through the driver's cursor (no ORM rows),
        turned into arrays in C; 100,000 agreements in well under a second."""
        snap = cls(token)
        dialect = db.session.connection().dialect.name
        snap.types = list(AGREEMENT_TYPES)
        snap.statuses = list(AGREEMENT_STATUSES)
        snap.currencies = sorted(
            c
            for (c,) in _raw(select(Agreement.currency).distinct().where(Agreement.currency != ""))
            if c
        )
        a = Agreement
        if dialect == "postgresql":
            day = func.coalesce(a.signed_on - literal_column("DATE '2000-01-01'"), -1)
        else:
            day = func.coalesce(cast(func.julianday(a.signed_on), Integer), -1)
        columns = [
            a.id,
            _codes(a.agreement_type, snap.types),
            _codes(a.status, snap.statuses),
            func.coalesce(cast(func.extract("year", a.signed_on), Integer), 0),
            day,
            func.coalesce(a.domain_of_change, 0),
            _codes(a.visibility, [Visibility.PUBLIC.value, Visibility.PARTNERS.value], 2),
            case((a.archived_at.is_(None), 1), else_=0),
            case((a.amount.is_(None), 0), else_=1),
            func.coalesce(cast(func.round(a.amount * 100), BigInteger), 0),
            _codes(a.currency, snap.currencies),
        ]
        rows = _raw(select(*columns).order_by(a.id))
        table = np.array(rows, dtype=np.int64).reshape(len(rows), len(columns))
        del rows
        snap.n = len(table)
        ids = snap.ids = table[:, 0].copy()
        snap.type = table[:, 1].astype(np.int16)
        snap.status = table[:, 2].astype(np.int16)
        snap.year = table[:, 3].astype(np.int32)
        signed = table[:, 4]
        snap.domain = table[:, 5].astype(np.int16)
        visibility = table[:, 6]
        live = snap.live = table[:, 7] == 1
        snap.has_amount = table[:, 8] == 1
        cents = table[:, 9]
        snap.currency = table[:, 10].astype(np.int32)
        snap.cents_hi = (cents // _HI).astype(np.float64)
        snap.cents_lo = (cents % _HI).astype(np.float64)
        snap.public = live & (visibility == 0)
        snap.partners_only = live & (visibility == 1)

        # Sort orders of the list, each ending with id descending as agreements_query does.
        # Title order comes from the database itself, so its collation is the list's.
        neg_id = -ids
        nulls = signed < 0
        snap.orders = {
            "signed": np.lexsort((neg_id, -signed, nulls)),
            "signed_asc": np.lexsort((neg_id, signed, nulls)),
            "amount": np.lexsort((neg_id, -cents, ~snap.has_amount)),
            "title": np.searchsorted(
                ids,
                _ids(select(a.id).order_by(func.lower(a.title), a.id.desc())),
            ),
        }
        del table

        # Regions: each code with its ancestors (a few dozen codes, in Python).
        parent = dict(_raw(select(Region.code, Region.parent_code)))
        region_codes = sorted(parent)
        region_index = {c: i for i, c in enumerate(region_codes)}
        ancestors = np.full((len(region_codes), 8), -1, dtype=np.int64)
        for code, i in region_index.items():
            node, depth, seen = code, 0, set()
            while node is not None and node in region_index and node not in seen and depth < 8:
                seen.add(node)
                ancestors[i, depth] = region_index[node]
                node, depth = parent.get(node), depth + 1
        country_rows = _raw(
            select(Country.code, Country.region_code, Country.numeric, Country.name)
        )
        snap.country_region = {c: r for c, r, _n, _name in country_rows}
        snap.country_info = {c: (num, name, r) for c, r, num, name in country_rows}
        country_codes = sorted(snap.country_region)
        country_index = {c: i for i, c in enumerate(country_codes)}
        country_to_region = np.array(
            [region_index.get(snap.country_region[c] or "", -1) for c in country_codes],
            dtype=np.int64,
        )

        def positions(agreement_ids: np.ndarray) -> np.ndarray:
            return np.searchsorted(ids, agreement_ids)

        def coded(owner_column, key_column, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
            """(owner, key index) pairs of a link table; keys outside ``keys`` are dropped.
            (Mapping the few hundred codes here is faster than joining a numbering in SQL.)"""
            rows = _raw(select(owner_column, key_column))
            index = {k: i for i, k in enumerate(keys)}
            owner = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            key = np.fromiter((index.get(r[1], -1) for r in rows), dtype=np.int64, count=len(rows))
            keep = key >= 0
            return owner[keep], key[keep]

        c_owner, c_key = coded(
            agreement_countries.c.agreement_id, agreement_countries.c.country_code, country_codes
        )
        c_pos = positions(c_owner)
        snap.country = _pairs(c_pos, c_key, country_codes, unique=True)
        r_owner, r_key = coded(
            agreement_regions.c.agreement_id, agreement_regions.c.region_code, region_codes
        )
        placed = country_to_region[c_key]
        region_pos = np.concatenate([positions(r_owner), c_pos[placed >= 0]])
        region_key = np.concatenate([r_key, placed[placed >= 0]])
        snap.region = _with_ancestors(region_pos, region_key, ancestors, region_codes)

        # SDG targets and goals.
        target_keys = sorted(
            t for (t,) in _raw(select(AgreementSdgTarget.target).distinct()) if t is not None
        )
        t_owner, t_key = coded(
            AgreementSdgTarget.agreement_id, AgreementSdgTarget.target, target_keys
        )
        t_pos = positions(t_owner)
        snap.target = _pairs(t_pos, t_key, target_keys, unique=True)
        goal_of = np.array(
            [int(t.split(".")[0]) - 1 if t.split(".")[0].isdigit() else -1 for t in target_keys],
            dtype=np.int64,
        )
        goal_key = goal_of[t_key] if len(t_key) else t_key
        ok = (goal_key >= 0) & (goal_key < 17)
        snap.goal = _pairs(t_pos[ok], goal_key[ok], list(range(1, 18)))

        # Organisations.
        if dialect == "postgresql":
            org_day = Organization.partner_since - literal_column("DATE '2000-01-01'")
        else:
            org_day = cast(func.julianday(Organization.partner_since), Integer)
        org_rows = _raw(
            select(
                Organization.id,
                Organization.name,
                case((Organization.is_public.is_(True), 1), else_=0),
                case((Organization.archived_at.is_(None), 1), else_=0),
                Organization.stakeholder_group,
                Organization.country_code,
                Organization.org_type,
                func.coalesce(org_day, -1),
            ).order_by(Organization.id)
        )
        m = len(org_rows)
        snap.org_ids = [r[0] for r in org_rows]
        org_id_array = np.array(snap.org_ids, dtype=np.int64)
        snap.org_index = {oid: i for i, oid in enumerate(snap.org_ids)}
        snap.org_names = [r[1] for r in org_rows]
        snap.org_live = np.fromiter((r[3] == 1 for r in org_rows), bool, m)
        snap.org_public = snap.org_live & np.fromiter((r[2] == 1 for r in org_rows), bool, m)
        groups = sorted({r[4] or "" for r in org_rows})
        snap.groups = groups
        group_index = {k: i for i, k in enumerate(groups)}
        snap.org_group = np.fromiter((group_index[r[4] or ""] for r in org_rows), np.int64, m)
        snap.org_country = [r[5] for r in org_rows]
        snap.org_types = list(ORG_TYPES)
        type_of = {t: i for i, t in enumerate(snap.org_types)}
        snap.org_type = np.fromiter((type_of.get(r[6], -1) for r in org_rows), np.int64, m)
        snap.org_country_code = np.fromiter(
            (country_index.get(r[5], -1) if r[5] else -1 for r in org_rows), np.int64, m
        )
        snap.country_codes = country_codes
        since = np.fromiter((r[7] for r in org_rows), np.int64, m)
        # Directory orders: by name as the database orders lower(name) (its collation), then
        # by partnership date either way (undated last), ties by name, as partners_query does.
        by_name = np.searchsorted(
            org_id_array,
            _ids(select(Organization.id).order_by(func.lower(Organization.name), Organization.id)),
        )
        snap.org_name_rank = np.empty(m, dtype=np.int64)
        snap.org_name_rank[by_name] = np.arange(m)
        undated = since < 0
        snap.org_orders = {
            "name": by_name,
            "since": np.lexsort((snap.org_name_rank, since, undated)),
            "recent": np.lexsort((snap.org_name_rank, -since, undated)),
        }
        # Organisations' places: its country's region and the regions it serves, with their
        # ancestors, over organisation indexes.
        o_country = np.fromiter(
            (
                region_index.get(snap.country_region.get(c) or "", -1) if c else -1
                for c in snap.org_country
            ),
            np.int64,
            m,
        )
        s_owner, s_key = coded(
            organization_regions.c.organization_id, organization_regions.c.region_code, region_codes
        )
        based = np.flatnonzero(o_country >= 0)
        snap.org_region = _with_ancestors(
            np.concatenate([based, np.searchsorted(org_id_array, s_owner)]),
            np.concatenate([o_country[based], s_key]),
            ancestors,
            region_codes,
        )
        del org_rows

        # Parties: (agreement, organisation) once, and once per role.
        roles = sorted(r for (r,) in _raw(select(AgreementParty.role).distinct()) if r is not None)
        role_index = {r: i for i, r in enumerate(roles)}
        table = _int_rows(
            select(
                AgreementParty.agreement_id,
                AgreementParty.organization_id,
                _codes(AgreementParty.role, roles),
            ),
            3,
        )
        p_pos = positions(table[:, 0])
        p_org = np.searchsorted(org_id_array, table[:, 1])
        p_role = table[:, 2]
        del table
        snap.party = _pairs(p_pos, p_org, snap.org_ids)
        snap.roles = {  # (agreement, organisation, role) is unique in the table
            role: _pairs(p_pos[p_role == i], p_org[p_role == i], snap.org_ids, unique=True)
            for role, i in role_index.items()
        }
        # (agreement, organisation) once over the roles that contribute (funding,
        # implementing): the directory's value sort and contribution figures.
        contributing = np.isin(p_role, [role_index[r] for r in CONTRIBUTING if r in role_index])
        snap.contributing = _pairs(p_pos[contributing], p_org[contributing], snap.org_ids)
        # Positions of each organisation's agreements (for partners' own agreements).
        order = np.argsort(snap.party.key, kind="stable")
        snap._party_pos_sorted = snap.party.pos[order]
        snap._party_bounds = np.searchsorted(snap.party.key[order], np.arange(m + 1))
        return snap

    # ------------------------------------------------------------------ viewers
    def visible(self, user) -> np.ndarray:
        """The mask of ``visible_agreements_filter(user)``."""
        if is_staff(user):
            return self.live
        org_id = user.organization_id if user is not None and user.is_authenticated else None
        if not org_id or org_id not in self.org_index:
            return self.public
        own = np.zeros(self.n, dtype=bool)
        own[self.agreements_of_org(org_id)] = True
        return self.public | (self.partners_only & own)

    def visible_orgs(self, user) -> np.ndarray:
        """The mask (over organisations) of ``visible_organizations_filter(user)``."""
        if is_staff(user):
            return self.org_live
        org_id = user.organization_id if user is not None and user.is_authenticated else None
        mask = self.org_public.copy()
        if org_id in self.org_index:
            mask[self.org_index[org_id]] = True
        return mask

    def agreements_of_org(self, org_id: int) -> np.ndarray:
        i = self.org_index.get(org_id)
        if i is None:
            return np.zeros(0, np.int64)
        return self._party_pos_sorted[self._party_bounds[i] : self._party_bounds[i + 1]]

    # ------------------------------------------------------------------ filters
    def filter_masks(self, filters, user, tree) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(visibility mask, {filter name: mask}) for ``AgreementFilters`` without ``q``."""
        masks: dict[str, np.ndarray] = {}
        if filters.agreement_type:
            masks["agreement_type"] = self.type == self.types.index(filters.agreement_type)
        if filters.status:
            masks["status"] = self.status == self.statuses.index(filters.status)
        if filters.year:
            masks["year"] = self.year == filters.year
        if filters.region:
            masks["region"] = self.having(self.region, filters.region)
        if filters.country:
            masks["country"] = self.having(self.country, filters.country)
        if filters.domain:
            masks["domain"] = self.domain == filters.domain
        if filters.sdg:
            if "." in filters.sdg:
                masks["sdg"] = self.having(self.target, filters.sdg)
            else:
                masks["sdg"] = self.having(self.goal, int(filters.sdg))
        if filters.party:
            mask = np.zeros(self.n, dtype=bool)
            mask[self.agreements_of_org(filters.party)] = True
            masks["party"] = mask
        return self.visible(user), masks

    def having(self, pairs: Pairs, key) -> np.ndarray:
        """Agreements with ``key`` among their pairs."""
        mask = np.zeros(self.n, dtype=bool)
        try:
            index = pairs.keys.index(key)
        except ValueError:
            return mask
        mask[pairs.positions_of(index)] = True
        return mask

    def region_pairs_among(self, wanted) -> tuple[np.ndarray, np.ndarray]:
        """The region pairs whose region is in ``wanted`` (kept per snapshot: the same few
        sets — continents, sub-regions, a region's children — are asked on every page)."""
        cache_key = frozenset(wanted)
        cache = self.__dict__.setdefault("_region_pairs_cache", {})
        found = cache.get(cache_key)
        if found is None:
            keys = [i for i, code in enumerate(self.region.keys) if code in cache_key]
            if keys:
                keep = self.among(self.region.key, keys, len(self.region.keys))
                found = (self.region.pos[keep], self.region.key[keep])
            else:
                found = (np.zeros(0, np.int64), np.zeros(0, np.int64))
            if len(cache) < 512:  # bounded: one entry per distinct set of regions
                cache[cache_key] = found
        return found

    def viewer_key(self, user) -> str:
        """Who sees the same catalogue as ``user``: staff, one organisation's members (its
        partners-only agreements and its own non-public profile), or the public."""
        if is_staff(user):
            return "staff"
        org_id = user.organization_id if user is not None and user.is_authenticated else None
        return f"org:{org_id}" if org_id in self.org_index else "public"

    def fragment(self, key: tuple, produce):
        """A rendered fragment kept with this snapshot (so never older than the catalogue):
        ``key`` must name everything the fragment depends on besides the catalogue — the
        viewer (``viewer_key``), the language, the scope. Least recently used first out, past
        ``FRAGMENT_BUDGET`` characters of kept text (a page with a map keeps ~180 KB) or
        ``FRAGMENT_ENTRIES`` entries, so a crawler walking every partner page costs memory
        within the budget, never more."""
        kept = self.__dict__.get("_fragments")
        if kept is None:
            kept = self.__dict__.setdefault("_fragments", _Fragments())
        return kept.get(key, produce)

    def kept_for(self, user, name: str, scope: tuple, produce):
        """``produce()`` kept for everyone who sees the same catalogue as ``user``, in the
        current language, for ``name`` and ``scope`` (all else the result depends on)."""
        return self.fragment((name, self.viewer_key(user), str(get_locale()), *scope), produce)

    def top_orgs(self, counts: np.ndarray, limit: int) -> list[int]:
        """Indexes of the ``limit`` organisations with the highest non-zero ``counts``, ties by
        name (as ``ORDER BY n DESC, name``): only the candidates at or above the limit-th
        count are sorted, not every organisation."""
        nonzero = int((counts > 0).sum())
        if not nonzero:
            return []
        if nonzero > limit:
            threshold = np.partition(counts, len(counts) - limit)[len(counts) - limit]
            candidates = np.flatnonzero(counts >= max(threshold, 1))
        else:
            candidates = np.flatnonzero(counts)
        ranked = sorted(candidates.tolist(), key=lambda i: (-int(counts[i]), self.org_names[i]))
        return ranked[:limit]

    @staticmethod
    def among(key: np.ndarray, wanted, size: int) -> np.ndarray:
        """Which entries of ``key`` are in ``wanted`` (a lookup table, not a search)."""
        table = np.zeros(size, dtype=bool)
        table[np.asarray(list(wanted), dtype=np.int64)] = True
        return table[key]

    def having_org(self, pairs: Pairs, key) -> np.ndarray:
        """Organisations with ``key`` among their pairs."""
        mask = np.zeros(len(self.org_ids), dtype=bool)
        if key in pairs.keys:
            mask[pairs.positions_of(pairs.keys.index(key))] = True
        return mask

    @staticmethod
    def combine(visible: np.ndarray, masks: dict[str, np.ndarray], skip: str | None = None):
        out = visible.copy()
        for name, mask in masks.items():
            if name != skip:
                out &= mask
        return out

    def page(self, mask: np.ndarray, sort: str, offset: int, limit: int) -> list[int]:
        """Agreement ids of one page of ``mask`` in the list's sort order."""
        order = self.orders.get(sort, self.orders["signed"])
        chosen = order[mask[order]][offset : offset + limit]
        return self.ids[chosen].tolist()

    def count_by(self, pairs: Pairs, mask: np.ndarray) -> np.ndarray:
        """Agreements per key among ``mask`` (each agreement once per key)."""
        return np.bincount(pairs.key[mask[pairs.pos]], minlength=len(pairs.keys))

    def column_counts(self, column: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
        return np.bincount(column[mask], minlength=size)

    def grouped(self, mask: np.ndarray, key_pos: np.ndarray | None, key: np.ndarray):
        """Counts and values per currency for (position, key) rows kept by ``mask``: returns
        {key: (count, {currency: Decimal})}, values only where some amount is known."""
        if key_pos is None:  # one key per agreement: ``key`` is a column
            pos = np.flatnonzero(mask)
            keys = key[pos]
        else:
            kept = mask[key_pos]
            pos, keys = key_pos[kept], key[kept]
        out: dict[int, list] = {}
        if not len(pos):
            return out
        counts = np.bincount(keys)  # keys are small non-negative codes: no sort needed
        for k in np.flatnonzero(counts).tolist():
            out[k] = [int(counts[k]), {}]
        cur = self.currency[pos]
        valued = (cur >= 0) & self.has_amount[pos]
        if valued.any():
            width = len(self.currencies)
            combined = keys[valued] * width + cur[valued]
            vpos = pos[valued]
            hi = np.bincount(combined, weights=self.cents_hi[vpos])
            lo = np.bincount(combined, weights=self.cents_lo[vpos])
            for idx in np.flatnonzero(np.bincount(combined)).tolist():
                k, c = divmod(idx, width)
                cents = int(hi[idx]) * _HI + int(lo[idx])
                out[k][1][self.currencies[c]] = Decimal(cents).scaleb(-2)
        return out

    def currency_totals(self, mask: np.ndarray) -> list[tuple[str, int, Decimal]]:
        """(currency, agreements in it, total) for currencies with some known amount."""
        grouped = self.grouped(mask, None, np.where(self.currency >= 0, self.currency, -1) + 1)
        rows = []
        for k, (count, values) in grouped.items():
            if k == 0:
                continue
            cur = self.currencies[k - 1]
            if cur in values:
                rows.append((cur, count, values[cur]))
        return sorted(rows, key=lambda r: (-r[1], r[0]))


def _raw(stmt) -> list[tuple]:
    """Rows of ``stmt`` as the driver returns them, in the session's transaction: no result
    processing (the SELECTs here return integers and plain strings only)."""
    connection = db.session.connection()
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(compiled))
        return cursor.fetchall()
    finally:
        cursor.close()


def _ids(stmt) -> np.ndarray:
    rows = _raw(stmt)
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def _codes(column, values: list[str], default: int = -1):
    """A CASE turning ``column`` into its index in ``values`` (``default`` otherwise)."""
    if not values:
        return literal_column(str(default))
    return case({v: i for i, v in enumerate(values)}, value=column, else_=default)


def _pairs(pos: np.ndarray, key: np.ndarray, keys: list, *, unique: bool = False) -> Pairs:
    """Pairs from arrays, each (position, key) once (``unique``: they already are)."""
    if unique or not len(pos):
        return Pairs(np.asarray(pos, np.int64), np.asarray(key, np.int64), keys)
    width = len(keys) + 1
    packed = pos.astype(np.int64) * width + key
    packed.sort()
    first = np.empty(len(packed), dtype=bool)
    first[0] = True
    np.not_equal(packed[1:], packed[:-1], out=first[1:])
    packed = packed[first]
    return Pairs(packed // width, packed % width, keys)


def _int_rows(stmt, width: int) -> np.ndarray:
    """An integer-only SELECT as a (rows × width) array."""
    rows = _raw(stmt)
    if not rows:
        return np.zeros((0, width), dtype=np.int64)
    return np.array(rows, dtype=np.int64).reshape(len(rows), width)


def _with_ancestors(pos, key, ancestors: np.ndarray, codes: list[str]) -> Pairs:
    """Region pairs with every ancestor of each region added (the closure), each once."""
    chains = ancestors[key] if len(key) else np.zeros((0, ancestors.shape[1]), np.int64)
    all_pos = np.repeat(pos, chains.shape[1])
    all_key = chains.reshape(-1)
    keep = all_key >= 0
    return _pairs(all_pos[keep], all_key[keep], codes)


# --------------------------------------------------------------------------- kept fragments

FRAGMENT_BUDGET = 48_000_000  # characters of kept text per process (one snapshot at a time)
FRAGMENT_ENTRIES = 4_096


class _Fragments:
    """A least-recently-used map with a size budget: text counts its length, anything else
    (facet counts, small structures) a nominal 2,000."""

    def __init__(self):
        self.entries: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()

    def get(self, key: tuple, produce):
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
                return found[0]
        value = produce()  # outside the lock: two threads may both render, both are right
        cost = len(value) if isinstance(value, str) else 2_000
        with self.lock:
            if key not in self.entries:
                self.entries[key] = (value, cost)
                self.size += cost
            while self.entries and (
                self.size > FRAGMENT_BUDGET or len(self.entries) > FRAGMENT_ENTRIES
            ):
                _old_key, (_value, old_cost) = self.entries.popitem(last=False)
                self.size -= old_cost
        return value


# --------------------------------------------------------------------------- the holder


class _Holder:
    def __init__(self):
        self.snapshot: Snapshot | None = None
        self.lock = threading.Lock()


def current_token() -> str | None:
    """The catalogue token this transaction sees; None when the database is not migrated.
    Read on every use (one primary-key read): a request that changed the catalogue sees its
    own new token, and nothing is cached across requests that share an application context."""
    connection = db.session.connection()
    if not _has_state_table(connection):
        return None
    return connection.execute(text("SELECT token FROM catalogue_state WHERE id = 1")).scalar()


def kept_for_reader(name: str, scope: tuple, produce):
    """``produce()``, kept with the catalogue snapshot for everyone who sees the same catalogue
    as the current reader (``viewer_key``), in the same language, for the same ``scope`` (all
    else the result depends on: the page's query, the day, a heading); made afresh on every
    call when there is no index. For rendered page parts that every such reader shares."""
    snap = snapshot()
    if snap is None:
        return produce()
    return snap.kept_for(current_user, name, scope, produce)


class NotShared(RuntimeError):
    """A kept page part was given, or rendered, something that belongs to one reader."""


def render_kept(name: str, scope: tuple, template: str, context: Callable[[], dict]) -> Markup:
    """``template`` rendered with ``context()`` and kept like ``kept_for_reader`` (the key: the
    reader class, the language, ``name`` and ``scope``); ``context`` is only called when the
    part is not kept yet, so the queries behind it run once per snapshot. The outer page —
    the layout with its nonce and menu, the edit buttons, staff-only contacts — is rendered
    around the result on every request.

    A kept part is shared by every reader of a class, so it must not depend on one of them:
    a context that carries the current user, or a part that renders this request's CSP nonce
    or CSRF token, is refused with ``NotShared`` (a programming error, found by any test that
    opens the page)."""

    def produce() -> Markup:
        values = context()
        user = current_user._get_current_object()
        carried = sorted(k for k, v in values.items() if v is user)
        if carried:
            raise NotShared(f"{name}: the context carries the current user ({', '.join(carried)})")
        html = render_template(template, **values)
        secrets = {"CSP nonce": csp_nonce(), "CSRF token": g.get("csrf_token")}
        leaked = sorted(what for what, secret in secrets.items() if secret and secret in html)
        if leaked:
            raise NotShared(f"{name}: {template} renders the request's {' and '.join(leaked)}")
        return Markup(html)  # noqa: S704 - our own template's output

    return kept_for_reader(name, scope, produce)


def snapshot() -> Snapshot | None:
    """The catalogue index for this request, rebuilt when the catalogue changed; None when the
    database has no ``catalogue_state`` (the callers then use SQL)."""
    if not current_app.config.get("CATALOGUE_INDEX", True):
        return None
    token = current_token()
    if token is None:
        return None
    holder = current_app.extensions.setdefault("catalogue_index", _Holder())
    snap = holder.snapshot
    if snap is not None and snap.token == token:
        return snap
    with holder.lock:  # one rebuild per process at a time; others wait for it
        snap = holder.snapshot
        if snap is not None and snap.token == token:
            return snap
        snap = Snapshot.build(token)
        holder.snapshot = snap
        return snap
