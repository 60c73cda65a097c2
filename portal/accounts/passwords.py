"""Password policy after NIST SP 800-63B: a minimum length, no composition rules, and a check
against passwords attackers try first.

The check is zxcvbn's: its dictionaries hold the 30,000 most common passwords, common names
and words, and it recognises repeats (``aaaaaaaaaaaa``), sequences, keyboard walks, dates and
the person's own name and address. A password it scores below ``MIN_SCORE`` ("safely
unguessable" with a slow hash) is refused with one translated message; zxcvbn's own English
hints are not shown.
"""

from __future__ import annotations

from flask_babel import gettext as _
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 200
MIN_SCORE = 3
# zxcvbn refuses longer input; the first 72 characters decide whether a password is guessable.
_ZXCVBN_MAX = 72
# Words specific to this site, which an attacker would try first.
SITE_WORDS = ["partnership", "partnerships", "portal", "stakeholder", "habitat", "un-habitat"]


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """A message for the person if ``password`` may not be used, else None."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        return _("Use at least %(n)s characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("Use at most %(n)s characters.", n=MAX_LENGTH)
    personal = [w for w in [email, *email.replace("@", " ").replace(".", " ").split()] if w]
    personal += [w for w in (name or "").split() if len(w) > 2]
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[*personal, *SITE_WORDS])
    if result["score"] < MIN_SCORE:
        return _(
            "This password is too easy to guess: it is a common password, a simple pattern "
            "or contains your name or address. Try three or four unrelated words."
        )
    return None
