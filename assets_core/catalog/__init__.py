"""The catalog: runs, materializations, published versions, observations.

Written through SQLAlchemy Core in short transactions; SQLite (WAL) by default,
any SQLAlchemy URL otherwise. Importing this package imports SQLAlchemy, so the
rest of assets-core imports it only when a catalog is opened.
"""

from assets_core.catalog.catalog import Catalog, Record
from assets_core.catalog.state import AssetState, CatalogState

__all__ = ["AssetState", "Catalog", "CatalogState", "Record"]
