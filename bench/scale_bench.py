"""Scale benchmarks: worker processes, Dask, and the catalog on PostgreSQL.

Usage (from the repository root)::

    python bench/scale_bench.py [--n 1000] [--repeats 3] [--measure workers dask catalog]

- ``workers``: W1 with a 20 ms sleep in every body, executed in-process and with
  ``--workers 2``; prints the speed-up (target >= 1.8x on 2 cores).
- ``dask``: W1 with trivial bodies on a Dask LocalCluster (2 worker processes)
  against in-process; prints the cluster's start-up and its overhead per asset
  (target <= 5 ms).
- ``catalog``: the full W1 materialize (trivial bodies, in-process) with the catalog
  on SQLite and on a throwaway PostgreSQL server (tests/pg_server.py); prints the
  PostgreSQL / SQLite time ratio.

Projects are generated with bench/run.py's generator (same graphs, same bodies,
plus the sleep); each measured run happens in a fresh process on a fresh project,
and the values it published are checked against the reference values. One JSON
line per measure and executor.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import run as bench_run  # noqa: E402  (bench/run.py: project generation)

SLEEP_S = 0.02


def write_project(root: Path, wl, wl_path: Path, graph, sleep_s: float) -> None:
    """bench/run.py's project, with ``sleep_s`` of sleep added to every body."""
    bench_run.write_project(root, wl, wl_path, graph, wl.node_versions(graph))
    if sleep_s:
        src = root / f"{bench_run.MODULE_NAME}.py"
        text = src.read_text().replace(
            "    return _rt.", f"    _time.sleep({sleep_s})\n    return _rt."
        )
        src.write_text("import time as _time\n" + text)


def _child(spec_json: str) -> None:
    """One measured run: load, plan, execute on the given executor; print timings."""
    spec = json.loads(spec_json)
    from assets_core.executor import execute, make_plan, open_catalog, open_store
    from assets_core.executors import make_backend
    from assets_core.project import Project

    project = Project.load(spec["project"])
    catalog = open_catalog(project)
    state = catalog.state()
    plan = make_plan(project, catalog, None, state=state)
    backend = make_backend(spec["executor"], workers=spec.get("workers"))
    started_backend = 0.0
    if spec["executor"] == "dask":  # start the cluster outside the timed part, report it
        t = time.perf_counter()
        backend.start(_Probe(project, catalog, plan))
        started_backend = time.perf_counter() - t
        backend.start = lambda run: None  # already started
    t = time.perf_counter()
    result = execute(project, plan, catalog, state=state, backend=backend)
    elapsed = time.perf_counter() - t
    backend.close()
    ok = result.count("success")
    # check what was published against the reference values
    rt = sys.modules["workloads"]
    graph = rt.get_workload("W1", spec["n"])
    expected = rt.expected_values(graph, rt.node_versions(graph))
    store = open_store(project, catalog)
    published = catalog.state().assets
    for name in [graph[0][0], graph[len(graph) // 2][0], graph[-1][0]]:
        got = store.load(name, published[name].value_ref)
        if got != expected[name]:
            raise SystemExit(f"{name}: published {got!r}, expected {expected[name]!r}")
    print(json.dumps({"execute_s": elapsed, "backend_start_s": started_backend, "ok": ok}))


class _Probe:
    """What a backend's start() reads of a run, for starting it before the run."""

    def __init__(self, project, catalog, plan) -> None:
        self.project, self.catalog, self.plan = project, catalog, plan
        self.run_id = "preload"  # the contexts the workers load now serve the measured run


def measure(project: Path, executor: str, n: int, env: dict, workers: int | None = None) -> dict:
    spec = {"project": str(project), "executor": executor, "n": n, "workers": workers}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", json.dumps(spec)]
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{executor} run failed:\n{proc.stdout}\n{proc.stderr}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    if got["ok"] != n:
        raise SystemExit(f"{executor}: {got['ok']} of {n} assets succeeded")
    return got


def repeated(make, executor, n, env, repeats, workers=None) -> list[dict]:
    out = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="assets-scale-") as tmp:
            root = Path(tmp) / "p"
            make(root)
            out.append(measure(root, executor, n, env, workers))
    return out


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--measure", nargs="+", choices=("workers", "dask", "catalog"),
        default=["workers", "dask", "catalog"],
    )  # fmt: skip
    args = ap.parse_args()
    wl_path = bench_run._default_workloads_path().resolve()
    wl = bench_run._load_workloads(wl_path)
    graph = wl.get_workload("W1", args.n)
    env = {k: v for k, v in os.environ.items() if k != "ASSETS_CATALOG_URL"}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    load = os.getloadavg()[0]

    def line(**kw) -> None:
        print(json.dumps({"workload": "W1", "n": args.n, "loadavg_1m": load, **kw}), flush=True)

    def med(runs, field="execute_s") -> float:
        return round(statistics.median(r[field] for r in runs), 4)

    if "workers" in args.measure:

        def sleepy(root):
            write_project(root, wl, wl_path, graph, SLEEP_S)

        inproc = repeated(sleepy, "inprocess", args.n, env, args.repeats)
        two = repeated(sleepy, "processes", args.n, env, args.repeats, workers=2)
        line(measure="workers", body_sleep_s=SLEEP_S, inprocess_s=med(inproc),
             workers2_s=med(two), speedup=round(med(inproc) / med(two), 3))  # fmt: skip
    if "dask" in args.measure:

        def trivial(root):
            write_project(root, wl, wl_path, graph, 0.0)

        inproc = repeated(trivial, "inprocess", args.n, env, args.repeats)
        dask = repeated(trivial, "dask", args.n, env, args.repeats, workers=2)
        per_asset = (med(dask) - med(inproc)) * 1000 / args.n
        line(measure="dask", inprocess_s=med(inproc), dask_s=med(dask),
             cluster_start_s=med(dask, "backend_start_s"),
             overhead_per_asset_ms=round(per_asset, 3))  # fmt: skip
    if "catalog" in args.measure:
        from tests.pg_server import PostgresServer, new_database

        def trivial_on(url):
            def make(root):
                write_project(root, wl, wl_path, graph, 0.0)
                if url:
                    pp = root / "pyproject.toml"
                    pp.write_text(pp.read_text() + f'catalog = "{url(root)}"\n')

            return make

        sqlite = repeated(trivial_on(None), "inprocess", args.n, env, args.repeats)
        with PostgresServer() as server:
            pg = repeated(
                trivial_on(lambda _root: new_database(server.url)),
                "inprocess",
                args.n,
                env,
                args.repeats,
            )
        line(measure="catalog", sqlite_s=med(sqlite), postgresql_s=med(pg),
             ratio_pg_over_sqlite=round(med(pg) / med(sqlite), 3))  # fmt: skip
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--_child":
        _child(sys.argv[2])
    else:
        sys.exit(main())
