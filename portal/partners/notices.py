"""Notification events raised by partner profiles: a proposed edit approved or rejected."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.notifications.events import Notice, notify
from portal.notifications.links import absolute_url


def proposal_decided(proposal, actor) -> int:
    """The partner who proposed the edit hears the decision (and the reviewer's note)."""
    org = proposal.organization
    approved = proposal.status == "approved"
    name, note = org.name, proposal.review_note

    def summary() -> str:
        if approved:
            return _("Your proposed edit to “%(name)s” was approved", name=name)
        return _("Your proposed edit to “%(name)s” was rejected", name=name)

    return notify(
        [proposal.proposed_by],
        Notice(
            kind="proposal-decided",
            key=f"proposal-decided:{proposal.id}",
            subject=summary,
            summary=summary,
            template="notification",
            link=absolute_url("partners.show", org_id=org.id),
            group_key=f"organization:{org.id}",
            group_title=name,
            context={
                "intro_fn": summary,
                "details_fn": lambda: [(_("Note:"), note)] if note else [],
            },
        ),
        exclude=actor,
    )
