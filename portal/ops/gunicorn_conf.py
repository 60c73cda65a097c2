"""Gunicorn settings for a portal web node: ``gunicorn -c python:portal.ops.gunicorn_conf
'portal:create_app()'`` (docs/deployment.md). Environment knobs:

- ``PORTAL_BIND`` (127.0.0.1:8000), ``PORTAL_WEB_WORKERS`` (2 × CPUs + 1),
  ``PORTAL_WEB_TIMEOUT`` (60)
- ``PROMETHEUS_MULTIPROC_DIR``: a directory only this gunicorn uses; emptied at start so the
  metrics of a previous run's workers are not added to this one's.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PORTAL_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
timeout = int(os.environ.get("PORTAL_WEB_TIMEOUT", "60"))
graceful_timeout = 30  # SIGTERM: requests in flight finish, then the worker exits
accesslog = None  # the portal logs each request itself (PORTAL_LOG_FORMAT=json) with its id
errorlog = "-"


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
