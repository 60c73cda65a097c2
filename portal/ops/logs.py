"""A request id on every request and log line; JSON logs when ``PORTAL_LOG_FORMAT=json``.

The id comes from the reverse proxy's ``X-Request-ID`` header when it sends a sensible one
(nginx: ``proxy_set_header X-Request-ID $request_id``), so one id follows a request from the
proxy's access log to the portal's; otherwise the portal makes one. Either way it is returned
in the response's ``X-Request-ID`` header, for a user reporting a problem to quote.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler

REQUEST_ID_HEADER = "X-Request-ID"
# Anything else (too long, spaces, control characters) is replaced, never logged as sent.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")
_ACCESS = logging.getLogger("portal.request")
# Fields a log call may add with ``extra=``; they become keys of the JSON object.
_EXTRA_FIELDS = ("method", "path", "endpoint", "status", "duration_ms", "remote_addr")


def current_request_id() -> str | None:
    if has_request_context():
        return g.get("request_id")
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id, and the
    exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            data["request_id"] = request_id
        for name in _EXTRA_FIELDS:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class _JsonHandler(logging.StreamHandler):
    """Marks the handler we installed, so a second app in the process does not add another."""


def init_logging(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.after_request(_return_request_id)
    if (app.config.get("LOG_FORMAT") or "text").lower() != "json":
        return
    root = logging.getLogger()
    if not any(isinstance(h, _JsonHandler) for h in root.handlers):
        handler = _JsonHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL") or "INFO")
    app.logger.removeHandler(default_handler)  # the root handler writes Flask's lines too
    app.config["LOG_REQUESTS"] = True


def _assign_request_id() -> None:
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if _VALID_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _return_request_id(response):
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    from flask import current_app

    if current_app.config.get("LOG_REQUESTS"):
        started = g.get("request_started")
        duration = (time.perf_counter() - started) * 1000 if started else None
        _ACCESS.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "endpoint": request.endpoint,
                "status": response.status_code,
                "duration_ms": round(duration, 2) if duration is not None else None,
                "remote_addr": request.remote_addr,
            },
        )
    return response
