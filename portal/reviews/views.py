"""Review pages: documents and versions, the diff, rounds, commenting, moderation, invitation
links and unsubscribing.

Each handler loads the objects → checks access (``permissions``) → calls a service → commits
once. Staff-only pages for dispositions, the matrix and the dashboard live in
``staff_views.py`` on the same blueprint.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from portal.accounts.models import Role, User
from portal.accounts.services import INVITATION_SALT, find_user_by_email, make_password_token
from portal.core.audit import record_audit
from portal.core.forms import choice_list
from portal.core.models import utcnow
from portal.core.security import mark_no_referrer, mark_private
from portal.core.services import FORM_ERROR, PermissionDenied, ValidationError
from portal.extensions import csrf, db
from portal.partners.models import ORG_TYPES, STAKEHOLDER_GROUPS, Region
from portal.reviews import permissions, services
from portal.reviews.audience import parse_email_list
from portal.reviews.diffing import diff_versions
from portal.reviews.forms import (
    CommentForm,
    ConfirmForm,
    DocumentForm,
    EditCommentForm,
    HideCommentForm,
    PublishForm,
    RoundForm,
    VersionForm,
    timezone_choices,
)
from portal.reviews.importing import ImportFailed, max_source_bytes, parse_upload
from portal.reviews.jobs import find_invitation
from portal.reviews.models import (
    AudienceKind,
    Comment,
    CommentStatus,
    DocumentVersion,
    DraftDocument,
    Paragraph,
    ReviewInvitation,
    ReviewRound,
)
from portal.reviews.rendering import comment_counts, highlight, outline, table_rows

bp = Blueprint("reviews", __name__, url_prefix="/reviews")


@bp.record_once
def _review_helpers(state):
    # Template globals, not a context processor: the document macros are imported
    # (`{% from "reviews/_document.html" import render_document %}`), and imported macros
    # see globals but not the request's context.
    state.app.jinja_env.globals.update(
        review_round_time=services.format_round_time,
        review_table_rows=table_rows,
        review_highlight=highlight,
        review_author=author_label,
        ROUND_STATE_LABELS=ROUND_STATE_LABELS,
        COMMENT_STATUS_LABELS=COMMENT_STATUS_LABELS,
    )


ROUND_STATE_LABELS = {
    permissions.RoundState.DRAFT.value: _l("draft"),
    permissions.RoundState.NOT_YET_OPEN.value: _l("not yet open"),
    permissions.RoundState.OPEN.value: _l("open"),
    permissions.RoundState.CLOSED.value: _l("closed"),
}
COMMENT_STATUS_LABELS = {
    "active": _l("active"),
    "withdrawn": _l("withdrawn"),
    "hidden": _l("hidden"),
}


def author_label(comment: Comment, viewer) -> str:
    """What a viewer sees as a comment's author: anonymous to other reviewers, never to staff."""
    if not permissions.sees_author(viewer, comment):
        return _("Anonymous reviewer")
    name = comment.author.name if comment.author else _("(deleted account)")
    if comment.organization is not None:
        name = f"{name} ({comment.organization.name})"
    if comment.anonymous and permissions.is_staff(viewer):
        name = f"{name} — " + _("anonymous to other reviewers")
    return name


def _staff_only() -> None:
    if not permissions.can_manage_reviews(current_user):
        abort(403)


def _document_or_404(document_id: int) -> DraftDocument:
    document = db.session.get(DraftDocument, document_id)
    if document is None or not permissions.can_view_document(current_user, document):
        # Not 403: a document one may not see is not announced to exist.
        abort(404)
    return document


def _version_or_404(document: DraftDocument, number: int) -> DocumentVersion:
    version = db.session.scalar(
        select(DocumentVersion).where(
            DocumentVersion.document_id == document.id, DocumentVersion.number == number
        )
    )
    if version is None or not permissions.can_view_version(current_user, version):
        abort(404)
    return version


def _round_or_404(round_id: int) -> ReviewRound:
    round_ = db.session.get(ReviewRound, round_id)
    if round_ is None:
        abort(404)
    if not permissions.can_view_round(current_user, round_):
        abort(403)
    return round_


def _apply_errors(form, errors: dict[str, str]) -> list[str]:
    """Put service errors beside their fields; return the ones that belong to no field."""
    general = []
    for key, message in errors.items():
        field = getattr(form, key, None) if key != FORM_ERROR else None
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [message]
        else:
            general.append(message)
    return general


def _read_upload(form) -> tuple:
    storage = form.file.data
    try:
        parsed, fmt = parse_upload(storage.filename or "", storage.stream)
    except ImportFailed as err:
        form.file.errors = list(form.file.errors) + [err.message]
        return None, None
    return parsed, fmt


# --- Lists and documents ---------------------------------------------------------------------


@bp.route("/")
@login_required
def index():
    if permissions.is_staff(current_user):
        documents = db.session.scalars(
            select(DraftDocument).order_by(DraftDocument.updated_at.desc(), DraftDocument.id.desc())
        ).all()
    else:
        documents = []
    rounds = db.session.scalars(
        select(ReviewRound)
        .where(permissions.invited_rounds_filter(current_user))
        .order_by(ReviewRound.closes_at.desc())
    ).all()
    return render_template(
        "reviews/index.html",
        documents=documents,
        rounds=rounds,
        state_of=permissions.round_state,
    )


@bp.route("/documents/new", methods=["GET", "POST"])
@login_required
def new_document():
    _staff_only()
    form = DocumentForm()
    general: list[str] = []
    status = 200
    if form.validate_on_submit():
        parsed, fmt = _read_upload(form)
        if parsed is not None:
            try:
                document = services.create_document(
                    form.title.data, form.description.data, form.lang.data, current_user
                )
                version = services.add_version(
                    document,
                    parsed,
                    source_format=fmt,
                    source_filename=form.file.data.filename,
                    changelog=form.changelog.data or "",
                    actor=current_user,
                )
            except ValidationError as err:
                db.session.rollback()
                general = _apply_errors(form, err.errors)
            else:
                db.session.commit()
                flash(
                    _(
                        "Version 1 imported: %(n)s numbered paragraphs. Check it, then publish it.",
                        n=sum(1 for p in version.paragraphs if p.number is not None),
                    ),
                    "success",
                )
                return redirect(
                    url_for("reviews.show_version", document_id=document.id, number=version.number)
                )
    if request.method == "POST":
        status = 400
    return (
        render_template(
            "reviews/document_form.html",
            form=form,
            general=general,
            limit_mb=max_source_bytes() // (1024 * 1024),
        ),
        status,
    )


@bp.route("/documents/<int:document_id>")
@login_required
def show_document(document_id: int):
    document = _document_or_404(document_id)
    versions = [v for v in document.versions if permissions.can_view_version(current_user, v)]
    rounds = db.session.scalars(
        select(ReviewRound)
        .join(DocumentVersion, DocumentVersion.id == ReviewRound.version_id)
        .where(DocumentVersion.document_id == document.id)
        .where(
            permissions.invited_rounds_filter(current_user)
            if not permissions.is_staff(current_user)
            else ReviewRound.id.is_not(None)
        )
        .order_by(ReviewRound.id)
    ).all()
    return render_template(
        "reviews/document.html",
        document=document,
        versions=versions,
        rounds=rounds,
        state_of=permissions.round_state,
        publish_form=PublishForm(),
        is_staff=permissions.is_staff(current_user),
    )


@bp.route("/documents/<int:document_id>/versions/new", methods=["GET", "POST"])
@login_required
def new_version(document_id: int):
    _staff_only()
    document = _document_or_404(document_id)
    form = VersionForm()
    general: list[str] = []
    if form.validate_on_submit():
        parsed, fmt = _read_upload(form)
        if parsed is not None:
            try:
                version = services.add_version(
                    document,
                    parsed,
                    source_format=fmt,
                    source_filename=form.file.data.filename,
                    changelog=form.changelog.data,
                    actor=current_user,
                )
            except ValidationError as err:
                db.session.rollback()
                general = _apply_errors(form, err.errors)
            else:
                db.session.commit()
                flash(
                    _("Version %(n)s imported. Check it, then publish it.", n=version.number),
                    "success",
                )
                return redirect(
                    url_for("reviews.show_version", document_id=document.id, number=version.number)
                )
    status = 400 if request.method == "POST" else 200
    return (
        render_template(
            "reviews/version_form.html",
            form=form,
            document=document,
            general=general,
            limit_mb=max_source_bytes() // (1024 * 1024),
        ),
        status,
    )


@bp.route("/documents/<int:document_id>/versions/<int:number>")
@login_required
def show_version(document_id: int, number: int):
    document = _document_or_404(document_id)
    version = _version_or_404(document, number)
    others = [
        v
        for v in document.versions
        if v.id != version.id and permissions.can_view_version(current_user, v)
    ]
    return render_template(
        "reviews/version.html",
        document=document,
        version=version,
        items=outline(version),
        others=others,
        publish_form=PublishForm(),
        is_staff=permissions.is_staff(current_user),
    )


@bp.route("/documents/<int:document_id>/versions/<int:number>/publish", methods=["POST"])
@login_required
def publish(document_id: int, number: int):
    _staff_only()
    document = _document_or_404(document_id)
    version = _version_or_404(document, number)
    form = PublishForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.publish_version(version, current_user)
    except ValidationError as err:
        db.session.rollback()
        flash(" ".join(err.errors.values()), "error")
    else:
        db.session.commit()
        flash(_("Version %(n)s is published.", n=version.number), "success")
    return redirect(url_for("reviews.show_version", document_id=document.id, number=number))


@bp.route("/documents/<int:document_id>/diff")
@login_required
def diff(document_id: int):
    document = _document_or_404(document_id)
    try:
        a = int(request.args.get("from", ""))
        b = int(request.args.get("to", ""))
    except ValueError:
        abort(400, _("Choose two versions to compare."))
    old = _version_or_404(document, a)
    new = _version_or_404(document, b)
    entries = diff_versions(old, new)
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.op] = counts.get(entry.op, 0) + 1
    versions = [v for v in document.versions if permissions.can_view_version(current_user, v)]
    return render_template(
        "reviews/diff.html",
        document=document,
        old=old,
        new=new,
        entries=entries,
        counts=counts,
        versions=versions,
    )


# --- Rounds ----------------------------------------------------------------------------------


def _prepare_round_form(form: RoundForm) -> None:
    from portal.consultations.models import AdvisoryGroup

    form.group_ids.choices = choice_list(
        [
            SelectChoice(g.id, g.name)
            for g in db.session.scalars(
                select(AdvisoryGroup)
                .where(AdvisoryGroup.archived_at.is_(None))
                .order_by(AdvisoryGroup.name)
            )
        ]
    )
    form.regions.choices = choice_list(
        [
            SelectChoice(r.code, f"{r.name} ({r.code})")
            for r in db.session.scalars(
                select(Region).where(Region.level > 1).order_by(Region.level, Region.name)
            )
        ]
    )
    form.org_types.choices = choice_list(
        [SelectChoice(k, f"{v} ({k})") for k, v in ORG_TYPES.items()]
    )
    form.stakeholder_groups.choices = choice_list(
        [SelectChoice(k, v) for k, v in STAKEHOLDER_GROUPS.items()]
    )
    form.timezone.choices = timezone_choices(form.timezone.data)


@bp.route("/documents/<int:document_id>/versions/<int:number>/rounds/new", methods=["GET", "POST"])
@login_required
def new_round(document_id: int, number: int):
    _staff_only()
    document = _document_or_404(document_id)
    version = _version_or_404(document, number)
    form = RoundForm()
    _prepare_round_form(form)
    general: list[str] = []
    email_report = None
    if form.validate_on_submit():
        kind = form.audience_kind.data
        audience: dict = {}
        ok = True
        if kind == AudienceKind.GROUPS:
            audience = {"group_ids": form.group_ids.data}
        elif kind == AudienceKind.ORGANIZATIONS:
            audience = {
                "regions": form.regions.data,
                "org_types": form.org_types.data,
                "stakeholder_groups": form.stakeholder_groups.data,
            }
        elif kind == AudienceKind.EMAILS:
            storage = form.emails_file.data
            if not storage or not getattr(storage, "filename", ""):
                form.emails_file.errors = [_("Upload a CSV or TXT file of e-mail addresses.")]
                ok = False
            else:
                try:
                    email_report = parse_email_list(storage.read(2 * 1024 * 1024 + 1))
                except ValidationError as err:
                    general = _apply_errors(form, err.errors)
                    ok = False
                else:
                    if email_report.invalid:
                        # All or nothing: a half-read list would silently miss people.
                        form.emails_file.errors = [
                            _(
                                "%(n)s line(s) are not valid e-mail addresses; correct them and "
                                "upload the list again.",
                                n=len(email_report.invalid),
                            )
                        ]
                        ok = False
                    audience = {"emails": email_report.emails}
        if ok:
            try:
                round_ = services.open_round(
                    version,
                    title=form.title.data,
                    audience_kind=kind,
                    audience=audience,
                    opens_at=form.opens_at.data,
                    closes_at=form.closes_at.data,
                    timezone=form.timezone.data,
                    instructions=form.instructions.data or "",
                    reviewers_see_each_other=form.reviewers_see_each_other.data,
                    allow_anonymous=form.allow_anonymous.data,
                    reminder_days=form.reminder_days.data or 0,
                    actor=current_user,
                )
            except ValidationError as err:
                db.session.rollback()
                general = _apply_errors(form, err.errors)
            else:
                db.session.commit()
                message = _("The round is open; invitations are being sent.")
                if email_report and email_report.duplicates:
                    message += " " + _(
                        "%(n)s duplicate address(es) were removed.", n=email_report.duplicates
                    )
                flash(message, "success")
                return redirect(url_for("reviews.invitations", round_id=round_.id))
    status = 400 if request.method == "POST" else 200
    return (
        render_template(
            "reviews/round_form.html",
            form=form,
            document=document,
            version=version,
            general=general,
            email_report=email_report,
        ),
        status,
    )


@bp.route("/rounds/<int:round_id>")
@login_required
def show_round(round_id: int):
    round_ = _round_or_404(round_id)
    version = round_.version
    state = permissions.round_state(round_)
    visible = permissions.visible_comments_filter(current_user, round_)
    doc_comments = db.session.scalars(
        select(Comment)
        .where(visible, Comment.paragraph_id.is_(None), Comment.parent_id.is_(None))
        .order_by(Comment.created_at)
    ).all()
    mine = db.session.scalars(
        select(Comment)
        .where(Comment.round_id == round_.id, Comment.author_id == current_user.id)
        .order_by(Comment.created_at)
    ).all()
    return render_template(
        "reviews/round.html",
        round=round_,
        version=version,
        document=version.document,
        items=outline(version),
        counts=comment_counts(round_, current_user),
        state=state.value,
        closed_message=services._closed_message(round_) if state.name != "OPEN" else None,
        can_comment=permissions.can_comment(current_user, round_),
        doc_comments=doc_comments,
        mine=mine,
        is_staff=permissions.is_staff(current_user),
        sees_others=permissions.sees_others_comments(current_user, round_),
    )


def _paragraph_by_anchor(round_: ReviewRound, anchor: str | None) -> Paragraph | None:
    if not anchor:
        return None
    paragraph = db.session.scalar(
        select(Paragraph).where(
            Paragraph.version_id == round_.version_id, Paragraph.anchor == anchor
        )
    )
    if paragraph is None:
        abort(404)
    return paragraph


def _thread(round_: ReviewRound, paragraph: Paragraph | None) -> list[Comment]:
    """Top-level comments (with their replies) on one paragraph or on the whole document."""
    where = [permissions.visible_comments_filter(current_user, round_), Comment.parent_id.is_(None)]
    where.append(
        Comment.paragraph_id == paragraph.id
        if paragraph is not None
        else Comment.paragraph_id.is_(None)
    )
    return db.session.scalars(select(Comment).where(*where).order_by(Comment.created_at)).all()


def _visible_replies(comment: Comment, round_: ReviewRound) -> list[Comment]:
    if permissions.is_staff(current_user):
        return list(comment.replies)
    # Reviewers always see answers to their own comments (e.g. the secretariat's reply).
    mine = comment.author_id == current_user.id
    return [
        r
        for r in comment.replies
        if r.author_id == current_user.id
        or ((mine or round_.reviewers_see_each_other) and r.status == CommentStatus.ACTIVE.value)
    ]


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@bp.route("/rounds/<int:round_id>/comment", methods=["GET", "POST"])
@login_required
def comment(round_id: int):
    round_ = _round_or_404(round_id)
    form = CommentForm()
    anchor = request.values.get("p") or form.paragraph.data or None
    paragraph = _paragraph_by_anchor(round_, anchor)
    parent = None
    reply_to = _int_or_none(request.values.get("reply_to") or form.reply_to.data)
    if reply_to is not None:
        parent = db.session.get(Comment, reply_to)
        if parent is None or parent.round_id != round_.id:
            abort(404)
        if not db.session.scalar(
            select(func.count(Comment.id)).where(
                Comment.id == parent.id, permissions.visible_comments_filter(current_user, round_)
            )
        ):
            abort(403)
        paragraph = parent.paragraph
    if request.method == "GET":
        form.paragraph.data = anchor or ""
        form.reply_to.data = str(reply_to) if reply_to else ""
        if request.args.get("quote") and paragraph is not None:
            form.quote.data = request.args["quote"][:5000]
            form.quote_start.data = request.args.get("qs", "")[:10]
    general: list[str] = []
    status = 200
    allowed = permissions.can_comment(current_user, round_)
    if request.method == "POST":
        if not (permissions.is_staff(current_user) or permissions.is_invited(current_user, round_)):
            abort(403, _("You are not invited to review in this round."))
        if form.validate_on_submit():
            try:
                new = services.post_comment(
                    round_,
                    current_user,
                    paragraph=paragraph,
                    body=form.body.data,
                    comment_type=form.comment_type.data,
                    proposed_change=form.proposed_change.data,
                    quote=form.quote.data if paragraph is not None and parent is None else None,
                    # With a quote, quote_start only says which occurrence was selected.
                    quote_start=_int_or_none(form.quote_start.data),
                    quote_end=_int_or_none(form.quote_end.data) if not form.quote.data else None,
                    parent=parent,
                    anonymous=bool(form.anonymous.data),
                )
            except services.CommentingClosed as err:
                db.session.rollback()
                general = [err.message]
                status = 409
            except PermissionDenied as err:
                db.session.rollback()
                abort(403, str(err))
            except ValidationError as err:
                db.session.rollback()
                general = _apply_errors(form, err.errors)
                status = 400
            else:
                db.session.commit()
                flash(_("Your comment has been saved."), "success")
                target = f"#comment-{new.id}"
                return redirect(
                    url_for(
                        "reviews.comment",
                        round_id=round_.id,
                        p=paragraph.anchor if paragraph else None,
                    )
                    + target
                )
        else:
            status = 400
    thread = _thread(round_, paragraph)
    return (
        render_template(
            "reviews/comment.html",
            round=round_,
            document=round_.version.document,
            paragraph=paragraph,
            parent=parent,
            thread=thread,
            replies_of=lambda c: _visible_replies(c, round_),
            form=form,
            general=general,
            allowed=allowed,
            closed_message=None
            if allowed
            or not (
                permissions.is_staff(current_user) or permissions.is_invited(current_user, round_)
            )
            else services._closed_message(round_),
            is_staff=permissions.is_staff(current_user),
            can_change=lambda c: permissions.can_change_comment(current_user, c),
            confirm_form=ConfirmForm(),
        ),
        status,
    )


def _own_comment_or_404(comment_id: int) -> Comment:
    found = db.session.get(Comment, comment_id)
    if found is None:
        abort(404)
    _round_or_404(found.round_id)
    if found.author_id != current_user.id:
        abort(403)
    return found


@bp.route("/comments/<int:comment_id>/edit", methods=["GET", "POST"])
@login_required
def edit_comment(comment_id: int):
    found = _own_comment_or_404(comment_id)
    form = EditCommentForm(obj=found if request.method == "GET" else None)
    general: list[str] = []
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                services.edit_comment(
                    found,
                    current_user,
                    body=form.body.data,
                    comment_type=form.comment_type.data,
                    proposed_change=form.proposed_change.data,
                )
            except services.CommentingClosed as err:
                db.session.rollback()
                general, status = [err.message], 409
            except ValidationError as err:
                db.session.rollback()
                general, status = _apply_errors(form, err.errors), 400
            else:
                db.session.commit()
                flash(_("Your comment has been updated."), "success")
                return redirect(_comment_url(found))
        else:
            status = 400
    return render_template(
        "reviews/comment_edit.html", comment=found, form=form, general=general
    ), status


def _comment_url(c: Comment) -> str:
    anchor = c.paragraph.anchor if c.paragraph is not None else None
    return url_for("reviews.comment", round_id=c.round_id, p=anchor) + f"#comment-{c.id}"


@bp.route("/comments/<int:comment_id>/withdraw", methods=["POST"])
@login_required
def withdraw_comment(comment_id: int):
    found = _own_comment_or_404(comment_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.withdraw_comment(found, current_user)
    except services.CommentingClosed as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(_comment_url(found)), 303
    db.session.commit()
    flash(_("Your comment has been withdrawn."), "success")
    return redirect(_comment_url(found))


@bp.route("/comments/<int:comment_id>/hide", methods=["GET", "POST"])
@login_required
def hide_comment(comment_id: int):
    if not permissions.can_moderate(current_user):
        abort(403)
    found = db.session.get(Comment, comment_id)
    if found is None:
        abort(404)
    form = HideCommentForm()
    general: list[str] = []
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                services.hide_comment(found, form.reason.data, current_user)
            except ValidationError as err:
                db.session.rollback()
                general, status = _apply_errors(form, err.errors), 400
            else:
                db.session.commit()
                flash(_("The comment is hidden and its author has been told why."), "success")
                return redirect(_comment_url(found))
        else:
            status = 400
    return render_template(
        "reviews/comment_hide.html", comment=found, form=form, general=general
    ), status


# --- Invitations -----------------------------------------------------------------------------


@bp.route("/rounds/<int:round_id>/invitations")
@login_required
def invitations(round_id: int):
    _staff_only()
    round_ = _round_or_404(round_id)
    job = services.invitation_job(round_)
    invited = db.session.scalar(
        select(func.count(ReviewInvitation.id)).where(ReviewInvitation.round_id == round_.id)
    )
    unsubscribed = db.session.scalar(
        select(func.count(ReviewInvitation.id)).where(
            ReviewInvitation.round_id == round_.id, ReviewInvitation.unsubscribed_at.is_not(None)
        )
    )
    reminded = db.session.scalar(
        select(func.count(ReviewInvitation.id)).where(
            ReviewInvitation.round_id == round_.id, ReviewInvitation.reminded_at.is_not(None)
        )
    )
    running = job is not None and job.status in ("queued", "running")
    return render_template(
        "reviews/invitations.html",
        round=round_,
        job=job,
        invited=invited,
        unsubscribed=unsubscribed,
        reminded=reminded,
        running=running,
    )


@bp.route("/r/<token>")
def follow_invitation(token: str):
    """A reviewer's personal link. It never logs anyone in: it leads to the round (after
    logging in), or — for an address without an account — to choosing a password first."""
    mark_no_referrer()
    mark_private()
    invitation = find_invitation(token)
    if invitation is None:
        return render_template("reviews/link_problem.html"), 404
    round_ = invitation.round
    round_url = url_for("reviews.show_round", round_id=round_.id)
    if current_user.is_authenticated and current_user.email == invitation.email:
        return redirect(round_url)
    user = invitation.user or find_user_by_email(invitation.email)
    if user is None:
        user = User(
            email=invitation.email,
            name=invitation.email.split("@", 1)[0][:200],
            role=Role.REVIEWER.value,
            active=True,
        )
        db.session.add(user)
        db.session.flush()
        record_audit(
            "create",
            user,
            summary=f"Reviewer account created from review invitation (round {round_.id})",
            actor_id=None,
        )
    if invitation.user_id is None:
        # Every pending invitation to this address now belongs to the account.
        db.session.execute(
            ReviewInvitation.__table__.update()
            .where(ReviewInvitation.email == user.email, ReviewInvitation.user_id.is_(None))
            .values(user_id=user.id)
        )
    db.session.commit()
    if not user.is_active:
        return render_template("reviews/link_problem.html"), 403
    if current_user.is_authenticated:
        flash(
            _("This invitation was sent to another address. Log out and use the link again."),
            "warning",
        )
        return redirect(url_for("reviews.index"))
    if not user.password_hash:
        return redirect(
            url_for("accounts.accept_invitation", token=make_password_token(user, INVITATION_SALT))
        )
    return redirect(url_for("accounts.login", next=round_url))


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """Stops reminders for one round. GET only asks (mail scanners follow links); POST acts —
    from the page's button or a mail provider's RFC 8058 one-click request, which has no
    session and no form token. The personal token is the authorisation and names the one
    invitation it changes, so no CSRF token is needed (or possible)."""
    mark_no_referrer()
    mark_private()
    invitation = find_invitation(token)
    if invitation is None:
        return render_template("reviews/link_problem.html"), 404
    form = ConfirmForm()
    done = invitation.unsubscribed_at is not None
    if request.method == "POST" and not done:
        invitation.unsubscribed_at = utcnow()
        db.session.commit()
        done = True
    if request.method == "POST" and request.form.get("List-Unsubscribe") == "One-Click":
        return "Unsubscribed.\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
    return render_template("reviews/unsubscribe.html", invitation=invitation, form=form, done=done)
