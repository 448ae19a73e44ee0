"""The catalog's tables (SQLAlchemy Core), one place for the whole schema.

``SCHEMA_VERSION`` is stored in ``meta``; a catalog of another version is refused
when opened.
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

SCHEMA_VERSION = 1

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
    Column("status", String(16), nullable=False),  # success|failed|skipped
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
)
Index("ix_mat_key_id", materializations.c.key, materializations.c.id)
Index("ix_mat_run", materializations.c.run_id)

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
