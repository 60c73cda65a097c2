"""From database rows to search documents (DESIGN §5).

Each searchable kind registers a ``DocLoader`` in ``LOADERS``: it turns primary keys into
``SearchDoc`` objects (for the outbox) and streams every document in batches (for
``search rebuild``). Draft paragraphs, minutes and comments plug in later with
``register_kind`` — nothing else in the search package needs to change.

Loaders eager-load everything a document needs (parties, countries, regions) so a rebuild costs
a handful of queries per batch, not a few per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from werkzeug.routing import BuildError

from portal.agreements.models import AGREEMENT_TYPES, Agreement, AgreementParty
from portal.agreements.permissions import agreement_principals
from portal.partners.models import STAKEHOLDER_GROUPS, Organization, Region
from portal.partners.permissions import organization_principals
from portal.partners.place_names import place_name
from portal.search.base import SearchDoc

# --- labels: vocabulary words shown next to a snippet, in the reader's language ---------------
#
# A document's ``labels`` are references "<vocabulary>:<value>"; the index keeps the
# references (and their English words, for matching), the page translates them when it shows
# a hit. Before, the English words were appended to the body, and an Arabic or Chinese reader
# saw "Memorandum of understanding · Kenya" in every snippet.


def _vocabulary_label(vocabulary: dict) -> Callable[[str], str | None]:
    def label(value: str) -> str | None:
        found = vocabulary.get(value)
        return str(found) if found is not None else None

    return label


LABEL_VOCABULARIES: dict[str, Callable[[str], str | None]] = {
    "agreement_type": _vocabulary_label(AGREEMENT_TYPES),
    "stakeholder_group": _vocabulary_label(STAKEHOLDER_GROUPS),
    "country": place_name,  # the value is the stored (English) country name
}


def label_for(ref: str) -> str | None:
    """A label reference in the current reader's language; None for an unknown one (a
    vocabulary value removed since the document was indexed is not shown)."""
    vocabulary, _, value = ref.partition(":")
    render = LABEL_VOCABULARIES.get(vocabulary)
    return (render(value) or None) if render and value else None


def hit_labels(hit) -> list[str]:
    """A hit's labels in the current reader's language, unknown ones left out."""
    return [text for ref in hit.labels if (text := label_for(ref))]


def with_labels(refs: Iterable[str]) -> dict:
    """``labels`` and ``label_text`` (English words, for matching) for a SearchDoc."""
    labels = [ref for ref in dict.fromkeys(refs) if ref.partition(":")[2]]
    with force_locale("en"):
        words = [label_for(ref) for ref in labels]
    return {"labels": labels, "label_text": "\n".join(w for w in words if w)}


BATCH_SIZE = 500


@dataclass(frozen=True)
class DocLoader:
    """How one kind of object becomes search documents.

    ``load(session, pks)`` returns ``{pk: SearchDoc}`` for the rows that still exist (a missing
    pk means "delete from the index"); ``all_pks(session)`` lists every pk, for rebuild and
    ``search check``.
    """

    load: Callable[[Session, list[int]], dict[int, SearchDoc]]
    all_pks: Callable[[Session], Iterable[int]]


LOADERS: dict[str, DocLoader] = {}


def register_kind(kind: str, loader: DocLoader) -> None:
    LOADERS[kind] = loader


def split_doc_id(doc_id: str) -> tuple[str, int] | None:
    kind, _, pk = doc_id.partition(":")
    if kind not in LOADERS or not pk.isdigit():
        return None
    return kind, int(pk)


def docs_for(session: Session, doc_ids: Iterable[str]) -> dict[str, SearchDoc | None]:
    """Current document for each id; ``None`` means the object is gone (delete it)."""
    by_kind: dict[str, list[int]] = {}
    result: dict[str, SearchDoc | None] = {}
    for doc_id in doc_ids:
        parsed = split_doc_id(doc_id)
        result[doc_id] = None
        if parsed:
            by_kind.setdefault(parsed[0], []).append(parsed[1])
    for kind, pks in by_kind.items():
        for start in range(0, len(pks), BATCH_SIZE):
            loaded = LOADERS[kind].load(session, pks[start : start + BATCH_SIZE])
            for pk, doc in loaded.items():
                result[f"{kind}:{pk}"] = doc
    return result


def doc_for(session: Session, doc_id: str) -> SearchDoc | None:
    return docs_for(session, [doc_id])[doc_id]


def all_doc_ids(session: Session) -> Iterator[str]:
    for kind, loader in LOADERS.items():
        for pk in loader.all_pks(session):
            yield f"{kind}:{pk}"


def all_docs(session: Session, batch_size: int = BATCH_SIZE) -> Iterator[SearchDoc]:
    """Every document, in batches of ``batch_size`` rows (rebuild streams this)."""
    for loader in LOADERS.values():
        pks = list(loader.all_pks(session))
        for start in range(0, len(pks), batch_size):
            chunk = pks[start : start + batch_size]
            loaded = loader.load(session, chunk)
            for pk in chunk:
                if pk in loaded:
                    yield loaded[pk]
            # Release the batch's objects: a 100k-row rebuild must not hold them all.
            session.expunge_all()


def count_docs(session: Session) -> int:
    return sum(len(list(loader.all_pks(session))) for loader in LOADERS.values())


# --- helpers ----------------------------------------------------------------------------------


def _region_chains(session: Session) -> dict[str, list[str]]:
    """M49 code → the code and all its ancestors except World, from one small query."""
    parents = dict(session.execute(select(Region.code, Region.parent_code)).all())
    chains: dict[str, list[str]] = {}
    for code in parents:
        chain, node = [], code
        while node is not None and node not in chain:
            if node != "001":  # World: every document is in it, a useless filter
                chain.append(node)
            node = parents.get(node)
        chains[code] = chain
    return chains


def _regions_for(chains: dict[str, list[str]], codes: Iterable[str | None]) -> list[str]:
    out: list[str] = []
    for code in codes:
        for c in chains.get(code or "", [code] if code else []):
            if c not in out:
                out.append(c)
    return out


def _url(endpoint: str, fallback: str, **values) -> str:
    """A path for ``endpoint`` without needing a request (outbox runs after commit)."""
    try:
        return current_app.url_map.bind("localhost").build(endpoint, values)
    except (BuildError, RuntimeError):
        return fallback


def _as_datetime(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


# --- organisations ----------------------------------------------------------------------------


def _load_organizations(session: Session, pks: list[int]) -> dict[int, SearchDoc]:
    chains = _region_chains(session)
    rows = session.scalars(
        select(Organization)
        .where(Organization.id.in_(pks))
        .options(selectinload(Organization.regions), selectinload(Organization.country))
    ).all()
    docs: dict[int, SearchDoc] = {}
    for org in rows:
        country = org.country
        body = [org.acronym or "", org.description or ""]
        labels = with_labels(
            [
                f"stakeholder_group:{org.stakeholder_group or ''}",
                f"country:{country.name if country else ''}",
            ]
        )
        docs[org.id] = SearchDoc(
            id=f"organization:{org.id}",
            kind="organization",
            title=org.name,
            body="\n".join(part for part in body if part),
            url=_url("partners.show", f"/partners/{org.id}", org_id=org.id),
            principals=organization_principals(org),
            regions=_regions_for(
                chains, [r.code for r in org.regions] + [country.region_code if country else None]
            ),
            countries=[org.country_code] if org.country_code else [],
            org_type=org.org_type,
            year=org.partner_since.year if org.partner_since else None,
            updated_at=org.updated_at,
            sort_date=_as_datetime(org.partner_since),
            **labels,
        )
    return docs


def _organization_pks(session: Session) -> Iterable[int]:
    return session.scalars(select(Organization.id).order_by(Organization.id)).all()


# --- agreements -------------------------------------------------------------------------------


def _load_agreements(session: Session, pks: list[int]) -> dict[int, SearchDoc]:
    chains = _region_chains(session)
    rows = session.scalars(
        select(Agreement)
        .where(Agreement.id.in_(pks))
        .options(
            selectinload(Agreement.parties).selectinload(AgreementParty.organization),
            selectinload(Agreement.countries),
            selectinload(Agreement.regions),
        )
    ).all()
    docs: dict[int, SearchDoc] = {}
    for agreement in rows:
        parties = [p.organization for p in agreement.parties if p.organization is not None]
        party_names = []
        for org in parties:
            for name in (org.name, org.acronym):
                if name and name not in party_names:
                    party_names.append(name)
        body = [agreement.reference, agreement.summary or "", " · ".join(party_names)]
        labels = with_labels(
            [f"agreement_type:{agreement.agreement_type or ''}"]
            + [f"country:{c.name}" for c in agreement.countries]
        )
        day = agreement.signed_on or agreement.start_on
        docs[agreement.id] = SearchDoc(
            id=f"agreement:{agreement.id}",
            kind="agreement",
            title=agreement.title,
            body="\n".join(part for part in body if part),
            url=_url("agreements.show", f"/agreements/{agreement.id}", agreement_id=agreement.id),
            principals=agreement_principals(agreement),
            regions=_regions_for(
                chains,
                [r.code for r in agreement.regions] + [c.region_code for c in agreement.countries],
            ),
            countries=[c.code for c in agreement.countries],
            agreement_type=agreement.agreement_type,
            status=agreement.status,
            year=day.year if day else None,
            domain=agreement.domain_of_change,
            updated_at=agreement.updated_at,
            sort_date=_as_datetime(day),
            **labels,
        )
    return docs


def _agreement_pks(session: Session) -> Iterable[int]:
    return session.scalars(select(Agreement.id).order_by(Agreement.id)).all()


register_kind("organization", DocLoader(load=_load_organizations, all_pks=_organization_pks))
register_kind("agreement", DocLoader(load=_load_agreements, all_pks=_agreement_pks))
