"""One transaction boundary: the request (or the CLI command, or the worker job) commits once.

Views, services, model helpers and loaders never call ``commit()``. A service changes objects
and ``flush()``-es (to get ids and run constraints); the boundary decides:

* **POST/PUT/PATCH/DELETE** — the response is 2xx or 3xx and no use case was refused: commit,
  once, after the view returned (so the mail and search hooks that run *after commit* see the
  whole change). A 4xx/5xx answer, or a refused use case (``attempt`` below), rolls back.
* **GET/HEAD/OPTIONS** change nothing. A GET that tried to write is rolled back and is a
  bug: under ``TESTING`` (``PORTAL_STRICT_SAFE_METHODS``) it raises, so the suite finds it;
  in production it is logged.

``attempt`` is the single place where a refused use case becomes form errors::

    outcome = attempt(services.create_group, current_user, data, form=form)
    if outcome:
        return redirect(url_for(".group", group_id=outcome.value.id))
    return render_template("...", form=form, form_errors=outcome.errors), 422

``PermissionDenied`` is not caught there: the app-wide handler answers 403 (JSON under
``/api/``), and an uncaught ``ValidationError`` answers 400 with its messages
(``portal.core.errors``). CLI commands use ``committing()``; worker steps commit per claimed
batch inside the job queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request
from flask_sqlalchemy.session import Session as FlaskSqlaSession
from sqlalchemy import event

from portal.core.services import ValidationError
from portal.extensions import db

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REFUSED = "portal.transaction_refused"
_WROTE = "portal.transaction_wrote"


class WriteOnSafeMethod(RuntimeError):
    """A GET (or HEAD/OPTIONS) handler changed the database."""


@dataclass
class Outcome:
    """What ``attempt`` returns: truthy when the use case ran."""

    ok: bool
    value: Any = None
    errors: list[str] = field(default_factory=list)  # messages that belong to no form field
    field_errors: dict[str, str] = field(default_factory=dict)  # every message, by field

    def __bool__(self) -> bool:
        return self.ok


def refuse() -> None:
    """Mark the request's change as refused: roll back now, and never commit it."""
    db.session.rollback()
    if has_request_context():
        g.setdefault(_REFUSED, True)
        setattr(g, _REFUSED, True)


def attempt(action: Callable[..., Any], *args: Any, form=None, **kwargs: Any) -> Outcome:
    """Run a use case; on ``ValidationError`` roll back and put its errors on ``form``.

    Messages for a field the form has are appended to that field's errors (shown beside it and
    in the error summary); the others are returned in ``Outcome.errors`` for the top of the
    form. ``PermissionDenied`` and every other error propagate.
    """
    try:
        value = action(*args, **kwargs)
    except ValidationError as err:
        refuse()
        leftover = apply_errors(form, err.errors) if form is not None else list(err.errors.values())
        return Outcome(False, errors=leftover, field_errors=dict(err.errors))
    return Outcome(True, value=value)


def apply_errors(form, errors: dict[str, str]) -> list[str]:
    """Attach service errors to the matching form fields; return those that match no field."""
    from portal.core.services import FORM_ERROR

    leftover: list[str] = []
    for name, message in errors.items():
        target = getattr(form, name, None) if name != FORM_ERROR else None
        if (
            target is not None
            and hasattr(target, "errors")
            and getattr(target, "type", None) not in ("FieldList", "FormField")
        ):
            target.errors = [*target.errors, message]
        else:
            leftover.append(message)
    return leftover


@contextmanager
def committing() -> Iterator[None]:
    """For CLI commands and worker jobs: commit once at the end, roll back on any error."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def _note_write(session, flush_context) -> None:
    if has_request_context() and request.method in SAFE_METHODS:
        setattr(g, _WROTE, True)


def _has_pending_changes() -> bool:
    session = db.session
    return bool(
        session.new or session.deleted or any(session.is_modified(o) for o in session.dirty)
    )


def init_transactions(app: Flask) -> None:
    """Install the boundary. Call last in ``create_app``: Flask runs ``after_request``
    functions in reverse order, so the commit happens before every other after-request hook
    (the mail sender reads what the commit handed it)."""
    if not getattr(init_transactions, "_listening", False):
        event.listen(FlaskSqlaSession, "after_flush", _note_write)
        init_transactions._listening = True  # type: ignore[attr-defined]
    app.config.setdefault("PORTAL_STRICT_SAFE_METHODS", bool(app.config.get("TESTING")))

    def _begin_transaction() -> None:
        # The flags live on ``g``, which belongs to the app context: a context shared by
        # several requests (tests, or a CLI run whose mail pushed a request context) must not
        # hand one request's "wrote"/"refused" to the next.
        g.pop(_WROTE, None)
        g.pop(_REFUSED, None)

    app.before_request_funcs.setdefault(None, []).insert(0, _begin_transaction)

    @app.after_request
    def _end_transaction(response: Response) -> Response:
        if request.method in SAFE_METHODS:
            # Nothing to end: the app context's teardown closes the session. Not rolled back
            # here, because a streamed export still reads the objects it loaded.
            if g.pop(_WROTE, False) or _has_pending_changes():
                db.session.rollback()
                message = f"{request.method} {request.path} tried to change the database"
                if current_app.config.get("PORTAL_STRICT_SAFE_METHODS"):
                    raise WriteOnSafeMethod(message)
                log.warning("%s; rolled back", message)
            return response
        refused = g.pop(_REFUSED, False)  # always cleared: g may outlive the request (tests)
        if response.status_code < 400 and not refused:
            db.session.commit()
        else:
            db.session.rollback()
        return response
