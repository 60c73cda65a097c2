"""Reference data: UN M49 regions (our data file) and ISO 3166-1 countries (pycountry).

Loaded offline by the initial migration and by ``flask reference load`` (idempotent), so a new
database always has the regions and countries that imports and forms validate against.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import pycountry

DATA_FILE = Path(__file__).parent / "data" / "m49_regions.csv"

# pycountry's official names are long ("Korea, Republic of"); the UN uses short names in lists.
_SHORT_NAMES = {
    "BO": "Bolivia",
    "IR": "Iran",
    "KP": "Democratic People's Republic of Korea",
    "KR": "Republic of Korea",
    "LA": "Lao People's Democratic Republic",
    "MD": "Republic of Moldova",
    "RU": "Russian Federation",
    "SY": "Syrian Arab Republic",
    "TZ": "United Republic of Tanzania",
    "VE": "Venezuela",
    "VN": "Viet Nam",
    "TW": "Taiwan, Province of China",
    "PS": "State of Palestine",
    "FM": "Micronesia (Federated States of)",
    "CD": "Democratic Republic of the Congo",
}


@cache
def region_rows() -> list[dict]:
    with DATA_FILE.open(encoding="utf-8") as fh:
        return [
            {
                "code": row["code"],
                "name": row["name"],
                "parent_code": row["parent_code"] or None,
                "level": int(row["level"]),
            }
            for row in csv.DictReader(fh)
        ]


@cache
def country_region_map() -> dict[str, str]:
    mapping: dict[str, str] = {}
    with DATA_FILE.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for alpha2 in filter(None, row["countries"].split(";")):
                mapping[alpha2] = row["code"]
    return mapping


@cache
def country_rows() -> list[dict]:
    regions = country_region_map()
    rows = []
    for c in pycountry.countries:
        name = _SHORT_NAMES.get(c.alpha_2) or getattr(c, "common_name", None) or c.name
        rows.append(
            {
                "code": c.alpha_2,
                "alpha3": c.alpha_3,
                "numeric": c.numeric,
                "name": name,
                "region_code": regions.get(c.alpha_2),  # None for Antarctica only
            }
        )
    return sorted(rows, key=lambda r: r["code"])


def region_codes() -> set[str]:
    return {r["code"] for r in region_rows()}


def load_reference_data(session) -> tuple[int, int]:
    """Insert missing regions and countries, update changed names. Returns rows added."""
    from portal.partners.models import Country, Region

    added_regions = added_countries = 0
    existing_regions = {r.code: r for r in session.query(Region)}
    # Parents first, so the self-referencing foreign key is satisfied on PostgreSQL.
    for row in sorted(region_rows(), key=lambda r: r["level"]):
        region = existing_regions.get(row["code"])
        if region is None:
            session.add(Region(**row))
            added_regions += 1
        else:
            region.name, region.parent_code, region.level = (
                row["name"],
                row["parent_code"],
                row["level"],
            )
        session.flush()
    existing_countries = {c.code: c for c in session.query(Country)}
    for row in country_rows():
        country = existing_countries.get(row["code"])
        if country is None:
            session.add(Country(**row))
            added_countries += 1
        else:
            country.name, country.region_code = row["name"], row["region_code"]
    session.flush()
    return added_regions, added_countries
