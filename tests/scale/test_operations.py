"""What an operator relies on: /healthz and /readyz for the load balancer and the service
manager, /metrics for Prometheus (also under gunicorn's several processes), a request id on
every response and JSON log line."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from portal import create_app
from portal.core.models import utcnow
from portal.extensions import db
from portal.notifications.models import OutgoingMail
from portal.reviews.models import BackgroundJob
from portal.search.models import SearchOutbox

ROOT = Path(__file__).resolve().parents[2]


def samples(response) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from a Prometheus text response."""
    assert response.status_code == 200
    out = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def request_count(metrics, endpoint, status="200", method="GET") -> float:
    key = (
        "portal_http_request_duration_seconds_count",
        (("endpoint", endpoint), ("method", method), ("status", status)),
    )
    return metrics.get(key, 0.0)


# --- health and readiness ---------------------------------------------------------------------


def test_healthz_and_readyz_answer_when_everything_is_up(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"
    assert response.get_json()["checks"]["database"] == "ok"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_database_outage_fails_readiness_but_not_health_and_reveals_no_secret(app):
    broken = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://portal:s3cret-pw@127.0.0.1:1/nowhere",
        }
    )
    client = broken.test_client()
    assert client.get("/healthz").status_code == 200  # the process is fine: do not restart it
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    checks = response.get_json()["checks"]
    assert response.get_json()["status"] == "not ready"
    assert checks["database"] == "failed"
    assert "s3cret" not in body and "nowhere" not in body


def test_readiness_names_a_search_engine_or_redis_that_is_down(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "SEARCH_URL", "elasticsearch+http://user:pw@127.0.0.1:1")
    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", "redis://:s3cret@127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {
        "database": "ok",
        "storage": "ok",
        "search": "failed",
        "redis": "failed",
    }
    assert "s3cret" not in response.get_data(as_text=True)


def test_readiness_checks_the_real_redis(app, client, monkeypatch, redis_url):
    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", redis_url)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "storage": "ok", "redis": "ok"}


def test_readiness_checks_the_real_search_engine(app, client, monkeypatch):
    from tests.search.engines import ES_URL, require_elasticsearch

    require_elasticsearch()
    monkeypatch.setitem(app.config, "SEARCH_URL", f"elasticsearch+{ES_URL}")
    response = client.get("/readyz")
    assert response.get_json()["checks"] == {"database": "ok", "storage": "ok", "search": "ok"}
    assert response.status_code == 200


# --- metrics ----------------------------------------------------------------------------------


def test_request_latency_is_counted_by_endpoint_and_status(client):
    before = samples(client.get("/metrics"))
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no-such-page-at-all")
    after = samples(client.get("/metrics"))
    assert request_count(after, "ops.healthz") - request_count(before, "ops.healthz") == 2
    assert request_count(after, "unmatched", "404") - request_count(before, "unmatched", "404") == 1


def test_queue_depth_age_index_lag_and_mail_counts(client):
    hour_ago = utcnow() - timedelta(hours=1)
    db.session.execute(
        insert(SearchOutbox),
        [
            {"doc_id": "agreement:1", "created_at": hour_ago, "attempts": 2},
            {"doc_id": "agreement:2", "created_at": utcnow(), "attempts": 0},
        ],
    )
    common = {"subject": "s", "body_text": "b", "created_at": hour_ago}
    db.session.add_all(
        [
            OutgoingMail(to_address="a@example.org", attempts=0, **common),
            OutgoingMail(to_address="b@example.org", attempts=3, last_error="refused", **common),
            OutgoingMail(to_address="c@example.org", attempts=2, sent_at=utcnow(), **common),
            BackgroundJob(kind="review-invitations", status="queued", created_at=hour_ago),
            BackgroundJob(kind="review-invitations", status="done", created_at=hour_ago),
        ]
    )
    db.session.commit()
    m = samples(client.get("/metrics"))

    def gauge(name, queue=None):
        return m[(name, (("queue", queue),) if queue else ())]

    assert gauge("portal_queue_depth", "search_outbox") == 2
    assert gauge("portal_queue_failing", "search_outbox") == 1
    assert gauge("portal_queue_depth", "mail_outbox") == 2  # the sent one is not waiting
    assert gauge("portal_queue_failing", "mail_outbox") == 1
    assert gauge("portal_queue_depth", "review_jobs") == 1
    for queue in ("search_outbox", "mail_outbox", "review_jobs"):
        assert 3600 <= gauge("portal_queue_oldest_age_seconds", queue) < 3600 * 2
    assert 3600 <= gauge("portal_search_index_lag_seconds") < 3600 * 2
    assert gauge("portal_mail_sent_total") == 1
    # 3 failed tries of b, and c needed 2 tries to be sent: 1 failure.
    assert gauge("portal_mail_send_failures_total") == 4


def test_empty_queues_report_zero_age(client):
    m = samples(client.get("/metrics"))
    assert m[("portal_queue_oldest_age_seconds", (("queue", "search_outbox"),))] == 0
    assert m[("portal_search_index_lag_seconds", ())] == 0


def test_metrics_only_for_loopback_or_the_bearer_token(app, client, monkeypatch):
    remote = {"REMOTE_ADDR": "198.51.100.20"}
    assert client.get("/metrics", environ_base=remote).status_code == 403
    # Loopback, but through the reverse proxy: that is the internet.
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.20"})
    assert proxied.status_code == 403
    assert b"portal_" not in proxied.data
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-token-123")
    good = {"Authorization": "Bearer scrape-token-123"}
    assert client.get("/metrics", environ_base=remote, headers=good).status_code == 200
    bad = {"Authorization": "Bearer scrape-token-124"}
    assert client.get("/metrics", environ_base=remote, headers=bad).status_code == 403


def test_metrics_add_up_across_gunicorn_worker_processes(tmp_path):
    """Two processes (as two gunicorn workers) record into PROMETHEUS_MULTIPROC_DIR; /metrics
    served by the second reports both."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    (tmp_path / "prom").mkdir()
    script = """
import sys
from portal import create_app
app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sys.argv[1]})
from portal.extensions import db
with app.app_context():
    db.create_all()
client = app.test_client()
for _ in range(int(sys.argv[2])):
    assert client.get("/healthz").status_code == 200
if sys.argv[3] == "scrape":
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
"""
    db_url = f"sqlite:///{tmp_path / 'workers.db'}"
    outputs = []
    for count, action in ((3, "-"), (2, "scrape")):
        done = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", script, db_url, str(count), action],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        outputs.append(done.stdout)
    families = text_string_to_metric_families(outputs[1])
    counts = {
        tuple(sorted(s.labels.items())): s.value
        for f in families
        for s in f.samples
        if s.name == "portal_http_request_duration_seconds_count"
    }
    assert counts[(("endpoint", "ops.healthz"), ("method", "GET"), ("status", "200"))] == 5
    assert len(list((tmp_path / "prom").glob("histogram_*.db"))) == 2  # one file per process


# --- request id and JSON logs -----------------------------------------------------------------


def test_request_id_is_kept_from_the_proxy_or_made_up(client):
    assert client.get("/healthz", headers={"X-Request-ID": "nginx-4f2a"}).headers[
        "X-Request-ID"
    ] == ("nginx-4f2a")
    made = client.get("/").headers["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/").headers["X-Request-ID"]
    # A header that could forge log lines is replaced, never echoed.
    forged = client.get("/healthz", headers={"X-Request-ID": 'x", "level": "ERROR'})
    assert "level" not in forged.headers["X-Request-ID"]
    assert len(forged.headers["X-Request-ID"]) == 32


@pytest.fixture
def json_logs(app):
    json_app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "LOG_FORMAT": "json",
        }
    )
    root = logging.getLogger()
    [handler] = [h for h in root.handlers if type(h).__name__ == "_JsonHandler"]
    buffer = io.StringIO()
    handler.setStream(buffer)
    yield json_app, buffer
    root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def test_json_logs_carry_the_request_id(json_logs):
    json_app, buffer = json_logs

    @json_app.route("/_test_log")
    def _log():
        json_app.logger.warning("Something worth knowing")
        return "logged"

    client = json_app.test_client()
    client.get("/_test_log", headers={"X-Request-ID": "req-77"})
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    warning = next(line for line in lines if line["message"] == "Something worth knowing")
    assert warning["level"] == "WARNING"
    assert warning["request_id"] == "req-77"
    access = next(line for line in lines if line["logger"] == "portal.request")
    assert access["request_id"] == "req-77"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/_test_log", 200)
    assert access["duration_ms"] >= 0
