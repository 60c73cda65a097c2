"""Validate import rows against DESIGN §7 and plan what each row will do.

Everything is checked before anything is written: the result is an ``ImportPlan`` holding every
error (row as the user sees it, column, reason) and, for each valid row, whether it will create,
update or leave unchanged a record. Look-up tables (countries, regions, existing organisations
and agreements) are loaded once per run, so a 5,000-row file validates in a few seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import pycountry
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.agreements import schema as agreement_schema
from portal.agreements.models import (
    AGREEMENT_STATUSES,
    AGREEMENT_TYPES,
    DOMAINS_OF_CHANGE,
    PARTY_ROLES,
    Agreement,
    Visibility,
)
from portal.core.content_language import valid_language
from portal.extensions import db
from portal.imports.reading import Sheet
from portal.partners.models import ORG_TYPES, STAKEHOLDER_GROUPS, Country, Organization, Region

ORGANIZATIONS = "organizations"
AGREEMENTS = "agreements"
KINDS = (ORGANIZATIONS, AGREEMENTS)

COLUMNS: dict[str, list[str]] = {
    ORGANIZATIONS: [
        "name",
        "acronym",
        "org_type",
        "country",
        "regions",
        "website",
        "stakeholder_group",
        "partner_since",
        "is_public",
        "description",
        "language",
    ],
    AGREEMENTS: agreement_schema.IMPORT_COLUMNS,
}
# Columns a file may have that the import ignores: the portal computes them (an exported
# agreement's page address and IATI identifier), so a downloaded file imports back as it is.
IGNORED_COLUMNS: dict[str, list[str]] = {
    ORGANIZATIONS: [],
    AGREEMENTS: agreement_schema.IGNORED_ON_IMPORT,
}
# Columns the header must have. Other columns may be left out: a left-out column leaves that
# field untouched on update. Visibility is required so nobody publishes an agreement by default.
REQUIRED_COLUMNS: dict[str, list[str]] = {
    ORGANIZATIONS: ["name", "org_type", "country"],
    AGREEMENTS: agreement_schema.REQUIRED_COLUMNS,
}

# One example row per kind, for the downloadable templates and the docs.
EXAMPLES: dict[str, dict[str, str]] = {
    ORGANIZATIONS: {
        "name": "Catalytic Action",
        "acronym": "CA",
        "org_type": "22",
        "country": "LB",
        "regions": "145",
        "website": "https://www.catalyticaction.org",
        "stakeholder_group": "civil-society",
        "partner_since": "2019-05-01",
        "is_public": "yes",
        "description": "Designs public spaces with and for children affected by displacement.",
        "language": "en",
    },
    AGREEMENTS: agreement_schema.EXAMPLE_ROW,
}

MAX_LENGTHS = {"name": 300, "acronym": 50, "website": 500, **agreement_schema.MAX_LENGTHS}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_REGION_RE = re.compile(r"^\d{3}$")
_SDG_RE = re.compile(r"^(\d{1,2})\.(\d{1,2}|[a-c])$")
_AMOUNT_RE = re.compile(r"^\d+(\.\d{1,2})?$")
_DISAMBIGUATED_RE = re.compile(r"^(?P<name>.+?)\s*\((?P<country>[A-Za-z]{2})\)$")
YES, NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}

Key = tuple[str, str | None]  # (case-folded name, country code) of an organisation


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class PlannedRow:
    row: int
    key: Any  # org Key, or the agreement reference
    label: str  # what the user calls this record (name, or reference)
    values: dict[str, Any]  # cleaned values of the columns present in the file
    raw: dict[str, str]  # the cells as read, for the preview
    target: Any = None  # the existing record, if any
    action: str = "create"  # create | update | unchanged
    changed_fields: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    kind: str
    filename: str
    columns: list[str] = field(default_factory=list)
    rows: list[PlannedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        return not self.errors

    @property
    def counts(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "unchanged": 0}
        for row in self.rows:
            counts[row.action] += 1
        return counts

    def error_rows(self) -> int:
        return len({e.row for e in self.errors})


def norm_name(name: str) -> str:
    """How organisation names are compared: case and runs of spaces do not matter."""
    return " ".join(name.split()).casefold()


class Lookups:
    """Reference data and existing records, loaded once per import run."""

    def __init__(self) -> None:
        self.countries: dict[str, Country] = {
            c.code: c for c in db.session.scalars(select(Country))
        }
        self.regions: dict[str, Region] = {r.code: r for r in db.session.scalars(select(Region))}
        self.currencies = {c.alpha_3 for c in pycountry.currencies}
        self._orgs: dict[Key, Organization] | None = None
        self._agreements: dict[str, Agreement] | None = None

    @property
    def organizations(self) -> dict[Key, Organization]:
        if self._orgs is None:
            orgs = db.session.scalars(
                select(Organization).options(selectinload(Organization.regions))
            ).all()
            self._orgs = {}
            for org in orgs:
                self._orgs.setdefault((norm_name(org.name), org.country_code), org)
        return self._orgs

    @property
    def agreements(self) -> dict[str, Agreement]:
        if self._agreements is None:
            rows = db.session.scalars(
                select(Agreement).options(
                    selectinload(Agreement.countries),
                    selectinload(Agreement.regions),
                    selectinload(Agreement.sdg_targets),
                    selectinload(Agreement.parties),
                )
            ).all()
            self._agreements = {a.reference: a for a in rows}
        return self._agreements


class _RowChecker:
    """Cleans one row's cells; collects errors instead of stopping at the first."""

    def __init__(self, row: int, raw: dict[str, str], lookups: Lookups, errors: list[RowError]):
        self.row, self.raw, self.lookups, self.errors = row, raw, lookups, errors

    def error(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.row, column, message))

    def has(self, column: str) -> bool:
        return column in self.raw

    def text(self, column: str, *, required: bool = False) -> str:
        value = self.raw.get(column, "").strip()
        if required and not value:
            self.error(column, _("A value is required."))
        limit = MAX_LENGTHS.get(column)
        if limit and len(value) > limit:
            self.error(
                column, _("Too long: %(n)s characters, at most %(max)s.", n=len(value), max=limit)
            )
        return value

    def language(self, column: str) -> str | None:
        """A language code (en, fr, zh…) or empty: the portal then detects it from the text."""
        value = self.text(column)
        code = valid_language(value)
        if value and code is None:
            self.error(
                column, _("“%(value)s” is not a language code such as en, fr or zh.", value=value)
            )
        return code

    def choice(self, column: str, allowed, *, required: bool = False) -> str | None:
        value = self.text(column, required=required)
        if not value:
            return None
        if value not in allowed:
            lowered = value.lower()
            if lowered in allowed:
                return lowered
            self.error(
                column,
                _(
                    "“%(value)s” is not allowed; use one of: %(allowed)s.",
                    value=value,
                    allowed=", ".join(allowed),
                ),
            )
            return None
        return value

    def day(self, column: str) -> date | None:
        value = self.text(column)
        if not value:
            return None
        if not _DATE_RE.match(value):
            self.error(
                column,
                _("“%(value)s” is not a date; use YYYY-MM-DD, e.g. 2024-03-31.", value=value),
            )
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.error(column, _("“%(value)s” is not a real calendar date.", value=value))
            return None

    def country(self, column: str) -> str | None:
        value = self.text(column).upper()
        if not value:
            return None
        if value not in self.lookups.countries:
            self.error(
                column,
                _(
                    "“%(value)s” is not an ISO 3166-1 alpha-2 country code (e.g. KE, LB, CN).",
                    value=value,
                ),
            )
            return None
        return value

    def split(self, column: str) -> list[str]:
        return [part.strip() for part in self.text(column).split(";") if part.strip()]

    def country_list(self, column: str) -> list[str]:
        codes = []
        for part in self.split(column):
            code = part.upper()
            if code not in self.lookups.countries:
                self.error(
                    column,
                    _(
                        "“%(value)s” is not an ISO 3166-1 alpha-2 country code (e.g. KE, LB, CN).",
                        value=part,
                    ),
                )
            elif code not in codes:
                codes.append(code)
        return sorted(codes)

    def region_list(self, column: str) -> list[str]:
        codes = []
        for part in self.split(column):
            if part.isdigit() and len(part) < 3 and part.zfill(3) in self.lookups.regions:
                self.error(
                    column,
                    _(
                        "Region “%(value)s”: use 3 digits, e.g. %(padded)s (in a spreadsheet, "
                        "format the column as text so leading zeros stay).",
                        value=part,
                        padded=part.zfill(3),
                    ),
                )
            elif not _REGION_RE.match(part) or part not in self.lookups.regions:
                self.error(
                    column,
                    _(
                        "“%(value)s” is not a UN M49 region code "
                        "(e.g. 002 Africa, 145 Western Asia).",
                        value=part,
                    ),
                )
            elif part not in codes:
                codes.append(part)
        return sorted(codes)


def _check_headers(sheet: Sheet, kind: str, plan: ImportPlan) -> bool:
    allowed = COLUMNS[kind]
    ignored = IGNORED_COLUMNS[kind]
    seen: list[str] = []
    ok = True
    for position, header in enumerate(sheet.headers, start=1):
        name = header.strip().lower()
        if not name:
            plan.errors.append(
                RowError(1, _("column %(n)s", n=position), _("This column has no header."))
            )
            ok = False
        elif name not in allowed and name not in ignored:
            plan.errors.append(
                RowError(
                    1,
                    header,
                    _(
                        "Unknown column “%(name)s”. Allowed columns: %(allowed)s.",
                        name=header,
                        allowed=", ".join(allowed),
                    ),
                )
            )
            ok = False
        elif name in seen:
            plan.errors.append(
                RowError(1, header, _("The column “%(name)s” appears twice.", name=header))
            )
            ok = False
        seen.append(name)
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in seen]
    if missing:
        plan.errors.append(
            RowError(
                1,
                ", ".join(missing),
                _(
                    "Missing required column(s): %(missing)s. The header row (row 1) must name "
                    "the columns; download the template to see them.",
                    missing=", ".join(missing),
                ),
            )
        )
        ok = False
    plan.columns = [c for c in seen if c in allowed]
    if ok:
        # Cells are addressed by canonical column name from here on.
        sheet.rows[:] = [
            (
                number,
                {name: values[header] for header, name in zip(sheet.headers, seen, strict=True)},
            )
            for number, values in sheet.rows
        ]
    for number, position in sheet.stray_cells:
        plan.errors.append(
            RowError(
                number,
                _("column %(n)s", n=position),
                _("This cell is outside the columns named in the header row."),
            )
        )
    return ok


Progress = Callable[[int], None] | None


# ---------------------------------------------------------------------------------------------
# Organisations


ORG_FIELDS = {  # column → model attribute
    "name": "name",
    "acronym": "acronym",
    "org_type": "org_type",
    "country": "country_code",
    "regions": "regions",
    "website": "website",
    "stakeholder_group": "stakeholder_group",
    "partner_since": "partner_since",
    "is_public": "is_public",
    "description": "description",
    "language": "language",
}


def validate_organizations(
    sheet: Sheet, filename: str, lookups: Lookups, progress: Progress = None
) -> ImportPlan:
    plan = ImportPlan(ORGANIZATIONS, filename)
    if not _check_headers(sheet, ORGANIZATIONS, plan):
        return plan
    first_row: dict[Key, int] = {}
    existing = lookups.organizations
    for number, raw in sheet.rows:
        check = _RowChecker(number, raw, lookups, plan.errors)
        before = len(plan.errors)
        values = _clean_org(check)
        if progress:
            progress(1)
        if len(plan.errors) > before or not values.get("name"):
            continue
        key = (norm_name(values["name"]), values.get("country_code"))
        if key in first_row:
            plan.errors.append(
                RowError(
                    number,
                    "name",
                    _(
                        "Duplicate: the same name and country are already on row %(row)s.",
                        row=first_row[key],
                    ),
                )
            )
            continue
        first_row[key] = number
        planned = PlannedRow(number, key, values["name"], values, raw)
        _decide(planned, existing.get(key), _org_differences)
        plan.rows.append(planned)
    plan.errors.sort(key=lambda e: e.row)
    return plan


def _clean_org(check: _RowChecker) -> dict[str, Any]:
    values: dict[str, Any] = {"name": " ".join(check.text("name", required=True).split())}
    values["org_type"] = check.choice("org_type", ORG_TYPES, required=True)
    values["country_code"] = check.country("country")
    if check.has("acronym"):
        values["acronym"] = check.text("acronym") or None
    if check.has("regions"):
        values["regions"] = check.region_list("regions")
    if check.has("website"):
        website = check.text("website")
        parts = urlsplit(website)
        if website and (
            parts.scheme not in ("http", "https") or not parts.netloc or " " in website
        ):
            check.error(
                "website",
                _("“%(value)s” is not a web address; start it with https://", value=website),
            )
        values["website"] = website or None
    if check.has("stakeholder_group"):
        values["stakeholder_group"] = check.choice("stakeholder_group", STAKEHOLDER_GROUPS)
    if check.has("partner_since"):
        values["partner_since"] = check.day("partner_since")
    if check.has("is_public"):
        flag = check.text("is_public").lower()
        if flag and flag not in YES | NO:
            check.error("is_public", _("“%(value)s” must be yes or no.", value=flag))
        values["is_public"] = flag not in NO  # empty means the default: public
    if check.has("description"):
        values["description"] = check.text("description")
    if check.has("language") and (language := check.language("language")):
        values["language"] = language  # empty: keep the stored one, or detect from the text
    return values


def _org_differences(org: Organization, values: dict[str, Any]) -> list[str]:
    changed = []
    for attr, new in values.items():
        current = sorted(r.code for r in org.regions) if attr == "regions" else getattr(org, attr)
        if attr == "description":
            current = current or ""
        if current != new:
            changed.append(attr)
    return changed


def _decide(planned: PlannedRow, target, differences) -> None:
    planned.target = target
    if target is None:
        planned.action = "create"
        return
    planned.changed_fields = differences(target, planned.values)
    planned.action = "update" if planned.changed_fields else "unchanged"


# ---------------------------------------------------------------------------------------------
# Agreements


@dataclass(frozen=True)
class PartyRef:
    """A party as written in the file, resolved to an existing organisation or a same-run one."""

    role: str
    org_id: int | None = None  # an organisation already in the database
    pending_key: Key | None = None  # an organisation created by this same import run


class OrgDirectory:
    """Organisations a ``parties`` cell may name: the database plus the same run's file."""

    def __init__(self, lookups: Lookups, org_plan: ImportPlan | None = None) -> None:
        self.by_name: dict[str, dict[str | None, PartyRef]] = {}
        for (name, country), org in lookups.organizations.items():
            if org.archived_at is None:
                self.by_name.setdefault(name, {})[country] = PartyRef("", org_id=org.id)
        if org_plan is not None:
            for row in org_plan.rows:
                name, country = row.key
                ref = (
                    PartyRef("", org_id=row.target.id)
                    if row.target is not None
                    else PartyRef("", pending_key=row.key)
                )
                self.by_name.setdefault(name, {})[country] = ref

    def resolve(self, text: str) -> tuple[PartyRef | None, str | None]:
        """The organisation a name refers to, or an error message."""
        candidates = self.by_name.get(norm_name(text))
        if candidates is None:
            match = _DISAMBIGUATED_RE.match(text)
            if match:
                by_country = self.by_name.get(norm_name(match["name"]), {})
                ref = by_country.get(match["country"].upper())
                if ref is not None:
                    return ref, None
            return None, _(
                "No organisation named “%(name)s” exists or is in this import; import "
                "it first (organisations file) or fix the spelling.",
                name=text,
            )
        if len(candidates) > 1:
            countries = sorted(c or "—" for c in candidates)
            example = f"{text} ({countries[0]})"
            return None, _(
                "“%(name)s” matches several organisations (countries: %(countries)s); "
                "write it with the country, e.g. “%(example)s”.",
                name=text,
                countries=", ".join(countries),
                example=example,
            )
        return next(iter(candidates.values())), None


AGREEMENT_FIELDS = [c for c in agreement_schema.IMPORT_COLUMNS if c != "reference"]


def validate_agreements(
    sheet: Sheet,
    filename: str,
    lookups: Lookups,
    org_plan: ImportPlan | None = None,
    progress: Progress = None,
) -> ImportPlan:
    plan = ImportPlan(AGREEMENTS, filename)
    if not _check_headers(sheet, AGREEMENTS, plan):
        return plan
    directory = OrgDirectory(lookups, org_plan)
    existing = lookups.agreements
    first_row: dict[str, int] = {}
    for number, raw in sheet.rows:
        check = _RowChecker(number, raw, lookups, plan.errors)
        before = len(plan.errors)
        reference = check.text("reference", required=True)
        values = _clean_agreement(check, directory)
        if progress:
            progress(1)
        if reference and reference in first_row:
            check.error(
                "reference",
                _("Duplicate reference: already used on row %(row)s.", row=first_row[reference]),
            )
        elif reference:
            first_row[reference] = number
        if len(plan.errors) > before:
            continue
        planned = PlannedRow(number, reference, reference, values, raw)
        _decide(planned, existing.get(reference), _agreement_differences)
        plan.rows.append(planned)
    plan.errors.sort(key=lambda e: e.row)
    return plan


def _clean_agreement(check: _RowChecker, directory: OrgDirectory) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": check.text("title", required=True),
        "agreement_type": check.choice("agreement_type", AGREEMENT_TYPES, required=True),
        "status": check.choice("status", AGREEMENT_STATUSES, required=True),
        "visibility": check.choice("visibility", [v.value for v in Visibility], required=True),
    }
    if check.has("summary"):
        values["summary"] = check.text("summary")
    if check.has("language") and (language := check.language("language")):
        values["language"] = language  # empty: keep the stored one, or detect from the text
    for column in ("signed_on", "start_on", "end_on"):
        if check.has(column):
            values[column] = check.day(column)
    start, end = values.get("start_on"), values.get("end_on")
    if start and end and end < start:
        check.error(
            "end_on",
            _(
                "The end date %(end)s is before the start date %(start)s.",
                end=end.isoformat(),
                start=start.isoformat(),
            ),
        )
    if check.has("amount"):
        values["amount"] = _amount(check)
    if check.has("currency"):
        currency = check.text("currency").upper() or None
        if currency and currency not in check.lookups.currencies:
            check.error(
                "currency",
                _(
                    "“%(value)s” is not an ISO 4217 currency code (e.g. USD, EUR, KES).",
                    value=currency,
                ),
            )
        values["currency"] = currency
    if values.get("amount") is not None and not values.get("currency") and check.has("amount"):
        check.error("currency", _("An amount needs a currency (ISO 4217, e.g. USD)."))
    if check.has("domain_of_change"):
        domain = check.text("domain_of_change")
        values["domain_of_change"] = None
        if domain:
            if domain.isdigit() and int(domain) in DOMAINS_OF_CHANGE:
                values["domain_of_change"] = int(domain)
            else:
                check.error(
                    "domain_of_change", _("“%(value)s” must be 1, 2, 3 or 4.", value=domain)
                )
    if check.has("sdg_targets"):
        targets = []
        for part in check.split("sdg_targets"):
            match = _SDG_RE.match(part)
            if not match or not 1 <= int(match[1]) <= 17:
                check.error(
                    "sdg_targets",
                    _(
                        "“%(value)s” is not an SDG target; write targets like 11.1;11.3.",
                        value=part,
                    ),
                )
            elif part not in targets:
                targets.append(part)
        values["sdg_targets"] = sorted(targets)
    if check.has("countries"):
        values["countries"] = check.country_list("countries")
    if check.has("regions"):
        values["regions"] = check.region_list("regions")
    if check.has("parties"):
        values["parties"] = _parties(check, directory)
    return values


def _amount(check: _RowChecker) -> Decimal | None:
    text = check.text("amount").replace(" ", "")
    if not text:
        return None
    if "," in text:
        check.error(
            "amount",
            _(
                "“%(value)s”: use “.” for decimals and no thousands separator, e.g. 1250000.50.",
                value=text,
            ),
        )
        return None
    if not _AMOUNT_RE.match(text):
        check.error(
            "amount",
            _(
                "“%(value)s” is not an amount; write a positive number with at most 2 "
                "decimals, e.g. 1250000.50.",
                value=text,
            ),
        )
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern above already excludes this
        check.error("amount", _("“%(value)s” is not a number.", value=text))
        return None
    if amount >= Decimal(10) ** 16:
        check.error("amount", _("“%(value)s” is too large.", value=text))
        return None
    return amount


def _parties(check: _RowChecker, directory: OrgDirectory) -> list[PartyRef]:
    parties: list[PartyRef] = []
    for part in check.split("parties"):
        name, sep, role = part.rpartition("|")
        name, role = name.strip(), role.strip().lower()
        if not sep or not name:
            check.error(
                "parties", _("“%(value)s”: write each party as Organisation name|role.", value=part)
            )
            continue
        if role not in PARTY_ROLES:
            check.error(
                "parties",
                _(
                    "“%(role)s” is not a party role; use one of: %(allowed)s.",
                    role=role,
                    allowed=", ".join(PARTY_ROLES),
                ),
            )
            continue
        ref, problem = directory.resolve(name)
        if ref is None:
            check.error("parties", problem or "")
            continue
        ref = PartyRef(role, ref.org_id, ref.pending_key)
        if ref in parties:
            check.error("parties", _("“%(value)s” is listed twice.", value=part))
            continue
        parties.append(ref)
    return parties


def _agreement_differences(agreement: Agreement, values: dict[str, Any]) -> list[str]:
    changed = []
    for attr, new in values.items():
        if attr == "sdg_targets":
            current = sorted(t.target for t in agreement.sdg_targets)
        elif attr == "countries":
            current = sorted(c.code for c in agreement.countries)
        elif attr == "regions":
            current = sorted(r.code for r in agreement.regions)
        elif attr == "parties":
            current = {(p.organization_id, p.role) for p in agreement.parties}
            new = {(p.org_id, p.role) for p in new}  # a same-run organisation never matches
        elif attr == "summary":
            current = agreement.summary or ""
        else:
            current = getattr(agreement, attr)
        if current != new:
            changed.append(attr)
    return changed
