"""Renders the stack's config templates (`${NAME}` placeholders) from one set of values."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

# Only upper-case names are placeholders, so nginx's own `$host`-style variables and
# Prometheus' `${1}` relabel references pass through untouched.
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


class MissingTemplateValue(KeyError):
    """A template names a placeholder that no value was given for."""


def render_text(template: str, values: Mapping[str, str]) -> str:
    """Replace every `${NAME}` in `template`; a name without a value is an error."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise MissingTemplateValue(name)
        return values[name]

    return _PLACEHOLDER.sub(substitute, template)


def render_file(
    template: Path, target: Path, values: Mapping[str, str], *, mode: int = 0o600
) -> Path:
    """Render `template` into `target` (parents created) and return `target`.

    Owner-only by default: a rendered config may hold passwords and tokens, and it is
    never readable, not even for a moment, by anyone else. Pass `mode` for a file that
    is meant to be shared (a committed one).
    """
    return write_private(target, render_text(template.read_text(), values), mode=mode)


def write_private(target: Path, text: str, *, mode: int = 0o600) -> Path:
    """Write `text` to `target` (parents created) with `mode` from the first byte on."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    # os.open's mode applies only to a new file (and is masked by the umask).
    os.chmod(target, mode)
    return target
