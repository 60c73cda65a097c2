"""Who may run bulk imports: staff only (DESIGN §2). CLI commands run as the operator."""

from __future__ import annotations


def can_import(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_staff)
