"""The catalog: runs, materializations, published versions, observations.

Written through SQLAlchemy Core in short transactions; SQLite (WAL) by default,
any SQLAlchemy URL otherwise. ``Catalog`` and ``Record`` import SQLAlchemy, so they
load on first use: the planner reads ``CatalogState`` without importing SQLAlchemy.
"""

from typing import TYPE_CHECKING, Any

from assets_core.catalog.state import AssetState, CatalogState

if TYPE_CHECKING:
    from assets_core.catalog.catalog import Catalog, Record

__all__ = ["AssetState", "Catalog", "CatalogState", "Record"]


def __getattr__(name: str) -> Any:
    if name in ("Catalog", "Record"):
        from assets_core.catalog import catalog

        return getattr(catalog, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
