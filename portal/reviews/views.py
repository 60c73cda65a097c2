"""The review pages: one blueprint (``portal.reviews.web.bp``), routes split by sub-domain.

Importing this module registers every route; ``portal/__init__.py`` takes ``bp`` from here.
"""

from __future__ import annotations

from portal.reviews import (  # noqa: F401  (each module adds its routes to the blueprint)
    comment_views,
    docket_views,
    document_views,
    invitation_views,
    round_views,
    staff_views,
)
from portal.reviews.labels import author_label as author_label
from portal.reviews.web import bp as bp
