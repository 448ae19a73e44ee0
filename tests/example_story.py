"""Helpers for the end-to-end tests of the example projects (tests/test_example_*.py).

Each of those tests copies one example (without its ``.assets`` state or exported
reports) into its own ``tmp_path`` and tells the example's story through the real
CLI: build from nothing, nothing stale, a formatting-only edit, a logic edit, a
corrupted input that a blocking check quarantines, the fix.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[1] / "example_projects"

CatalogRows = Callable[[Path, str], list[tuple[Any, ...]]]


def copy_example(name: str, dest: Path) -> Path:
    """A fresh copy of ``example_projects/NAME`` under ``dest``, as a clone would have it."""
    target = dest / name
    shutil.copytree(
        EXAMPLES / name,
        target,
        ignore=shutil.ignore_patterns(".assets", "reports", "__pycache__"),
    )
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``path`` with ``new``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name}: expected {old!r} exactly once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def planned(cli_json: Callable[..., Any], project: Path) -> dict[str, set[str]]:
    """``assets plan --json`` as {asset key: {reason kinds}}."""
    out = cli_json(project, "plan", "--json")
    return {s["key"]: {r["kind"] for r in s["reasons"]} for s in out["steps"]}


def statuses(run: dict[str, Any]) -> dict[str, str]:
    """{asset key: step status} of ``assets materialize --json``'s output."""
    return {s["key"]: s["status"] for s in run["steps"]}


def published(catalog_rows: CatalogRows, project: Path, key: str) -> tuple[str, bytes]:
    """The published data version of ``key`` and the bytes of its stored file."""
    rows = catalog_rows(
        project, f"SELECT data_version, value_ref FROM asset_state WHERE key = '{key}'"
    )
    assert rows and rows[0][0], f"{key} has no published version"
    data_version, ref = rows[0]
    fmt, _, location = ref.partition(":")
    assert fmt in ("pandas", "polars"), f"{key} is stored as {fmt}, not as a parquet file"
    return data_version, (project / ".assets" / "store" / location).read_bytes()


def quarantined_keys(cli_json: Callable[..., Any], project: Path) -> list[str]:
    return [v["key"] for v in cli_json(project, "quarantine", "list", "--json")["quarantined"]]


def check_results(run: dict[str, Any], key: str) -> dict[str, bool]:
    """{check name: passed} of ``key``'s step in ``assets materialize --json``'s output."""
    (step,) = [s for s in run["steps"] if s["key"] == key]
    return {c["check"]: c["passed"] for c in step["checks"]}


def dump(run: dict[str, Any]) -> str:
    """A run's JSON, for assertion messages."""
    return json.dumps(run, indent=1)[:4000]
