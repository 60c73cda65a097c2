"""The consultations home page, advisory groups and their members."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.agreements.forms import organization_choices
from portal.consultations import services
from portal.consultations.forms import GroupForm, MemberForm, TimezoneForm
from portal.consultations.models import AdvisoryGroup, GroupMember, Invitation, Meeting
from portal.consultations.permissions import (
    can_manage_groups,
    can_view_group_members,
    is_group_member,
    visible_groups_filter,
    visible_meetings_filter,
)
from portal.consultations.views.common import (
    bp,
    get_group_or_404,
    get_visible_group_or_404,
    timezone_select_choices,
)
from portal.core.forms import ConfirmForm, choice_list
from portal.core.guard import require
from portal.core.models import utcnow
from portal.core.transaction import attempt
from portal.extensions import db


@bp.route("/")
def index():
    groups = db.session.scalars(
        select(AdvisoryGroup)
        .where(visible_groups_filter(current_user))
        .order_by(AdvisoryGroup.archived_at.is_not(None), AdvisoryGroup.name)
    ).all()
    upcoming = db.session.scalars(
        select(Meeting)
        .where(visible_meetings_filter(current_user), Meeting.ends_at >= utcnow())
        .options(selectinload(Meeting.group))
        .order_by(Meeting.starts_at)
        .limit(50)
    ).all()
    my_invitations: dict[int, Invitation] = {}
    feed_url = tz_form = None
    if current_user.is_authenticated:
        my_invitations = {
            i.meeting_id: i
            for i in db.session.scalars(
                select(Invitation).where(Invitation.user_id == current_user.id)
            )
        }
        # Computed from what is stored (or derived, for a link never reset): a GET writes nothing.
        feed_url = url_for(
            "consultations.feed", token=services.feed_token(current_user), _external=True
        )
        tz_form = TimezoneForm(timezone=services.viewer_timezone(current_user))
        tz_form.timezone.choices = timezone_select_choices(tz_form.timezone.data)
    return render_template(
        "consultations/index.html",
        groups=groups,
        upcoming=upcoming,
        my_invitations=my_invitations,
        feed_url=feed_url,
        tz_form=tz_form,
        viewer_tz=services.viewer_timezone(current_user),
        confirm=ConfirmForm(),
    )


def _group_data(form: GroupForm) -> services.GroupData:
    return services.GroupData(form.name.data, form.description.data, form.is_public.data)


def _group_form_page(form: GroupForm, group: AdvisoryGroup | None, form_errors: list[str]):
    return render_template(
        "consultations/group_form.html", form=form, group=group, form_errors=form_errors
    ), (400 if form.errors or form_errors else 200)


@bp.route("/groups/new", methods=["GET", "POST"])
@require("manage_advisory_groups")
def new_group():
    form = GroupForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        outcome = attempt(services.create_group, current_user, _group_data(form), form=form)
        if outcome:
            flash(_("Group “%(name)s” created.", name=outcome.value.name), "success")
            return redirect(url_for("consultations.group", group_id=outcome.value.id), 303)
        form_errors = outcome.errors
    return _group_form_page(form, None, form_errors)


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
@require("manage_advisory_groups")
def edit_group(group_id: int):
    group = get_group_or_404(group_id)
    form = GroupForm(obj=group)
    form_errors: list[str] = []
    if form.validate_on_submit():
        outcome = attempt(services.update_group, current_user, group, _group_data(form), form=form)
        if outcome:
            flash(_("Group saved."), "success")
            return redirect(url_for("consultations.group", group_id=group_id), 303)
        form_errors = outcome.errors
    return _group_form_page(form, group, form_errors)


@bp.route("/groups/<int:group_id>/archive", methods=["POST"])
@require("manage_advisory_groups")
def archive_group(group_id: int):
    group = get_group_or_404(group_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    restore = request.form.get("restore") == "1"
    services.archive_group(current_user, group, archived=not restore)
    flash(_("Group restored.") if restore else _("Group archived."), "success")
    return redirect(url_for("consultations.group", group_id=group_id), 303)


def _member_form() -> MemberForm:
    form = MemberForm()
    form.organization_id.choices = choice_list(organization_choices())
    return form


def _group_page(group: AdvisoryGroup, member_form=None, form_errors=None, status: int = 200):
    meetings = db.session.scalars(
        select(Meeting)
        .where(Meeting.group_id == group.id, visible_meetings_filter(current_user))
        .order_by(Meeting.starts_at.desc())
    ).all()
    members = services.current_members(group) if can_view_group_members(current_user, group) else []
    manage = can_manage_groups(current_user)
    if manage and member_form is None:
        member_form = _member_form()
    return render_template(
        "consultations/group.html",
        group=group,
        meetings=meetings,
        members=members,
        former=[m for m in group.members if m.left_on is not None] if manage else [],
        is_member=is_group_member(current_user, group),
        member_form=member_form,
        form_errors=form_errors or [],
        confirm=ConfirmForm(),
        now=utcnow(),
    ), status


@bp.route("/groups/<int:group_id>")
def group(group_id: int):
    return _group_page(get_visible_group_or_404(group_id))


@bp.route("/groups/<int:group_id>/members", methods=["POST"])
@require("manage_advisory_groups")
def add_member(group_id: int):
    group = get_group_or_404(group_id)
    form = _member_form()
    errors: list[str] = []
    if form.validate_on_submit():
        data = services.MemberData(
            email=form.email.data,
            role=form.role.data,
            organization_id=int(form.organization_id.data) if form.organization_id.data else None,
            constituency=form.constituency.data or None,
        )
        outcome = attempt(services.add_member, current_user, group, data, form=form)
        if outcome:
            flash(_("%(name)s added to the group.", name=outcome.value.user.name), "success")
            return redirect(url_for("consultations.group", group_id=group_id) + "#members", 303)
        errors = outcome.errors
    return _group_page(group, member_form=form, form_errors=errors, status=400)


@bp.route("/groups/<int:group_id>/members/<int:member_id>/remove", methods=["POST"])
@require("manage_advisory_groups")
def remove_member(group_id: int, member_id: int):
    member = db.session.get(GroupMember, member_id)
    if member is None or member.group_id != group_id:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.remove_member(current_user, member)
    flash(_("%(name)s is no longer a member.", name=member.user.name), "success")
    return redirect(url_for("consultations.group", group_id=group_id) + "#members", 303)
