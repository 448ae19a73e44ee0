"""A pool's limit holds across every run sharing the catalog (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import time

from conftest import CLI, cli_env, rows_at, start_run
from sqlalchemy import update

from assets_core.catalog import schema as t
from assets_core.catalog.catalog import Catalog
from assets_core.catalog.leases import Leases, slot_key


def test_a_pool_of_two_gives_two_slots_then_none_until_one_is_released(cat):
    first, second = Leases(cat, start_run(cat)), Leases(cat, start_run(cat))
    a, b = first.take_slot("warehouse", 2), first.take_slot("warehouse", 2)
    assert {a, b} == {slot_key("warehouse", 0), slot_key("warehouse", 1)}
    assert second.take_slot("warehouse", 2) is None
    assert first.take_slot("warehouse", 2) is None  # a run's own slots count too
    first.release_slot(a)
    assert second.take_slot("warehouse", 2) == a
    assert second.take_slot("other", 1) == slot_key("other", 0)  # pools are separate


def test_a_slot_of_a_run_that_stopped_renewing_it_is_taken_over(cat):
    first, second = Leases(cat, start_run(cat)), Leases(cat, start_run(cat))
    slot = first.take_slot("warehouse", 1)
    assert second.take_slot("warehouse", 1) is None
    with cat.writer.begin() as conn:  # its run died on another host: no renewal since
        conn.execute(
            update(t.leases).where(t.leases.c.key == slot).values(host="elsewhere", expires_at=0)
        )
    assert second.take_slot("warehouse", 1) == slot


DEFS = """
import os
import time
from pathlib import Path

from assets_core import asset

HERE = Path(__file__).parent


def _load(name):
    with open(HERE / "calls.log", "a") as f:  # one short append per call
        f.write(f"{name} {os.getpid()}\\n")
    while not (HERE / "release").exists():  # the test holds every running asset here
        time.sleep(0.05)
    return name

{assets}
"""


def test_two_runs_at_once_never_run_more_assets_of_a_pool_than_its_limit(make_project, catalog_url):
    keys = [f"load_{i}" for i in range(6)]
    assets = "\n".join(
        f"@asset(pool='warehouse')\ndef {k}():\n    return _load('{k}')\n" for k in keys
    )
    root = make_project(
        {"defs.py": DEFS.replace("{assets}", assets)},
        extra_toml="[tool.assets.pools]\nwarehouse = 2\n",
    )
    Catalog.open(catalog_url).close()  # created before the runs race, so the test can poll it
    env = cli_env({"ASSETS_CATALOG_URL": catalog_url})
    # each run alone would run its three assets at once: it has three workers
    procs = [
        subprocess.Popen(
            [*CLI, "-p", str(root), "materialize", "--json", "--workers", "3", *selection],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for selection in (keys[:3], keys[3:])
    ]
    log = root / "calls.log"
    try:
        deadline = time.time() + 120
        # both runs are scheduling once all six assets are leased; two assets are running
        while time.time() < deadline and not (
            rows_at(catalog_url, "select count(*) from leases where key like 'load%'") == [(6,)]
            and log.exists()
            and len(log.read_text().splitlines()) >= 2
        ):
            time.sleep(0.05)
        time.sleep(1.0)  # several polls of the waiting run, at 0.2 s each
        started = log.read_text().splitlines() if log.exists() else []
    finally:  # the runs end whatever happened above
        (root / "release").touch()
        outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    assert len(started) == 2, started
    steps = [s for out, _ in outs for s in json.loads(out)["steps"]]
    assert sorted(s["key"] for s in steps if s["status"] == "success") == keys
    spans = rows_at(catalog_url, "select started_at, ended_at from materializations")
    assert max(sum(1 for s, e in spans if s <= when < e) for when, _ in spans) <= 2
    assert rows_at(catalog_url, "select count(*) from leases") == [(0,)]
