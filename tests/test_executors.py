"""The same runs on every executor: in-process, local worker processes, a Dask LocalCluster.

Every test here takes the ``executor`` fixture (tests/conftest.py), so it runs once per
executor and asserts the same observable results on each: what runs and why, early
cutoff, failures and their errors, write-audit-publish (a blocking failure quarantines
and blocks downstream, a warning publishes), retries recorded per attempt, and the
catalog records. The Dask runs share one LocalCluster per test process.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

WORKER_EXECUTORS = {
    "processes": ("--workers", "2"),
    "dask": ("--executor", "dask", "--workers", "2"),  # a LocalCluster of the run's own
}

DEFS = """
import json
from pathlib import Path

import pandas as pd

from assets_core import asset, source
from assets_core import checks as c

data = source("raw/data", path="data.json")


@asset
def frame(data):
    rows = json.loads(Path(data[0]).read_text())
    return pd.DataFrame(rows)


@asset
def parity(frame):  # the same after a change that keeps the sum's parity
    return int(frame["v"].sum()) % 2


@asset
def after_parity(parity):
    return parity + 10


@asset(checks=[c.not_null("id")])
def clean(frame):
    return frame


@asset
def report(clean):
    return len(clean)


@asset
def boom(parity):
    raise ValueError("boom")


@asset
def after_boom(boom):
    return 1
"""


def _write_data(root, rows) -> None:
    (root / "data.json").write_text(json.dumps(rows))


def _steps(out: dict) -> dict[str, tuple[str, str | None]]:
    return {s["key"]: (s["status"], s["reason"]) for s in out["steps"]}


def _records(catalog_rows, root) -> list[tuple[Any, ...]]:
    """What the catalog holds of the runs, without times, ids, run ids and where values
    are kept (inline in the catalog, or in a file: that depends on where they were made)."""
    mats = catalog_rows(
        root,
        "select key, status, reason, data_version, input_versions, code_version "
        "from materializations where status != 'skipped' or reason is not null",
    )
    checks = catalog_rows(
        root,
        "select key, check_name, passed, severity, failing_rows, data_version from check_results",
    )
    state = catalog_rows(
        root,
        "select key, data_version, last_status, checks_status from asset_state",
    )
    runs = catalog_rows(root, "select status, planned, materialized, skipped, failed from runs")
    return [
        sorted(mats, key=repr),
        sorted(checks, key=repr),
        sorted(state, key=repr),
        sorted(runs, key=repr),
    ]


def _scenario(root, cli_json, args) -> tuple[dict, dict]:
    _write_data(root, [{"id": 1, "v": 1}, {"id": 2, "v": 2}])
    first = cli_json(root, "materialize", "--json", *args, expect=1)
    # v sums 3 -> 5: parity is recomputed but unchanged, so after_parity is cut off;
    # a null id makes clean fail its blocking check
    _write_data(root, [{"id": 1, "v": 3}, {"id": None, "v": 2}])
    second = cli_json(root, "materialize", "--json", *args, expect=1)
    return first, second


@pytest.fixture(scope="module")
def inprocess_records(tmp_path_factory) -> list[tuple[Any, ...]]:
    """The catalog records of the scenario run in-process (once per test process)."""
    import sqlite3
    import subprocess

    from conftest import CLI, cli_env

    root = tmp_path_factory.mktemp("reference")
    (root / "pyproject.toml").write_text('[tool.assets]\nmodules = ["defs"]\n')
    (root / "defs.py").write_text(DEFS)

    def cli(*args: str) -> dict:
        proc = subprocess.run([*CLI, "-p", str(root), *args], env=cli_env(), text=True,
                              capture_output=True, timeout=300)  # fmt: skip
        return json.loads(proc.stdout)

    _scenario(root, lambda _root, *args, expect: cli(*args), ())
    conn = sqlite3.connect(root / ".assets" / "catalog.db")
    try:
        return _records(lambda _root, sql: conn.execute(sql).fetchall(), root)
    finally:
        conn.close()


def test_every_executor_cuts_off_audits_fails_and_records_alike(
    executor, make_project, cli_json, catalog_rows, inprocess_records
):
    root = make_project({"defs.py": DEFS})
    first, second = _scenario(root, cli_json, executor)

    assert _steps(first) == {
        "frame": ("success", None),
        "parity": ("success", None),
        "after_parity": ("success", None),
        "clean": ("success", None),
        "report": ("success", None),
        "boom": ("failed", None),
        "after_boom": ("skipped", "upstream_failed: boom"),
    }
    error = {s["key"]: s for s in first["steps"]}["boom"]["error"]
    assert 'defs.py", line ' in error and 'raise ValueError("boom")' in error
    assert error.endswith("ValueError: boom")
    assert "assets_core" not in error  # the user's frames only
    assert _steps(second) == {
        "frame": ("success", None),
        "parity": ("success", None),
        "after_parity": ("skipped", "unchanged_upstream"),
        "clean": ("quarantined", "not_null(id)"),
        "report": ("skipped", "blocked_by_check: clean (not_null(id))"),
        "boom": ("failed", None),
        "after_boom": ("skipped", "upstream_failed: boom"),
    }
    assert catalog_rows(root, "select count(*) from leases") == [(0,)]
    assert [s for (s,) in catalog_rows(root, "select status from runs")] == ["failed", "failed"]
    # the catalog holds exactly what an in-process run writes
    assert _records(catalog_rows, root) == inprocess_records


@pytest.mark.parametrize("name", list(WORKER_EXECUTORS))
def test_worker_executors_run_independent_assets_at_the_same_time(
    name, make_project, cli_json, catalog_rows
):
    defs = """
    import time
    from assets_core import asset

    @asset
    def left():
        time.sleep(1.0)
        return 1

    @asset
    def right():
        time.sleep(1.0)
        return 2

    @asset
    def both(left, right):
        return left + right
    """
    root = make_project({"defs.py": defs})
    cli_json(root, "materialize", "--json", *WORKER_EXECUTORS[name])
    spans = dict(
        (k, (s, e))
        for k, s, e in catalog_rows(
            root, "select key, started_at, ended_at from materializations where status='success'"
        )
    )
    assert spans["left"][0] < spans["right"][1] and spans["right"][0] < spans["left"][1]
    assert spans["both"][0] >= max(spans["left"][1], spans["right"][1])


def test_a_local_dask_cluster_serves_no_dashboard_and_logs_nothing(make_project, run_cli):
    import socket

    root = make_project({"defs.py": CHAIN.format(b_adds=1)})
    with socket.socket() as held:
        try:  # Dask's default HTTP port, taken: Dask would warn and pick another one
            held.bind(("127.0.0.1", 8787))
            held.listen()
        except OSError:  # held by another process already
            pass
        proc = run_cli(root, "materialize", *WORKER_EXECUTORS["dask"])
    assert proc.returncode == 0, proc.stderr
    assert "materialized 4" in proc.stdout
    assert proc.stderr == ""


CHAIN = """
from assets_core import asset


@asset
def a():
    return 1


@asset
def b(a):
    return a + {b_adds}


@asset
def c(b):
    return b * 2


@asset
def d():
    return "independent"
"""


def test_what_runs_and_why_is_the_plan_on_every_executor(
    executor, make_project, write_file, cli_json, catalog_rows
):
    root = make_project({"defs.py": CHAIN.format(b_adds=1)})
    recorded = []
    for b_adds in (1, 2):  # then b's code changes: b and c run again, a and d are fresh
        write_file(root / "defs.py", CHAIN.format(b_adds=b_adds))
        planned = cli_json(root, "plan", "--json")
        out = cli_json(root, "materialize", "--json", *executor)
        assert [s["status"] for s in out["steps"]] == ["success"] * len(out["steps"])
        run = out["run_id"]
        reasons = dict(
            catalog_rows(root, f"select key, reason from materializations where run_id='{run}'")
        )
        assert {k: json.loads(r) for k, r in reasons.items()} == {
            s["key"]: s["reasons"] for s in planned["steps"]
        }
        recorded.append({k: [r["kind"] for r in json.loads(v)] for k, v in reasons.items()})
    assert recorded[0] == dict.fromkeys("abcd", ["never_materialized"])
    assert set(recorded[1]) == {"b", "c"} and recorded[1]["b"] == ["code_changed"]
    assert cli_json(root, "plan", "--json")["steps"] == []


WARNED = """
import pandas as pd

from assets_core import asset
from assets_core import checks as c


@asset(checks=[c.not_null("id", blocking=False), c.unique("id")])
def people():
    return pd.DataFrame({"id": [1, None, 3], "name": ["a", "b", "c"]})


@asset
def count(people):
    return len(people)
"""


def test_a_failing_warning_check_publishes_on_every_executor(
    executor, make_project, cli_json, catalog_rows, published_values
):
    root = make_project({"defs.py": WARNED})
    out = cli_json(root, "materialize", "--json", *executor)
    steps = {s["key"]: s for s in out["steps"]}
    assert (steps["people"]["status"], steps["count"]["status"]) == ("success", "success")
    assert {c["check"]: c["passed"] for c in steps["people"]["checks"]} == {
        "not_null(id)": False,
        "unique(id)": True,
    }
    assert sorted(
        catalog_rows(root, "select check_name, passed, severity, failing_rows from check_results")
    ) == [("not_null(id)", 0, "warn", 1), ("unique(id)", 1, "error", 0)]
    assert catalog_rows(root, "select checks_status from asset_state where key='people'") == [
        ("warned",)
    ]
    assert published_values(root, "count") == {"count": 3}


FLAKY = """
from pathlib import Path

from assets_core import Retry, asset

TRIES = Path(__file__).with_name("tries.txt")


@asset(retry=Retry(max_attempts=3, initial=0, jitter=False, on=(IOError,)))
def flaky():
    n = int(TRIES.read_text()) if TRIES.exists() else 0
    TRIES.write_text(str(n + 1))
    if n < 2:
        raise IOError(f"attempt {n + 1}: not yet")
    return n


@asset
def after(flaky):
    return flaky * 10
"""


def test_retries_are_recorded_per_attempt_on_every_executor(
    executor, make_project, cli_json, catalog_rows, published_values
):
    root = make_project({"defs.py": FLAKY})
    out = cli_json(root, "materialize", "--json", *executor)
    assert [(s["key"], s["status"]) for s in out["steps"]] == [
        ("flaky", "success"),
        ("after", "success"),
    ]
    rows = catalog_rows(
        root, "select status, reason, error from materializations where key='flaky' order by id"
    )
    assert [r[0] for r in rows] == ["retried", "retried", "success"]
    assert [r[1] for r in rows[:2]] == [
        "attempt 1 failed; it will be retried",
        "attempt 2 failed; it will be retried",
    ]
    assert rows[0][2].endswith("OSError: attempt 1: not yet")
    assert rows[1][2].endswith("OSError: attempt 2: not yet")
    assert published_values(root, "after") == {"after": 20}
