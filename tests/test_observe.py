"""Source observation: versions from file contents with a size/mtime cache, recorded in the catalog."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from assets_core.definitions import source
from assets_core.sources import CACHE_NAME, FileDigestCache, observe, observe_many

DEFS = """
from assets_core import asset, source

orders = source("raw/orders", path="landing/orders/*.csv")
leads = source("raw/leads", path="landing/leads/*.csv")


@asset
def order_count(orders):
    return len(orders)


@asset
def lead_count(leads):
    return len(leads)


@asset
def report(order_count, lead_count):
    return order_count + lead_count


@asset
def order_report(order_count):
    return order_count * 2
"""


def _age(path: Path, seconds: float = 3600) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def _rewrite_same_size_and_mtime(path: Path, text: str) -> None:
    st = path.stat()
    assert len(text.encode()) == st.st_size
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_file_with_unchanged_size_and_mtime_is_not_read_again(tmp_path):
    (tmp_path / "d").mkdir()
    f = tmp_path / "d" / "a.csv"
    f.write_text("x,1\n")
    _age(f)
    src = source("raw/a", path="d/*.csv")
    cache_dir = tmp_path / "cache"
    first = observe_many([src], tmp_path, cache_dir)[0].version
    assert (cache_dir / CACHE_NAME).exists()
    _rewrite_same_size_and_mtime(f, "x,2\n")
    # the cache answers for the unchanged stat: the new bytes are not read
    assert observe_many([src], tmp_path, cache_dir)[0].version == first
    # without the cache the content decides
    assert observe(src, tmp_path) != first


def test_changed_mtime_makes_the_file_hashed_again(tmp_path):
    (tmp_path / "d").mkdir()
    f = tmp_path / "d" / "a.csv"
    f.write_text("x,1\n")
    _age(f, 7200)
    src = source("raw/a", path="d/*.csv")
    cache_dir = tmp_path / "cache"
    first = observe_many([src], tmp_path, cache_dir)[0].version
    f.write_text("x,2\n")
    _age(f, 3600)
    assert observe_many([src], tmp_path, cache_dir)[0].version != first


def test_recently_modified_file_is_never_trusted_to_the_cache(tmp_path):
    (tmp_path / "d").mkdir()
    f = tmp_path / "d" / "a.csv"
    f.write_text("x,1\n")  # modified just now: within one mtime tick of a next write
    src = source("raw/a", path="d/*.csv")
    cache_dir = tmp_path / "cache"
    first = observe_many([src], tmp_path, cache_dir)[0].version
    _rewrite_same_size_and_mtime(f, "x,2\n")
    assert observe_many([src], tmp_path, cache_dir)[0].version != first


def test_cache_gives_the_same_version_as_hashing(tmp_path):
    (tmp_path / "d").mkdir()
    for i in range(5):
        f = tmp_path / "d" / f"{i}.csv"
        f.write_text(f"row,{i}\n" * (i + 1))
        _age(f)
    src = source("raw/a", path="d/*.csv")
    cached = FileDigestCache(tmp_path / "c.pickle")
    got = [observe_many([src], tmp_path, tmp_path / "cache")[0].version for _ in range(2)]
    assert got[0] == got[1] == observe(src, tmp_path, cached) == observe(src, tmp_path)


def test_observe_records_every_observation_changed_or_not(
    make_project, write_file, cli_json, catalog_rows
):
    root = make_project({"defs.py": DEFS, "landing/orders/1.csv": "id\n1\n"})
    first = cli_json(root, "observe", "--json")["sources"]
    assert {s["key"]: s["changed"] for s in first} == {"raw/orders": True, "raw/leads": True}
    assert {s["key"]: s["files"] for s in first} == {"raw/orders": 1, "raw/leads": 0}
    again = cli_json(root, "observe", "raw/orders", "--json")["sources"]
    assert [(s["key"], s["changed"]) for s in again] == [("raw/orders", False)]
    write_file(root / "landing/orders/2.csv", "id\n2\n")
    third = cli_json(root, "observe", "raw/orders", "--json")["sources"]
    assert third[0]["changed"] and third[0]["version"] != first[0]["version"]
    rows = catalog_rows(root, "SELECT key, changed FROM observations ORDER BY id")
    assert rows == [("raw/orders", 1), ("raw/leads", 1), ("raw/orders", 0), ("raw/orders", 1)]
    (state,) = catalog_rows(
        root, "SELECT version, observed_at >= changed_at FROM source_state WHERE key='raw/orders'"
    )
    assert state == (third[0]["version"], 1)


def test_source_file_change_makes_exactly_its_downstream_stale(make_project, write_file, cli_json):
    root = make_project(
        {"defs.py": DEFS, "landing/orders/1.csv": "id\n1\n", "landing/leads/1.csv": "id\n9\n"}
    )
    cli_json(root, "materialize", "--json")
    assert cli_json(root, "plan", "--json")["steps"] == []
    write_file(root / "landing/leads/1.csv", "id\n10\n")
    steps = cli_json(root, "plan", "--json")["steps"]
    assert [s["key"] for s in steps] == ["lead_count", "report"]
    assert [r["kind"] for r in steps[0]["reasons"]] == ["source_changed"]
    assert steps[0]["reasons"][0]["upstream"] == "raw/leads"


def test_observe_function_source_is_recorded_with_its_version(make_project, cli_json):
    root = make_project(
        {
            "defs.py": """
            from assets_core import source

            def latest():
                return "2026-01-01T00:00:00"

            api = source("raw/api", observe=latest)
            """
        }
    )
    (got,) = cli_json(root, "observe", "--json")["sources"]
    assert got == {
        "key": "raw/api",
        "version": "2026-01-01T00:00:00",
        "files": None,
        "changed": True,
    }


def test_observe_of_a_selection_without_sources_says_how_to_select_them(make_project, run_cli):
    root = make_project({"defs.py": DEFS})
    proc = run_cli(root, "observe", "report")
    assert proc.returncode == 2
    assert "selects no source" in proc.stderr and "+report" in proc.stderr


DB_DEFS = """
import sqlite3
from pathlib import Path

from assets_core import asset, source

DB = Path(__file__).parent / "shop.db"


def latest_update():
    with sqlite3.connect(DB) as conn:
        return conn.execute("SELECT max(updated_at) FROM orders").fetchone()[0]


orders = source("raw/orders", observe=latest_update)
leads = source("raw/leads", path="landing/leads/*.csv")


@asset
def order_count(orders):
    return 1


@asset
def lead_count(leads):
    return 2


@asset
def report(order_count, lead_count):
    return order_count + lead_count
"""


def _shop(root: Path, updated_at: str) -> None:
    import sqlite3

    with sqlite3.connect(root / "shop.db") as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER, updated_at TEXT)")
        conn.execute("INSERT INTO orders VALUES (1, ?)", (updated_at,))


def test_a_database_source_observed_by_a_query_makes_exactly_its_downstream_stale(
    make_project, cli_json
):
    root = make_project({"defs.py": DB_DEFS, "landing/leads/1.csv": "id\n9\n"})
    _shop(root, "2026-01-01T06:00:00")
    cli_json(root, "materialize", "--json")
    seen = cli_json(root, "observe", "raw/orders", "--json")["sources"]
    assert seen == [
        {"key": "raw/orders", "version": "2026-01-01T06:00:00", "files": None, "changed": False}
    ]
    assert cli_json(root, "plan", "--json")["steps"] == []
    _shop(root, "2026-01-02T06:00:00")  # a new row lands in the database
    steps = cli_json(root, "plan", "--json")["steps"]
    assert [s["key"] for s in steps] == ["order_count", "report"]
    assert [(r["kind"], r["upstream"]) for r in steps[0]["reasons"]] == [
        ("source_changed", "raw/orders")
    ]
    assert cli_json(root, "observe", "--json")["sources"][0]["changed"] is True


def test_an_observe_function_that_raises_names_the_source_and_its_code(make_project, run_cli):
    root = make_project({"defs.py": DB_DEFS, "landing/leads/1.csv": "id\n9\n"})
    proc = run_cli(root, "observe")  # shop.db has no orders table
    assert proc.returncode == 1
    defs = root / "defs.py"
    lines = defs.read_text().splitlines()
    fn_line = lines.index("def latest_update():") + 1
    query_line = next(i for i, t in enumerate(lines, 1) if "SELECT max(updated_at)" in t)
    source_line = lines.index('orders = source("raw/orders", observe=latest_update)') + 1
    err = proc.stderr
    assert "observing source raw/orders" in err and "no such table: orders" in err
    assert f"declared at {defs}:{source_line}" in err
    assert f"raised at {defs}:{query_line}" in err
    assert f"latest_update at {defs}:{fn_line}" in err
    assert "Traceback" not in err


def test_observe_in_a_project_without_sources_observes_nothing_and_succeeds(
    make_project, run_cli, cli_json
):
    root = make_project(
        {"defs.py": "from assets_core import asset\n\n@asset\ndef a():\n    return 1\n"}
    )
    assert cli_json(root, "observe", "--json") == {"sources": []}
    proc = run_cli(root, "observe")
    assert proc.returncode == 0 and "declares no source" in proc.stdout


DOWN_DEFS = """
from assets_core import asset, source


def poll():
    raise ConnectionError("warehouse unreachable")


feed = source("raw/feed", observe=poll)


@asset
def from_feed(feed):
    return 1


@asset
def standalone():
    return 2
"""


def test_a_source_that_cannot_be_observed_blocks_only_what_reads_it(
    make_project, run_cli, cli_json
):
    root = make_project({"defs.py": DOWN_DEFS})
    plan = run_cli(root, "plan", "--json")
    assert plan.returncode == 1  # something cannot be planned
    data = json.loads(plan.stdout)
    assert [s["key"] for s in data["steps"]] == ["standalone"]
    ((blocked,),) = [data["blocked"]]
    assert (blocked["key"], blocked["kind"], blocked["source"]) == (
        "from_feed",
        "source_unobservable",
        "raw/feed",
    )
    defs = root / "defs.py"
    raise_line = (
        defs.read_text().splitlines().index('    raise ConnectionError("warehouse unreachable")')
    )
    assert "ConnectionError: warehouse unreachable" in blocked["detail"]
    assert f"raised at {defs}:{raise_line + 1}" in blocked["detail"]

    text = run_cli(root, "plan")  # the table of steps, then what is blocked and why
    assert text.returncode == 1 and "Traceback" not in text.stderr
    assert "blocked: from_feed reads source raw/feed" in text.stdout
    assert "warehouse unreachable" in text.stdout

    run = run_cli(root, "materialize", "--json")  # the rest runs; the reader is skipped
    assert run.returncode == 1
    steps = {s["key"]: s for s in json.loads(run.stdout)["steps"]}
    assert steps["standalone"]["status"] == "success"
    assert steps["from_feed"]["status"] == "skipped"
    assert steps["from_feed"]["reason"].startswith("source_unobservable: observing source raw/feed")
    history = cli_json(root, "show", "from_feed", "--json")
    assert [(m["status"], m["reason"][:19]) for m in history["history"]] == [
        ("skipped", "source_unobservable")
    ]
    only = run_cli(root, "materialize", "from_feed", "--json")  # nothing else to run
    assert only.returncode == 1
    assert [s["status"] for s in json.loads(only.stdout)["steps"]] == ["skipped"]

    status = {s["key"]: s for s in cli_json(root, "status", "--json")["assets"]}
    assert status["raw/feed"]["status"] == "unobservable"
    assert status["from_feed"]["status"] == "blocked"
    assert status["from_feed"]["reasons"][0]["upstream"] == "raw/feed"
    assert status["standalone"]["status"] == "fresh"
    assert run_cli(root, "observe").returncode == 1  # observing it is still the error

    defs.write_text(
        DOWN_DEFS.replace('raise ConnectionError("warehouse unreachable")', 'return "v1"')
    )
    again = cli_json(root, "materialize", "--json")  # back up: it runs, nothing is blocked
    assert [(s["key"], s["status"]) for s in again["steps"]] == [("from_feed", "success")]
