"""Running the portal as a service: health and readiness endpoints, Prometheus metrics,
structured (JSON) logs with a request id, and trusting a reverse proxy's client address.

``init_ops`` is one step of ``create_app``; docs/deployment.md shows how operators use it.
"""

from __future__ import annotations

from flask import Flask


def init_ops(app: Flask) -> None:
    from portal.ops.logs import init_logging
    from portal.ops.metrics import init_metrics
    from portal.ops.views import bp

    trusted = int(app.config.get("TRUSTED_PROXIES") or 0)
    if trusted > 0:
        # Behind nginx every request comes from the proxy's address: without this, the login
        # rate limit would count all users together and the audit log would name the proxy.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted)
    init_logging(app)  # first: every later before_request and log line has the request id
    init_metrics(app)
    app.register_blueprint(bp)
