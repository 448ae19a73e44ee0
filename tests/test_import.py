"""Importing assets_core is light: heavy libraries load only when first used."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "polars", "pyarrow", "sqlglot", "great_expectations", "sqlalchemy")

_SNIPPET = """
import json, sys
{imports}
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(imports: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _SNIPPET.format(imports=imports)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": ""},
    )
    return set(json.loads(proc.stdout))


@pytest.mark.parametrize(
    "imports",
    [
        "import assets_core",
        "from assets_core import asset, source, AssetsError",
    ],
)
def test_importing_assets_core_loads_no_heavy_library(imports: str) -> None:
    loaded = _modules_after(imports)
    assert "assets_core" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == []


def test_planner_reads_catalog_state_without_importing_sqlalchemy() -> None:
    loaded = _modules_after("import assets_core.graph, assets_core.selection, assets_core.planner")
    assert "assets_core.planner" in loaded
    assert "assets_core.catalog.state" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == []


def test_opening_a_catalog_is_what_loads_sqlalchemy() -> None:
    # the laziness above is real laziness, not a missing dependency
    loaded = _modules_after("from assets_core.catalog import Catalog")
    assert "sqlalchemy" in loaded


def test_public_api_lists_only_names_that_exist() -> None:
    import assets_core

    assert set(assets_core.__all__) >= {"asset", "source", "AssetsError", "AssetDef"}
    for name in assets_core.__all__:
        assert getattr(assets_core, name) is not None
