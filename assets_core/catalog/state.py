"""The catalog as the planner sees it: plain, immutable values read in one query."""

from __future__ import annotations

import functools
import itertools
import json
import operator
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
    # False when read for a plan only (:func:`fetch_plan_state`): each asset's state then
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
# finds the catalog needs no settling (each column read costs the same for every row)
PLAN_COLUMNS = STATE_COLUMNS[:6]
PLAN_SQL = f"SELECT {', '.join(PLAN_COLUMNS)} FROM asset_state"
_NOT_READ = (None,) * (len(STATE_COLUMNS) - len(PLAN_COLUMNS))
CODE_PARTS_SQL = "SELECT key, code_parts FROM asset_state WHERE key IN ({})"
_MAX_PARAMS = 500  # keys per IN (...) list


def fetch_state(cur: Any) -> CatalogState:
    """The state read with plain SQL on a DB-API cursor (SQLite, PostgreSQL).

    Both reads share one snapshot when the caller has begun a transaction.
    """
    cur.execute(STATE_SQL)
    rows = cur.fetchall()
    cur.execute(SOURCES_SQL)
    return state_from_rows(rows, cur.fetchall())


def fetch_plan_state(cur: Any, code_versions: Mapping[str, str]) -> CatalogState:
    """What a plan reads of the state (not complete: see :attr:`CatalogState.complete`).

    ``code_versions`` holds the current code version of each asset: the recorded code
    parts (which a plan names when the code changed) are read only for the published
    assets whose code version is another. The reads share one snapshot when the caller
    has begun a transaction (SQLite's placeholders: this read is made on SQLite files).
    """
    cur.execute(PLAN_SQL)
    rows = cur.fetchall()
    cur.execute(SOURCES_SQL)
    sources = cur.fetchall()
    # each row padded with what was not read: made in C, no call per row
    padded = map(tuple.__add__, rows, itertools.repeat(_NOT_READ))
    assets = {st[0]: st for st in map(functools.partial(tuple.__new__, AssetState), padded)}
    # (key, recorded code version) pairs that are not current, compared in C; then the
    # few left that name a published asset of the project
    other = dict(map(operator.itemgetter(0, 2), rows)).items() - code_versions.items()
    changed = [k for k, _ in other if k in code_versions and assets[k].data_version is not None]
    for i in range(0, len(changed), _MAX_PARAMS):
        keys = changed[i : i + _MAX_PARAMS]
        cur.execute(CODE_PARTS_SQL.format(", ".join("?" * len(keys))), keys)
        for key, parts in cur.fetchall():
            assets[key] = assets[key]._replace(code_parts_json=parts)
    return CatalogState(assets=assets, sources=dict(sources), complete=False)


def state_from_rows(rows: Iterable[tuple[Any, ...]], sources: Iterable[Any]) -> CatalogState:
    """The state from the rows of ``STATE_SQL`` and ``SOURCES_SQL``."""
    # each row is an AssetState's fields in order: made in C, no call per row
    states = map(functools.partial(tuple.__new__, AssetState), rows)
    return CatalogState(assets={st[0]: st for st in states}, sources=dict(sources))


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
