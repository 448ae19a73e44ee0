"""SQL assets: a SELECT query is an asset.

Its upstreams come from the tables the query reads (sqlglot), its code version is
a fingerprint of sqlglot's canonical form (formatting does not count), it runs on
an embedded DuckDB by default or on any database SQLAlchemy reaches, and it is
materialized into a table behind a staging table (write, audit, publish).

This package is imported only by projects that have SQL assets: ``sqlglot`` and
the database drivers load when a query is first parsed or run.

>>> from assets_core import sql_asset
>>> roas = sql_asset("bi/roas", "SELECT day, revenue / spend AS roas FROM bi.daily")
>>> roas.key, roas.tables
('bi/roas', ('bi.daily',))
"""

from assets_core.sql.definition import SqlAssetDef as SqlAssetDef
from assets_core.sql.definition import sql_asset as sql_asset

__all__ = ["SqlAssetDef", "sql_asset"]
