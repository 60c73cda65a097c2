"""Review rounds: opening one, the round page reviewers read and comment from, steering an
open round (add reviewers, move the deadline, close early, reopen) and the invitations page."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from portal.core.forms import ConfirmForm, choice_list
from portal.core.guard import can, require
from portal.core.services import ValidationError
from portal.core.transaction import attempt
from portal.extensions import db, limiter
from portal.partners.models import ORG_TYPES, STAKEHOLDER_GROUPS, Region
from portal.reviews import joining, permissions, services, steering
from portal.reviews.audience import EmailList, combine_audiences, parse_email_list
from portal.reviews.endorsements import summarise
from portal.reviews.forms import (
    AddReviewersForm,
    DeadlineForm,
    JoinForm,
    RoundForm,
    timezone_choices,
)
from portal.reviews.models import AudienceKind, Comment, ReviewInvitation, ReviewRound
from portal.reviews.rendering import comment_counts, outline
from portal.reviews.times import round_time_for
from portal.reviews.web import bp, document_or_404, round_or_404, version_or_404


def _audience_choices(form) -> None:
    """Choices of the audience fields shared by the round form and "add reviewers"."""
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


def _read_email_list(form, *, required: bool) -> EmailList | None:
    """The uploaded address list, or None with the error beside the field. All or nothing:
    a half-read list would silently miss people."""
    storage = form.emails_file.data
    if not storage or not getattr(storage, "filename", ""):
        if required:
            form.emails_file.errors = [_("Upload a CSV or TXT file of e-mail addresses.")]
        return None
    try:
        report = parse_email_list(storage.read(2 * 1024 * 1024 + 1))
    except ValidationError as err:
        form.emails_file.errors = list(err.errors.values())
        return None
    if report.invalid:
        form.emails_file.errors = [
            _(
                "%(n)s line(s) are not valid e-mail addresses; correct them and "
                "upload the list again.",
                n=len(report.invalid),
            )
        ]
    return report


@bp.route("/documents/<int:document_id>/versions/<int:number>/rounds/new", methods=["GET", "POST"])
@require("manage_reviews")
def new_round(document_id: int, number: int):
    document = document_or_404(document_id)
    version = version_or_404(document, number)
    form = RoundForm()
    _audience_choices(form)
    form.timezone.choices = timezone_choices(form.timezone.data)
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
            email_report = _read_email_list(form, required=True)
            ok = email_report is not None and not email_report.invalid
            audience = {"emails": email_report.emails if email_report else []}
        if ok and form.also_public.data and kind != AudienceKind.PUBLIC:
            # Invited reviewers and the public together: the invited still get their
            # invitations; anyone may read and any account may comment.
            kind, audience = combine_audiences(
                kind, audience, [{"kind": AudienceKind.PUBLIC.value, "audience": {}}]
            )
        if ok:
            outcome = attempt(
                services.open_round,
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
                allow_endorsements=form.allow_endorsements.data,
                reminder_days=form.reminder_days.data or 0,
                actor=current_user,
                form=form,
            )
            if outcome:
                message = _("The round is open; invitations are being sent.")
                if email_report and email_report.duplicates:
                    message += " " + _(
                        "%(n)s duplicate address(es) were removed.", n=email_report.duplicates
                    )
                flash(message, "success")
                return redirect(url_for("reviews.invitations", round_id=outcome.value.id))
            general = outcome.errors
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
def show_round(round_id: int):
    """The round page: readable by its reviewers, staff, and anyone on a public round."""
    round_ = round_or_404(round_id)
    version = round_.version
    state = permissions.round_state(round_)
    visible = permissions.visible_comments_filter(current_user, round_)
    doc_comments = db.session.scalars(
        select(Comment)
        .where(visible, Comment.paragraph_id.is_(None), Comment.parent_id.is_(None))
        .order_by(Comment.created_at)
    ).all()
    mine = (
        db.session.scalars(
            select(Comment)
            .where(Comment.round_id == round_.id, Comment.author_id == current_user.id)
            .order_by(Comment.created_at)
        ).all()
        if permissions.is_signed_in(current_user)
        else []
    )
    return render_template(
        "reviews/round.html",
        round=round_,
        version=version,
        document=version.document,
        items=outline(version),
        counts=comment_counts(round_, current_user),
        state=state.value,
        closed_message=services._closed_message(round_) if state.name != "OPEN" else None,
        can_comment=can("comment_in_round", round_),
        # A visitor on an open public round: "sign in to comment" links (back to the paragraph).
        sign_in_to_comment=(
            not permissions.is_signed_in(current_user)
            and permissions.is_public_round(round_)
            and state is permissions.RoundState.OPEN
        ),
        doc_comments=doc_comments,
        endorsements=summarise(current_user, doc_comments),
        join_form=JoinForm(formdata=None),
        mine=mine,
        sees_others=permissions.sees_others_comments(current_user, round_),
    )


def _join_limit() -> str:
    from flask import current_app

    return current_app.config.get("REVIEW_JOIN_RATE_LIMIT", "5 per hour")


@bp.route("/rounds/<int:round_id>/join", methods=["POST"])
@limiter.limit(_join_limit, methods=["POST"])
def join_round(round_id: int):
    """A visitor asks for a link to take part in a public consultation (``joining``)."""
    round_ = round_or_404(round_id)
    form = JoinForm()
    if form.validate_on_submit():
        outcome = attempt(
            joining.join_public_round,
            round_,
            form.email.data,
            bool(form.accept_terms.data),
            form=form,
        )
        if outcome:
            flash(
                _(
                    "If that address can receive e-mail, a link to take part is on its way. "
                    "Follow it to confirm the address and choose a password."
                ),
                "success",
            )
            return redirect(url_for("reviews.show_round", round_id=round_.id))
        general = outcome.errors
    else:
        general = []
    return render_template("reviews/join.html", round=round_, form=form, general=general), 400


# --- Steering an opened round -----------------------------------------------------------------


def _render_manage(round_: ReviewRound, status: int = 200, **forms):
    reviewers_form = forms.get("reviewers_form") or AddReviewersForm(formdata=None)
    _audience_choices(reviewers_form)
    deadline_form = forms.get("deadline_form") or DeadlineForm(
        formdata=None, data={"closes_at": steering.deadline_in_zone(round_)}
    )
    reopen_form = forms.get("reopen_form") or DeadlineForm(formdata=None)
    return (
        render_template(
            "reviews/round_manage.html",
            round=round_,
            version=round_.version,
            document=round_.version.document,
            state=permissions.round_state(round_).value,
            reviewers_form=reviewers_form,
            deadline_form=deadline_form,
            reopen_form=reopen_form,
            close_form=ConfirmForm(formdata=None),
            general=forms.get("general") or [],
            email_report=forms.get("email_report"),
            round_url=url_for("reviews.show_round", round_id=round_.id),
        ),
        status,
    )


def _managed_round(round_id: int) -> ReviewRound:
    return round_or_404(round_id, "manage_reviews_round")


@bp.route("/rounds/<int:round_id>/manage")
@require("manage_reviews")
def manage_round(round_id: int):
    return _render_manage(_managed_round(round_id))


@bp.route("/rounds/<int:round_id>/reviewers", methods=["POST"])
@require("manage_reviews")
def add_reviewers(round_id: int):
    round_ = _managed_round(round_id)
    form = AddReviewersForm()
    _audience_choices(form)
    if not form.validate_on_submit():
        return _render_manage(round_, 400, reviewers_form=form)
    parts: list[dict] = []
    if form.group_ids.data:
        parts.append(
            {"kind": AudienceKind.GROUPS.value, "audience": {"group_ids": form.group_ids.data}}
        )
    if form.regions.data or form.org_types.data or form.stakeholder_groups.data:
        parts.append(
            {
                "kind": AudienceKind.ORGANIZATIONS.value,
                "audience": {
                    "regions": form.regions.data,
                    "org_types": form.org_types.data,
                    "stakeholder_groups": form.stakeholder_groups.data,
                },
            }
        )
    report = _read_email_list(form, required=False)
    if form.emails_file.errors:
        return _render_manage(round_, 400, reviewers_form=form, email_report=report)
    if report is not None:
        parts.append({"kind": AudienceKind.EMAILS.value, "audience": {"emails": report.emails}})
    outcome = attempt(steering.add_reviewers, round_, parts, current_user, form=form)
    if not outcome:
        return _render_manage(round_, 400, reviewers_form=form, general=outcome.errors)
    flash(_("Reviewers added; their invitations are being sent."), "success")
    return redirect(url_for("reviews.invitations", round_id=round_.id))


@bp.route("/rounds/<int:round_id>/deadline", methods=["POST"])
@require("manage_reviews")
def change_deadline(round_id: int):
    round_ = _managed_round(round_id)
    form = DeadlineForm()
    if not form.validate_on_submit():
        return _render_manage(round_, 400, deadline_form=form)
    outcome = attempt(
        steering.change_deadline, round_, form.closes_at.data, current_user, form=form
    )
    if not outcome:
        return _render_manage(round_, 400, deadline_form=form, general=outcome.errors)
    flash(
        _(
            "Comments now close on %(when)s; reviewers are told by e-mail.",
            when=round_time_for(current_user)(round_, round_.closes_at),
        ),
        "success",
    )
    return redirect(url_for("reviews.manage_round", round_id=round_.id))


@bp.route("/rounds/<int:round_id>/close", methods=["POST"])
@require("manage_reviews")
def close_round(round_id: int):
    round_ = _managed_round(round_id)
    if not ConfirmForm().validate_on_submit():
        return _render_manage(round_, 400, general=[_("The form expired; try again.")])
    outcome = attempt(steering.close_early, round_, current_user)
    if not outcome:
        return _render_manage(round_, 400, general=outcome.errors)
    flash(_("The round is closed; reviewers are told."), "success")
    return redirect(url_for("reviews.manage_round", round_id=round_.id))


@bp.route("/rounds/<int:round_id>/reopen", methods=["POST"])
@require("manage_reviews")
def reopen_round(round_id: int):
    round_ = _managed_round(round_id)
    form = DeadlineForm()
    if not form.validate_on_submit():
        return _render_manage(round_, 400, reopen_form=form)
    outcome = attempt(steering.reopen_round, round_, form.closes_at.data, current_user, form=form)
    if not outcome:
        return _render_manage(round_, 400, reopen_form=form, general=outcome.errors)
    flash(
        _(
            "The round is open again until %(when)s; reviewers are told by e-mail.",
            when=round_time_for(current_user)(round_, round_.closes_at),
        ),
        "success",
    )
    return redirect(url_for("reviews.manage_round", round_id=round_.id))


# --- Invitations ------------------------------------------------------------------------------


@bp.route("/rounds/<int:round_id>/invitations")
@require("manage_reviews")
def invitations(round_id: int):
    round_ = round_or_404(round_id)
    job = services.invitation_job(round_)

    def count(*where) -> int:
        return db.session.scalar(
            select(func.count(ReviewInvitation.id)).where(
                ReviewInvitation.round_id == round_.id, *where
            )
        )

    running = job is not None and job.status in ("queued", "running")
    return render_template(
        "reviews/invitations.html",
        round=round_,
        job=job,
        invited=count(),
        unsubscribed=count(ReviewInvitation.unsubscribed_at.is_not(None)),
        reminded=count(ReviewInvitation.reminded_at.is_not(None)),
        running=running,
    )
