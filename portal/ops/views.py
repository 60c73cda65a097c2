"""``/healthz`` (the process answers), ``/readyz`` (it can serve: database, search engine,
Redis) and ``/metrics`` (Prometheus). JSON, no login, no secrets, never cached."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from portal.ops.checks import run_checks
from portal.ops.metrics import metrics_allowed, render_metrics

bp = Blueprint("ops", __name__)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/healthz")
def healthz():
    # Touches nothing: a database outage must not make the supervisor restart healthy nodes.
    return _no_store(jsonify({"status": "ok"}))


@bp.route("/readyz")
def readyz():
    checks = run_checks(current_app._get_current_object())
    ready = all(result == "ok" for result in checks.values())
    response = jsonify({"status": "ready" if ready else "not ready", "checks": checks})
    response.status_code = 200 if ready else 503
    return _no_store(response)


@bp.route("/metrics")
def metrics():
    if not metrics_allowed():
        return _no_store(Response("forbidden\n", status=403, mimetype="text/plain"))
    body, content_type = render_metrics()
    return _no_store(Response(body, content_type=content_type))
