"""Calendars: one meeting as .ics, the personal feed calendar apps subscribe to, and the
viewer's preferences behind them (time zone, resetting the feed link)."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.consultations import services
from portal.consultations.forms import TimezoneForm
from portal.consultations.ics import calendar_for
from portal.consultations.views.common import (
    bp,
    get_visible_meeting_or_404,
    timezone_select_choices,
)
from portal.core.forms import ConfirmForm
from portal.core.guard import require
from portal.core.security import mark_no_referrer, mark_private, safe_next
from portal.core.transaction import attempt


@bp.route("/preferences/timezone", methods=["POST"])
@require("signed_in")
def set_timezone():
    form = TimezoneForm()
    form.timezone.choices = timezone_select_choices(form.timezone.data)
    if not form.validate_on_submit():
        abort(400)
    outcome = attempt(services.set_viewer_timezone, current_user, form.timezone.data)
    if not outcome:
        flash(outcome.field_errors["timezone"], "error")
        return redirect(url_for("consultations.index"), 303)
    flash(
        _("Meeting times are now also shown in %(tz)s.", tz=form.timezone.data or "UTC"), "success"
    )
    return redirect(safe_next(request.form.get("next")) or url_for("consultations.index"), 303)


@bp.route("/feed/reset", methods=["POST"])
@require("signed_in")
def reset_feed():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.rotate_feed_key(current_user)
    flash(_("Your calendar feed has a new link; the old one no longer works."), "success")
    return redirect(url_for("consultations.index") + "#calendar", 303)


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
    user = services.user_from_feed_token(token)
    if user is None:
        abort(404)
    body = calendar_for(
        services.feed_meetings(user), user, name=_("Consultations — %(name)s", name=user.name)
    )
    return _ics_response(body, "consultations.ics", private=True)
