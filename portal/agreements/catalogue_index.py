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
    write-heavy catalogue would add an incremental patch (docs/performance.md).

When it is not used
    - ``catalogue_state`` missing (a database not migrated yet): the SQL path answers.
    - free-text ``q`` on the list: the substring match stays in SQL (the search page is the
      fast path for text).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from flask import current_app
from sqlalchemy import Column, Integer, String, Table, event, inspect, select, text
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
from portal.extensions import db
from portal.partners.models import Country, Organization, Region

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
_HI = 1 << 26  # amounts in cents are summed as two exact float64 halves


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


def _bump_quietly(connection) -> None:
    # A database created before the table existed (not migrated yet): nothing to mark.
    if _has_state_table(connection):
        bump(connection)


_PRESENT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _has_state_table(connection) -> bool:
    """Whether the database has ``catalogue_state``; a positive answer is kept per engine (a
    negative one is asked again, so a database migrated while the process runs is seen)."""
    engine = connection.engine
    if _PRESENT.get(engine):
        return True
    present = inspect(connection).has_table("catalogue_state")
    if present:
        _PRESENT[engine] = True
    return present


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
        snap = cls(token)
        session = db.session
        rows = session.execute(
            select(
                Agreement.id,
                Agreement.agreement_type,
                Agreement.status,
                Agreement.signed_on,
                Agreement.amount,
                Agreement.currency,
                Agreement.domain_of_change,
                Agreement.visibility,
                Agreement.archived_at.is_(None),
                Agreement.title,
            ).order_by(Agreement.id)
        ).all()
        n = len(rows)
        snap.n = n
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
        snap.ids = ids
        snap.types = list(AGREEMENT_TYPES)
        snap.statuses = list(AGREEMENT_STATUSES)
        type_index = {t: i for i, t in enumerate(snap.types)}
        status_index = {s: i for i, s in enumerate(snap.statuses)}
        snap.type = np.fromiter((type_index.get(r[1], -1) for r in rows), np.int16, n)
        snap.status = np.fromiter((status_index.get(r[2], -1) for r in rows), np.int16, n)
        snap.signed = np.fromiter(
            (r[3].toordinal() if r[3] else -1 for r in rows), dtype=np.int64, count=n
        )
        snap.year = np.fromiter((r[3].year if r[3] else 0 for r in rows), np.int32, n)
        currencies = sorted({r[5] for r in rows if r[5]})
        snap.currencies = currencies
        cur_index = {c: i for i, c in enumerate(currencies)}
        snap.currency = np.fromiter((cur_index.get(r[5], -1) for r in rows), np.int32, n)
        snap.has_amount = np.fromiter((r[4] is not None for r in rows), dtype=bool, count=n)
        cents = np.fromiter(
            (int(Decimal(r[4]).scaleb(2)) if r[4] is not None else 0 for r in rows),
            dtype=np.int64,
            count=n,
        )
        snap.cents_hi = (cents // _HI).astype(np.float64)
        snap.cents_lo = (cents % _HI).astype(np.float64)
        snap.domain = np.fromiter((r[6] or 0 for r in rows), np.int16, n)
        vis = {Visibility.PUBLIC.value: 0, Visibility.PARTNERS.value: 1}
        visibility = np.fromiter((vis.get(r[7], 2) for r in rows), np.int8, n)
        live = np.fromiter((bool(r[8]) for r in rows), dtype=bool, count=n)
        snap.live = live
        snap.public = live & (visibility == 0)
        snap.partners_only = live & (visibility == 1)

        # Sort orders of the list (each ends with id descending, as the SQL does).
        neg_id = -ids
        signed = snap.signed
        nulls = signed < 0
        snap.orders = {
            "signed": np.lexsort((neg_id, -signed, nulls)),
            "signed_asc": np.lexsort((neg_id, signed, nulls)),
            "amount": np.lexsort((neg_id, -cents, ~snap.has_amount)),
        }
        titles = [r[9].lower() for r in rows]
        by_title = sorted(range(n), key=lambda i: (titles[i], -int(ids[i])))
        snap.orders["title"] = np.asarray(by_title, dtype=np.int64)
        del rows

        def positions(agreement_ids) -> np.ndarray:
            arr = np.fromiter(agreement_ids, dtype=np.int64)
            pos = np.searchsorted(ids, arr)
            return pos

        def pairs(raw, keys: list | None = None) -> Pairs:
            raw = list(raw)
            if keys is None:
                keys = sorted({k for _a, k in raw})
            index = {k: i for i, k in enumerate(keys)}
            kept = [(a, index[k]) for a, k in raw if k in index]
            pos = positions(a for a, _k in kept) if kept else np.zeros(0, np.int64)
            key = np.fromiter((k for _a, k in kept), dtype=np.int64, count=len(kept))
            if len(pos):  # each (agreement, key) once
                packed = np.unique(pos * (len(keys) + 1) + key)
                pos, key = packed // (len(keys) + 1), packed % (len(keys) + 1)
            return Pairs(pos, key, keys)

        # Countries and regions.
        country_rows = session.execute(
            select(Country.code, Country.region_code, Country.numeric, Country.name)
        ).all()
        snap.country_region = {c: r for c, r, _n, _name in country_rows}
        snap.country_info = {c: (num, name, r) for c, r, num, name in country_rows}
        region_rows = session.execute(select(Region.code, Region.parent_code)).all()
        parent = dict(region_rows)
        ancestors: dict[str, list[str]] = {}
        for code in parent:
            chain, node, seen = [], code, set()
            while node is not None and node not in seen:
                seen.add(node)
                chain.append(node)
                node = parent.get(node)
            ancestors[code] = chain
        links = session.execute(
            select(agreement_countries.c.agreement_id, agreement_countries.c.country_code)
        ).all()
        snap.country = pairs(links)
        named = session.execute(
            select(agreement_regions.c.agreement_id, agreement_regions.c.region_code)
        ).all()
        in_region = [(a, anc) for a, code in named for anc in ancestors.get(code, [code])]
        for a, country in links:
            region = snap.country_region.get(country)
            if region:
                in_region.extend((a, anc) for anc in ancestors.get(region, [region]))
        snap.region = pairs(in_region)

        # SDG targets and goals.
        targets = session.execute(
            select(AgreementSdgTarget.agreement_id, AgreementSdgTarget.target)
        ).all()
        snap.target = pairs(targets)
        snap.goal = pairs(((a, int(t.split(".")[0])) for a, t in targets), list(range(1, 18)))

        # Parties: (agreement, organisation) once, and per role.
        party_rows = session.execute(
            select(AgreementParty.agreement_id, AgreementParty.organization_id, AgreementParty.role)
        ).all()
        org_rows = session.execute(
            select(
                Organization.id,
                Organization.name,
                Organization.is_public,
                Organization.archived_at.is_(None),
                Organization.stakeholder_group,
            ).order_by(Organization.id)
        ).all()
        snap.org_ids = [r[0] for r in org_rows]
        snap.org_index = {oid: i for i, oid in enumerate(snap.org_ids)}
        snap.org_names = [r[1] for r in org_rows]
        snap.org_live = np.fromiter((bool(r[3]) for r in org_rows), bool, len(org_rows))
        snap.org_public = snap.org_live & np.fromiter(
            (bool(r[2]) for r in org_rows), bool, len(org_rows)
        )
        groups = sorted({r[4] or "" for r in org_rows})
        snap.groups = groups
        group_index = {k: i for i, k in enumerate(groups)}
        snap.org_group = np.fromiter(
            (group_index[r[4] or ""] for r in org_rows), np.int64, len(org_rows)
        )
        snap.party = pairs(((a, o) for a, o, _r in party_rows), snap.org_ids)
        snap.roles = {}
        for role in {r for _a, _o, r in party_rows}:
            snap.roles[role] = pairs(((a, o) for a, o, r in party_rows if r == role), snap.org_ids)
        # Positions of each organisation's agreements (for partners' own agreements).
        order = np.argsort(snap.party.key, kind="stable")
        snap._party_pos_sorted = snap.party.pos[order]
        snap._party_bounds = np.searchsorted(
            snap.party.key[order], np.arange(len(snap.org_ids) + 1)
        )
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
        uniq, counts = np.unique(keys, return_counts=True)
        for k, c in zip(uniq.tolist(), counts.tolist(), strict=True):
            out[k] = [c, {}]
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
