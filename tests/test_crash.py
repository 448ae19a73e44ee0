"""SIGKILL ``assets materialize`` at 50 seeded random points; nothing published is ever lost.

After each kill: every published value (parquet file, pickle file, inline value,
DuckDB table) reads back and matches the data version recorded for it; no
materialization is half written; the killed run is marked ``interrupted`` and
holds no lease; and the run redid nothing that was already published.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import CLI, cli_env

SEED = 8_2026
KILLS = 50

DEFS = """
import json
import os
import time
from pathlib import Path

import pandas as pd

from assets_core import asset, source, sql_asset

LOG = Path(__file__).with_name("calls.log")
feed = source("raw/feed", path="feed.json")
# SQL tables written in one shared DuckDB transaction, committed together
doubled_sum = sql_asset("doubled_sum", "SELECT sum(v) AS s, count(*) AS n FROM doubled")
sum_twice = sql_asset("sum_twice", "SELECT s * 2 AS s2, n FROM doubled_sum")


def _ran(name):
    with open(LOG, "a") as f:
        f.write(f"{name} {os.getpid()}\\n")
    time.sleep(0.04)


@asset
def base(feed):
    _ran("base")
    return pd.DataFrame(json.loads(Path(feed[0]).read_text()))


@asset
def doubled(base):
    _ran("doubled")
    return base.assign(v=base["v"] * 2)


@asset(io="duckdb")
def table_copy(doubled):
    _ran("table_copy")
    return doubled


@asset
def total(table_copy):
    _ran("total")
    return int(table_copy["v"].sum())


@asset
def big(base):  # more than the 64 KiB kept inline: a pickle file
    _ran("big")
    return list(range(20_000)) + [len(base)]


@asset
def label(total, big, sum_twice):
    _ran("label")
    return f"total={total} n={big[-1]} s2={int(sum_twice['s2'][0])}"


@asset
def summary(doubled, label):
    _ran("summary")
    return doubled.assign(label=label)
"""


def _feed(root: Path, n: int) -> None:
    rows = [{"k": i, "v": (i * 7 + n) % 11} for i in range(20 + n % 5)]
    (root / "feed.json").write_text(json.dumps(rows))


def _verify_published(project, catalog) -> None:
    from sqlalchemy import select

    from assets_core.catalog import schema as t
    from assets_core.code_version import digest
    from assets_core.executor import open_store
    from assets_core.sql.table_store import TableStores, parse_ref

    store = open_store(project, catalog)
    tables = TableStores(project, store)
    try:
        with catalog.engine.connect() as conn:
            state = conn.execute(select(t.asset_state)).mappings().all()
            mats = {r["id"]: r for r in conn.execute(select(t.materializations)).mappings().all()}
        for st in state:
            if st["data_version"] is None:
                continue
            key, dv, ref = st["key"], st["data_version"], st["value_ref"]
            m = mats[st["materialization_id"]]  # the record that published it is complete
            assert (m["key"], m["status"], m["data_version"], m["value_ref"]) == (
                key,
                "success",
                dv,
                ref,
            )
            fmt, _, loc = ref.partition(":")
            if fmt == "blob":
                assert digest(b"pickle\0" + catalog.blob(loc)) == dv
            elif fmt == "table":
                engine_name, schema, table = parse_ref(ref)
                e = tables.engine(engine_name)
                assert e.data_version(e.qualify(schema, table), schema, table)[0] == dv
            else:
                data = (project.config.store_path / loc).read_bytes()
                prefix = b"pickle" if fmt == "pickle" else fmt.encode()
                assert digest(prefix + b"\0" + data) == dv
            value = tables.load(key, ref) if fmt == "table" else store.load(key, ref)
            assert value is not None
        for m in mats.values():  # no half-written materialization, none left unsettled
            assert m["status"] != "publishing"
            if m["status"] == "success":
                assert m["data_version"] and m["value_ref"] and m["code_version"]
    finally:
        tables.close()


@pytest.mark.slow
def test_sigkill_at_random_points_never_loses_or_redoes_published_work(make_project, load_project):
    from assets_core.catalog import Catalog
    from assets_core.executor import make_plan, open_catalog

    root = make_project({"defs.py": DEFS})
    _feed(root, 0)
    project = load_project(root)
    log = root / "calls.log"
    rng = random.Random(SEED)
    url = project.config.catalog_url
    interrupted = 0
    for n in range(KILLS):
        if n % 4 == 0:
            _feed(root, n)  # new data: there is work again
        catalog = Catalog.open(url)
        stale = {s.key for s in make_plan(project, catalog).steps}
        catalog.close()
        seen = log.read_text().count("\n") if log.exists() else 0
        proc = subprocess.Popen(
            [*CLI, "-p", str(root), "materialize"],
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 60
        while proc.poll() is None and time.time() < deadline:  # wait for the work to start
            if log.exists() and log.read_text().count("\n") > seen:
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.35))
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)

        catalog = open_catalog(project)  # marks the killed run interrupted, settles its tables
        try:
            runs = [r for r in catalog.runs(limit=5) if r["pid"] == proc.pid]
            if killed and runs:
                # the kill may land after the run recorded its end, while it exits
                assert runs[0]["status"] in ("interrupted", "success")
                interrupted += runs[0]["status"] == "interrupted"
            from sqlalchemy import text

            with catalog.engine.connect() as conn:
                held = conn.execute(text("select count(*) from leases")).scalar()
            assert held == 0
            _verify_published(project, catalog)
        finally:
            catalog.close()
        ran = [ln.split()[0] for ln in log.read_text().splitlines()[seen:]]
        assert set(ran) <= stale, f"kill {n}: redid published work {set(ran) - stale}"

    assert interrupted >= KILLS // 2  # most kills hit a run at work
    done = subprocess.run(
        [*CLI, "-p", str(root), "materialize"], env=cli_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    catalog = Catalog.open(url)
    try:
        assert make_plan(project, catalog).steps == ()
        _verify_published(project, catalog)
    finally:
        catalog.close()


TABLE_DEFS = """
import pandas as pd

from assets_core import asset


@asset(io="duckdb")
def table_copy():
    return pd.DataFrame({"v": [1, 2, 3]})
"""


def _die_while_publishing(project, *, engine_committed: bool) -> tuple[str, str]:
    """A run that recorded a new table as ``publishing`` and died before settling it,
    after (or before) the engine committed the table: (its data version, its run id)."""
    import pandas as pd

    from assets_core.catalog.catalog import PUBLISHING, Catalog, Record
    from assets_core.sql.table_store import TableStores

    catalog = Catalog.open(project.config.catalog_url)
    tables = TableStores(project, None)
    try:
        run_id = catalog.start_run(command="materialize", selection="", planned=1, definitions={})
        st = tables.stage_frame("table_copy", "duckdb", pd.DataFrame({"v": [7, 8]}), direct=True)
        staged = tables.final(st)
        catalog.record(
            Record(
                run_id=run_id,
                key="table_copy",
                status=PUBLISHING,
                code_version=project.code_versions["table_copy"].version,
                input_versions={},
                data_version=staged.data_version,
                value_ref=staged.ref,
                started_at=time.time(),
                ended_at=time.time(),
            )
        )
        if engine_committed:
            tables.publish(st)
        else:
            tables.discard(st)
        gone = subprocess.Popen(["true"])  # the run's process: one that has exited
        gone.wait()
        with catalog.writer.begin() as conn:
            from sqlalchemy import text

            conn.execute(
                text("update runs set pid = :p where id = :r"), {"p": gone.pid, "r": run_id}
            )
    finally:
        tables.close()
        catalog.close()
    return staged.data_version, run_id


@pytest.mark.parametrize("engine_committed", [True, False], ids=["after-commit", "before-commit"])
def test_a_table_committed_by_a_run_that_died_is_settled_by_the_next_command(
    make_project, load_project, run_cli, engine_committed
):
    from assets_core.executor import make_plan, open_catalog

    root = make_project({"defs.py": TABLE_DEFS})
    assert run_cli(root, "materialize").returncode == 0
    project = load_project(root)
    before = open_catalog(project)
    old = before.state().assets["table_copy"]
    before.close()

    new_version, run_id = _die_while_publishing(project, engine_committed=engine_committed)

    catalog = open_catalog(project)  # the next command: marks the run, settles its table
    try:
        state = catalog.state().assets["table_copy"]
        rows = [r for r in catalog.history("table_copy") if r["run_id"] == run_id]
        assert [r["status"] for r in rows] == ["success" if engine_committed else "failed"]
        (run,) = [r for r in catalog.runs() if r["id"] == run_id]
        assert run["status"] == "interrupted"
        assert (run["materialized"], run["failed"]) == ((1, 0) if engine_committed else (0, 1))
        if engine_committed:  # the engine holds the new table: the catalog now says so
            assert state.data_version == new_version != old.data_version
            assert make_plan(project, catalog).steps == ()
        else:  # it never held it: the old version is still the published one
            assert state.data_version == old.data_version
            assert "interrupted before its table was published" in rows[0]["error"]
        _verify_published(project, catalog)
    finally:
        catalog.close()
