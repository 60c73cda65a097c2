"""Who a review round goes to: resolving an audience into (user id, e-mail address) pairs, and
reading an uploaded list of addresses.

Resolution is one SELECT per audience (no per-row queries), so 8,000 reviewers cost the same
few statements as eight. Only active accounts are invited; an uploaded address without an
account is invited too (it gets an account when the person follows their link).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import or_, select

from portal.accounts.models import User
from portal.core.services import ValidationError
from portal.extensions import db
from portal.partners.models import (
    ORG_TYPES,
    STAKEHOLDER_GROUPS,
    Country,
    Organization,
    Region,
    organization_regions,
)
from portal.reviews.models import AudienceKind
from portal.reviews.permissions import partner_accounts_filter

MAX_EMAIL_LIST_BYTES = 2 * 1024 * 1024
MAX_EMAILS = 50_000


@dataclass
class EmailList:
    emails: list[str] = field(default_factory=list)
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line number, text)
    duplicates: int = 0


def normalise_email(raw: str) -> str | None:
    raw = (raw or "").strip().strip("<>\"'").strip()
    if not raw or "@" not in raw:
        return None
    try:
        info = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        return None
    return info.normalized.lower()


def parse_email_list(data: bytes | str) -> EmailList:
    """Addresses from a CSV or TXT upload: one per line (CSV: the first cell holding an "@";
    also "a@x.org; b@y.org" on one line). Blank lines and a header row are skipped."""
    if isinstance(data, bytes):
        if len(data) > MAX_EMAIL_LIST_BYTES:
            raise ValidationError({"emails_file": _("The address list is larger than 2 MB.")})
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError(
                {"emails_file": _("The address list is not UTF-8 text (save it as UTF-8 CSV).")}
            ) from None
    result = EmailList()
    seen: set[str] = set()
    dialect = csv.excel
    for lineno, row in enumerate(csv.reader(io.StringIO(data), dialect), start=1):
        cells = [c.strip() for c in row if c.strip()]
        if not cells:
            continue
        candidates = [p.strip() for c in cells for p in c.replace(",", ";").split(";") if "@" in p]
        if not candidates:
            if lineno == 1 or all(
                c.lower() in {"email", "e-mail", "name", "address"} for c in cells
            ):
                continue  # a header row
            result.invalid.append((lineno, ", ".join(cells)[:200]))
            continue
        for candidate in candidates:
            email = normalise_email(candidate)
            if email is None:
                result.invalid.append((lineno, candidate[:200]))
            elif email in seen:
                result.duplicates += 1
            else:
                seen.add(email)
                result.emails.append(email)
    if len(result.emails) > MAX_EMAILS:
        raise ValidationError(
            {"emails_file": _("At most %(n)s addresses per round.", n=f"{MAX_EMAILS:,}")}
        )
    return result


def region_and_descendants(codes: list[str]) -> set[str]:
    """M49 codes plus every region below them (Africa → Eastern Africa → …)."""
    children: dict[str, list[str]] = {}
    for code, parent in db.session.execute(select(Region.code, Region.parent_code)):
        children.setdefault(parent, []).append(code)
    found, stack = set(), list(codes)
    while stack:
        code = stack.pop()
        if code in found:
            continue
        found.add(code)
        stack.extend(children.get(code, []))
    return found


def validate_audience(kind: str, audience: dict) -> dict:
    """Check and normalise an audience's parameters; raise ValidationError."""
    from portal.consultations.models import AdvisoryGroup

    audience = dict(audience or {})
    if kind not in {k.value for k in AudienceKind}:
        raise ValidationError({"audience_kind": _("Choose who should review.")})
    if kind == AudienceKind.MIXED:
        parts = []
        for part in audience.get("parts") or []:
            part_kind = (part or {}).get("kind")
            if part_kind == AudienceKind.MIXED:
                raise ValidationError({"audience_kind": _("Choose who should review.")})
            parts.append(
                {"kind": part_kind, "audience": validate_audience(part_kind, part.get("audience"))}
            )
        if not parts:
            raise ValidationError({"audience_kind": _("Choose who should review.")})
        return {"parts": parts}
    if kind in (AudienceKind.ALL_PARTNERS, AudienceKind.PUBLIC):
        return {}
    if kind == AudienceKind.GROUPS:
        ids = sorted({int(i) for i in audience.get("group_ids") or []})
        if not ids:
            raise ValidationError({"group_ids": _("Choose at least one advisory group.")})
        existing = set(
            db.session.scalars(
                select(AdvisoryGroup.id).where(
                    AdvisoryGroup.id.in_(ids), AdvisoryGroup.archived_at.is_(None)
                )
            )
        )
        if existing != set(ids):
            raise ValidationError({"group_ids": _("Choose existing advisory groups.")})
        return {"group_ids": ids}
    if kind == AudienceKind.ORGANIZATIONS:
        regions = sorted({str(r).zfill(3) for r in audience.get("regions") or []})
        org_types = sorted(set(audience.get("org_types") or []))
        groups = sorted(set(audience.get("stakeholder_groups") or []))
        if not (regions or org_types or groups):
            raise ValidationError(
                {
                    "regions": _(
                        "Choose at least one region, organisation type or stakeholder group."
                    )
                }
            )
        if regions:
            known = set(db.session.scalars(select(Region.code).where(Region.code.in_(regions))))
            if known != set(regions):
                raise ValidationError({"regions": _("Choose regions from the list.")})
        if not set(org_types) <= set(ORG_TYPES):
            raise ValidationError({"org_types": _("Choose organisation types from the list.")})
        if not set(groups) <= set(STAKEHOLDER_GROUPS):
            raise ValidationError(
                {"stakeholder_groups": _("Choose stakeholder groups from the list.")}
            )
        return {"regions": regions, "org_types": org_types, "stakeholder_groups": groups}
    emails = []
    seen = set()
    for raw in audience.get("emails") or []:
        email = normalise_email(raw)
        if email and email not in seen:
            seen.add(email)
            emails.append(email)
    if not emails:
        raise ValidationError({"emails_file": _("Upload a list with at least one valid address.")})
    return {"emails": emails}


def is_public_audience(kind: str, audience: dict | None) -> bool:
    """Whether an audience includes "the public" (alone, or as a part of a mixed audience
    with invited reviewers): the round is then a public consultation."""
    if kind == AudienceKind.PUBLIC:
        return True
    if kind == AudienceKind.MIXED:
        return any(
            (part or {}).get("kind") == AudienceKind.PUBLIC
            for part in (audience or {}).get("parts") or []
        )
    return False


def resolve_audience(kind: str, audience: dict) -> list[tuple[int | None, str]]:
    """Every (user id or None, lower-cased e-mail) the round goes to, without duplicates,
    in a stable order (so a resumed job continues where it stopped)."""
    from portal.consultations.models import GroupMember

    active = User.active.is_(True)
    if kind == AudienceKind.MIXED:
        seen: set[str] = set()
        combined: list[tuple[int | None, str]] = []
        for part in audience.get("parts") or []:
            for uid, email in resolve_audience(part["kind"], part.get("audience") or {}):
                if email not in seen:
                    seen.add(email)
                    combined.append((uid, email))
        return combined
    if kind == AudienceKind.ALL_PARTNERS:
        stmt = select(User.id, User.email).where(active, partner_accounts_filter())
    elif kind == AudienceKind.GROUPS:
        stmt = select(User.id, User.email).where(
            active,
            User.id.in_(
                select(GroupMember.user_id).where(
                    GroupMember.group_id.in_(audience.get("group_ids") or []),
                    GroupMember.left_on.is_(None),  # former members are not asked
                )
            ),
        )
    elif kind == AudienceKind.ORGANIZATIONS:
        org_ids = select(Organization.id).where(Organization.archived_at.is_(None))
        if audience.get("regions"):
            codes = region_and_descendants(audience["regions"])
            org_ids = org_ids.where(
                or_(
                    Organization.id.in_(
                        select(organization_regions.c.organization_id).where(
                            organization_regions.c.region_code.in_(codes)
                        )
                    ),
                    Organization.country_code.in_(
                        select(Country.code).where(Country.region_code.in_(codes))
                    ),
                )
            )
        if audience.get("org_types"):
            org_ids = org_ids.where(Organization.org_type.in_(audience["org_types"]))
        if audience.get("stakeholder_groups"):
            org_ids = org_ids.where(
                Organization.stakeholder_group.in_(audience["stakeholder_groups"])
            )
        stmt = select(User.id, User.email).where(active, User.organization_id.in_(org_ids))
    elif kind == AudienceKind.EMAILS:
        emails = [e.lower() for e in audience.get("emails") or []]
        known: dict[str, tuple[int, bool]] = {}
        # Chunked IN lists: some databases cap the number of bound parameters.
        for start in range(0, len(emails), 900):
            chunk = emails[start : start + 900]
            for uid, email, is_active in db.session.execute(
                select(User.id, User.email, User.active).where(User.email.in_(chunk))
            ):
                known[email] = (uid, is_active)
        out = []
        for email in emails:
            if email in known:
                uid, is_active = known[email]
                if is_active:
                    out.append((uid, email))
            else:
                out.append((None, email))
        return out
    else:  # PUBLIC: nobody is invited; anyone with an account may comment
        return []
    rows = db.session.execute(stmt.order_by(User.id)).all()
    return [(uid, email.lower()) for uid, email in rows]


def combine_audiences(kind: str, audience: dict, more: list[dict]) -> tuple[str, dict]:
    """A round's audience with more parts added (reviewers added after opening): always a
    ``mixed`` audience whose first parts are the existing ones, so the invitation job, which
    resolves the whole audience in a stable order and skips those already invited, invites
    exactly the newcomers."""
    if kind == AudienceKind.MIXED:
        parts = list((audience or {}).get("parts") or [])
    else:
        parts = [{"kind": kind, "audience": dict(audience or {})}]
    return AudienceKind.MIXED.value, {"parts": parts + list(more)}
