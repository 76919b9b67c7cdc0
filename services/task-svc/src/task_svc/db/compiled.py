"""Statements compiled once for asyncpg, for the hot paths that run below the ORM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ClauseElement
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql.compiler import SQLCompiler

_ASYNCPG = asyncpg_dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    """A statement as asyncpg runs it: `$n` text, the bind name of each `$n`, and the
    statement's own values of its binds (the literals, such as the JSON keys).

    Building and compiling a statement per request would cost more Python time than
    PostgreSQL needs to run it: callers compile each shape once (`functools.lru_cache`).
    """

    sql: str
    names: tuple[str, ...]
    literals: dict[str, Any]

    @classmethod
    def of(cls, statement: ClauseElement) -> CompiledStatement:
        compiled = statement.compile(dialect=_ASYNCPG)
        assert isinstance(compiled, SQLCompiler)
        names = tuple(compiled.positiontup or ())
        literals = {name: compiled.binds[name].effective_value for name in names}
        return cls(str(compiled), names, literals)

    def arguments(self, parameters: dict[str, Any]) -> list[Any]:
        """The `$n` values: the caller's `parameters` by name, the literals for the rest."""
        return [
            parameters[name] if name in parameters else self.literals[name] for name in self.names
        ]
