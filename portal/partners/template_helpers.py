"""What the partners domain adds to every template: its vocabularies and place names."""

from __future__ import annotations

from portal.core.templating import register_template_filter, register_template_globals
from portal.partners.models import ORG_TYPES, STAKEHOLDER_GROUPS
from portal.partners.place_names import place_name

register_template_globals(ORG_TYPES=ORG_TYPES, STAKEHOLDER_GROUPS=STAKEHOLDER_GROUPS)
register_template_filter("place", place_name)  # country and region names, translated
