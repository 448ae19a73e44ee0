"""The ``>>>`` examples in the modules users read first actually run."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "assets_core",
        "assets_core.definitions",
        "assets_core.selection",
        "assets_core.sql.parse",
        "assets_core.sql.duckdb_engine",
    ],
)
def test_module_doctests_pass(module: str) -> None:
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, verbose=False, report=True)
    assert result.attempted > 0
    assert result.failed == 0
