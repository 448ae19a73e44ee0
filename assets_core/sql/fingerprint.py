"""The semantic code version of a SQL query: a hash of sqlglot's canonical form.

The query is parsed (so whitespace, comments and keyword case are gone), its
identifiers are normalized the way the dialect resolves them (``Orders`` and
``orders`` are the same table in DuckDB and PostgreSQL), and quoting is dropped
(``"orders"`` is ``orders``). What is hashed is the tree itself, walked in order:
a changed predicate, column, literal or join changes it; a reformat does not.

>>> from assets_core.sql.parse import parse_query
>>> a = parse_query("select A, b from T where x = 1 -- note", "duckdb")
>>> b = parse_query('SELECT a,\\n       "b"\\nFROM t\\nWHERE x = 1', "duckdb")
>>> fingerprint(a.expression, "duckdb") == fingerprint(b.expression, "duckdb")
True
>>> c = parse_query("SELECT a, b FROM t WHERE x = 2", "duckdb")
>>> fingerprint(a.expression, "duckdb") == fingerprint(c.expression, "duckdb")
False
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from assets_core.code_version import digest

# Arguments that only say how a node was written, not what it means.
_FORMAT_ONLY = frozenset({"quoted"})


def fingerprint(expression: Any, dialect: str) -> str:
    """Hash of ``expression``'s canonical form (the tree is normalized in place)."""
    return digest("\x1f".join(canonical_parts(expression, dialect)))


def canonical_parts(expression: Any, dialect: str) -> list[str]:
    """The canonical form hashed by :func:`fingerprint`: the dialect, then each node's
    kind (``node.key``) and set arguments, in order (the tree is normalized in place)."""
    normalize_identifiers(expression, dialect=dialect)
    out: list[str] = [dialect]
    _walk(expression, out)
    return out


def _walk(node: exp.Expression, out: list[str]) -> None:
    out.append(node.key)
    for name, value in node.args.items():
        if value is None or value is False or value == [] or name in _FORMAT_ONLY:
            continue
        out.append(name)
        if isinstance(value, exp.Expression):
            _walk(value, out)
        elif isinstance(value, list):
            out.append("[")
            for item in value:
                if isinstance(item, exp.Expression):
                    _walk(item, out)
                else:
                    out.append(repr(item))
            out.append("]")
        else:
            out.append(repr(value))
    out.append(")")
