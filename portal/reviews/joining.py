"""A visitor joins a public consultation from the round page: they give an e-mail address and
accept the consultation's terms; the address gets its own e-mail ("confirm your address",
``mail/review_join.*``: what they asked for, which consultation, the terms they accepted and
when the link expires), whose personal link (``invitation_views``) creates the account, lets
them choose a password and lands on the round — following the link is the e-mail
confirmation. The link expires after ``REVIEW_JOIN_LINK_MAX_AGE`` seconds (7 days); asking
again afterwards sends a fresh one.

No account is created and nothing is revealed here: the answer is the same whether or not the
address has an account or was already sent a link, and an address is sent at most one live
link per round (the view is rate-limited per client too).
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import insert, select

from portal.accounts.services import find_user_by_email
from portal.core.audit import record_audit
from portal.core.models import as_utc, utcnow
from portal.core.services import ValidationError
from portal.extensions import db
from portal.notifications.models import OutgoingMail
from portal.reviews import permissions
from portal.reviews.audience import normalise_email
from portal.reviews.jobs import _mail_rows, invitation_token, token_hash
from portal.reviews.models import ReviewInvitation, ReviewRound


def join_public_round(round_: ReviewRound, email: str, accepted_terms: bool) -> bool:
    """Send the round's personal link to ``email``. True when a link was queued now (False:
    the address already had one) — never shown to the visitor."""
    errors: dict[str, str] = {}
    if not permissions.is_public_round(round_) or (
        permissions.round_state(round_) is not permissions.RoundState.OPEN
    ):
        errors["_form"] = _("This consultation is not open for comments.")
    address = normalise_email(email or "")
    if address is None:
        errors["email"] = _("Enter a valid e-mail address.")
    if not accepted_terms:
        errors["accept_terms"] = _("Accept the consultation's terms to take part.")
    if errors:
        raise ValidationError(errors)
    expires = utcnow() + timedelta(seconds=join_link_max_age())
    invitation = db.session.scalar(
        select(ReviewInvitation).where(
            ReviewInvitation.round_id == round_.id, ReviewInvitation.email == address
        )
    )
    if invitation is not None:
        if not join_link_expired(invitation):
            return False  # a live link is on its way already (or a staff invitation)
        invitation.link_expires_at = expires  # the same personal link, valid again
        invitation.mail_queued_at = utcnow()
        user = invitation.user or find_user_by_email(address)
    else:
        user = find_user_by_email(address)
        invitation = ReviewInvitation(
            round_id=round_.id,
            user_id=user.id if user is not None else None,
            email=address,
            token_hash=token_hash(invitation_token(round_.id, address)),
            mail_queued_at=utcnow(),
            link_expires_at=expires,
        )
        db.session.add(invitation)
    db.session.flush()
    users = {user.id: user} if user is not None else {}
    db.session.execute(
        insert(OutgoingMail),
        # In the language the visitor was reading the page in (an account's own if it has one).
        _mail_rows(
            round_,
            [(user.id if user else None, address)],
            users,
            "join",
            default_locale=str(get_locale() or "") or None,
        ),
    )
    record_audit(
        "join",
        invitation,
        summary=f"{address} asked to take part in public round {round_.id} and accepted its terms",
        actor_id=user.id if user is not None else None,
    )
    return True


def join_link_max_age() -> int:
    """Seconds a visitor has to follow the link they asked for."""
    return int(current_app.config.get("REVIEW_JOIN_LINK_MAX_AGE", 7 * 24 * 60 * 60))


def join_link_expired(invitation: ReviewInvitation) -> bool:
    return invitation.link_expires_at is not None and as_utc(invitation.link_expires_at) <= utcnow()
