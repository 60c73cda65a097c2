"""Form helpers shared by every domain."""

from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice


def choice_list(pairs: Iterable) -> list[SelectChoice]:
    """``SelectChoice`` objects from ``(value, label)`` pairs (or choices already made).

    WTForms 3.3 deprecates tuple choices and 3.4 removes them; every select in the portal
    builds its choices through this one function.
    """
    return [c if isinstance(c, SelectChoice) else SelectChoice(*c) for c in pairs]


class ConfirmForm(FlaskForm):
    """An empty form: only the CSRF token, for POST buttons (archive, remove, reset …).

    The one copy every domain uses; a button that needs a value adds its own field."""
