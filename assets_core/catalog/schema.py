"""The catalog's tables (SQLAlchemy Core), one place for the whole schema.

``SCHEMA_VERSION`` is the head of the Alembic migrations in ``migrations/versions``
(revision ``"%04d" % SCHEMA_VERSION``, defined in state.py, which needs no SQLAlchemy);
a catalog of another version is refused when opened (see migrate.py). A change here
needs a new migration and a bump.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from assets_core.catalog.state import SCHEMA_VERSION as SCHEMA_VERSION

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("status", String(16), nullable=False),  # running|success|failed|interrupted
    Column("command", String(32), nullable=False),
    Column("selection", Text, nullable=False, default=""),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("pid", Integer),
    Column("host", String(255)),
    Column("user", String(255)),
    Column("definitions", String(40)),  # -> definition_sets.hash
    Column("planned", Integer, nullable=False, default=0),
    Column("materialized", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
)
Index("ix_runs_status", runs.c.status)
Index("ix_runs_started", runs.c.started_at)

# Asset definitions as of each run: the whole set is stored once per distinct content.
definition_sets = Table(
    "definition_sets",
    metadata,
    Column("hash", String(40), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column(
        "body", Text, nullable=False
    ),  # JSON: {key: {kind, group, tags, upstream, code_version, file, line}}
)

# One row per step of a run: a materialization attempt (success or failed) or a skip.
materializations = Table(
    "materializations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("key", String(512), nullable=False),
    # success | failed | skipped | quarantined (then released | discarded) | retried;
    # publishing: a table being committed in its engine (settled to success or failed)
    Column("status", String(16), nullable=False),
    Column("reason", Text),  # why it ran (JSON list of reasons) or why it was skipped
    Column("code_version", String(40)),
    Column("code_parts", Text),  # JSON {part name: [file, digest]}
    Column("input_versions", Text),  # JSON {upstream key: data version}
    Column("data_version", String(40)),
    Column("value_ref", Text),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("duration_s", Float),
    Column("rows", Integer),
    Column("columns", Text),  # JSON [[name, dtype], ...]
    Column("error", Text),
    Column("checks_version", String(40)),
    Column("checks_parts", Text),
)
Index("ix_mat_key_id", materializations.c.key, materializations.c.id)
Index("ix_mat_run", materializations.c.run_id)
Index("ix_mat_status", materializations.c.status)

# The published version of each asset: one row per asset, flipped in the publishing
# transaction. The planner reads this table in one query; its size never grows with history.
asset_state = Table(
    "asset_state",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("materialization_id", Integer),
    Column("data_version", String(40)),
    Column("code_version", String(40)),
    Column("code_parts", Text),
    Column("input_versions", Text),
    Column("value_ref", Text),
    Column("published_at", Float),
    Column("last_status", String(16)),
    Column("last_attempt_id", Integer),
    Column("last_attempt_at", Float),
    # checks on the published version: their combined version, parts, and verdict
    Column("checks_version", String(40)),
    Column("checks_parts", Text),
    Column("checks_status", String(16)),  # passed | warned | failed | released
)

# Small values are kept inline, content-addressed, and published in the same transaction.
blobs = Table(
    "blobs",
    metadata,
    Column("data_version", String(40), primary_key=True),
    Column("body", LargeBinary, nullable=False),
)

source_state = Table(
    "source_state",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("version", Text, nullable=False),
    Column("observed_at", Float, nullable=False),
    Column("changed_at", Float, nullable=False),
)

observations = Table(
    "observations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(512), nullable=False),
    Column("version", Text, nullable=False),
    Column("observed_at", Float, nullable=False),
    Column("changed", Boolean, nullable=False),
    Column("run_id", String(40)),
)
Index("ix_obs_key_id", observations.c.key, observations.c.id)

# Every execution of a check: on a new version before publishing, or on the published one.
check_results = Table(
    "check_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40)),
    Column("key", String(512), nullable=False),
    Column("check_name", String(512), nullable=False),
    Column("check_version", String(40)),
    Column("materialization_id", Integer),
    Column("data_version", String(40)),
    Column("passed", Boolean, nullable=False),
    Column("severity", String(8), nullable=False),  # error (blocking) | warn
    Column("failing_rows", Integer),
    Column("description", Text),
    Column("metadata", Text),  # JSON
    Column("sample", Text),  # JSON list of failing rows
    Column("error", Text),  # the user's traceback when the check raised
    Column("duration_s", Float),
    Column("at", Float, nullable=False),
)
Index("ix_checks_key_name_id", check_results.c.key, check_results.c.check_name, check_results.c.id)
Index("ix_checks_mat", check_results.c.materialization_id)

# What happened, for people and auditors: quarantine releases and discards, freshness changes.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("key", String(512)),
    Column("run_id", String(40)),
    Column("user", String(255)),
    Column("payload", Text),  # JSON
)
Index("ix_events_key_id", events.c.key, events.c.id)
Index("ix_events_kind_id", events.c.kind, events.c.id)

# The source text of each code part (asset function or helper) as written, by its digest,
# written once when a materialization first uses it (shown normalized). Provenance reads it; the planner never.
code_sources = Table(
    "code_sources",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("name", String(512), nullable=False),
    Column("file", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Column-level lineage of one version (materialization) of an asset: which upstream columns
# feed each of its columns. Computed from the SQL (sqlglot) or read from a Python asset's
# columns= declaration, the first time someone asks, then kept. A column fed by no upstream
# column (a constant, count(*)) has one row with upstream NULL.
column_lineage = Table(
    "column_lineage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("materialization_id", Integer, nullable=False),
    Column("key", String(512), nullable=False),
    Column("column", Text, nullable=False),
    Column("upstream", String(512)),
    Column("upstream_column", Text),
    Column("how", String(16), nullable=False),  # sql | declared
)
Index("ix_column_lineage_mat", column_lineage.c.materialization_id)

# Which run is materializing an asset right now, so that racing runs never compute the
# same asset twice. A lease ends when its run records the asset, or expires when the
# run stops renewing it (its process died).
leases = Table(
    "leases",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("run_id", String(40), nullable=False),
    Column("pid", Integer),
    Column("host", String(255)),
    Column("acquired_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
Index("ix_leases_run", leases.c.run_id)
