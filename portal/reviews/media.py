"""Images of imported drafts: where their bytes go, and the page that serves them.

Images are stored like every other upload (``portal/agreements/documents.py``: a random name
under ``UPLOAD_DIR``, never under static/). ``store_image_bytes`` is the one place that writes
them, so moving uploads to another storage changes one function. They are served only after
the permission check of the version they belong to (``can_view_version``: staff, or someone
invited to a round on the document), never by a static URL.
"""

from __future__ import annotations

import io

from flask import abort, send_file
from flask_login import current_user

from portal.extensions import db
from portal.reviews import permissions
from portal.reviews.importing import IMAGE_TYPES
from portal.reviews.models import ReviewImage
from portal.reviews.views import bp


def store_image_bytes(data: bytes, content_type: str) -> str:
    """Write an image's bytes to upload storage; returns the stored name."""
    from portal.agreements.documents import new_stored_name, write_upload

    stored_name = new_stored_name(IMAGE_TYPES[content_type])
    write_upload(io.BytesIO(data), stored_name)
    return stored_name


def open_image(image: ReviewImage):
    """The stored bytes of an image, as a file object (the counterpart of store_image_bytes)."""
    from portal.agreements.documents import stored_path

    try:
        return open(stored_path(image.stored_name), "rb")
    except (OSError, ValueError):
        return None


def remove_image_bytes(stored_name: str) -> None:
    from portal.agreements.documents import remove_stored

    remove_stored(stored_name)


@bp.route("/images/<int:image_id>")
def review_image(image_id: int):
    image = db.session.get(ReviewImage, image_id)
    # Not found and not allowed look the same: an image id reveals nothing about a draft.
    if image is None or not permissions.can_view_version(current_user, image.version):
        abort(404)
    handle = open_image(image)
    if handle is None:
        abort(404)
    response = send_file(
        handle, mimetype=image.content_type, max_age=0, download_name=f"image-{image.id}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
