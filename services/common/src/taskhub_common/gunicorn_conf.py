"""Gunicorn settings shared by every TaskHub service image.

Used as `gunicorn <svc>.main:app --config python:taskhub_common.gunicorn_conf`, or without
the app argument where `TASKHUB_APP` names it (the image sets it). Read from the environment:

- `GUNICORN_BIND` (default `0.0.0.0:8000`), `WEB_CONCURRENCY` (workers, default 2),
  `GUNICORN_LOG_LEVEL` (default `info`), `TASKHUB_SERVICE_NAME` (the `service` field of
  gunicorn's own log lines; the images set it).
- `PROMETHEUS_MULTIPROC_DIR`: when set, the folder where the workers' metric samples are
  shared; it is emptied at start and a dead worker's live gauges are dropped.
- `FORWARDED_ALLOW_IPS` is read by gunicorn itself (which proxies may set X-Forwarded-*).

Workers die with their master (`post_fork`), so a crashed master never leaves them holding
the port.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess

# One image recipe serves every service: the image names its app here; a command line's
# app argument wins over it.
wsgi_app = os.environ.get("TASKHUB_APP") or None
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


# prctl(2) option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent (the master) dies.

    Uvicorn workers do not watch their master: after a SIGKILL of the master they kept the
    port and went on serving, and the restarted master could not bind. A dead master is a
    crash already; its workers' in-flight requests end with it (the gateway retries the
    idempotent ones), and the outbox relay's claims are transactional.
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def post_fork(server: Any, worker: Any) -> None:
    """In each new worker: exit with the master, also if it died during this fork."""
    _die_with_parent()
    if os.getppid() != server.pid:
        os._exit(1)


def child_exit(server: Any, worker: Any) -> None:
    """Drop the live gauges of a worker that exited (its counters stay summed in)."""
    if _multiproc_dir() is not None:
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
