"""Country and region names in the reader's language.

The database keeps one English name per place (the UN short name for countries, the UN M49
name for regions); pages show them translated:

- countries: the ISO 3166 translations of the iso-codes project, shipped with pycountry
  (``iso3166-1`` gettext domain), looked up by the stored name or, for the UN short names
  iso-codes spells differently ("Republic of Korea"), by the country's other ISO names;
- regions: the 30 M49 names below are messages of our own catalogue, translated with the
  rest of the interface (a test keeps this list equal to ``data/m49_regions.csv``).

Search documents and CSV exports keep the English names: they are shared by every reader.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from functools import lru_cache

import pycountry
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

REGION_NAMES = (
    _l("World"),
    _l("Africa"),
    _l("Northern Africa"),
    _l("Sub-Saharan Africa"),
    _l("Eastern Africa"),
    _l("Middle Africa"),
    _l("Southern Africa"),
    _l("Western Africa"),
    _l("Americas"),
    _l("Latin America and the Caribbean"),
    _l("Caribbean"),
    _l("Central America"),
    _l("South America"),
    _l("Northern America"),
    _l("Asia"),
    _l("Central Asia"),
    _l("Eastern Asia"),
    _l("South-eastern Asia"),
    _l("Southern Asia"),
    _l("Western Asia"),
    _l("Europe"),
    _l("Eastern Europe"),
    _l("Northern Europe"),
    _l("Southern Europe"),
    _l("Western Europe"),
    _l("Oceania"),
    _l("Australia and New Zealand"),
    _l("Melanesia"),
    _l("Micronesia"),
    _l("Polynesia"),
)

# Names a country had in ISO 3166 before, which older translations still use.
_FORMER_ISO_NAMES = {"TR": ("Turkey", "Republic of Turkey")}
# Translations iso-codes does not have yet (pycountry 24).
_MISSING = {("Türkiye", "ar"): "تركيا"}
# iso-codes names its catalogues by locale; ours are plain language codes.
_ISO_LOCALES = {"zh": "zh_CN"}


@lru_cache(maxsize=8)
def _iso_catalogue(lang: str) -> stdlib_gettext.NullTranslations:
    return stdlib_gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=[_ISO_LOCALES.get(lang, lang)], fallback=True
    )


@lru_cache(maxsize=1)
def _region_names() -> frozenset[str]:
    """The M49 names as stored (the data file), i.e. the msgids of ``REGION_NAMES``."""
    from portal.partners.reference import region_rows

    return frozenset(row["name"] for row in region_rows())


@lru_cache(maxsize=1)
def _other_iso_names() -> dict[str, tuple[str, ...]]:
    """Stored country name → the country's ISO names, for names iso-codes does not use."""
    from portal.partners.reference import country_rows

    names: dict[str, tuple[str, ...]] = {}
    for row in country_rows():
        record = pycountry.countries.get(alpha_2=row["code"])
        if record is not None:
            names[row["name"]] = tuple(
                n
                for n in (
                    getattr(record, "official_name", None),
                    getattr(record, "common_name", None),
                    record.name,
                    *_FORMER_ISO_NAMES.get(row["code"], ()),
                )
                if n
            )
    return names


def _language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "en"


def place_name(name: str | None) -> str:
    """``name`` (a stored country or region name) in the current reader's language."""
    if not name:
        return name or ""
    lang = _language()
    if lang == "en":
        return name
    if name in _region_names():
        return _(name)
    if (name, lang) in _MISSING:
        return _MISSING[(name, lang)]
    catalogue = _iso_catalogue(lang)
    translated = catalogue.gettext(name)
    if translated != name:
        return translated
    for other in _other_iso_names().get(name, ()):
        translated = catalogue.gettext(other)
        if translated != other:
            return translated
    return name
