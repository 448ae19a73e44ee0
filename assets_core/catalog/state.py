"""The catalog as the planner sees it: plain, immutable values read in one query."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple


class AssetState(NamedTuple):
    """What the catalog knows about one asset right now.

    A named tuple rather than a dataclass: the planner reads one per asset at every
    load, straight from the query's rows.
    """

    key: str
    data_version: str | None  # of the published value; None when nothing is published
    code_version: str | None
    code_parts_json: str | None
    input_versions_json: str | None
    value_ref: str | None
    published_at: float | None
    last_status: str | None  # status of the latest attempt: success|failed|...
    last_attempt_at: float | None
    materialization_id: int | None
    checks_version: str | None = None
    checks_parts_json: str | None = None
    checks_status: str | None = None  # passed | warned | failed | released

    @property
    def published(self) -> bool:
        return self.data_version is not None

    @property
    def input_versions(self) -> dict[str, str]:
        return json.loads(self.input_versions_json) if self.input_versions_json else {}

    @property
    def checks_parts(self) -> dict[str, Any]:
        return json.loads(self.checks_parts_json) if self.checks_parts_json else {}

    @property
    def code_parts(self) -> dict[str, Any]:
        return json.loads(self.code_parts_json) if self.code_parts_json else {}


@dataclass(frozen=True, slots=True)
class CatalogState:
    assets: Mapping[str, AssetState]
    sources: Mapping[str, str]  # source key -> last observed version

    @classmethod
    def empty(cls) -> CatalogState:
        return cls(assets={}, sources={})
