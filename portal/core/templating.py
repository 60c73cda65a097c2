"""Template globals and filters shared by every page.

Core's own helpers are installed by ``init_templating``; a domain adds its vocabularies and
filters with ``register_template_globals`` / ``register_template_filter`` when it is imported
(e.g. ``portal.partners.template_helpers``), and ``init_templating`` installs those too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
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


_DOMAIN_GLOBALS: dict[str, Any] = {}
_DOMAIN_FILTERS: dict[str, Callable] = {}


def register_template_globals(**values: Any) -> None:
    """Names every template can use (a domain's vocabularies: ``ORG_TYPES``, ``PARTY_ROLES``)."""
    for name, value in values.items():
        existing = _DOMAIN_GLOBALS.get(name, value)
        if existing is not value and existing != value:
            raise ValueError(f"template global {name!r} is already registered")
        _DOMAIN_GLOBALS[name] = value


def register_template_filter(name: str, fn: Callable) -> None:
    """A filter every template can use (``{{ code|place }}``)."""
    _DOMAIN_FILTERS[name] = fn


def init_templating(app: Flask) -> None:
    app.jinja_env.globals.update(
        url_with=url_with,
        page_error=page_error,
        code=code,
        format_when=format_when,  # a moment in a zone, in the reader's language
        page_errors=page_errors,
        get_locale=get_locale,  # <html lang> and dir="rtl" for Arabic
    )
    app.jinja_env.globals.update(_DOMAIN_GLOBALS)
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["nice_date"] = nice_date
    app.jinja_env.filters["nl2br"] = lambda s: Markup("<br>").join((s or "").splitlines())
    app.jinja_env.filters.update(_DOMAIN_FILTERS)
