"""Alertmanager's config, and alert windows scaled down for tests (docs/observability.md).

`TASKHUB_ALERT_TIME_SCALE=N` divides every range and `for:` of the SLO and alert rules
by N (never below `MIN_SCALED_SECONDS`: three scrapes at the native 5 s, so that a rate()
over the window always has two samples) and shortens Alertmanager's grouping waits, so
that an outage of seconds fires the alerts a real one fires after minutes or hours. The
committed rules, and their promtool tests, keep the real windows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from taskhub_stack.ports import StackPorts
from taskhub_stack.render import render_file, render_text

TEMPLATE = Path("infra/alertmanager/alertmanager.yml.template")
TIME_SCALE_VARIABLE = "TASKHUB_ALERT_TIME_SCALE"
WEBHOOK_URL_VARIABLE = "TASKHUB_ALERT_WEBHOOK_URL"
# Where the alert scenario's receiver listens natively (TASKHUB_ALERT_RECEIVER_PORT).
RECEIVER_PATH = "/alerts"
MIN_SCALED_SECONDS = 15
# Grouping as the Alertmanager documentation suggests, and as tests need it.
REAL_TIMINGS = {"GROUP_WAIT": "30s", "GROUP_INTERVAL": "5m", "REPEAT_INTERVAL": "4h"}
SCALED_TIMINGS = {"GROUP_WAIT": "1s", "GROUP_INTERVAL": "2s", "REPEAT_INTERVAL": "1h"}

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A Prometheus duration as the rules write them: one number and unit (`5m`, `1h`, `3d`).
_DURATION = r"(\d+)([smhd])"
_RANGE = re.compile(r"\[" + _DURATION + r"(:\d+[smhd])?\]")
_FOR = re.compile(r"^(\s*for:\s*)" + _DURATION + r"\s*$", re.MULTILINE)


class InvalidTimeScale(ValueError):
    """TASKHUB_ALERT_TIME_SCALE is not a whole number of at least 1."""


def time_scale(environ: Mapping[str, str]) -> int:
    raw = environ.get(TIME_SCALE_VARIABLE, "").strip() or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidTimeScale(f"{TIME_SCALE_VARIABLE} must be a whole number >= 1, not {raw!r}")
    return int(raw)


def scale_duration(amount: int, unit: str, scale: int) -> str:
    """`amount unit` divided by `scale`, in whole seconds, never below MIN_SCALED_SECONDS."""
    seconds = amount * _UNIT_SECONDS[unit]
    return f"{max(MIN_SCALED_SECONDS, seconds // scale)}s"


def scale_rules(text: str, scale: int) -> str:
    """The rules file `text` with every range selector and `for:` divided by `scale`."""
    if scale == 1:
        return text

    def scaled_range(match: re.Match[str]) -> str:
        step = match.group(3) or ""
        return f"[{scale_duration(int(match.group(1)), match.group(2), scale)}{step}]"

    def scaled_for(match: re.Match[str]) -> str:
        return match.group(1) + scale_duration(int(match.group(2)), match.group(3), scale)

    return _FOR.sub(scaled_for, _RANGE.sub(scaled_range, text))


def webhook_url(ports: StackPorts, environ: Mapping[str, str]) -> str:
    """TASKHUB_ALERT_WEBHOOK_URL, else the local receiver of the alert scenario."""
    default = f"http://127.0.0.1:{ports.alert_receiver}{RECEIVER_PATH}"
    return environ.get(WEBHOOK_URL_VARIABLE, "").strip() or default


def native_values(ports: StackPorts, environ: Mapping[str, str]) -> dict[str, str]:
    timings = SCALED_TIMINGS if time_scale(environ) > 1 else REAL_TIMINGS
    return {"WEBHOOK_URL": webhook_url(ports, environ), **timings}


def render_native(root: Path, ports: StackPorts, environ: Mapping[str, str]) -> str:
    return render_text((root / TEMPLATE).read_text(), native_values(ports, environ))


def write_native(root: Path, ports: StackPorts, target: Path, environ: Mapping[str, str]) -> Path:
    return render_file(root / TEMPLATE, target, native_values(ports, environ))
