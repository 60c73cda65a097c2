"""Consultation pages: advisory groups, meetings, agenda, invitations and RSVP, calendars.

Handlers follow one order: load → check access (permissions.py) → call a service → commit once.
A refused service call is rolled back, so nothing is half-saved, and its errors are shown
beside the fields with a 400. 4B's attendance/minutes/outcomes routes live in
records_views.py and register on this ``bp``.
"""

from __future__ import annotations

import os

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.security import safe_join
from wtforms.fields.choices import SelectChoice

from portal.accounts.models import User
from portal.agreements import documents
from portal.agreements.forms import organization_choices
from portal.agreements.views import safe_document_type
from portal.consultations import services
from portal.consultations.forms import (
    MODE_LABELS,
    ROLE_LABELS,
    RSVP_LABELS,
    STATUS_LABELS,
    AgendaDocumentForm,
    AgendaItemForm,
    ConfirmForm,
    DecisionForm,
    GroupForm,
    InviteForm,
    MeetingForm,
    MemberForm,
    RsvpForm,
    TimezoneForm,
)
from portal.consultations.ics import calendar_for
from portal.consultations.models import (
    ENGAGEMENT_AREAS,
    AdvisoryGroup,
    AgendaDocument,
    AgendaItem,
    AgendaItemStatus,
    GroupMember,
    Invitation,
    Meeting,
)
from portal.consultations.permissions import (
    can_manage_groups,
    can_manage_meetings,
    can_propose_agenda_item,
    can_rsvp,
    can_view_agenda_document,
    can_view_group,
    can_view_group_members,
    can_view_invitations,
    can_view_meeting,
    is_group_member,
    meeting_has_ended,
    visible_groups_filter,
    visible_meetings_filter,
)
from portal.core.dates import format_when, timezone_choices
from portal.core.forms import choice_list
from portal.core.models import as_utc, utcnow
from portal.core.security import mark_no_referrer, mark_private, safe_next
from portal.core.services import PermissionDenied, ValidationError
from portal.extensions import db
from portal.partners.forms import apply_service_errors
from portal.partners.models import STAKEHOLDER_GROUPS
from portal.staff.views import staff_required

bp = Blueprint("consultations", __name__, url_prefix="/consultations")


@bp.app_context_processor
def _consultation_labels():
    return {
        "ENGAGEMENT_AREAS": ENGAGEMENT_AREAS,
        "MEETING_MODE_LABELS": MODE_LABELS,
        "MEETING_STATUS_LABELS": STATUS_LABELS,
        "MEMBER_ROLE_LABELS": ROLE_LABELS,
        "RSVP_LABELS": RSVP_LABELS,
        "STAKEHOLDER_GROUPS": STAKEHOLDER_GROUPS,
    }


@bp.app_template_filter("in_zone")
def in_zone(value, tz_name: str | None):
    """A stored (UTC) datetime shown in a time zone: ``{{ m.starts_at|in_zone(m.timezone) }}``."""
    if value is None:
        return ""
    return format_when(as_utc(value), tz_name)


# --------------------------------------------------------------------------- loaders


def get_visible_group_or_404(group_id: int) -> AdvisoryGroup:
    """404, never 403, for a group the viewer may not see: a private group stays unknown."""
    group = db.session.get(AdvisoryGroup, group_id)
    if group is None or not can_view_group(current_user, group):
        abort(404)
    return group


def get_visible_meeting_or_404(meeting_id: int) -> Meeting:
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or not can_view_meeting(current_user, meeting):
        abort(404)
    return meeting


def _managed_meeting_or_404(meeting_id: int) -> Meeting:
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None:
        abort(404)
    return meeting


def _item_of(meeting: Meeting, item_id: int) -> AgendaItem:
    item = db.session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        abort(404)
    return item


def _timezone_choices(current: str | None = None) -> list:
    return [SelectChoice(value, label) for value, label in timezone_choices(current)]


def _fail(form, err: ValidationError) -> list[str]:
    """Undo the refused change and attach its errors to the form fields."""
    db.session.rollback()
    return apply_service_errors(form, err.errors)


# --------------------------------------------------------------------------- index and groups


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
        had_pref = services.preference_for(current_user) is not None
        feed_url = url_for(
            "consultations.feed", token=services.feed_token(current_user), _external=True
        )
        if not had_pref:
            db.session.commit()  # the feed key was just created: keep it, or the link changes
        tz_form = TimezoneForm(timezone=services.viewer_timezone(current_user))
        tz_form.timezone.choices = _timezone_choices(tz_form.timezone.data)
    return render_template(
        "consultations/index.html",
        groups=groups,
        upcoming=upcoming,
        my_invitations=my_invitations,
        feed_url=feed_url,
        tz_form=tz_form,
        viewer_tz=services.viewer_timezone(current_user),
        can_manage=can_manage_meetings(current_user),
        confirm=ConfirmForm(),
    )


@bp.route("/preferences/timezone", methods=["POST"])
@login_required
def set_timezone():
    form = TimezoneForm()
    form.timezone.choices = _timezone_choices(form.timezone.data)
    if not form.validate_on_submit():
        abort(400)
    try:
        services.set_viewer_timezone(current_user, form.timezone.data)
    except ValidationError as err:
        db.session.rollback()
        flash(err.errors["timezone"], "error")
        return redirect(url_for("consultations.index")), 303
    db.session.commit()
    flash(
        _("Meeting times are now also shown in %(tz)s.", tz=form.timezone.data or "UTC"), "success"
    )
    return redirect(safe_next(request.form.get("next")) or url_for("consultations.index"), 303)


@bp.route("/feed/reset", methods=["POST"])
@login_required
def reset_feed():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.rotate_feed_key(current_user)
    db.session.commit()
    flash(_("Your calendar feed has a new link; the old one no longer works."), "success")
    return redirect(url_for("consultations.index") + "#calendar", 303)


@bp.route("/groups/new", methods=["GET", "POST"])
@staff_required
def new_group():
    form = GroupForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        data = services.GroupData(form.name.data, form.description.data, form.is_public.data)
        try:
            group = services.create_group(current_user, data)
        except ValidationError as err:
            form_errors = _fail(form, err)
        else:
            db.session.commit()
            flash(_("Group “%(name)s” created.", name=group.name), "success")
            return redirect(url_for("consultations.group", group_id=group.id), 303)
    return render_template(
        "consultations/group_form.html", form=form, group=None, form_errors=form_errors
    ), (400 if form.errors or form_errors else 200)


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_group(group_id: int):
    group = db.session.get(AdvisoryGroup, group_id) or abort(404)
    form = GroupForm(obj=group)
    form_errors: list[str] = []
    if form.validate_on_submit():
        data = services.GroupData(form.name.data, form.description.data, form.is_public.data)
        try:
            services.update_group(current_user, group, data)
        except ValidationError as err:
            form_errors = _fail(form, err)
            group = db.session.get(AdvisoryGroup, group_id)
        else:
            db.session.commit()
            flash(_("Group saved."), "success")
            return redirect(url_for("consultations.group", group_id=group.id), 303)
    return render_template(
        "consultations/group_form.html", form=form, group=group, form_errors=form_errors
    ), (400 if form.errors or form_errors else 200)


@bp.route("/groups/<int:group_id>/archive", methods=["POST"])
@staff_required
def archive_group(group_id: int):
    group = db.session.get(AdvisoryGroup, group_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    restore = request.form.get("restore") == "1"
    services.archive_group(current_user, group, archived=not restore)
    db.session.commit()
    flash(_("Group restored.") if restore else _("Group archived."), "success")
    return redirect(url_for("consultations.group", group_id=group.id), 303)


def _member_form() -> MemberForm:
    form = MemberForm()
    form.organization_id.choices = choice_list(organization_choices())
    return form


@bp.route("/groups/<int:group_id>")
def group(group_id: int, member_form: MemberForm | None = None, form_errors=None, status=200):
    group = get_visible_group_or_404(group_id)
    meetings = db.session.scalars(
        select(Meeting)
        .where(Meeting.group_id == group.id, visible_meetings_filter(current_user))
        .order_by(Meeting.starts_at.desc())
    ).all()
    members = (
        [m for m in group.members if m.left_on is None]
        if can_view_group_members(current_user, group)
        else []
    )
    manage = can_manage_groups(current_user)
    if manage and member_form is None:
        member_form = _member_form()
    return render_template(
        "consultations/group.html",
        group=group,
        meetings=meetings,
        members=members,
        former=[m for m in group.members if m.left_on is not None] if manage else [],
        can_manage=manage,
        is_member=is_group_member(current_user, group),
        member_form=member_form,
        form_errors=form_errors or [],
        confirm=ConfirmForm(),
        now=utcnow(),
    ), status


@bp.route("/groups/<int:group_id>/members", methods=["POST"])
@staff_required
def add_member(group_id: int):
    group = db.session.get(AdvisoryGroup, group_id) or abort(404)
    form = _member_form()
    if form.validate_on_submit():
        data = services.MemberData(
            email=form.email.data,
            role=form.role.data,
            organization_id=int(form.organization_id.data) if form.organization_id.data else None,
            constituency=form.constituency.data or None,
        )
        try:
            member = services.add_member(current_user, group, data)
        except ValidationError as err:
            errors = _fail(form, err)
            return group_view_with(group_id, form, errors)
        db.session.commit()
        flash(_("%(name)s added to the group.", name=member.user.name), "success")
        return redirect(url_for("consultations.group", group_id=group.id) + "#members", 303)
    return group_view_with(group_id, form, [])


def group_view_with(group_id, form, errors):
    return group(group_id, member_form=form, form_errors=errors, status=400)


@bp.route("/groups/<int:group_id>/members/<int:member_id>/remove", methods=["POST"])
@staff_required
def remove_member(group_id: int, member_id: int):
    member = db.session.get(GroupMember, member_id)
    if member is None or member.group_id != group_id:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.remove_member(current_user, member)
    db.session.commit()
    flash(_("%(name)s is no longer a member.", name=member.user.name), "success")
    return redirect(url_for("consultations.group", group_id=group_id) + "#members", 303)


# --------------------------------------------------------------------------- meetings (staff)


def _meeting_form(meeting: Meeting | None = None) -> MeetingForm:
    if meeting is not None and request.method == "GET":
        form = MeetingForm(obj=meeting, **services.meeting_local_values(meeting))
        form.engagement_areas.data = meeting.area_list
    else:
        form = MeetingForm()
    groups = db.session.scalars(
        select(AdvisoryGroup)
        .where(AdvisoryGroup.archived_at.is_(None))
        .order_by(AdvisoryGroup.name)
    ).all()
    form.group_id.choices = choice_list([(g.id, g.name) for g in groups])
    form.timezone.choices = _timezone_choices(form.timezone.data)
    if meeting is None and request.method == "GET":
        form.group_id.data = request.args.get("group_id", type=int)
    return form


def _meeting_data(form: MeetingForm) -> services.MeetingData:
    return services.MeetingData(
        title=form.title.data or "",
        group_id=form.group_id.data,
        description=form.description.data or "",
        language=form.language.data or None,
        engagement_areas=list(form.engagement_areas.data or []),
        starts_local=form.starts_local.data,
        ends_local=form.ends_local.data,
        timezone=(form.timezone.data or "").strip(),
        mode=form.mode.data,
        location=form.location.data,
        online_url=form.online_url.data,
        capacity=form.capacity.data,
        agenda_cutoff_local=form.agenda_cutoff_local.data,
        reminder_days=form.reminder_days.data,
        status=form.status.data,
    )


def _edit_meeting(meeting: Meeting | None):
    form = _meeting_form(meeting)
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            saved = services.save_meeting(current_user, _meeting_data(form), meeting)
        except ValidationError as err:
            form_errors = _fail(form, err)
            if meeting is not None:
                meeting = db.session.get(Meeting, meeting.id)
        else:
            db.session.commit()
            flash(_("Meeting saved."), "success")
            return redirect(url_for("consultations.meeting", meeting_id=saved.id), 303)
    return render_template(
        "consultations/meeting_form.html", form=form, meeting=meeting, form_errors=form_errors
    ), (400 if form.errors or form_errors else 200)


@bp.route("/meetings/new", methods=["GET", "POST"])
@staff_required
def new_meeting():
    return _edit_meeting(None)


@bp.route("/meetings/<int:meeting_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_meeting(meeting_id: int):
    return _edit_meeting(_managed_meeting_or_404(meeting_id))


# --------------------------------------------------------------------------- meeting page


def _render_meeting(meeting: Meeting, status: int = 200, **forms):
    viewer_tz = services.viewer_timezone(current_user)
    manage = can_manage_meetings(current_user)
    invitation = services.own_invitation(current_user, meeting)
    rsvp_form = forms.get("rsvp_form")
    if invitation is not None and rsvp_form is None:
        rsvp_form = RsvpForm(
            response=invitation.response if invitation.response != "pending" else None,
            attendance=None
            if invitation.response == "pending"
            else ("in-person" if invitation.attend_in_person else "online"),
            comment=invitation.comment,
        )
    items = [
        i
        for i in meeting.agenda_items
        if i.status == AgendaItemStatus.ACCEPTED.value
        or manage
        or (current_user.is_authenticated and i.proposed_by_id == current_user.id)
    ]
    propose_form = forms.get("propose_form")
    if propose_form is None and can_propose_agenda_item(current_user, meeting):
        propose_form = AgendaItemForm(prefix="propose")
    item_form = forms.get("item_form")
    if item_form is None and manage:
        item_form = AgendaItemForm(prefix="item")
    show_invitations = can_view_invitations(current_user, meeting)
    return render_template(
        "consultations/meeting.html",
        meeting=meeting,
        viewer_tz=viewer_tz,
        can_manage=manage,
        invitation=invitation,
        can_answer=invitation is not None and can_rsvp(current_user, invitation),
        has_ended=meeting_has_ended(meeting),
        rsvp_form=rsvp_form,
        rsvp_errors=forms.get("rsvp_errors", []),
        agenda_items=items,
        propose_form=propose_form,
        item_form=item_form,
        doc_form=forms.get("doc_form"),
        doc_item_id=forms.get("doc_item_id"),
        doc_errors=forms.get("doc_errors", []),
        show_invitations=show_invitations,
        invitations=meeting.invitations if show_invitations else [],
        seats=services.seat_summary(meeting) if show_invitations else None,
        decision_form=DecisionForm(),
        confirm=ConfirmForm(),
        can_attach=lambda item: services.can_attach_to_item(current_user, item),
        max_mb=documents.max_document_bytes() // (1024 * 1024) or 1,
    ), status


@bp.route("/meetings/<int:meeting_id>")
def meeting(meeting_id: int):
    return _render_meeting(get_visible_meeting_or_404(meeting_id))


# --------------------------------------------------------------------------- agenda


@bp.route("/meetings/<int:meeting_id>/agenda", methods=["POST"])
@staff_required
def add_agenda_item(meeting_id: int):
    meeting = _managed_meeting_or_404(meeting_id)
    form = AgendaItemForm(prefix="item")
    if form.validate_on_submit():
        try:
            services.add_agenda_item(current_user, meeting, _item_data(form))
        except ValidationError as err:
            _fail(form, err)
        else:
            db.session.commit()
            flash(_("Agenda item added."), "success")
            return redirect(
                url_for("consultations.meeting", meeting_id=meeting.id) + "#agenda", 303
            )
    return _render_meeting(db.session.get(Meeting, meeting_id), 400, item_form=form)


def _item_data(form: AgendaItemForm) -> services.AgendaItemData:
    return services.AgendaItemData(
        title=form.title.data or "",
        description=form.description.data or "",
        presenter=form.presenter.data,
        duration_minutes=form.duration_minutes.data,
    )


@bp.route("/meetings/<int:meeting_id>/agenda/propose", methods=["POST"])
@login_required
def propose_agenda_item(meeting_id: int):
    meeting = get_visible_meeting_or_404(meeting_id)
    form = AgendaItemForm(prefix="propose")
    if form.validate_on_submit():
        try:
            services.propose_agenda_item(current_user, meeting, _item_data(form))
        except PermissionDenied:
            abort(403)
        except ValidationError as err:
            _fail(form, err)
        else:
            db.session.commit()
            flash(_("Thank you: your proposal was sent to the secretariat."), "success")
            return redirect(
                url_for("consultations.meeting", meeting_id=meeting.id) + "#agenda", 303
            )
    if not can_propose_agenda_item(current_user, meeting) and not form.errors:
        abort(403)
    return _render_meeting(db.session.get(Meeting, meeting_id), 400, propose_form=form)


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/decide", methods=["POST"])
@staff_required
def decide_proposal(meeting_id: int, item_id: int):
    meeting = _managed_meeting_or_404(meeting_id)
    item = _item_of(meeting, item_id)
    form = DecisionForm()
    if not form.validate_on_submit() or form.decision.data not in ("accept", "decline"):
        abort(400)
    try:
        services.decide_proposal(current_user, item, form.decision.data == "accept", form.note.data)
    except ValidationError as err:
        db.session.rollback()
        flash(err.errors.get("note") or _("Could not record the decision."), "error")
        return redirect(url_for("consultations.meeting", meeting_id=meeting.id) + "#agenda", 303)
    db.session.commit()
    flash(
        _("Proposal accepted.") if form.decision.data == "accept" else _("Proposal declined."),
        "success",
    )
    return redirect(url_for("consultations.meeting", meeting_id=meeting.id) + "#agenda", 303)


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/move", methods=["POST"])
@staff_required
def move_agenda_item(meeting_id: int, item_id: int):
    meeting = _managed_meeting_or_404(meeting_id)
    item = _item_of(meeting, item_id)
    direction = request.form.get("direction")
    if not ConfirmForm().validate_on_submit() or direction not in ("up", "down"):
        abort(400)
    services.move_agenda_item(current_user, item, direction)
    db.session.commit()
    return redirect(
        url_for("consultations.meeting", meeting_id=meeting.id) + f"#item-{item.id}", 303
    )


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/delete", methods=["POST"])
@staff_required
def delete_agenda_item(meeting_id: int, item_id: int):
    meeting = _managed_meeting_or_404(meeting_id)
    item = _item_of(meeting, item_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    stored = services.remove_agenda_item(current_user, item)
    db.session.commit()
    for name in stored:
        documents.remove_stored(name)
    flash(_("Agenda item removed."), "success")
    return redirect(url_for("consultations.meeting", meeting_id=meeting.id) + "#agenda", 303)


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/documents", methods=["POST"])
@login_required
def upload_agenda_document(meeting_id: int, item_id: int):
    meeting = get_visible_meeting_or_404(meeting_id)
    item = _item_of(meeting, item_id)
    if not services.can_attach_to_item(current_user, item):
        abort(403)
    form = AgendaDocumentForm()
    errors: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        if upload is None or not getattr(upload, "filename", ""):
            form.file.errors = [_("Choose a file to upload.")]
        else:
            try:
                doc = services.attach_agenda_document(
                    current_user, item, form.title.data, upload.stream, upload.filename
                )
            except ValidationError as err:
                errors = _fail(form, err)
            else:
                stored_name = doc.stored_name
                try:
                    db.session.commit()
                except Exception:
                    # The row did not land, so the file must not stay either.
                    db.session.rollback()
                    documents.remove_stored(stored_name)
                    raise
                flash(_("“%(name)s” attached.", name=doc.filename), "success")
                return redirect(
                    url_for("consultations.meeting", meeting_id=meeting.id) + f"#item-{item.id}",
                    303,
                )
    return _render_meeting(
        db.session.get(Meeting, meeting_id),
        400,
        doc_form=form,
        doc_item_id=item_id,
        doc_errors=errors,
    )


@bp.route("/meetings/<int:meeting_id>/documents/<int:doc_id>")
def download_agenda_document(meeting_id: int, doc_id: int):
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or not can_view_agenda_document(current_user, meeting):
        abort(404)
    doc = db.session.get(AgendaDocument, doc_id)
    if doc is None or doc.agenda_item.meeting_id != meeting.id:
        abort(404)
    item = doc.agenda_item
    if item.status != AgendaItemStatus.ACCEPTED.value and not (
        can_manage_meetings(current_user)
        or (current_user.is_authenticated and item.proposed_by_id == current_user.id)
    ):
        abort(404)  # a proposal's files are as private as the proposal
    path = safe_join(current_app.config["UPLOAD_DIR"], doc.stored_name)
    if path is None or not os.path.isfile(path):
        current_app.logger.warning("Agenda document %s is missing on disk", doc.id)
        abort(404)
    response = send_file(
        path,
        mimetype=safe_document_type(doc.content_type),
        as_attachment=True,
        download_name=doc.filename,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not meeting.group.is_public:
        response.headers["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- invitations and RSVP


def _invite_form(meeting: Meeting) -> InviteForm:
    form = InviteForm()
    form.members.choices = choice_list(
        [
            (m.user_id, m.user.name)
            for m in services.current_members(meeting.group)
            if m.user.is_active
        ]
    )
    return form


@bp.route("/meetings/<int:meeting_id>/invite", methods=["GET", "POST"])
@staff_required
def invite(meeting_id: int):
    meeting = _managed_meeting_or_404(meeting_id)
    form = _invite_form(meeting)
    form_errors: list[str] = []
    if form.validate_on_submit():
        whole = form.scope.data != "chosen"
        try:
            result = services.invite(
                current_user, meeting, whole_group=whole, user_ids=form.members.data or []
            )
        except ValidationError as err:
            form_errors = _fail(form, err)
            meeting = db.session.get(Meeting, meeting_id)
        else:
            db.session.commit()
            message = ngettext(
                "%(num)d invitation sent.", "%(num)d invitations sent.", len(result.invited)
            )
            if result.skipped:
                message += " " + ngettext(
                    "%(num)d member already invited was skipped.",
                    "%(num)d members already invited were skipped.",
                    result.skipped,
                )
            flash(message, "success")
            return redirect(
                url_for("consultations.meeting", meeting_id=meeting.id) + "#invitations", 303
            )
    invited = {i.user_id: i for i in meeting.invitations}
    return render_template(
        "consultations/invite.html",
        meeting=meeting,
        form=form,
        form_errors=form_errors,
        invited=invited,
    ), (400 if form.errors or form_errors else 200)


@bp.route("/invitations/<int:invitation_id>/rsvp", methods=["POST"])
@login_required
def rsvp(invitation_id: int):
    invitation = db.session.get(Invitation, invitation_id)
    # Someone else's invitation (or one that does not exist): 404, and nothing changes.
    if invitation is None or invitation.user_id != current_user.id:
        abort(404)
    meeting = invitation.meeting
    if not can_view_meeting(current_user, meeting):
        abort(404)
    form = RsvpForm()
    if form.validate_on_submit():
        in_person = None
        if form.attendance.data in ("in-person", "online"):
            in_person = form.attendance.data == "in-person"
        try:
            answered = services.respond(
                current_user,
                invitation,
                form.response.data or "",
                form.comment.data or "",
                in_person,
            )
        except PermissionDenied:
            abort(404)
        except ValidationError as err:
            errors = _fail(form, err)
            return _render_meeting(
                db.session.get(Meeting, meeting.id), 400, rsvp_form=form, rsvp_errors=errors
            )
        db.session.commit()
        if answered.waitlisted:
            flash(
                _("Thank you. All in-person seats are taken: you are on the waiting list."),
                "success",
            )
        else:
            flash(_("Thank you: your answer is saved."), "success")
        return redirect(url_for("consultations.meeting", meeting_id=meeting.id) + "#rsvp", 303)
    return _render_meeting(meeting, 400, rsvp_form=form)


# --------------------------------------------------------------------------- calendars


def _ics_response(body: bytes, filename: str, private: bool) -> Response:
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if private:
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/meetings/<int:meeting_id>.ics")
def meeting_ics(meeting_id: int):
    meeting = get_visible_meeting_or_404(meeting_id)
    body = calendar_for([meeting], current_user)
    return _ics_response(
        body,
        f"meeting-{meeting.id}.ics",
        private=not meeting.group.is_public or current_user.is_authenticated,
    )


@bp.route("/feed/<token>.ics")
def feed(token: str):
    mark_no_referrer()
    mark_private()  # a personal calendar reached without a login: never in a shared cache
    user: User | None = services.user_from_feed_token(token)
    if user is None:
        abort(404)
    body = calendar_for(
        services.feed_meetings(user), user, name=_("Consultations — %(name)s", name=user.name)
    )
    return _ics_response(body, "consultations.ics", private=True)
