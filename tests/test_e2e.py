"""End to end through the real CLI in temporary projects: what runs, what is skipped, why.

The main project:

    raw/orders (source: data/orders/*.csv) -> order_count -> order_report
    base -> scaled (uses lib.helpers.outer -> inner) -> scaled_report
         -> independent
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

HELPERS = """
def inner(x):
    return x + 1


def outer(x):
    return inner(x) * 2
"""

DEFS = """
from pathlib import Path

from assets_core import asset, source
from lib.helpers import outer

orders = source("raw/orders", path="data/orders/*.csv")


@asset
def order_count(orders):
    return sum(len(Path(p).read_text().split()) for p in orders)


@asset
def order_report(order_count):
    return f"{order_count} orders"


@asset
def base():
    return 10


@asset
def scaled(base):
    return outer(base)


@asset
def scaled_report(scaled):
    return f"scaled {scaled}"


@asset
def independent(base):
    return base * 3
"""

ALL = ["order_count", "order_report", "base", "scaled", "scaled_report", "independent"]


def project(make_project, **overrides: str) -> Path:
    files = {
        "lib/__init__.py": "",
        "lib/helpers.py": HELPERS,
        "defs.py": DEFS,
        "data/orders/2024-01.csv": "1\n2\n",
    }
    files.update(overrides)
    return make_project(files, modules=["defs"])


def step_keys(data: dict) -> list[str]:
    return [s["key"] for s in data["steps"]]


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of ``fragment`` in ``text`` as written to disk (leading newline dropped)."""
    lines = text.lstrip("\n").splitlines()
    return next(i for i, line in enumerate(lines, 1) if fragment in line)


def reasons(plan: dict) -> dict[str, list[tuple[str, str]]]:
    return {s["key"]: [(r["kind"], r["detail"]) for r in s["reasons"]] for s in plan["steps"]}


def test_first_materialize_builds_everything_and_a_second_runs_nothing(
    make_project, cli_json, published_values
) -> None:
    root = project(make_project)
    first = cli_json(root, "materialize", "--json")
    assert first["status"] == "success"
    assert sorted(step_keys(first)) == sorted(ALL)
    assert all(s["status"] == "success" for s in first["steps"])

    second = cli_json(root, "materialize", "--json")
    assert second == {"run_id": None, "status": "success", "steps": [], "fresh": second["fresh"]}
    assert sorted(second["fresh"]) == sorted(ALL)
    assert len(cli_json(root, "runs", "--json")["runs"]) == 1
    assert published_values(root, "order_report", "scaled", "independent") == {
        "order_report": "2 orders",
        "scaled": 22,
        "independent": 30,
    }


def test_editing_a_helper_rebuilds_exactly_its_dependents(
    make_project, write_file, cli_json, published_values
) -> None:
    root = project(make_project)
    cli_json(root, "materialize", "--json")
    write_file(root / "lib/helpers.py", HELPERS.replace("return x + 1", "return x + 2"))

    plan = cli_json(root, "plan", "--json")
    assert reasons(plan) == {
        "scaled": [("code_changed", f"lib.helpers.inner changed ({Path('lib/helpers.py')})")],
        "scaled_report": [("upstream_will_change", "scaled is in this plan")],
    }
    run = cli_json(root, "materialize", "--json")
    assert [(s["key"], s["status"], s["changed"]) for s in run["steps"]] == [
        ("scaled", "success", True),
        ("scaled_report", "success", True),
    ]
    assert published_values(root, "scaled_report") == {"scaled_report": "scaled 24"}
    assert cli_json(root, "plan", "--json")["steps"] == []


def test_reformatting_and_commenting_rebuilds_nothing(make_project, write_file, cli_json) -> None:
    root = project(make_project)
    cli_json(root, "materialize", "--json")
    reformatted = '"""Definitions of the demo project."""\n' + DEFS.replace(
        "def base():\n    return 10", "def base( ):\n    # ten\n    return (10)"
    ).replace('return f"{order_count} orders"', 'return f"{order_count} orders"  # text').replace(
        "def scaled(base):\n", 'def scaled(base):\n    """Scale the base."""\n\n'
    )
    write_file(root / "defs.py", reformatted)
    write_file(
        root / "lib/helpers.py",
        "# helpers\n" + HELPERS.replace("return x + 1", "return (x\n            + 1)"),
    )
    assert cli_json(root, "plan", "--json")["steps"] == []
    assert cli_json(root, "materialize", "--json")["steps"] == []
    assert len(cli_json(root, "runs", "--json")["runs"]) == 1


def test_early_cutoff_skips_downstream_when_an_upstream_rebuilds_to_the_same_value(
    make_project, write_file, cli_json
) -> None:
    root = project(make_project)
    cli_json(root, "materialize", "--json")
    write_file(root / "defs.py", DEFS.replace("return 10", 'return int("10")'))

    plan = cli_json(root, "plan", "--json")
    assert set(reasons(plan)) == {"base", "scaled", "scaled_report", "independent"}
    assert reasons(plan)["base"] == [("code_changed", "defs.base changed (defs.py)")]
    assert reasons(plan)["independent"] == [("upstream_will_change", "base is in this plan")]

    run = cli_json(root, "materialize", "--json")
    got = {s["key"]: (s["status"], s["reason"]) for s in run["steps"]}
    assert got == {
        "base": ("success", None),
        "scaled": ("skipped", "unchanged_upstream"),
        "scaled_report": ("skipped", "unchanged_upstream"),
        "independent": ("skipped", "unchanged_upstream"),
    }
    assert run["status"] == "success"

    recorded = cli_json(root, "runs", "--run", run["run_id"], "--json")
    assert recorded["run"]["status"] == "success"
    assert {s["key"]: (s["status"], s["reason"]) for s in recorded["steps"]} == {
        "base": ("success", recorded["steps"][0]["reason"]),
        "scaled": ("skipped", "unchanged_upstream"),
        "scaled_report": ("skipped", "unchanged_upstream"),
        "independent": ("skipped", "unchanged_upstream"),
    }
    assert (recorded["run"]["materialized"], recorded["run"]["skipped"]) == (1, 3)
    # and everything is fresh afterwards
    assert cli_json(root, "plan", "--json")["steps"] == []


FAILING_HELPERS = HELPERS.replace(
    "def inner(x):\n    return x + 1", 'def inner(x):\n    raise ValueError(f"bad value {x}")'
)


def test_a_failing_asset_skips_its_downstream_but_not_independent_siblings(
    make_project, run_cli, cli_json, write_file
) -> None:
    root = project(make_project, **{"lib/helpers.py": FAILING_HELPERS})
    proc = run_cli(root, "materialize")
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr

    # the user's traceback: their files and functions, nothing of the framework
    helpers, defs = root.resolve() / "lib" / "helpers.py", root.resolve() / "defs.py"
    at_scaled = line_of(DEFS, "return outer(base)")
    at_inner = line_of(FAILING_HELPERS, "raise ValueError")
    at_outer = line_of(FAILING_HELPERS, "return inner(x) * 2")
    assert f'File "{defs}", line {at_scaled}, in scaled' in out
    assert f'File "{helpers}", line {at_inner}, in inner' in out
    assert f'File "{helpers}", line {at_outer}, in outer' in out
    assert "ValueError: bad value 10" in out
    assert "assets_core" not in out
    assert "Traceback" not in out
    assert "skipped scaled_report: upstream_failed: scaled" in proc.stdout

    runs = cli_json(root, "runs", "--json")["runs"]
    assert runs[0]["status"] == "failed"
    steps = cli_json(root, "runs", "--run", runs[0]["id"], "--json")["steps"]
    got = {
        s["key"]: (s["status"], s["reason"] if s["status"] == "skipped" else None) for s in steps
    }
    assert got == {
        "order_count": ("success", None),
        "order_report": ("success", None),
        "base": ("success", None),
        "scaled": ("failed", None),
        "scaled_report": ("skipped", "upstream_failed: scaled"),
        "independent": ("success", None),
    }
    (failed,) = [s for s in steps if s["status"] == "failed"]
    assert "ValueError: bad value 10" in failed["error"]
    assert "assets_core" not in failed["error"]

    # the next run retries exactly the failed asset and what it skipped
    plan = cli_json(root, "plan", "--json")
    assert reasons(plan) == {
        "scaled": [
            ("never_materialized", "no published version yet"),
            ("last_attempt_failed", "the latest attempt failed"),
        ],
        "scaled_report": [("never_materialized", "no published version yet")],
    }
    write_file(root / "lib/helpers.py", HELPERS)
    fixed = cli_json(root, "materialize", "--json")
    assert [(s["key"], s["status"]) for s in fixed["steps"]] == [
        ("scaled", "success"),
        ("scaled_report", "success"),
    ]


def test_a_failing_asset_in_json_mode_reports_its_error_and_exits_1(make_project, cli_json) -> None:
    root = project(make_project, **{"lib/helpers.py": FAILING_HELPERS})
    run = cli_json(root, "materialize", "scaled+", "+scaled", "--json", expect=1)
    assert run["status"] == "failed"
    got = {s["key"]: s for s in run["steps"]}
    assert got["scaled"]["status"] == "failed"
    assert 'in inner\n    raise ValueError(f"bad value {x}")' in got["scaled"]["error"]
    assert got["scaled_report"]["reason"] == "upstream_failed: scaled"
    assert "independent" not in got


def test_dry_run_writes_nothing(make_project, run_cli, cli_json, catalog_rows) -> None:
    root = project(make_project)
    proc = run_cli(root, "materialize", "--dry-run")
    assert proc.returncode == 0
    assert "Dry run: 6 to materialize, 0 fresh" in proc.stdout
    dry = cli_json(root, "materialize", "--dry-run", "--json")
    assert sorted(step_keys(dry)) == sorted(ALL)
    assert cli_json(root, "runs", "--json")["runs"] == []
    assert catalog_rows(root, "select count(*) from asset_state") in ([], [(0,)])
    assert catalog_rows(root, "select count(*) from materializations") in ([], [(0,)])
    store = root / ".assets" / "store"
    assert not store.exists() or not any(p.is_file() for p in store.rglob("*"))
    assert sorted(step_keys(cli_json(root, "plan", "--json"))) == sorted(ALL)


def test_force_rematerializes_the_selection_even_when_fresh(make_project, cli_json) -> None:
    root = project(make_project)
    cli_json(root, "materialize", "--json")

    plan = cli_json(root, "plan", "--force", "--json")
    assert sorted(step_keys(plan)) == sorted(ALL)
    for step in plan["steps"]:
        assert step["reasons"][0] == {"kind": "forced", "detail": "--force"}
        assert {r["kind"] for r in step["reasons"][1:]} <= {"upstream_will_change"}

    run = cli_json(root, "materialize", "--force", "scaled", "--json")
    assert [(s["key"], s["status"], s["changed"]) for s in run["steps"]] == [
        ("scaled", "success", False)
    ]
    (step,) = cli_json(root, "runs", "--run", run["run_id"], "--json")["steps"]
    assert '"kind": "forced"' in step["reason"]
    assert len(cli_json(root, "show", "scaled", "--json")["history"]) == 2
    assert cli_json(root, "plan", "--json")["steps"] == []


def test_a_source_file_change_makes_exactly_its_downstream_stale(
    make_project, write_file, cli_json, published_values
) -> None:
    root = project(make_project)
    cli_json(root, "materialize", "--json")
    write_file(root / "data/orders/2024-01.csv", "1\n2\n3\n")

    plan = cli_json(root, "plan", "--json")
    assert step_keys(plan) == ["order_count", "order_report"]
    (reason,) = plan["steps"][0]["reasons"]
    assert reason["kind"] == "source_changed"
    assert reason["upstream"] == "raw/orders"
    old, new = reason["detail"].removeprefix("raw/orders: ").split(" -> ")
    assert old != new
    assert plan["steps"][1]["reasons"][0]["kind"] == "upstream_will_change"

    cli_json(root, "materialize", "--json")
    assert published_values(root, "order_report") == {"order_report": "3 orders"}

    # a new file matching the glob is a change of the source too
    write_file(root / "data/orders/2024-02.csv", "4\n")
    assert step_keys(cli_json(root, "plan", "--json")) == ["order_count", "order_report"]
    # a file outside the glob is not
    cli_json(root, "materialize", "--json")
    write_file(root / "data/orders/notes.txt", "not an order file")
    assert cli_json(root, "plan", "--json")["steps"] == []


def test_an_upstream_materialized_alone_makes_its_readers_upstream_changed(
    make_project, write_file, cli_json
) -> None:
    root = project(make_project)
    cli_json(root, "materialize", "--json")
    before = {a["key"]: a["version"] for a in cli_json(root, "status", "--json")["assets"]}
    write_file(root / "defs.py", DEFS.replace("return 10", "return 11"))
    run = cli_json(root, "materialize", "base", "--json")
    assert step_keys(run) == ["base"]
    new = run["steps"][0]["data_version"]

    plan = cli_json(root, "plan", "--json")
    detail = f"base: {before['base'][:12]} -> {new[:12]}"
    assert reasons(plan) == {
        "scaled": [("upstream_changed", detail)],
        "scaled_report": [("upstream_will_change", "scaled is in this plan")],
        "independent": [("upstream_changed", detail)],
    }


def test_an_upstream_without_a_published_value_skips_the_asset_with_the_fix(
    make_project, run_cli
) -> None:
    root = project(make_project)
    proc = run_cli(root, "materialize", "scaled")
    assert proc.returncode == 1
    assert "upstream_missing: base has no published value" in proc.stdout
    assert "assets materialize +scaled" in proc.stdout


# -- kill -9 in the middle of a run ---------------------------------------------------------

KILL_DEFS = """
import time
from pathlib import Path

from assets_core import asset

GATE = Path(__file__).parent / "gate"


@asset
def first():
    return 1


@asset
def other():
    return "independent"


@asset
def second(first):
    return first + 1


@asset
def slow(second):
    deadline = time.time() + 120
    while GATE.exists() and time.time() < deadline:  # held open until the test kills us
        time.sleep(0.05)
    return second + 1


@asset
def last(slow):
    return slow + 1
"""


def test_a_killed_run_is_marked_interrupted_and_keeps_what_it_published(
    make_project, start_cli, cli_json, catalog_rows, published_values
) -> None:
    root = make_project({"defs.py": KILL_DEFS})
    (root / "gate").touch()
    proc = start_cli(root, "materialize")
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    published: set[str] = set()
    try:
        # wait until the run sits in `slow` after publishing first, other and second
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            rows = catalog_rows(root, "select key from asset_state where data_version is not null")
            published = {k for (k,) in rows}
            if published >= {"first", "second", "other"}:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "".join(output)
        assert published == {"first", "second", "other"}, (
            f"the catalog shows {sorted(published)} published; the run printed:\n" + "".join(output)
        )
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join(timeout=10)
        (root / "gate").unlink()
    assert proc.returncode == -signal.SIGKILL

    (run,) = cli_json(root, "runs", "--json")["runs"]
    assert run["status"] == "interrupted"
    assert run["ended_at"] is not None
    assert (run["planned"], run["materialized"], run["failed"]) == (5, 3, 0)

    status = {a["key"]: a["status"] for a in cli_json(root, "status", "--json")["assets"]}
    assert status == {
        "first": "fresh",
        "other": "fresh",
        "second": "fresh",
        "slow": "never",
        "last": "never",
    }
    assert published_values(root, "first", "second", "other") == {
        "first": 1,
        "second": 2,
        "other": "independent",
    }
    store = root / ".assets" / "store"
    assert not store.exists() or not list(store.rglob(".staging-*"))

    rest = cli_json(root, "materialize", "--json")
    assert [(s["key"], s["status"]) for s in rest["steps"]] == [
        ("slow", "success"),
        ("last", "success"),
    ]
    assert sorted(rest["fresh"]) == ["first", "other", "second"]
    assert published_values(root, "last") == {"last": 4}
    runs = cli_json(root, "runs", "--json")["runs"]
    assert [r["status"] for r in runs] == ["success", "interrupted"]


def test_ctrl_c_marks_the_run_interrupted_without_a_traceback(
    make_project, start_cli, cli_json, catalog_rows
) -> None:
    root = make_project({"defs.py": KILL_DEFS})
    (root / "gate").touch()
    proc = start_cli(root, "materialize", "+slow")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            rows = catalog_rows(root, "select key from asset_state where data_version is not null")
            if {k for (k,) in rows} >= {"first", "second"}:
                break
            time.sleep(0.1)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        (root / "gate").unlink()
    assert proc.returncode == 1
    assert "Aborted!" in out
    assert "Traceback" not in out
    (run,) = cli_json(root, "runs", "--json")["runs"]
    assert run["status"] == "interrupted"
    assert run["materialized"] == 2
    rest = cli_json(root, "materialize", "+slow", "--json")
    assert [(s["key"], s["status"]) for s in rest["steps"]] == [("slow", "success")]


OBSERVED_DEFS = """
from pathlib import Path

from assets_core import asset, source

ETAG = Path(__file__).parent / "etag.txt"

rates = source("api/rates", observe=lambda: ETAG.read_text().strip())


@asset
def priced(rates):
    return f"priced with {rates}"


@asset
def unrelated():
    return 1
"""


def test_an_observed_source_passes_its_value_and_a_new_value_stales_its_readers(
    make_project, write_file, cli_json, published_values
) -> None:
    root = make_project({"defs.py": OBSERVED_DEFS, "etag.txt": "v1\n"})
    cli_json(root, "materialize", "--json")
    assert published_values(root, "priced") == {"priced": "priced with v1"}
    write_file(root / "etag.txt", "v2\n")
    plan = cli_json(root, "plan", "--json")
    assert reasons(plan) == {"priced": [("source_changed", "api/rates: v1 -> v2")]}


MUTATING_DEFS = """
from assets_core import asset


@asset
def numbers():
    return [1, 2]


@asset
def appends(numbers):
    numbers.append(99)  # a reader that mutates its input in place
    return len(numbers)


@asset
def counts(numbers):
    return len(numbers)
"""


def test_a_reader_mutating_its_input_does_not_change_what_its_siblings_read(
    make_project, cli_json, published_values
) -> None:
    # counts is recorded as built from the published [1, 2]; it must have seen exactly that,
    # whether numbers ran in the same run or was loaded from the store
    root = make_project({"defs.py": MUTATING_DEFS})
    cli_json(root, "materialize", "--json")
    assert published_values(root, "numbers", "counts") == {"numbers": [1, 2], "counts": 2}
