"""Use cases behind a reviewer's personal link: taking up an invitation (which creates a
reviewer account for an address that has none) and unsubscribing from a round's e-mail.

Both run only on POST: mail scanners and link previewers follow links with GET, and must not
create accounts or unsubscribe anyone. The personal token is the authorisation.
"""

from __future__ import annotations

from sqlalchemy import update

from portal.accounts.models import Role, User
from portal.accounts.services import find_user_by_email
from portal.core.audit import record_audit
from portal.core.models import utcnow
from portal.extensions import db
from portal.reviews.models import ReviewInvitation


def invited_account(invitation: ReviewInvitation) -> User | None:
    """The account the invitation is for, if one exists (read only)."""
    return invitation.user or find_user_by_email(invitation.email)


def take_up_invitation(invitation: ReviewInvitation) -> User:
    """The invitee's account, created (role reviewer, no password yet) if the address has
    none; every pending invitation to the address is attached to it."""
    user = invited_account(invitation)
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
            summary=f"Reviewer account created from review invitation (round "
            f"{invitation.round_id})",
            actor_id=None,
        )
    if invitation.user_id is None:
        db.session.execute(
            update(ReviewInvitation)
            .where(ReviewInvitation.email == user.email, ReviewInvitation.user_id.is_(None))
            .values(user_id=user.id)
        )
        db.session.flush()
    return user


def unsubscribe(invitation: ReviewInvitation) -> bool:
    """Stop this round's e-mail to the invitee (never their right to comment). Returns
    False when it was already stopped."""
    if invitation.unsubscribed_at is not None:
        return False
    invitation.unsubscribed_at = utcnow()
    db.session.flush()
    record_audit(
        "unsubscribe",
        invitation,
        summary=f"{invitation.email} stopped e-mail about review round {invitation.round_id}",
        actor_id=invitation.user_id,
    )
    return True
