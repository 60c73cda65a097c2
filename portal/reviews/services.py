"""Review use cases: documents and versions, rounds, comments and moderation.

Each function checks permission → validates → changes → flushes → records the audit entry, and
never commits: the view or CLI command commits once, so a version and all its paragraphs (or a
comment and its e-mail) are saved together or not at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.core.audit import record_audit
from portal.core.content_language import check_language
from portal.core.models import as_utc, utcnow
from portal.core.services import PermissionDenied, ServiceError, ValidationError, actor_id
from portal.extensions import db
from portal.notifications.links import absolute_url
from portal.notifications.services import queue_mail
from portal.reviews import permissions
from portal.reviews.audience import is_public_audience, validate_audience
from portal.reviews.importing import ParsedDocument
from portal.reviews.models import (
    BackgroundJob,
    BlockKind,
    Comment,
    CommentStatus,
    CommentType,
    DocumentVersion,
    DraftDocument,
    Endorsement,
    Paragraph,
    ReviewImage,
    ReviewRound,
    RoundStatus,
    Section,
    VersionStatus,
)
from portal.reviews.times import format_round_time, round_time_for  # noqa: F401

INVITATION_JOB = "review-invitations"
MAX_COMMENT_CHARS = 20_000


class CommentingClosed(ServiceError):
    """The round is not (or no longer) open for comments; the message says which."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _require_staff(actor) -> None:
    # actor None = trusted command-line caller (seeding, benchmarks).
    if actor is not None and not permissions.can_manage_reviews(actor):
        raise PermissionDenied(_("Only staff may manage draft documents and review rounds."))


# --- Documents and versions ------------------------------------------------------------------


def create_document(title: str, description: str, lang: str | None, actor) -> DraftDocument:
    _require_staff(actor)
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("Give the document a title.")})
    if len(title) > 500:
        raise ValidationError({"title": _("At most 500 characters.")})
    document = DraftDocument(
        title=title,
        description=(description or "").strip(),
        lang=(lang or None),
        created_by_id=actor_id(actor),
    )
    db.session.add(document)
    db.session.flush()
    record_audit(
        "create", document, summary=f"Draft document “{title}” created", actor_id=actor_id(actor)
    )
    return document


def _new_anchor(taken: set[str]) -> str:
    while True:
        anchor = secrets.token_hex(4)
        if anchor not in taken:
            taken.add(anchor)
            return anchor


def add_version(
    document: DraftDocument,
    parsed: ParsedDocument,
    *,
    source_format: str,
    source_filename: str | None,
    changelog: str,
    actor,
) -> DocumentVersion:
    """Store a parsed upload as the document's next version (a draft until published).

    Paragraph numbers are kept as written; a document without any numbered paragraph gets its
    plain paragraphs numbered 1, 2, 3 … so every paragraph can be cited. Anchors are fresh;
    carrying comments (and anchors) over from the previous version happens on publishing.
    """
    _require_staff(actor)
    if not parsed.blocks:
        raise ValidationError({"file": _("No paragraphs were found in the file.")})
    number = (
        db.session.scalar(
            select(func.max(DocumentVersion.number)).where(
                DocumentVersion.document_id == document.id
            )
        )
        or 0
    ) + 1
    version = DocumentVersion(
        document_id=document.id,
        number=number,
        status=VersionStatus.DRAFT.value,
        source_format=source_format,
        source_filename=(source_filename or None) and source_filename[:255],
        changelog=(changelog or "").strip(),
        created_by_id=actor_id(actor),
        import_report=list(parsed.report) or None,
    )
    db.session.add(version)
    db.session.flush()
    sections = [
        Section(
            version_id=version.id,
            position=i,
            number=(s.number or None) and s.number[:20],
            heading=s.heading,
            level=s.level,
        )
        for i, s in enumerate(parsed.sections)
    ]
    db.session.add_all(sections)
    db.session.flush()
    auto_number = not any(b.number is not None for b in parsed.blocks)
    counter = 0
    taken: set[str] = set()
    paragraphs = []
    for position, block in enumerate(parsed.blocks):
        paragraph_number = block.number
        if auto_number and block.kind == BlockKind.PARAGRAPH:
            counter += 1
            paragraph_number = counter
        paragraphs.append(
            {
                "version_id": version.id,
                "section_id": sections[block.section_index].id
                if block.section_index is not None
                else None,
                "position": position,
                "number": paragraph_number,
                "anchor": _new_anchor(taken),
                "kind": block.kind,
                "text": block.text,
                "extra": block.extra,
            }
        )
    _store_images(version, parsed, paragraphs)
    # One INSERT for every paragraph (executemany), not one per row.
    db.session.execute(Paragraph.__table__.insert(), paragraphs)
    db.session.expire(version)
    record_audit(
        "create",
        version,
        summary=f"Version {number} of “{document.title}” added "
        f"({len(paragraphs)} blocks, {source_format})",
        actor_id=actor_id(actor),
    )
    return version


def _store_images(version: DocumentVersion, parsed: ParsedDocument, rows: list[dict]) -> None:
    """Store the images the import found and point the blocks' "img" marks at their ids."""
    if not parsed.images:
        return
    from portal.reviews.image_store import remove_image_bytes, store_image_bytes

    ids: dict[str, int] = {}
    written: list[str] = []
    try:
        for image in parsed.images:
            stored_name = store_image_bytes(image.data, image.content_type)
            written.append(stored_name)
            row = ReviewImage(
                version_id=version.id,
                stored_name=stored_name,
                content_type=image.content_type,
                size=len(image.data),
                alt=image.alt,
            )
            db.session.add(row)
            db.session.flush()
            ids[image.key] = row.id
    except BaseException:
        for stored_name in written:
            remove_image_bytes(stored_name)
        raise

    def relink(marks):
        return [
            [*m[:3], ids.get(m[3]), *m[4:]] if len(m) > 3 and m[2] == "img" else m
            for m in marks or []
        ]

    for row in rows:
        extra = row.get("extra")
        if not extra:
            continue
        extra = dict(extra)
        if "marks" in extra:
            extra["marks"] = relink(extra["marks"])
        if "cells" in extra:
            extra["cells"] = [[relink(c) for c in r] for r in extra["cells"]]
        if "notes" in extra:
            extra["notes"] = [{**n, "marks": relink(n.get("marks"))} for n in extra["notes"]]
        row["extra"] = extra


# Other parts of reviews (carrying comments onto the new version) hook in here, so publishing
# and carrying happen in one transaction.
_publish_hooks: list[Callable[[DocumentVersion, object], None]] = []


def register_publish_hook(fn: Callable[[DocumentVersion, object], None]) -> None:
    if fn not in _publish_hooks:
        _publish_hooks.append(fn)


def publish_version(version: DocumentVersion, actor) -> DocumentVersion:
    _require_staff(actor)
    if version.status == VersionStatus.PUBLISHED.value:
        raise ValidationError({"_form": _("This version is already published.")})
    version.status = VersionStatus.PUBLISHED.value
    version.published_at = utcnow()
    db.session.flush()
    for hook in list(_publish_hooks):
        hook(version, actor)
    record_audit(
        "publish",
        version,
        summary=f"Version {version.number} of “{version.document.title}” published",
        actor_id=actor_id(actor),
    )
    return version


# --- Rounds ----------------------------------------------------------------------------------


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    """A naive time is a wall-clock time in the round's time zone; the result is in UTC.

    Always UTC: SQLite keeps no offset, so a Nairobi 07:36 stored as is would read back as
    07:36 UTC (three hours late).
    """
    local = value.replace(tzinfo=tz) if value.tzinfo is None else value
    return local.astimezone(UTC)


def open_round(
    version: DocumentVersion,
    *,
    title: str,
    audience_kind: str,
    audience: dict,
    opens_at: datetime,
    closes_at: datetime,
    timezone: str,
    instructions: str,
    reviewers_see_each_other: bool,
    allow_anonymous: bool,
    actor,
    reminder_days: int = 3,
    allow_endorsements: bool = False,
) -> ReviewRound:
    """Open a review round on a published version and queue the invitation job."""
    _require_staff(actor)
    errors: dict[str, str] = {}
    if version.status != VersionStatus.PUBLISHED.value:
        errors["_form"] = _("Publish the version before opening a review round on it.")
    title = (title or "").strip()
    if not title:
        errors["title"] = _("Give the round a title.")
    try:
        tz = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = _("Choose a time zone from the list.")
        tz = ZoneInfo("UTC")
    if opens_at is None:
        errors["opens_at"] = _("When does the round open?")
    if closes_at is None:
        errors["closes_at"] = _("When does the round close?")
    if opens_at is not None and closes_at is not None:
        opens_at, closes_at = _aware(opens_at, tz), _aware(closes_at, tz)
        if closes_at <= opens_at:
            errors["closes_at"] = _("The round must close after it opens.")
        elif closes_at <= utcnow():
            errors["closes_at"] = _("The closing time is in the past.")
    if not 0 <= int(reminder_days or 0) <= 60:
        errors["reminder_days"] = _("Between 0 and 60 days.")
    try:
        audience = validate_audience(audience_kind, audience)
    except ValidationError as err:
        errors.update(err.errors)
    if errors:
        raise ValidationError(errors)
    round_ = ReviewRound(
        version_id=version.id,
        title=title,
        instructions=(instructions or "").strip(),
        audience_kind=audience_kind,
        audience=audience,
        opens_at=opens_at,
        closes_at=closes_at,
        timezone=tz.key,
        status=RoundStatus.OPEN.value,
        reviewers_see_each_other=bool(reviewers_see_each_other),
        allow_anonymous=bool(allow_anonymous),
        allow_endorsements=bool(allow_endorsements),
        public=is_public_audience(audience_kind, audience),
        reminder_days=int(reminder_days or 0),
        created_by_id=actor_id(actor),
    )
    db.session.add(round_)
    db.session.flush()
    queue_invitation_job(round_, actor)
    record_audit(
        "open",
        round_,
        summary=f"Review round “{title}” opened on version {version.number} ({audience_kind})",
        actor_id=actor_id(actor),
    )
    return round_


def queue_invitation_job(round_: ReviewRound, actor) -> BackgroundJob:
    """Queue the job that invites everyone in the round's audience not invited yet (on
    opening, and again when reviewers are added)."""
    job = BackgroundJob(
        kind=INVITATION_JOB,
        params={"round_id": round_.id},
        status="queued",
        created_by_id=actor_id(actor),
    )
    db.session.add(job)
    db.session.flush()
    return job


def invitation_job(round_: ReviewRound) -> BackgroundJob | None:
    jobs = db.session.scalars(
        select(BackgroundJob)
        .where(BackgroundJob.kind == INVITATION_JOB)
        .order_by(BackgroundJob.id.desc())
    )
    for job in jobs:
        if (job.params or {}).get("round_id") == round_.id:
            return job
    return None


def close_round(round_: ReviewRound, actor) -> ReviewRound:
    _require_staff(actor)
    round_.status = RoundStatus.CLOSED.value
    if as_utc(round_.closes_at) > utcnow():
        round_.closes_at = utcnow()
    db.session.flush()
    record_audit(
        "close", round_, summary=f"Review round “{round_.title}” closed", actor_id=actor_id(actor)
    )
    from portal.reviews.notices import round_closed_early

    round_closed_early(round_, actor)
    return round_


# --- Comments --------------------------------------------------------------------------------


def _closed_message(round_: ReviewRound, user=None) -> str:
    when = round_time_for(user)  # in the reader's own time zone when they chose one
    state = permissions.round_state(round_)
    if state is permissions.RoundState.NOT_YET_OPEN:
        return _(
            "Commenting has not opened yet. This round opens on %(when)s.",
            when=when(round_, round_.opens_at),
        )
    if state is permissions.RoundState.DRAFT:
        return _("This review round has not been opened.")
    return _(
        "Commenting closed on %(when)s. Comments can no longer be added, edited or withdrawn.",
        when=when(round_, round_.closes_at),
    )


def check_can_comment(round_: ReviewRound, user) -> None:
    if not permissions.is_reviewer_of(user, round_):
        raise PermissionDenied(_("You are not invited to review in this round."))
    if permissions.round_state(round_) is not permissions.RoundState.OPEN:
        raise CommentingClosed(_closed_message(round_, user))


def locate_quote(paragraph: Paragraph, quote: str, near: int | None = None) -> tuple[int, int]:
    """Character offsets of a quoted passage in the paragraph; whitespace is forgiven, so a
    passage copied across a line break still matches. ``near``: where the reader selected it
    (a passage that occurs twice is placed where it was selected). Raises ValidationError if
    absent."""
    quote = (quote or "").strip()
    text = paragraph.text
    if near is not None and quote and text[near : near + len(quote)] == quote:
        return near, near + len(quote)
    start = text.find(quote)
    if start >= 0:
        return start, start + len(quote)
    # Collapse runs of whitespace on both sides and map offsets back.
    import re

    pattern = r"\s*".join(re.escape(part) for part in quote.split())
    match = re.search(pattern, text) if pattern else None
    if match:
        return match.start(), match.end()
    raise ValidationError(
        {
            "quote": _(
                "The quoted passage does not occur in paragraph %(n)s. "
                "Copy it exactly from the text.",
                n=paragraph.number if paragraph.number is not None else "",
            )
        }
    )


def visible_text(value: str | None) -> str:
    """The text without white space and invisible characters (zero-width spaces and joiners,
    direction marks, soft hyphens, variation selectors …): a comment made only of those says
    nothing, so it is refused like an empty one."""
    import unicodedata

    return "".join(
        ch
        for ch in (value or "")
        if not ch.isspace()
        and unicodedata.category(ch) not in ("Cf", "Cc", "Zs", "Zl", "Zp", "Mn", "Me", "Co", "Cn")
        and not ("\ufe00" <= ch <= "\ufe0f")
        and ch not in "\u115f\u1160\u3164\uffa0\u2800"
    )


def _validate_comment_fields(
    body: str, comment_type: str, proposed_change: str | None
) -> dict[str, str]:
    errors = {}
    if not visible_text(body):
        errors["body"] = _("Write your comment.")
    elif len(body) > MAX_COMMENT_CHARS:
        errors["body"] = _("At most %(n)s characters.", n=f"{MAX_COMMENT_CHARS:,}")
    if comment_type not in {t.value for t in CommentType}:
        errors["comment_type"] = _("Choose general, technical or editorial.")
    if proposed_change and len(proposed_change) > MAX_COMMENT_CHARS:
        errors["proposed_change"] = _("At most %(n)s characters.", n=f"{MAX_COMMENT_CHARS:,}")
    return errors


def post_comment(
    round_: ReviewRound,
    user,
    *,
    paragraph: Paragraph | None = None,
    body: str,
    comment_type: str = CommentType.GENERAL.value,
    proposed_change: str | None = None,
    quote_start: int | None = None,
    quote_end: int | None = None,
    quote: str | None = None,
    parent: Comment | None = None,
    anonymous: bool = False,
    language: str | None = None,
) -> Comment:
    """A comment on a paragraph (optionally on a quoted passage in it), on the whole document
    (``paragraph=None``) or a reply (``parent``). ``quote`` (the passage's text) is located in
    the paragraph; ``quote_start``/``quote_end`` are offsets sent by the browser's selection."""
    check_can_comment(round_, user)
    errors = _validate_comment_fields(body, comment_type, proposed_change)
    language = check_language(language, errors)  # chosen on the form; None: detected
    if paragraph is not None and paragraph.version_id != round_.version_id:
        errors["_form"] = _("That paragraph is not part of the version under review.")
    if parent is not None:
        if parent.round_id != round_.id:
            errors["_form"] = _("You can only reply to comments in this round.")
        elif parent.status != CommentStatus.ACTIVE.value:
            errors["_form"] = _("That comment is no longer shown; it cannot be answered.")
        elif not permissions.sees_comment(user, parent):
            raise PermissionDenied(_("You cannot see that comment."))
        paragraph = parent.paragraph
    if anonymous and not round_.allow_anonymous:
        errors["anonymous"] = _("This round does not allow anonymous comments.")
    quoted_text = None
    if not errors and paragraph is not None and parent is None:
        if quote and quote.strip():
            try:
                quote_start, quote_end = locate_quote(paragraph, quote, near=quote_start)
            except ValidationError as err:
                errors.update(err.errors)
        elif quote_start is not None or quote_end is not None:
            if (
                quote_start is None
                or quote_end is None
                or not 0 <= quote_start < quote_end <= len(paragraph.text)
            ):
                errors["quote"] = _("The selected passage is not inside the paragraph.")
        if not errors and quote_start is not None:
            quoted_text = paragraph.text[quote_start:quote_end]
    elif paragraph is None and (quote or quote_start is not None):
        errors["quote"] = _("A passage can only be quoted in a comment on a paragraph.")
    if errors:
        raise ValidationError(errors)
    comment = Comment(
        round_id=round_.id,
        paragraph_id=paragraph.id if paragraph is not None else None,
        quote_start=quote_start if quoted_text is not None else None,
        quote_end=quote_end if quoted_text is not None else None,
        quoted_text=quoted_text,
        comment_type=comment_type,
        body=body.strip(),
        proposed_change=(proposed_change or "").strip() or None,
        parent_id=parent.id if parent is not None else None,
        author_id=user.id,
        organization_id=user.organization_id,
        anonymous=bool(anonymous),
        status=CommentStatus.ACTIVE.value,
        language=language,
    )
    db.session.add(comment)
    db.session.flush()
    if parent is not None:
        from portal.reviews.notices import comment_replied

        comment_replied(comment, user)
    return comment


def edit_comment(
    comment: Comment,
    actor,
    *,
    body: str,
    comment_type: str,
    proposed_change: str | None = None,
) -> Comment:
    if comment.author_id != getattr(actor, "id", None):
        raise PermissionDenied(_("You can only edit your own comments."))
    if comment.status != CommentStatus.ACTIVE.value:
        raise CommentingClosed(
            _("This comment was withdrawn or hidden and can no longer be edited.")
        )
    if permissions.round_state(comment.round) is not permissions.RoundState.OPEN:
        raise CommentingClosed(_closed_message(comment.round, actor))
    errors = _validate_comment_fields(body, comment_type, proposed_change)
    if errors:
        raise ValidationError(errors)
    comment.body = body.strip()
    comment.comment_type = comment_type
    comment.proposed_change = (proposed_change or "").strip() or None
    comment.updated_at = utcnow()
    db.session.flush()
    return comment


def withdraw_comment(comment: Comment, actor) -> Comment:
    if comment.author_id != getattr(actor, "id", None):
        raise PermissionDenied(_("You can only withdraw your own comments."))
    if comment.status != CommentStatus.ACTIVE.value:
        raise CommentingClosed(_("This comment was already withdrawn or hidden."))
    if permissions.round_state(comment.round) is not permissions.RoundState.OPEN:
        raise CommentingClosed(_closed_message(comment.round, actor))
    comment.status = CommentStatus.WITHDRAWN.value
    db.session.flush()
    return comment


def hide_comment(comment: Comment, reason: str, actor) -> Comment:
    """Moderation: hide a comment from reviewers and tell its author why, by e-mail."""
    if not permissions.can_moderate(actor):
        raise PermissionDenied(_("Only staff may moderate comments."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the comment is hidden; its author is told.")})
    if comment.status == CommentStatus.HIDDEN.value:
        raise ValidationError({"_form": _("This comment is already hidden.")})
    comment.status = CommentStatus.HIDDEN.value
    comment.hidden_reason = reason
    comment.hidden_by_id = actor.id
    db.session.flush()
    record_audit(
        "hide",
        comment,
        summary=f"Comment {comment.id} in round “{comment.round.title}” hidden: {reason[:200]}",
        actor_id=actor.id,
    )
    author = comment.author
    if author is not None and author.email:
        _queue_review_mail(
            author.email,
            author.locale,
            "review_comment_hidden",
            lambda: _(
                "Your comment on “%(title)s” was hidden", title=comment.round.version.document.title
            ),
            category=f"review-hidden:{comment.id}",
            comment=comment,
            round=comment.round,
            reason=reason,
            link=absolute_url("reviews.show_round", round_id=comment.round_id),
            name=author.name,
        )
    return comment


# --- Endorsements ("+1") ---------------------------------------------------------------------


def _refuse_endorsing(comment: Comment, user) -> None:
    refusal = permissions.endorse_refusal(user, comment)
    if refusal is None:
        return
    reason = permissions.EndorseRefusal
    if refusal is reason.ROUND_NOT_OPEN:
        raise CommentingClosed(_closed_message(comment.round, user))
    raise PermissionDenied(
        {
            reason.SIGN_IN: _("Sign in to endorse comments."),
            reason.NOT_ALLOWED_IN_ROUND: _("This round does not allow endorsing comments."),
            reason.OWN_COMMENT: _("You cannot endorse your own comment."),
            reason.CANNOT_SEE: _("You cannot endorse that comment."),
        }[refusal]
    )


def _own_endorsement(comment: Comment, user) -> Endorsement | None:
    return db.session.scalar(
        select(Endorsement).where(
            Endorsement.comment_id == comment.id, Endorsement.user_id == user.id
        )
    )


def endorse_comment(comment: Comment, user) -> Endorsement:
    """A reviewer's "+1" on someone else's comment (``permissions.endorse_refusal``)."""
    _refuse_endorsing(comment, user)
    if _own_endorsement(comment, user) is not None:
        raise ValidationError({"_form": _("You already endorse this comment.")})
    endorsement = Endorsement(
        comment_id=comment.id, user_id=user.id, organization_id=user.organization_id
    )
    db.session.add(endorsement)
    try:
        db.session.flush()
    except IntegrityError:
        # The same person's second click, a moment earlier, won the unique constraint.
        raise ValidationError({"_form": _("You already endorse this comment.")}) from None
    record_audit(
        "endorse",
        comment,
        summary=f"Comment {comment.id} in round “{comment.round.title}” endorsed",
        actor_id=user.id,
    )
    return endorsement


def withdraw_endorsement(comment: Comment, user) -> Comment:
    """Take one's own endorsement back, while the round is open."""
    if not permissions.is_signed_in(user):
        raise PermissionDenied(_("Sign in to endorse comments."))
    if not permissions.may_withdraw_endorsement(user, comment):
        raise CommentingClosed(_closed_message(comment.round, user))
    endorsement = _own_endorsement(comment, user)
    if endorsement is None:
        raise ValidationError({"_form": _("You do not endorse this comment.")})
    db.session.delete(endorsement)
    db.session.flush()
    record_audit(
        "withdraw-endorsement",
        comment,
        summary=f"Endorsement of comment {comment.id} in round “{comment.round.title}” withdrawn",
        actor_id=user.id,
    )
    return comment


# --- Mail ------------------------------------------------------------------------------------


def _queue_review_mail(
    to: str,
    locale: str | None,
    template: str,
    subject: Callable[[], str],
    *,
    category: str,
    **context,
):
    locale = locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        context = {"lang": locale, "rtl": locale == "ar", **context}
        return queue_mail(
            to,
            str(subject()),
            render_template(f"mail/{template}.txt", **context),
            html=render_template(f"mail/{template}.html", **context),
            category=category,
        )
