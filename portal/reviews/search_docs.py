"""Draft paragraphs and review comments as search documents (DESIGN §5).

- ``paragraph:<id>`` — paragraphs of *published* versions. Seen by staff and by the reviewers
  of the document's rounds (principal ``round:<id>`` for each round on any version of the
  document, the same rule as ``permissions.can_view_version``). Draft versions are never
  indexed: their paragraphs load as "gone", so publishing is what makes them findable.
  Paragraphs of a document with an opened *public* round are public (principal ``public``).
- ``comment:<id>`` — comments (not withdrawn), for staff; a public round's live comments that
  its readers see (reviewers see each other's comments) are public too, at their docket URL,
  without the author's name when the comment is anonymous.

Change trackers feed the search outbox: a paragraph or comment written through the ORM, a
version being published, or a round being opened each name the documents they affect.
Paragraphs are inserted in bulk (Core) when a version is added, which no tracker sees — that is
fine, because a draft's paragraphs are not indexed until ``publish_version`` marks the version
changed, and the version tracker then names all of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.core.principals import PUBLIC, STAFF
from portal.reviews.models import (
    Comment,
    CommentStatus,
    DocumentVersion,
    Paragraph,
    ReviewRound,
    RoundStatus,
    VersionStatus,
)
from portal.search.base import SearchDoc
from portal.search.documents import DocLoader, _url, register_kind
from portal.search.outbox import register_change_tracker


def round_principal(round_id: int) -> str:
    return f"round:{round_id}"


def _rounds_by_document(
    session: Session, document_ids: Iterable[int]
) -> dict[int, list[tuple[int, bool]]]:
    """(round id, opened public round?) per document."""
    rows = session.execute(
        select(DocumentVersion.document_id, ReviewRound.id, ReviewRound.public, ReviewRound.status)
        .join(ReviewRound, ReviewRound.version_id == DocumentVersion.id)
        .where(DocumentVersion.document_id.in_(set(document_ids)))
        .order_by(ReviewRound.id)
    )
    out: dict[int, list[tuple[int, bool]]] = {}
    for document_id, round_id, public, status in rows:
        opened_public = bool(public) and status != RoundStatus.DRAFT.value
        out.setdefault(document_id, []).append((round_id, opened_public))
    return out


def paragraph_label(paragraph: Paragraph) -> str:
    return str(paragraph.number) if paragraph.number is not None else f"{paragraph.position + 1}"


def _paragraph_body(paragraph: Paragraph) -> str:
    parts = [paragraph.text or ""]
    rows = (paragraph.extra or {}).get("rows") if isinstance(paragraph.extra, dict) else None
    if rows:
        parts += [" | ".join(str(cell) for cell in row) for row in rows]
    return "\n".join(p for p in parts if p)


def _load_paragraphs(session: Session, pks: list[int]) -> dict[int, SearchDoc]:
    rows = session.scalars(
        select(Paragraph)
        .join(DocumentVersion, DocumentVersion.id == Paragraph.version_id)
        .where(Paragraph.id.in_(pks), DocumentVersion.status == VersionStatus.PUBLISHED.value)
        .options(
            selectinload(Paragraph.version).selectinload(DocumentVersion.document),
            selectinload(Paragraph.section),
        )
    ).all()
    rounds = _rounds_by_document(session, {p.version.document_id for p in rows})
    docs: dict[int, SearchDoc] = {}
    for paragraph in rows:
        version = paragraph.version
        document = version.document
        title = f"{document.title} — v{version.number} ¶{paragraph_label(paragraph)}"
        if paragraph.section is not None:
            title += f" ({paragraph.section.heading[:80]})"
        fallback = f"/reviews/documents/{document.id}/versions/{version.number}"
        url = _url("reviews.show_version", fallback, document_id=document.id, number=version.number)
        url += f"#p-{paragraph.anchor}"  # the id the document page gives each paragraph
        docs[paragraph.id] = SearchDoc(
            id=f"paragraph:{paragraph.id}",
            kind="paragraph",
            title=title,
            body=_paragraph_body(paragraph),
            url=url,
            lang=document.lang,
            principals=_paragraph_principals(rounds.get(version.document_id, [])),
            year=version.published_at.year if version.published_at else None,
            updated_at=version.published_at,
            sort_date=version.published_at,
        )
    return docs


def _paragraph_principals(rounds: list[tuple[int, bool]]) -> list[str]:
    principals = [STAFF] + [round_principal(r) for r, _public in rounds]
    if any(public for _r, public in rounds):
        principals.append(PUBLIC)
    return principals


def _paragraph_pks(session: Session) -> Iterable[int]:
    return session.scalars(
        select(Paragraph.id)
        .join(DocumentVersion, DocumentVersion.id == Paragraph.version_id)
        .where(DocumentVersion.status == VersionStatus.PUBLISHED.value)
        .order_by(Paragraph.id)
    ).all()


def _load_comments(session: Session, pks: list[int]) -> dict[int, SearchDoc]:
    rows = session.scalars(
        select(Comment)
        .where(Comment.id.in_(pks), Comment.status != CommentStatus.WITHDRAWN.value)
        .options(
            # All many-to-one: one joined query (a comment is indexed after every post).
            joinedload(Comment.round)
            .joinedload(ReviewRound.version)
            .joinedload(DocumentVersion.document),
            joinedload(Comment.paragraph),
            joinedload(Comment.author),
            joinedload(Comment.organization),
        )
    ).all()
    docs: dict[int, SearchDoc] = {}
    for comment in rows:
        round_ = comment.round
        document = round_.version.document
        where = f"¶{paragraph_label(comment.paragraph)}" if comment.paragraph is not None else "—"
        who = comment.author.name if comment.author else ""
        org = comment.organization.name if comment.organization else ""
        body = [comment.body, comment.proposed_change or "", comment.quoted_text or "", who, org]
        fallback = f"/reviews/rounds/{round_.id}/comments"
        url = (
            _url("reviews.staff_comments", fallback, round_id=round_.id) + f"#comment-{comment.id}"
        )
        principals = [STAFF]
        if _public_comment(comment):
            principals.append(PUBLIC)
            fallback = f"/reviews/rounds/{round_.id}/docket/{comment.id}"
            url = _url(
                "reviews.docket_comment", fallback, round_id=round_.id, comment_id=comment.id
            )
            if comment.anonymous:  # the public index must not name an anonymous author
                body = [comment.body, comment.proposed_change or "", comment.quoted_text or ""]
        docs[comment.id] = SearchDoc(
            id=f"comment:{comment.id}",
            kind="comment",
            title=f"{document.title} {where} — {round_.title} #{comment.id}",
            body="\n".join(part for part in body if part),
            url=url,
            lang=document.lang,
            principals=principals,
            year=comment.created_at.year if comment.created_at else None,
            updated_at=comment.updated_at,
            sort_date=comment.created_at,
        )
    return docs


def _public_comment(comment: Comment) -> bool:
    """A live top-level comment that anyone reads on a public round (the docket's rule)."""
    round_ = comment.round
    return (
        bool(round_.public)
        and round_.status != RoundStatus.DRAFT.value
        and bool(round_.reviewers_see_each_other)
        and comment.parent_id is None
        and comment.status == CommentStatus.ACTIVE.value
    )


def _comment_pks(session: Session) -> Iterable[int]:
    return session.scalars(
        select(Comment.id)
        .where(Comment.status != CommentStatus.WITHDRAWN.value)
        .order_by(Comment.id)
    ).all()


def track_review_changes(obj: object, state: str) -> Iterable[str]:
    """Search documents affected by a change to a reviews object (see search.outbox)."""
    if isinstance(obj, Paragraph):
        if obj.id is not None:
            return [f"paragraph:{obj.id}"]
    elif isinstance(obj, Comment):
        if obj.id is not None:
            return [f"comment:{obj.id}"]
    elif isinstance(obj, DocumentVersion):
        if obj.id is not None and state != "new":
            return _paragraph_ids(select(Paragraph.id).where(Paragraph.version_id == obj.id))
    elif isinstance(obj, ReviewRound):
        # A new round changes who may see every published paragraph of the document.
        if obj.version_id is not None:
            document_id = select(DocumentVersion.document_id).where(
                DocumentVersion.id == obj.version_id
            )
            versions = select(DocumentVersion.id).where(
                DocumentVersion.document_id.in_(document_id.scalar_subquery()),
                DocumentVersion.status == VersionStatus.PUBLISHED.value,
            )
            if state in ("new", "deleted"):
                stmt = select(Paragraph.id).where(Paragraph.version_id.in_(versions))
                return _paragraph_ids(stmt)
    return []


def _paragraph_ids(stmt) -> list[str]:
    from portal.extensions import db

    # Runs inside after_flush: read on the flush's own connection, same transaction.
    rows = db.session.connection().execute(stmt)
    return [f"paragraph:{pk}" for (pk,) in rows]


def init_review_search(app: Flask) -> None:
    """Make paragraphs and comments searchable; called once by ``create_app``."""
    register_kind("paragraph", DocLoader(load=_load_paragraphs, all_pks=_paragraph_pks))
    register_kind("comment", DocLoader(load=_load_comments, all_pks=_comment_pks))
    register_change_tracker(track_review_changes)
