"""Prometheus metrics at ``/metrics``.

- ``portal_http_request_duration_seconds`` (histogram; labels endpoint, method, status):
  measured in each web process. Under gunicorn's several worker processes, set
  ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before gunicorn starts
  (portal/ops/gunicorn_conf.py empties it): every worker then writes its figures there and
  ``/metrics``, whichever worker answers, adds them up.
- Queue and mail figures are read from the database at each scrape, so every node reports
  the same, cluster-wide numbers, whichever machine the workers run on:
  ``portal_queue_depth`` / ``portal_queue_oldest_age_seconds`` / ``portal_queue_failing`` /
  ``portal_queue_claimed`` / ``portal_queue_dead`` (label queue: every queue of the job queue,
  portal.core.queue — search_outbox, mail_outbox, review_jobs), ``portal_search_index_lag_seconds``
  (how long the oldest change not yet in the search index has waited),
  ``portal_mail_sent_total`` and ``portal_mail_send_failures_total`` (from the mail
  outbox's own sent times and attempt counts).

Access: with ``PORTAL_METRICS_TOKEN`` set, a scraper sends ``Authorization: Bearer <token>``;
without a token, only a direct request from the machine itself (loopback address and no
proxy header) is answered. Anything else gets 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from datetime import UTC, datetime

from flask import Flask, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

REQUEST_DURATION = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer a request, by endpoint (Flask endpoint name, not path), method and status.",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
_PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def init_metrics(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_observe)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response):
    started = g.get("metrics_started")
    if started is not None:
        endpoint = request.url_rule.endpoint if request.url_rule else "unmatched"
        REQUEST_DURATION.labels(endpoint, request.method, str(response.status_code)).observe(
            time.perf_counter() - started
        )
    return response


def metrics_allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        sent = request.headers.get("Authorization", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return True
    if any(name in request.headers for name in _PROXY_HEADERS):
        return False  # came through the reverse proxy: from the internet, as far as we know
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        process_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    database_registry = CollectorRegistry()
    database_registry.register(QueueCollector())
    return generate_latest(process_registry) + generate_latest(database_registry), (
        CONTENT_TYPE_LATEST
    )


def _age_seconds(oldest: datetime | None, now: datetime) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite returns naive UTC
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())


class QueueCollector:
    """Queue depth, age and mail counts, read from the database when scraped."""

    def collect(self):
        from portal.core.queue import registered_queues, stats
        from portal.extensions import db
        from portal.notifications.models import OutgoingMail

        now = datetime.now(UTC)
        session = db.session
        queues = {queue.name: stats(session, queue, now) for queue in registered_queues()}
        sent, attempts = session.execute(
            select(
                func.count(OutgoingMail.sent_at),
                func.coalesce(func.sum(OutgoingMail.attempts), 0),
            )
        ).one()
        session.rollback()  # read-only; end the transaction

        families = {
            "depth": GaugeMetricFamily(
                "portal_queue_depth",
                "Items waiting in each queue (not counting the dead letter).",
                labels=["queue"],
            ),
            "age": GaugeMetricFamily(
                "portal_queue_oldest_age_seconds",
                "Age of the oldest waiting item (0 when the queue is empty).",
                labels=["queue"],
            ),
            "failing": GaugeMetricFamily(
                "portal_queue_failing",
                "Waiting items that failed at least once (retried with backoff).",
                labels=["queue"],
            ),
            "claimed": GaugeMetricFamily(
                "portal_queue_claimed",
                "Items a worker holds right now (its lease has not run out).",
                labels=["queue"],
            ),
            "dead": GaugeMetricFamily(
                "portal_queue_dead",
                "Items given up after their queue's last retry (flask queue retry-dead).",
                labels=["queue"],
            ),
        }
        for name, s in queues.items():
            families["depth"].add_metric([name], s.depth)
            families["age"].add_metric([name], _age_seconds(s.oldest, now))
            families["failing"].add_metric([name], s.failing)
            families["claimed"].add_metric([name], s.claimed)
            families["dead"].add_metric([name], s.dead)
        yield from families.values()
        lag = GaugeMetricFamily(
            "portal_search_index_lag_seconds",
            "How long the oldest change not yet applied to the search index has waited.",
        )
        search = queues.get("search_outbox")
        lag.add_metric([], _age_seconds(search.oldest if search else None, now))
        yield lag
        yield CounterMetricFamily("portal_mail_sent", "E-mails sent (mail outbox).", value=sent)
        # Every attempt either sent the message or failed; a sent message had one good attempt.
        yield CounterMetricFamily(
            "portal_mail_send_failures",
            "Failed attempts to send an e-mail (each is retried later).",
            value=max(0, int(attempts) - int(sent)),
        )
