"""the foundation schema: runs, materializations, published state, blobs, sources

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "asset_state",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("materialization_id", sa.Integer(), nullable=True),
        sa.Column("data_version", sa.String(length=40), nullable=True),
        sa.Column("code_version", sa.String(length=40), nullable=True),
        sa.Column("code_parts", sa.Text(), nullable=True),
        sa.Column("input_versions", sa.Text(), nullable=True),
        sa.Column("value_ref", sa.Text(), nullable=True),
        sa.Column("published_at", sa.Float(), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_attempt_id", sa.Integer(), nullable=True),
        sa.Column("last_attempt_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "blobs",
        sa.Column("data_version", sa.String(length=40), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("data_version"),
    )
    op.create_table(
        "definition_sets",
        sa.Column("hash", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_table(
        "materializations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("code_version", sa.String(length=40), nullable=True),
        sa.Column("code_parts", sa.Text(), nullable=True),
        sa.Column("input_versions", sa.Text(), nullable=True),
        sa.Column("data_version", sa.String(length=40), nullable=True),
        sa.Column("value_ref", sa.Text(), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("columns", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("materializations", schema=None) as batch_op:
        batch_op.create_index("ix_mat_key_id", ["key", "id"], unique=False)
        batch_op.create_index("ix_mat_run", ["run_id"], unique=False)

    op.create_table(
        "meta",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("observed_at", sa.Float(), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index("ix_obs_key_id", ["key", "id"], unique=False)

    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("command", sa.String(length=32), nullable=False),
        sa.Column("selection", sa.Text(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("user", sa.String(length=255), nullable=True),
        sa.Column("definitions", sa.String(length=40), nullable=True),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("materialized", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_started", ["started_at"], unique=False)
        batch_op.create_index("ix_runs_status", ["status"], unique=False)

    op.create_table(
        "source_state",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("observed_at", sa.Float(), nullable=False),
        sa.Column("changed_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("source_state")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_status")
        batch_op.drop_index("ix_runs_started")

    op.drop_table("runs")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index("ix_obs_key_id")

    op.drop_table("observations")
    op.drop_table("meta")
    with op.batch_alter_table("materializations", schema=None) as batch_op:
        batch_op.drop_index("ix_mat_run")
        batch_op.drop_index("ix_mat_key_id")

    op.drop_table("materializations")
    op.drop_table("definition_sets")
    op.drop_table("blobs")
    op.drop_table("asset_state")
