"""Renders the stack's config templates (`${NAME}` placeholders) from one set of values."""

from __future__ import annotations

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


def render_file(template: Path, target: Path, values: Mapping[str, str]) -> Path:
    """Render `template` into `target` (parents created) and return `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_text(template.read_text(), values))
    return target
