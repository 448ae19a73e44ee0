"""Schema versions and Alembic migrations of the catalog, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, insert, inspect, select, text, update
from sqlalchemy.engine import make_url

from assets_core.catalog import migrate
from assets_core.catalog import schema as t
from assets_core.catalog.catalog import Catalog
from assets_core.errors import CatalogError

DEFS = {"defs.py": "from assets_core import asset\n\n\n@asset\ndef one():\n    return 1\n"}


def _migrate_to(url: str, revision: str) -> None:
    """Build the catalog at ``url`` by running the migrations up to ``revision``."""
    from alembic import command

    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), revision)
    engine.dispose()


def _execute(url: str, *statements) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for s in statements:
            conn.execute(s)
    engine.dispose()


def _old_run_row() -> object:
    return insert(t.runs).values(
        id="r-old", status="success", command="materialize", selection="", started_at=1.0
    )


def test_the_head_migration_is_the_schema_version_of_the_code():
    assert migrate.head_revision() == migrate.revision_id(t.SCHEMA_VERSION)


def _assert_schema_is_current(catalog_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(catalog_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
        found = migrate.read_version(conn)
    engine.dispose()
    assert diff == []
    assert found.current and found.stamped


def test_migrations_build_exactly_the_schema_of_the_code(catalog_url):
    _migrate_to(catalog_url, "head")
    _assert_schema_is_current(catalog_url)


def test_a_new_catalog_is_created_at_the_current_version(catalog_url):
    Catalog.open(catalog_url).close()
    engine = create_engine(catalog_url)
    with engine.connect() as conn:
        assert migrate.read_version(conn).found == t.SCHEMA_VERSION
        assert conn.execute(text("select version_num from alembic_version")).scalar() == (
            migrate.revision_id(t.SCHEMA_VERSION)
        )
    engine.dispose()


def test_an_older_catalog_is_refused_until_upgraded_and_keeps_its_data(
    catalog_url, make_project, run_cli
):
    _migrate_to(catalog_url, "0001")
    _execute(catalog_url, _old_run_row())
    with pytest.raises(CatalogError) as err:
        Catalog.open(catalog_url)
    assert "schema version 1" in err.value.message
    assert "assets catalog upgrade" in (err.value.hint or "")

    project = make_project(DEFS)
    env = {"ASSETS_CATALOG_URL": catalog_url}
    refused = run_cli(project, "status", env=env)
    assert refused.returncode == 2
    assert "assets catalog upgrade" in refused.stderr
    assert "Traceback" not in refused.stderr

    done = run_cli(project, "catalog", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    assert "upgraded from schema version 1 to" in done.stdout

    cat = Catalog.open(catalog_url)
    assert cat.run("r-old")["status"] == "success"
    cat.close()
    assert run_cli(project, "materialize", env=env).returncode == 0


def test_a_catalog_written_before_migrations_existed_is_upgraded(catalog_url):
    _migrate_to(catalog_url, "0001")
    # what the first assets-core wrote: no alembic_version, the version in meta
    _execute(
        catalog_url,
        text("DROP TABLE alembic_version"),
        insert(t.meta).values(name="schema_version", value="1"),
    )
    with pytest.raises(CatalogError, match="schema version 1"):
        Catalog.open(catalog_url)
    cat = Catalog.open(catalog_url, check_schema=False)
    assert cat.upgrade() == (1, t.SCHEMA_VERSION)
    cat.close()
    cat = Catalog.open(catalog_url)
    with cat.engine.connect() as conn:
        assert conn.execute(select(t.meta)).all() == []
    cat.close()
    _assert_schema_is_current(catalog_url)


def test_a_version_1_catalog_that_has_some_newer_tables_already_is_upgraded(catalog_url):
    # builds of version 1 added tables and columns without a migration
    _migrate_to(catalog_url, "0001")
    _execute(
        catalog_url,
        text("DROP TABLE alembic_version"),
        insert(t.meta).values(name="schema_version", value="1"),
        text("ALTER TABLE asset_state ADD COLUMN checks_version VARCHAR(40)"),
    )
    engine = create_engine(catalog_url)
    t.events.create(engine)
    engine.dispose()
    cat = Catalog.open(catalog_url, check_schema=False)
    assert cat.upgrade() == (1, t.SCHEMA_VERSION)
    cat.close()
    _assert_schema_is_current(catalog_url)


def test_a_catalog_of_a_newer_assets_core_is_refused(catalog_url):
    Catalog.open(catalog_url).close()
    _execute(catalog_url, update(migrate.version_table).values(version_num="0999"))
    with pytest.raises(CatalogError) as err:
        Catalog.open(catalog_url)
    assert "newer assets-core" in err.value.message
    with pytest.raises(CatalogError, match="newer assets-core"):
        Catalog.open(catalog_url, check_schema=False).upgrade()


def test_catalog_version_lists_the_pending_migrations(catalog_url, make_project, cli_json):
    _migrate_to(catalog_url, "0001")
    project = make_project(DEFS)
    env = {"ASSETS_CATALOG_URL": catalog_url}
    before = cli_json(project, "catalog", "version", "--json", env=env)
    assert before["schema_version"] == 1
    assert before["up_to_date"] is False
    assert [p["revision"] for p in before["pending"]] == [
        migrate.revision_id(v) for v in range(2, t.SCHEMA_VERSION + 1)
    ]
    Catalog.open(catalog_url, check_schema=False).upgrade()
    after = cli_json(project, "catalog", "version", "--json", env=env)
    assert after["up_to_date"] is True and after["pending"] == []


def test_upgrading_a_current_catalog_changes_nothing(catalog_url, make_project, run_cli):
    Catalog.open(catalog_url).close()
    engine = create_engine(catalog_url)
    with engine.connect() as conn:
        tables = sorted(inspect(conn).get_table_names())
    engine.dispose()
    done = run_cli(
        make_project(DEFS), "catalog", "upgrade", env={"ASSETS_CATALOG_URL": catalog_url}
    )
    assert done.returncode == 0, done.stderr
    assert "is up to date" in done.stdout
    engine = create_engine(catalog_url)
    with engine.connect() as conn:
        assert sorted(inspect(conn).get_table_names()) == tables
    engine.dispose()


def test_catalog_commands_never_print_the_password(pg_url, make_project, run_cli):
    from pg_server import new_schema

    # the test server trusts every local connection, so any password is accepted
    url = make_url(new_schema(pg_url)).set(password="s3cret-pw")
    env = {"ASSETS_CATALOG_URL": url.render_as_string(hide_password=False)}
    project = make_project(DEFS)
    outputs = [
        run_cli(project, "catalog", "upgrade", env=env),
        run_cli(project, "catalog", "version", "--json", env=env),
        run_cli(project, "materialize", env=env),
    ]
    assert [p.returncode for p in outputs] == [0] * len(outputs), [p.stderr for p in outputs]
    assert "***" in outputs[0].stdout
    assert json.loads(outputs[1].stdout)["url"].count("***") == 1
    for p in outputs:
        assert "s3cret-pw" not in p.stdout + p.stderr
