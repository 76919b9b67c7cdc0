"""The log lines of every service that mention a failing scenario's request ids."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

MAX_LINES_PER_FILE = 40
MAX_LINE_CHARS = 2000


def matching_log_lines(
    log_dir: Path, request_ids: Iterable[str], *, limit: int = MAX_LINES_PER_FILE
) -> dict[str, list[str]]:
    """Log file name -> the lines naming one of `request_ids` (the last `limit` of them)."""
    ids = sorted(set(request_ids))
    if not ids or not log_dir.is_dir():
        return {}
    pattern = re.compile("|".join(re.escape(request_id) for request_id in ids))
    found: dict[str, list[str]] = {}
    for path in sorted(log_dir.glob("*.log")):
        lines = _grep(path, pattern)
        if lines:
            found[path.name] = lines[-limit:]
    return found


def _grep(path: Path, pattern: re.Pattern[str]) -> list[str]:
    try:
        with path.open(encoding="utf-8", errors="replace") as file:
            return [line.rstrip("\n")[:MAX_LINE_CHARS] for line in file if pattern.search(line)]
    except OSError:
        return []  # a log rotated away or unreadable must not hide the real failure
