"""Who may see what, expressed as principals.

A viewer holds a set of principals; every searchable or listable thing carries the principals
that may see it. The same strings are used in SQL filters and inside search engines, so the
rules are written once (DESIGN §2).

Core knows the shape of the answer, not the domains: every viewer is ``public``, a signed-in
one also ``user:<id>``, and each domain adds what it grants with ``@principal_provider`` —
accounts add ``staff`` and ``org:<id>``, reviews add ``round:<id>`` for invited rounds,
consultations add ``group:<id>`` for advisory-group members.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

PUBLIC = "public"
STAFF = "staff"

PrincipalProvider = Callable[[Any], Iterable[str]]
_PROVIDERS: dict[str, PrincipalProvider] = {}


def org_principal(org_id: int) -> str:
    return f"org:{org_id}"


def principal_provider(name: str) -> Callable[[PrincipalProvider], PrincipalProvider]:
    """Register ``fn(user) -> principals`` (called for signed-in users only) under ``name``."""

    def register(fn: PrincipalProvider) -> PrincipalProvider:
        _PROVIDERS[name] = fn
        return fn

    return register


def principal_providers() -> dict[str, PrincipalProvider]:
    return dict(_PROVIDERS)


def viewer_principals(user) -> set[str]:
    principals = {PUBLIC}
    if user is None or not getattr(user, "is_authenticated", False):
        return principals
    principals.add(f"user:{user.id}")
    for provider in _PROVIDERS.values():
        principals.update(provider(user))
    return principals
