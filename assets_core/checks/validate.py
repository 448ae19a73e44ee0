"""Catching bad check definitions before a run starts.

A built-in check that names a column the asset's published version does not have
is reported at plan time, with the closest column names, unless the asset is
about to be recomputed (its columns may be changing in the same edit); then the
check itself reports the missing column when it runs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from assets_core.errors import DefinitionError, closest
from assets_core.graph import Graph


def check_columns(
    graph: Graph,
    published_columns: Mapping[str, Sequence[str]],
    recomputed: Collection[str],
) -> None:
    """Raise DefinitionError for a built-in check naming a column the data does not have."""
    for key, checks in graph.checks.items():
        if key in recomputed:
            continue
        have = published_columns.get(key)
        if not have:
            continue
        for c in checks:
            spec = c.spec
            if spec is None or spec.kind in ("row_count", "schema", "ge_suite"):
                continue
            missing = [col for col in spec.columns if col not in have]
            if missing:
                near = [n for m in missing for n in closest(m, have)]
                raise DefinitionError(
                    f"check {c.name} on {key} names column(s) {', '.join(missing)}, "
                    f"which its published version does not have (columns: {', '.join(have)})",
                    key=key,
                    location=str(c.location) if c.location else None,
                    hint=("did you mean " + ", ".join(near) + "?")
                    if near
                    else "fix the column name in the check",
                )
