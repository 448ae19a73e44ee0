"""assets-core: declare data assets, know what is stale and why, materialize only that.

>>> from assets_core import asset, source
>>> orders = source("raw/orders", path="data/orders/*.csv")
>>> @asset(key_prefix="bi")
... def daily_revenue(orders):
...     return len(orders)
>>> daily_revenue.__asset_def__.key
'bi/daily_revenue'
"""

from assets_core.checks.definition import CheckResult as CheckResult
from assets_core.checks.definition import check as check
from assets_core.definitions import AssetDef as AssetDef
from assets_core.definitions import SourceDef as SourceDef
from assets_core.definitions import asset as asset
from assets_core.definitions import source as source
from assets_core.errors import AssetsError as AssetsError
from assets_core.freshness import Freshness as Freshness
from assets_core.retries import Retry as Retry
from assets_core.sql.definition import sql_asset as sql_asset

__version__ = "0.1.0"

__all__ = [
    "AssetDef",
    "AssetsError",
    "CheckResult",
    "Freshness",
    "Retry",
    "SourceDef",
    "__version__",
    "asset",
    "check",
    "source",
    "sql_asset",
]
