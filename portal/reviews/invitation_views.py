"""A reviewer's personal link (``/reviews/r/<token>``) and unsubscribing from a round's mail.

The link never logs anyone in. GET only reads: it leads to the round (after logging in), to
choosing a password (an account without one), or — for an address without an account — to a
page whose button (POST) creates the reviewer account. Link scanners use GET, so they can
neither create accounts nor unsubscribe anyone.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.services import INVITATION_SALT, make_password_token
from portal.core.forms import ConfirmForm
from portal.core.security import mark_no_referrer, mark_private
from portal.core.transaction import attempt
from portal.extensions import csrf
from portal.reviews import invitations, joining
from portal.reviews.jobs import find_invitation
from portal.reviews.web import bp


def _choose_password(user, round_url: str):
    token = make_password_token(user, INVITATION_SALT)
    # After the password is set and the reviewer logs in, they land on the round.
    return redirect(url_for("accounts.accept_invitation", token=token, next=round_url))


@bp.route("/r/<token>", methods=["GET", "POST"])
def follow_invitation(token: str):
    mark_no_referrer()
    mark_private()
    invitation = find_invitation(token)
    if invitation is None:
        return render_template("reviews/link_problem.html"), 404
    round_ = invitation.round
    round_url = url_for("reviews.show_round", round_id=round_.id)
    if current_user.is_authenticated and current_user.email == invitation.email:
        return redirect(round_url)
    user = invitations.invited_account(invitation)
    if user is not None and not user.is_active:
        return render_template("reviews/link_problem.html"), 403
    if joining.join_link_expired(invitation) and not (user is not None and user.password_hash):
        # A visitor's confirmation link, not followed in time: they ask for a new one.
        return render_template("reviews/link_problem.html", expired=True, round=round_), 410
    if current_user.is_authenticated:
        flash(
            _("This invitation was sent to another address. Log out and use the link again."),
            "warning",
        )
        return redirect(url_for("reviews.index"))
    if user is not None and user.password_hash:
        return redirect(url_for("accounts.login", next=round_url))
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        outcome = attempt(invitations.take_up_invitation, invitation)
        if outcome:
            return _choose_password(outcome.value, round_url)
    if user is not None and request.method == "GET":
        # An account without a password yet (created by an earlier visit): nothing to write.
        return _choose_password(user, round_url)
    return render_template(
        "reviews/invitation_welcome.html",
        invitation=invitation,
        round=round_,
        document=round_.version.document,
        form=form,
    ), (400 if request.method == "POST" else 200)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """Stops e-mail about one round. GET only asks (mail scanners follow links); POST acts —
    from the page's button or a mail provider's RFC 8058 one-click request, which has no
    session and no form token. The personal token is the authorisation and names the one
    invitation it changes, so no CSRF token is needed (or possible)."""
    mark_no_referrer()
    mark_private()
    invitation = find_invitation(token)
    if invitation is None:
        return render_template("reviews/link_problem.html"), 404
    if request.method == "POST":
        invitations.unsubscribe(invitation)
        if request.form.get("List-Unsubscribe") == "One-Click":
            return "Unsubscribed.\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
    return render_template(
        "reviews/unsubscribe.html",
        invitation=invitation,
        form=ConfirmForm(),
        done=invitation.unsubscribed_at is not None,
    )
