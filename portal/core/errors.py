"""Error pages and JSON errors. No stack trace ever reaches a user; a 500 is logged in full."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from portal.core.security import plain_query_args
from portal.core.services import PermissionDenied, ValidationError
from portal.extensions import db


def wants_json() -> bool:
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        401: _("Log in, or send a valid API token (Authorization: Bearer …)."),
        403: _("You do not have permission to see this page."),
        404: _("We could not find that page."),
        405: _("That method is not allowed here."),
        413: _("The file is too large."),
        429: _("Too many attempts. Please wait a moment and try again."),
        500: _("Something went wrong on our side. The team has been notified."),
    }


def render_error(code: int, message: str | None = None, headers=None):
    message = message or _messages().get(code) or _("Error")
    if wants_json():
        response = jsonify({"error": {"code": code, "message": message}})
        if code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    else:
        response = render_template("errors/error.html", code=code, message=message)
    return response, code, headers or {}


def _matches_for(methods) -> bool:
    """Whether the request's URL matches a route for one of ``methods``, converters included."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in methods:
        try:
            adapter.match(request.path, method=method)
            return True
        except HTTPException:
            continue
    return False


def init_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(err):
        return render_error(
            400, _("Your form expired or was sent from elsewhere. Please try again.")
        )

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if err.code is None or err.code < 400:
            return err
        if err.code == 413:
            api = wants_json()  # a JSON client gets a JSON 413, not a redirect to a form
            if (
                request.method == "POST"
                and not api
                and request.endpoint
                and request.url_rule is not None
            ):
                # Back to the form, which shows the error beside its file field with the
                # form's own limit (templates/macros/ui.html, `too_large`). Every form's
                # limit is below the request cap, so this only happens for huge files.
                # Only plain query arguments: not url_for's options (_external, _scheme …),
                # not a second value for a route variable (a TypeError, so a 500).
                args = {**plain_query_args(*(request.view_args or {})), "too_large": "1"}
                target = url_for(request.endpoint, **(request.view_args or {}), **args)
                return redirect(target, 303)
            return render_error(413, _("The file is too large."))
        description = err.description if err.code in (400, 409, 422) and err.description else None
        # Werkzeug's default descriptions are English boilerplate; ours are translatable.
        if description and description == type(err).description:
            description = None
        allow = None
        if isinstance(err, MethodNotAllowed) and err.valid_methods:
            if not _matches_for(err.valid_methods):
                # Werkzeug answers 405 when another method's rule has the same shape even if
                # the value is refused by its converter (an id past the INTEGER range): there
                # is no such resource for any method.
                return render_error(404)
            # 405 says which methods the URL does have (RFC 9110 §15.5.6).
            allow = {"Allow": ", ".join(sorted(err.valid_methods))}
        return render_error(err.code, description, allow)

    @app.errorhandler(PermissionDenied)
    def _denied(err: PermissionDenied):
        # A use case refused the actor: the same answer as a guard's 403, nothing kept.
        db.session.rollback()
        return render_error(403)

    @app.errorhandler(ValidationError)
    def _invalid(err: ValidationError):
        # A use case refused its input and no view turned it into form errors (``attempt``
        # does that): a 400 that says why, never a 500; nothing is kept.
        db.session.rollback()
        return render_error(400, "; ".join(err.errors.values()) or None)

    @app.errorhandler(DataError)
    def _bad_value(err: DataError):
        # A value the database cannot hold (a 12-digit id, a page number past bigint) got as
        # far as a query: that is bad input, not a server fault. Routes and forms should stop
        # such values earlier; this is the net under them.
        db.session.rollback()
        app.logger.warning("Value out of range on %s %s: %s", request.method, request.path, err)
        return render_error(400, _("A value in the request is out of range."))

    @app.errorhandler(Exception)
    def _unhandled(err: Exception):
        db.session.rollback()
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return render_error(InternalServerError.code)
