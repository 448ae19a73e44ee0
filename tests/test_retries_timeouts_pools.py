"""Retries with backoff, timeouts that stop an attempt, pools that limit concurrency."""

from __future__ import annotations

import os
import random

import pytest

from assets_core import Retry, asset
from assets_core.errors import DefinitionError

WORKERS = ("--workers", "3")
DASK = ("--executor", "dask", "--workers", "2")


def test_backoff_grows_exponentially_up_to_the_maximum():
    r = Retry(max_attempts=6, backoff="exponential", initial="2s", max_delay="10s", jitter=False)
    assert [r.delay(n) for n in range(1, 6)] == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert Retry(backoff="linear", initial=3, jitter=False).delay(3) == 9.0
    assert Retry(backoff="constant", initial="1m", jitter=False).delay(4) == 60.0


def test_jitter_draws_between_half_and_all_of_the_delay():
    r = Retry(initial="8s", max_delay="1h", jitter=True)
    rng = random.Random(7)
    delays = [r.delay(2, rng) for _ in range(200)]
    assert all(8.0 <= d <= 16.0 for d in delays)
    assert len(set(delays)) > 100


def test_only_the_listed_errors_are_retried_and_only_while_attempts_remain():
    r = Retry(max_attempts=3, on=(IOError,))
    assert r.retries(FileNotFoundError(), 1)
    assert not r.retries(ValueError(), 1)
    assert not r.retries(OSError(), 3)
    assert Retry().retries(TimeoutError(), 1)  # the default covers timeouts too


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"backoff": "random"}, "backoff"),
        ({"initial": "soon"}, "cannot read the duration"),
        ({"on": ("IOError",)}, "exception classes"),
    ],
)
def test_bad_retry_settings_are_refused(kwargs, message):
    with pytest.raises(DefinitionError, match=message):
        Retry(**kwargs)


def test_bad_timeout_retry_and_pool_name_the_asset_and_its_line():
    with pytest.raises(DefinitionError, match=r"asset slow: timeout='soon'") as err:

        @asset(timeout="soon")
        def slow():
            return 1

    assert f"{os.path.basename(__file__)}:" in str(err.value)
    with pytest.raises(DefinitionError, match="retry= must be a Retry"):

        @asset(retry=3)
        def flaky():
            return 1

    for bad in ("two words", "warehouse\n"):
        with pytest.raises(DefinitionError, match="is not a pool name"):

            @asset(pool=bad)
            def pooled():
                return 1


FLAKY = """
import os
from pathlib import Path
from assets_core import asset, Retry

COUNT = Path(__file__).with_name("attempts.txt")


def _attempt():
    n = int(COUNT.read_text()) + 1 if COUNT.exists() else 1
    COUNT.write_text(str(n))
    return n


@asset(retry=Retry(max_attempts=4, initial="0.05s", jitter=False, on=(IOError,)))
def flaky():
    n = _attempt()
    if n < 3:
        raise IOError(f"attempt {n}: the share is not mounted yet")
    return n


@asset(retry=Retry(max_attempts=4, initial="0.05s", on=(IOError,)))
def wrong(flaky):
    raise ValueError("not an IOError: never retried")


@asset
def after(flaky):
    return flaky * 10
"""


@pytest.mark.parametrize("args", [(), WORKERS, DASK], ids=["inprocess", "processes", "dask"])
def test_each_attempt_is_recorded_and_only_listed_errors_are_retried(
    args, make_project, cli_json, catalog_rows
):
    root = make_project({"defs.py": FLAKY})
    out = cli_json(root, "materialize", "--json", *args, expect=1)
    steps = {s["key"]: s for s in out["steps"]}
    assert steps["flaky"]["status"] == "success"
    assert steps["after"]["status"] == "success"
    assert steps["wrong"]["status"] == "failed"
    rows = catalog_rows(root, "select key, status, error from materializations order by id")
    flaky = [(s, e) for k, s, e in rows if k == "flaky"]
    assert [s for s, _ in flaky] == ["retried", "retried", "success"]
    assert "attempt 1: the share is not mounted yet" in flaky[0][1]
    assert [s for k, s, _ in rows if k == "wrong"] == ["failed"]
    assert (root / "attempts.txt").read_text() == "3"
    assert catalog_rows(root, "select last_status from asset_state where key='flaky'") == [
        ("success",)
    ]


SLOW = """
import os
import time
from pathlib import Path
from assets_core import asset, Retry


@asset(timeout="0.5s", retry=Retry(max_attempts=2, initial=0, jitter=False, on=(TimeoutError,)))
def slow():
    with open(Path(__file__).with_name("pids.txt"), "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(60)
    return 1


@asset
def after_slow(slow):
    return slow


@asset
def quick():
    return 2
"""


@pytest.mark.parametrize("args", [(), WORKERS, DASK], ids=["inprocess", "processes", "dask"])
def test_a_timeout_stops_the_attempt_and_records_timed_out(
    args, make_project, cli_json, catalog_rows
):
    root = make_project({"defs.py": SLOW})
    out = cli_json(root, "materialize", "--json", *args, expect=1)
    steps = {s["key"]: s for s in out["steps"]}
    assert steps["slow"]["status"] == "timed_out"
    assert "timed out after 0.5s (attempt 2)" in steps["slow"]["error"]
    assert steps["after_slow"] == {**steps["after_slow"], "status": "skipped"}
    assert steps["after_slow"]["reason"] == "upstream_failed: slow"
    assert steps["quick"]["status"] == "success"
    rows = catalog_rows(root, "select status, duration_s from materializations where key='slow'")
    assert [s for s, _ in rows] == ["retried", "timed_out"]
    assert all(d < 30 for _, d in rows)
    pids = [int(p) for p in (root / "pids.txt").read_text().split()]
    assert len(pids) == 2
    if args:  # the worker processes running the attempts were killed
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    assert catalog_rows(root, "select last_status from asset_state where key='slow'") == [
        ("timed_out",)
    ]


POOLED = """
import time
from assets_core import asset

{assets}
"""


def _pooled_project(make_project, limit: int):
    assets = "\n".join(
        f"@asset(pool='warehouse')\ndef load_{i}():\n    time.sleep(0.4)\n    return {i}\n"
        for i in range(4)
    )
    return make_project(
        {"defs.py": POOLED.format(assets=assets)},
        extra_toml=f"[tool.assets.pools]\nwarehouse = {limit}\n",
    )


def _most_at_once(catalog_rows, root) -> int:
    spans = catalog_rows(root, "select started_at, ended_at from materializations")
    return max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)


@pytest.mark.parametrize("args", [WORKERS, DASK], ids=["processes", "dask"])
def test_a_pool_of_one_runs_its_assets_one_at_a_time(args, make_project, cli_json, catalog_rows):
    root = _pooled_project(make_project, 1)
    cli_json(root, "materialize", "--json", *args)
    assert _most_at_once(catalog_rows, root) == 1


@pytest.mark.parametrize("args", [WORKERS, DASK], ids=["processes", "dask"])
def test_a_pool_of_two_runs_at_most_two_at_once(args, make_project, cli_json, catalog_rows):
    root = _pooled_project(make_project, 2)
    cli_json(root, "materialize", "--json", *args)
    assert _most_at_once(catalog_rows, root) == 2


@pytest.mark.parametrize("args", [WORKERS, DASK], ids=["processes", "dask"])
def test_a_pool_runs_as_many_at_once_as_it_allows_among_other_ready_assets(
    args, make_project, cli_json, catalog_rows
):
    # the quick assets are ready with the pooled ones: sent together, a pooled attempt
    # must not wait behind another one (its pool slot held) in the same batch
    pooled = "\n".join(
        f"@asset(pool='warehouse')\ndef load_{i}():\n    time.sleep(0.4)\n    return {i}\n"
        for i in range(3)
    )
    quick = "\n".join(f"@asset\ndef quick_{i}():\n    return {i}\n" for i in range(8))
    root = make_project(
        {"defs.py": POOLED.format(assets=pooled + "\n" + quick)},
        extra_toml="[tool.assets.pools]\nwarehouse = 2\n",
    )
    out = cli_json(root, "materialize", "--json", *args)
    assert {s["status"] for s in out["steps"]} == {"success"}
    spans = catalog_rows(
        root, "select started_at, ended_at from materializations where key like 'load_%'"
    )
    assert len(spans) == 3
    assert max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans) == 2


def test_a_pooled_attempt_is_not_queued_behind_a_busy_worker(make_project, cli_json, catalog_rows):
    # both workers busy when the pooled asset is ready: it waits for a free worker (the
    # quick one), not in the queue of the slow one with its pool slot taken
    defs = (
        "@asset\ndef slow_a():\n    time.sleep(3.0)\n    return 1\n\n"
        "@asset\ndef slow_b():\n    time.sleep(0.2)\n    return 2\n\n"
        "@asset(pool='warehouse')\ndef pooled():\n    return 3\n"
    )
    root = make_project(
        {"defs.py": POOLED.format(assets=defs)},
        extra_toml="[tool.assets.pools]\nwarehouse = 1\n",
    )
    cli_json(root, "materialize", "--json", "--workers", "2")
    spans = dict(
        (k, (s, e))
        for k, s, e in catalog_rows(root, "select key, started_at, ended_at from materializations")
    )
    assert spans["pooled"][0] < spans["slow_a"][1] - 1.0, spans


def test_an_asset_in_an_undeclared_pool_is_a_clear_error(make_project, run_cli):
    root = make_project(
        {"defs.py": "from assets_core import asset\n\n@asset(pool='gpu')\ndef x():\n    return 1\n"}
    )
    proc = run_cli(root, "materialize")
    assert proc.returncode == 2
    assert "asset x runs in pool 'gpu'" in proc.stderr
    assert "defs.py:3" in proc.stderr
    assert "[tool.assets.pools]" in proc.stderr


DYING = """
import os
from assets_core import asset

@asset
def dies():
    os._exit(3)

@asset
def after_dies(dies):
    return 1

{others}
"""


def test_a_worker_that_dies_fails_its_asset_and_what_was_queued_behind_it_still_runs(
    make_project, cli_json
):
    others = "\n".join(f"@asset\ndef other_{i}():\n    return {i}\n" for i in range(4))
    root = make_project({"defs.py": DYING.format(others=others)})
    # one worker: the attempts sent after the one that kills it wait in its pipe
    out = cli_json(root, "materialize", "--json", "--executor", "processes", "--workers", "1",
                   expect=1)  # fmt: skip
    steps = {s["key"]: s for s in out["steps"]}
    assert steps["dies"]["status"] == "failed"
    assert steps["dies"]["error"] == "the worker process running dies exited (3)"
    assert steps["after_dies"]["reason"] == "upstream_failed: dies"
    assert {k: steps[f"other_{k}"]["status"] for k in range(4)} == dict.fromkeys(
        range(4), "success"
    )
