"""Stopping and starting programs of the native stack, always undone after the scenario."""

from __future__ import annotations

import time
from collections.abc import Callable

from taskhub_stack.native import NativeStack

POLL_SECONDS = 0.2


class Chaos:
    """Stops programs for a scenario; `restore()` starts whatever is still stopped."""

    def __init__(self, stack: NativeStack) -> None:
        self.stack = stack
        self.stopped: list[str] = []

    def stop(self, program: str) -> None:
        self.stack.stop(program)
        if program not in self.stopped:
            self.stopped.append(program)

    def start(self, program: str) -> None:
        self.stack.start(program)
        if program in self.stopped:
            self.stopped.remove(program)

    def restore(self) -> None:
        # In stop order: what a scenario stops first is usually what the others depend on.
        for program in list(self.stopped):
            self.start(program)


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll `condition` until it holds or `seconds` pass; whether it held."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL_SECONDS)
    return condition()
