"""The catalog as the planner sees it: plain, immutable values read in one query."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as json_str
from typing import Any, NamedTuple

# the head of the catalog's migrations (see catalog/schema.py); defined here, where
# reading the state needs it without importing SQLAlchemy
SCHEMA_VERSION = 2

# the status of a record whose value is being committed outside the catalog (a table)
PUBLISHING = "publishing"
# the status of a quarantined version while `assets quarantine release` swaps it in
RELEASING = "releasing"


class AssetState(NamedTuple):
    """What the catalog knows about one asset right now.

    A named tuple rather than a dataclass: the planner reads one per asset at every
    load, straight from the query's rows. What a plan compares comes first (see
    ``PLAN_COLUMNS``).
    """

    key: str
    data_version: str | None  # of the published value; None when nothing is published
    code_version: str | None
    input_versions_json: str | None
    last_status: str | None  # status of the latest attempt: success|failed|...
    checks_version: str | None = None
    code_parts_json: str | None = None
    value_ref: str | None = None
    published_at: float | None = None
    last_attempt_at: float | None = None
    materialization_id: int | None = None
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
    # False when read for a plan only (`catalog/snapshot.py`): each asset's state then
    # holds what a plan reads, and nothing a run needs to load or record
    complete: bool = True

    @classmethod
    def empty(cls) -> CatalogState:
        return cls(assets={}, sources={})


STATE_COLUMNS = (
    "key",
    "data_version",
    "code_version",
    "input_versions",
    "last_status",
    "checks_version",
    "code_parts",
    "value_ref",
    "published_at",
    "last_attempt_at",
    "materialization_id",
    "checks_parts",
    "checks_status",
)  # the asset_state columns, in AssetState's order
STATE_SQL = f"SELECT {', '.join(STATE_COLUMNS)} FROM asset_state"
SOURCES_SQL = "SELECT key, version FROM source_state"
# what a plan compares for each asset: the first columns, read alone by a plan that
# finds the catalog needs no settling (see catalog/snapshot.py)
PLAN_COLUMNS = STATE_COLUMNS[:6]


def fetch_state(cur: Any) -> CatalogState:
    """The state read with plain SQL on a DB-API cursor (SQLite, PostgreSQL).

    Both reads share one snapshot when the caller has begun a transaction.
    """
    cur.execute(STATE_SQL)
    rows = cur.fetchall()
    cur.execute(SOURCES_SQL)
    return state_from_rows(rows, cur.fetchall())


def state_from_rows(rows: Iterable[tuple[Any, ...]], sources: Iterable[Any]) -> CatalogState:
    """The state from the rows of ``STATE_SQL`` and ``SOURCES_SQL``."""
    return CatalogState(assets=asset_states(rows), sources=dict(sources))


def asset_states(rows: Iterable[tuple[Any, ...]]) -> dict[str, AssetState]:
    """Each row (an AssetState's fields in order) as an AssetState, by key: made in C,
    no call per row."""
    return {st[0]: st for st in map(functools.partial(tuple.__new__, AssetState), rows)}


def versions_json(versions: Mapping[str, Any]) -> str:
    """``json.dumps(versions)``: how a materialization records its input versions.

    Made from each key's and version's JSON string, without the encoder's set-up for
    each call (a run records one per asset); the planner compares recorded texts with
    texts made the same way. A value that is not a string goes through ``json.dumps``.
    """
    try:
        return "{" + ", ".join([f"{json_str(k)}: {json_str(v)}" for k, v in versions.items()]) + "}"
    except TypeError:
        return json.dumps(versions)
