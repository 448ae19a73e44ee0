"""Alembic environment for the catalog. Run through ``assets catalog upgrade``.

The connection comes from ``config.attributes["connection"]`` (set by
:mod:`assets_core.catalog.migrate`); there is no alembic.ini.
"""

from alembic import context

from assets_core.catalog.schema import metadata

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them; batch mode does that for us
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
