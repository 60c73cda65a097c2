"""What the agreements domain adds to every template: its vocabularies."""

from __future__ import annotations

from portal.agreements.models import (
    AGREEMENT_STATUSES,
    AGREEMENT_TYPES,
    DOMAINS_OF_CHANGE,
    PARTY_ROLES,
)
from portal.core.templating import register_template_globals

register_template_globals(
    AGREEMENT_TYPES=AGREEMENT_TYPES,
    AGREEMENT_STATUSES=AGREEMENT_STATUSES,
    DOMAINS_OF_CHANGE=DOMAINS_OF_CHANGE,
    PARTY_ROLES=PARTY_ROLES,
)
