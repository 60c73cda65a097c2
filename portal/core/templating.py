"""Template globals and filters shared by every page."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode

from flask import Flask, g, request
from flask_babel import format_decimal, get_locale
from markupsafe import Markup

from portal.core.dates import format_day, format_when


def url_with(**changes) -> str:
    """The current URL with some query arguments changed (None removes one); page resets."""
    args = request.args.to_dict(flat=False)
    if "page" not in changes:
        args.pop("page", None)
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    query = urlencode(args, doseq=True)
    return f"{request.path}?{query}" if query else request.path


def money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None:
        return "—"
    return f"{format_decimal(amount, format='#,##0')} {currency or ''}".strip()


def nice_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    return format_day(value)


def code(text: str) -> Markup:
    """Literal text a person types (a header, a command) inside a translated sentence."""
    return Markup("<code>%s</code>") % text


def page_error(field_id: str | None, label, message) -> str:
    """Record an error shown on this page, for base.html's error summary and "Error:" title.

    Called from the field and error_list macros while the page content renders (base.html
    renders the content before the <title>); returns "" so it can sit inline in a template."""
    errors = g.setdefault("page_errors", [])
    entry = {"field_id": field_id, "label": str(label) if label else "", "message": str(message)}
    if entry not in errors:
        errors.append(entry)
    return ""


def page_errors() -> list[dict]:
    return g.get("page_errors", [])


def init_templating(app: Flask) -> None:
    from portal.agreements.models import (
        AGREEMENT_STATUSES,
        AGREEMENT_TYPES,
        DOMAINS_OF_CHANGE,
        PARTY_ROLES,
    )
    from portal.partners.models import ORG_TYPES, STAKEHOLDER_GROUPS

    app.jinja_env.globals.update(
        url_with=url_with,
        page_error=page_error,
        code=code,
        format_when=format_when,  # a moment in a zone, in the reader's language
        page_errors=page_errors,
        get_locale=get_locale,  # <html lang> and dir="rtl" for Arabic
        ORG_TYPES=ORG_TYPES,
        STAKEHOLDER_GROUPS=STAKEHOLDER_GROUPS,
        AGREEMENT_TYPES=AGREEMENT_TYPES,
        AGREEMENT_STATUSES=AGREEMENT_STATUSES,
        DOMAINS_OF_CHANGE=DOMAINS_OF_CHANGE,
        PARTY_ROLES=PARTY_ROLES,
    )
    from portal.partners.place_names import place_name

    app.jinja_env.filters["place"] = place_name  # country and region names, translated
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["nice_date"] = nice_date
    app.jinja_env.filters["nl2br"] = lambda s: Markup("<br>").join((s or "").splitlines())
