"""The throwaway PostgreSQL server the catalog tests run against."""

from __future__ import annotations

from sqlalchemy import create_engine, text


def test_pg_url_serves_a_real_postgresql(pg_url):
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        version = conn.execute(text("select version()")).scalar()
    engine.dispose()
    assert version.startswith("PostgreSQL")


def test_pg_database_is_fresh_and_isolated(pg_database, pg_url):
    engine = create_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(text("create table only_here (x int)"))
        conn.execute(text("insert into only_here values (1)"))
    engine.dispose()
    other = create_engine(pg_url)
    with other.connect() as conn:
        found = conn.execute(text("select to_regclass('only_here')")).scalar()
    other.dispose()
    assert found is None
