"""One permission guard for views, the API and templates, fed by the domains' ``permissions.py``.

The rules live in each domain's ``permissions.py`` as plain predicates ``(user, *objects) ->
bool`` (and SQL filters for lists). A domain names the predicates views need with
``@permission("name")``; everything else asks by name, never by role:

* a view without an object: ``@require("staff")`` — anonymous visitors are sent to the login
  page (and back afterwards), signed-in users without the permission get 403;
* a view with an object, after loading it: ``ensure("manage_meeting", meeting)``;
* a template: ``{% if can("manage_meeting", meeting) %}``;
* Python: ``can("staff")`` (the current user) or ``can("staff", user=someone)``.

Core knows no domain: it only keeps the registry. An unknown name is a programming error and
raises ``KeyError`` at once, in views and templates alike.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, abort
from flask_login import current_user

Predicate = Callable[..., bool]
_REGISTRY: dict[str, Predicate] = {}


def permission(name: str) -> Callable[[Predicate], Predicate]:
    """Register ``fn(user, *objects) -> bool`` under ``name`` (the function is unchanged)."""

    def register(fn: Predicate) -> Predicate:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not fn and existing.__qualname__ != fn.__qualname__:
            raise ValueError(f"permission {name!r} is already defined by {existing.__module__}")
        _REGISTRY[name] = fn
        return fn

    return register


def registered() -> dict[str, Predicate]:
    return dict(_REGISTRY)


def can(name: str, *objects: Any, user: Any = None) -> bool:
    """Whether ``user`` (default: the current user) has permission ``name`` on ``objects``."""
    actor = current_user if user is None else user
    return bool(_REGISTRY[name](actor, *objects))


def ensure(name: str, *objects: Any) -> None:
    """Stop the request unless the current user has ``name``: login for anonymous, else 403."""
    if can(name, *objects):
        return
    if not getattr(current_user, "is_authenticated", False):
        from portal.extensions import login_manager

        abort(login_manager.unauthorized())
    abort(403)


def require(name: str) -> Callable:
    """Decorator for views whose permission needs no object (``staff``, ``signed_in`` …)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            ensure(name)
            return view(*args, **kwargs)

        wrapped.required_permission = name  # type: ignore[attr-defined]
        return wrapped

    return decorate


def init_guard(app: Flask) -> None:
    app.add_template_global(can, "can")
