"""Where the images of imported drafts are kept: the portal's upload storage (``portal.storage``
— a directory or an S3-compatible bucket), through the same helpers as agreement documents and
agenda files (``portal.agreements.documents``). The only module that touches image bytes."""

from __future__ import annotations

import io

from portal.reviews.importing import IMAGE_TYPES


def store_image_bytes(data: bytes, content_type: str) -> str:
    """Write an image to upload storage; returns its stored name. Removed again if the
    transaction that adds its row does not commit."""
    from portal.agreements.documents import new_stored_name, remove_unless_committed, write_upload

    stored_name = new_stored_name(IMAGE_TYPES[content_type])
    write_upload(io.BytesIO(data), stored_name, content_type)
    remove_unless_committed(stored_name)
    return stored_name


def remove_image_bytes(stored_name: str) -> None:
    from portal.agreements.documents import remove_stored

    remove_stored(stored_name)


def send_image(stored_name: str, *, content_type: str, image_id: int):
    """The response streaming a stored image — call only after the permission check."""
    from portal.agreements.documents import send_stored

    return send_stored(
        stored_name,
        mimetype=content_type,
        download_name=f"image-{image_id}.{IMAGE_TYPES.get(content_type, 'bin')}",
        what=f"review image {image_id}",
    )
