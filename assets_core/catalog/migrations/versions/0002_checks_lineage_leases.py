"""check results, events, code sources, column lineage and leases; checks columns

Revision ID: 0002
Revises: 0001

Catalogs of version 1 were written by several assets-core builds that added some of
these tables and columns already, so this revision adds only what is missing.
"""

import sqlalchemy as sa
from alembic import op

from assets_core.catalog.migrate import add_missing

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# the tables, columns and indexes this revision adds, as they were at version 2
target = sa.MetaData()
sa.Table(
    "materializations",
    target,
    sa.Column("status", sa.String(16)),
    sa.Column("checks_version", sa.String(40)),
    sa.Column("checks_parts", sa.Text()),
    sa.Index("ix_mat_status", "status"),
)
sa.Table(
    "asset_state",
    target,
    sa.Column("checks_version", sa.String(40)),
    sa.Column("checks_parts", sa.Text()),
    sa.Column("checks_status", sa.String(16)),
)
sa.Table(
    "check_results",
    target,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(40)),
    sa.Column("key", sa.String(512), nullable=False),
    sa.Column("check_name", sa.String(512), nullable=False),
    sa.Column("check_version", sa.String(40)),
    sa.Column("materialization_id", sa.Integer()),
    sa.Column("data_version", sa.String(40)),
    sa.Column("passed", sa.Boolean(), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("failing_rows", sa.Integer()),
    sa.Column("description", sa.Text()),
    sa.Column("metadata", sa.Text()),
    sa.Column("sample", sa.Text()),
    sa.Column("error", sa.Text()),
    sa.Column("duration_s", sa.Float()),
    sa.Column("at", sa.Float(), nullable=False),
    sa.Index("ix_checks_key_name_id", "key", "check_name", "id"),
    sa.Index("ix_checks_mat", "materialization_id"),
)
sa.Table(
    "events",
    target,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float(), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("key", sa.String(512)),
    sa.Column("run_id", sa.String(40)),
    sa.Column("user", sa.String(255)),
    sa.Column("payload", sa.Text()),
    sa.Index("ix_events_key_id", "key", "id"),
    sa.Index("ix_events_kind_id", "kind", "id"),
)
sa.Table(
    "code_sources",
    target,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("file", sa.Text(), nullable=False),
    sa.Column("source", sa.Text(), nullable=False),
    sa.Column("created_at", sa.Float(), nullable=False),
)
sa.Table(
    "column_lineage",
    target,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("materialization_id", sa.Integer(), nullable=False),
    sa.Column("key", sa.String(512), nullable=False),
    sa.Column("column", sa.Text(), nullable=False),
    sa.Column("upstream", sa.String(512)),
    sa.Column("upstream_column", sa.Text()),
    sa.Column("how", sa.String(16), nullable=False),
    sa.Index("ix_column_lineage_mat", "materialization_id"),
)
sa.Table(
    "leases",
    target,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("pid", sa.Integer()),
    sa.Column("host", sa.String(255)),
    sa.Column("acquired_at", sa.Float(), nullable=False),
    sa.Column("expires_at", sa.Float(), nullable=False),
    sa.Index("ix_leases_run", "run_id"),
)


def upgrade() -> None:
    add_missing(op.get_bind(), target)
    # the schema version lives in alembic_version now; version 1 kept it in meta
    op.execute("DELETE FROM meta WHERE name = 'schema_version'")


def downgrade() -> None:
    for name in ("leases", "column_lineage", "code_sources", "events", "check_results"):
        op.drop_table(name)
    op.drop_index("ix_mat_status", table_name="materializations")
    with op.batch_alter_table("asset_state") as batch:
        for col in ("checks_version", "checks_parts", "checks_status"):
            batch.drop_column(col)
    with op.batch_alter_table("materializations") as batch:
        for col in ("checks_version", "checks_parts"):
            batch.drop_column(col)
