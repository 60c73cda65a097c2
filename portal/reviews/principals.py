"""What a review invitation grants in principal strings (``portal.core.principals``)."""

from __future__ import annotations

from flask import g, has_request_context, request
from sqlalchemy import select

from portal.core.principals import principal_provider
from portal.extensions import db
from portal.reviews.models import ReviewRound
from portal.reviews.permissions import invited_rounds_filter


@principal_provider("reviews")
def review_round_principals(user) -> set[str]:
    """``round:<id>`` for each opened review round the user is invited to.

    One query, cached on ``g`` for the current request (search, suggestions and pages may all
    ask), keyed by request and user so a cached answer never outlives either.
    """
    current = request._get_current_object() if has_request_context() else None
    cached = g.get("_review_round_principals") if current is not None else None
    # The cache holds the request object itself, so identity (not a reusable id()) is compared.
    if cached is not None and cached[0] is current and cached[1] == user.id:
        return set(cached[2])
    ids = db.session.scalars(select(ReviewRound.id).where(invited_rounds_filter(user))).all()
    found = {f"round:{round_id}" for round_id in ids}
    if current is not None:
        g._review_round_principals = (current, user.id, frozenset(found))
    return found
