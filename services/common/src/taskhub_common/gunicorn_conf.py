"""Gunicorn settings shared by every TaskHub service image.

Used as `gunicorn <svc>.main:app --config python:taskhub_common.gunicorn_conf`. Read from
the environment:

- `GUNICORN_BIND` (default `0.0.0.0:8000`), `WEB_CONCURRENCY` (workers, default 2),
  `GUNICORN_LOG_LEVEL` (default `info`), `TASKHUB_SERVICE_NAME` (the `service` field of
  gunicorn's own log lines; the images set it).
- `PROMETHEUS_MULTIPROC_DIR`: when set, the folder where the workers' metric samples are
  shared; it is emptied at start and a dead worker's live gauges are dropped.
- `FORWARDED_ALLOW_IPS` is read by gunicorn itself (which proxies may set X-Forwarded-*).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "uvicorn_worker.UvicornWorker"
# The gateway drops idle upstream connections after 4 s; a server keep-alive below that
# would close connections nginx is about to reuse (sporadic 502s). Gunicorn's default is 2 s.
keepalive = 5
timeout = 30
graceful_timeout = 20
# The heartbeat file is touched on every loop; an in-memory folder avoids disk stalls.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108
# The app logs one JSON line per request itself; a second access line would duplicate it.
accesslog = None
# No `gunicornc` runtime control in containers: nothing listens on a socket we do not use.
control_socket_disable = True
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

_SERVICE = os.environ.get("TASKHUB_SERVICE_NAME", "taskhub")

# gunicorn merges this into its defaults, so every key it defines is replaced wholesale:
# the master's own lines become the same JSON objects the app writes.
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "taskhub_common.logging.JsonFormatter", "service": _SERVICE},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"level": loglevel.upper(), "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": [], "propagate": True},
        "gunicorn.access": {"level": loglevel.upper(), "handlers": [], "propagate": True},
    },
}


def _multiproc_dir() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def on_starting(server: Any) -> None:
    """Start with an empty metrics folder: samples of a previous run would be summed in."""
    folder = _multiproc_dir()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    # Empty it rather than remove it: the folder may be a mount point (a tmpfs).
    for entry in folder.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """Drop the live gauges of a worker that exited (its counters stay summed in)."""
    if _multiproc_dir() is not None:
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
