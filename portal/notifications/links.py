"""Absolute links for e-mails: always on PORTAL_BASE_URL, never on the request's host (which
may be an internal name behind a proxy), and buildable from CLI commands and workers too."""

from __future__ import annotations

from flask import current_app, has_request_context, url_for


def absolute_url(endpoint: str, **values) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    if has_request_context():
        return base + url_for(endpoint, **values)
    # Workers and CLI commands have no request: build the path from the URL map directly.
    adapter = current_app.url_map.bind("localhost", script_name="/")
    return base + adapter.build(endpoint, values)
