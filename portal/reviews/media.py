"""The page that serves the images of imported drafts.

They are served only after the permission check of the version they belong to
(``can_view_version``: staff, or someone invited to a round on the document), never by a static
URL; not found and not allowed look the same, so an image id reveals nothing about a draft.
Storage: ``portal/reviews/image_store.py``.
"""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from portal.extensions import db
from portal.reviews import permissions
from portal.reviews.image_store import send_image
from portal.reviews.models import ReviewImage
from portal.reviews.web import bp


@bp.route("/images/<int:image_id>")
def review_image(image_id: int):
    image = db.session.get(ReviewImage, image_id)
    if image is None or not permissions.can_view_version(current_user, image.version):
        abort(404)
    return send_image(image.stored_name, content_type=image.content_type, image_id=image.id)
