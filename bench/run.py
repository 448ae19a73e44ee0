"""Benchmark runner for assets-core on the framework-neutral workloads.

Usage (from the repository root)::

    python bench/run.py --workload W1 --n 1000 \
        --measure import build full noop incremental --repeats 3 [--out results.jsonl]

Every repeat runs in fresh processes on a fresh project in a temporary folder, so
nothing (imported modules, code-version cache, catalog, bytecode) carries over
between repeats. See bench/README.md for what each measure covers.

Only the standard library is used. This module keeps its top-level imports to
``sys`` and ``time`` so that a child process measures ``import assets_core``
without the runner having pre-imported the standard modules assets-core needs.
"""

from __future__ import annotations

import sys
import time

MEASURES = ("import", "build", "full", "noop", "incremental")
# imported (and timed separately, as ``lib_import_s``) before any operation is timed
LIBRARIES = ("sqlalchemy", "sqlalchemy.dialects.sqlite", "sqlite3", "click", "rich")
# assets-core modules the in-process API needs (timed separately, as ``api_import_s``)
API_MODULES = (
    "assets_core.project",
    "assets_core.executor",
    "assets_core.stores",
    "assets_core.catalog.catalog",  # the executor imports it when a catalog is opened
)
MODULE_NAME = "bench_assets"
PAYLOAD = "int"
CHECK_SAMPLE = 10  # published values read back and compared per verified run


# ---------------------------------------------------------------------------------------
# child: one measured operation in a fresh process
# ---------------------------------------------------------------------------------------


def _child(spec_json: str) -> None:
    c0, t0 = time.process_time(), time.perf_counter()
    import assets_core  # noqa: F401

    t1, c1 = time.perf_counter(), time.process_time()
    import importlib

    for name in LIBRARIES:
        importlib.import_module(name)
    t2 = time.perf_counter()
    for name in API_MODULES:
        importlib.import_module(name)
    t3 = time.perf_counter()

    import json

    spec = json.loads(spec_json)
    out: dict = {
        "import_s": t1 - t0,
        "import_cpu_s": c1 - c0,
        "lib_import_s": t2 - t1,
        "api_import_s": t3 - t2,
        "core_file": assets_core.__file__,
    }
    measure = spec["measure"]
    if measure != "import":
        profiler = None
        if spec.get("profile"):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        c0 = time.process_time()
        phases, state = _operation(measure, spec["project"])
        out["op_cpu_s"] = time.process_time() - c0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(spec["profile"])
        out["op_s"] = sum(phases.values())
        out["phases"] = phases
        out.update(_verify(spec, state))
    with open(spec["result"], "w", encoding="utf-8") as f:
        json.dump(out, f)


def _operation(measure: str, project_dir: str) -> tuple[dict[str, float], dict]:
    """The timed part. Returns per-phase seconds and the objects needed to verify."""
    from assets_core import executor
    from assets_core.executor import execute, make_plan, open_catalog
    from assets_core.project import Project

    clock = time.perf_counter
    phases: dict[str, float] = {}
    t = clock()
    project = Project.load(project_dir)
    phases["load"] = clock() - t
    state: dict = {"project": project}
    if measure == "build":
        return phases, state
    catalog = None
    cstate = None
    peek_state = getattr(executor, "peek_state", None)  # older revisions (compare.py) lack it
    if measure == "noop" and peek_state is not None:  # as `assets plan` reads it
        t = clock()
        cstate = peek_state(project)
        phases["state"] = clock() - t
    if cstate is None:
        t = clock()
        catalog = open_catalog(project)
        phases["open_catalog"] = clock() - t
        t = clock()
        cstate = catalog.state()
        phases["state"] = clock() - t
    t = clock()
    plan = make_plan(project, catalog, None, state=cstate)
    phases["plan"] = clock() - t
    state.update(catalog=catalog, plan=plan)
    if measure == "noop":
        return phases, state
    t = clock()
    result = execute(project, plan, catalog, state=cstate)
    phases["execute"] = clock() - t
    state["result"] = result
    return phases, state


def _fail(msg: str) -> None:
    raise SystemExit(f"bench verification FAILED: {msg}")


def _verify(spec: dict, state: dict) -> dict:
    """Untimed checks: how many bodies ran, plan size, values read back from the store."""
    project = state["project"]
    rt = sys.modules.get("workloads")
    if rt is None:
        _fail("the generated module did not import the 'workloads' runtime")
    executed = len(rt.EXECUTED)
    out: dict = {"executed": executed, "assets": len(project.graph.order)}
    n = spec["n"]
    if out["assets"] != n:
        _fail(f"the project has {out['assets']} assets, expected {n}")
    measure = spec["measure"]
    if measure == "build":
        if executed:
            _fail(f"loading the project ran {executed} asset bodies")
        return out
    plan = state["plan"]
    out["planned"] = len(plan)
    expect = spec["expect_executed"]
    if measure == "noop" and len(plan):
        _fail(f"no-op plan is not empty: {len(plan)} steps, first {plan.keys[:5]}")
    if executed != expect:
        _fail(f"{executed} asset bodies ran, expected {expect}")
    if "result" in state:
        result = state["result"]
        ok = result.count("success")
        if ok != expect or result.status != "success":
            bad = [r for r in result.results if r.status != "success"][:3]
            _fail(f"run status {result.status}, {ok} successes (expected {expect}); {bad}")
    # read a sample of published values back and compare with the reference values
    from assets_core.stores import FileStore

    graph = rt.get_workload(spec["workload"], n)
    expected = rt.expected_values(graph, rt.node_versions(graph, changed=spec.get("changed")))
    catalog = state["catalog"]
    if catalog is None:  # the no-op plan peeked at the state: open it to read values back
        from assets_core.executor import open_catalog

        catalog = open_catalog(project)
    store = FileStore(project.config.store_path, catalog.blob)
    published = catalog.state().assets
    names = [name for name, _ in graph]
    import random

    keys = {names[0], names[-1], names[len(names) // 2]} | set(
        random.Random(n).sample(names, min(CHECK_SAMPLE, n))
    )
    if spec.get("changed"):
        keys.add(spec["changed"])
    for key in sorted(keys):
        st = published.get(key)
        if st is None or st.value_ref is None:
            _fail(f"{key} has no published value")
        got = store.load(key, st.value_ref)
        if got != expected[key]:
            _fail(f"{key}: published value {got!r} != expected {expected[key]!r}")
    out["checked_values"] = len(keys)
    return out


# ---------------------------------------------------------------------------------------
# parent: projects, processes, statistics
# ---------------------------------------------------------------------------------------


def _default_workloads_path():
    import os
    from pathlib import Path

    env = os.environ.get("ASSETS_BENCH_WORKLOADS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "bench" / "workloads.py"


def _load_workloads(path):
    import importlib.util

    if not path.is_file():
        raise SystemExit(
            f"workloads file not found: {path} (use --workloads PATH or ASSETS_BENCH_WORKLOADS)"
        )
    spec = importlib.util.spec_from_file_location("bench_workloads", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses/typing may look the module up
    spec.loader.exec_module(mod)
    return mod


def module_source(wl, graph, versions: dict[str, int]) -> str:
    """The generated definitions module: one ``@asset`` per node."""
    lines = [
        f'"""{len(graph)} generated assets (assets-core bench)."""',
        "",
        "import workloads as _rt",
        "",
        "from assets_core import asset",
        "",
    ]
    for i, (name, ups) in enumerate(graph):
        lines += [
            "",
            "@asset",
            f"def {name}({', '.join(ups)}):",
            f"    {wl.body_expr(i, versions[name], ups, PAYLOAD)}",
            "",
        ]
    return "\n".join(lines)


def write_project(path, wl, wl_path, graph, versions: dict[str, int]) -> None:
    import shutil

    path.mkdir(parents=True, exist_ok=True)
    (path / "pyproject.toml").write_text(
        f'[project]\nname = "bench-project"\nversion = "0"\n\n'
        f'[tool.assets]\nmodules = ["{MODULE_NAME}"]\n',
        encoding="utf-8",
    )
    shutil.copyfile(wl_path, path / "workloads.py")
    write_module(path, wl, graph, versions)


def write_module(path, wl, graph, versions: dict[str, int], pycache_prefix=None) -> None:
    import importlib.util
    import shutil
    from pathlib import Path

    src = path / f"{MODULE_NAME}.py"
    src.write_text(module_source(wl, graph, versions), encoding="utf-8")
    # bytecode is validated by (mtime, size); a same-size rewrite within the same second
    # would otherwise run the old code, so drop any bytecode of the module
    shutil.rmtree(path / "__pycache__", ignore_errors=True)
    if pycache_prefix is not None:
        saved = sys.pycache_prefix
        sys.pycache_prefix = str(pycache_prefix)
        try:
            stale = importlib.util.cache_from_source(str(src.resolve()))
        finally:
            sys.pycache_prefix = saved
        Path(stale).unlink(missing_ok=True)


def child_env(no_bytecode: bool, pycache_prefix, core=None) -> dict[str, str]:
    """The children's environment: the default catalog, and bytecode like an installed
    package has it (in a private cache folder, so no __pycache__ lands in the repository).
    ``core`` (a folder holding ``assets_core/``) goes first on PYTHONPATH."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "ASSETS_CATALOG_URL"}
    if core is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(core), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("PYTHONPYCACHEPREFIX", None)
    if no_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache_prefix)
    return env


def run_child(spec: dict, cwd, timeout: float, env: dict[str, str]) -> tuple:
    """Run one child; returns (its result, process wall s, peak RSS MB, process CPU s)."""
    import json
    import os
    import subprocess
    import tempfile
    import threading
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="assets-bench-io-") as io_dir:
        result_path = Path(io_dir) / "result.json"
        err_path = Path(io_dir) / "stderr.txt"
        spec = {**spec, "result": str(result_path)}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", json.dumps(spec)]
        with open(err_path, "wb") as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=err, stderr=err, env=env)
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            try:
                # wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the
                # maximum over every child reaped so far)
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
            wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0 or not result_path.is_file():
            log = err_path.read_text(encoding="utf-8", errors="replace")
            raise SystemExit(
                f"child {spec['measure']} failed (exit {proc.returncode}) in {cwd}:\n{log}"
            )
        data = json.loads(result_path.read_text(encoding="utf-8"))
    # ru_maxrss is in KiB on Linux
    return data, wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def _remove(root, pycache_prefix) -> None:
    """Delete a generated project folder and the bytecode cached for it."""
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    if pycache_prefix is not None:
        shutil.rmtree(pycache_prefix / root.resolve().relative_to("/"), ignore_errors=True)


def core_revision(core_file: str) -> str | None:
    """``<short commit>[+dirty]`` of the git checkout holding assets_core, if it is one."""
    import subprocess
    from pathlib import Path

    pkg = Path(core_file).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(pkg), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(pkg), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+dirty" if dirty else "")


def _median(xs):
    import statistics

    return statistics.median(xs) if xs else None


def _print_profile(prof_path, title: str, top: int) -> str:
    import io
    import pstats

    buf = io.StringIO()
    buf.write(f"== {title} ==\n")
    stats = pstats.Stats(str(prof_path), stream=buf)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    text = buf.getvalue()
    print(text, file=sys.stderr)
    prof_path.with_suffix(".txt").write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import os
    import tempfile
    from pathlib import Path

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=("W1", "W2"), default="W1")
    ap.add_argument("--n", type=int, default=1000, help="number of assets")
    ap.add_argument("--measure", nargs="+", choices=MEASURES, default=list(MEASURES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, help="append the JSON lines to this JSONL file")
    ap.add_argument("--workloads", type=Path, default=None, help="path to workloads.py")
    ap.add_argument("--tmp", type=Path, default=None, help="parent folder for the projects")
    ap.add_argument("--keep", action="store_true", help="keep the generated projects")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per child")
    ap.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="run each timed operation under cProfile, write DIR/<name>.prof/.txt and "
        "print the top functions by cumulative time (figures are then not appended to --out)",
    )
    ap.add_argument("--profile-top", type=int, default=25)
    ap.add_argument(
        "--core",
        type=Path,
        default=None,
        metavar="DIR",
        help="import assets_core from DIR/assets_core (e.g. a `git archive` snapshot) instead "
        "of the installed one, so edits made during the run do not mix versions",
    )
    ap.add_argument("--label", default=None, help="free text recorded in every line")
    ap.add_argument(
        "--no-bytecode",
        action="store_true",
        help="run the children with PYTHONDONTWRITEBYTECODE=1 (every non-site-packages "
        "module, assets-core included, is compiled from source in every process)",
    )
    ap.add_argument(
        "--pycache-prefix",
        type=Path,
        default=None,
        help="bytecode cache folder for the children (default: <tmp>/assets-bench-pycache)",
    )
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up run (n=30)")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")

    wl_path = (args.workloads or _default_workloads_path()).resolve()
    wl = _load_workloads(wl_path)
    graph = wl.get_workload(args.workload, args.n)
    n = len(graph)
    base_versions = wl.node_versions(graph)
    changed = wl.change_node(args.workload, graph)
    affected = len(wl.downstream_closure(graph, [changed]))
    measures = list(dict.fromkeys(args.measure))
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    prefix = None
    if not args.no_bytecode:
        prefix = (
            args.pycache_prefix or Path(tempfile.gettempdir()) / "assets-bench-pycache"
        ).resolve()
        prefix.mkdir(parents=True, exist_ok=True)
    env = child_env(args.no_bytecode, prefix, args.core.resolve() if args.core else None)

    if not args.no_warmup:  # bytecode of assets-core and the libraries, page cache
        root = Path(tempfile.mkdtemp(prefix="assets-bench-warmup-", dir=args.tmp))
        try:
            small = wl.get_workload(args.workload, 30)
            write_project(root, wl, wl_path, small, wl.node_versions(small))
            spec = {"measure": "full", "workload": args.workload, "n": 30}
            spec.update(project=str(root), expect_executed=30)
            run_child(spec, root, args.timeout, env)
        finally:
            _remove(root, prefix)

    samples: dict[str, list[tuple]] = {m: [] for m in measures}
    load_start = os.getloadavg()[0]  # other work on the machine skews wall times
    for rep in range(args.repeats):
        root = Path(tempfile.mkdtemp(prefix="assets-bench-", dir=args.tmp))
        try:

            def child(measure, project, extra, _root=root, _rep=rep):
                spec = {"measure": measure, "workload": args.workload, "n": n, **extra}
                if project is not None:
                    spec["project"] = str(project)
                profiled = args.profile is not None and measure in samples and measure != "import"
                if profiled:
                    prof = args.profile / f"{args.workload}-n{n}-{measure}-r{_rep}.prof"
                    spec["profile"] = str(prof)
                got = run_child(spec, project or _root, args.timeout, env)
                if profiled:
                    _print_profile(
                        prof, f"{measure} {args.workload} n={n} repeat {_rep}", args.profile_top
                    )
                return got

            if "import" in measures:
                samples["import"].append(child("import", None, {}))
            if "build" in measures:
                p = root / "build"
                write_project(p, wl, wl_path, graph, base_versions)
                samples["build"].append(child("build", p, {"expect_executed": 0}))
            if {"full", "noop", "incremental"} & set(measures):
                p = root / "run"
                write_project(p, wl, wl_path, graph, base_versions)
                # from scratch (timed if asked for, else untimed preparation)
                got = child("full", p, {"expect_executed": n})
                if "full" in measures:
                    samples["full"].append(got)
                if "noop" in measures:
                    samples["noop"].append(child("noop", p, {"expect_executed": 0}))
                if "incremental" in measures:
                    write_module(p, wl, graph, wl.node_versions(graph, changed=changed), prefix)
                    extra = {"expect_executed": affected, "changed": changed}
                    samples["incremental"].append(child("incremental", p, extra))
        finally:
            if args.keep:
                print(f"kept {root}", file=sys.stderr)
            else:
                _remove(root, prefix)

    lines = []
    for m in measures:
        runs = samples[m]
        key = "import_s" if m == "import" else "op_s"
        secs = [r[0][key] for r in runs]
        cpu_key = "import_cpu_s" if m == "import" else "op_cpu_s"
        med = _median(secs)
        involved = {"import": None, "incremental": affected}.get(m, n)
        phase_names = list(runs[0][0].get("phases", {}))
        line = {
            "measure": m,
            "workload": args.workload,
            "n": n,
            "median_s": round(med, 6),
            "samples_s": [round(s, 6) for s in secs],
            "min_s": round(min(secs), 6),
            "median_cpu_s": round(_median([r[0][cpu_key] for r in runs]), 6),
            "per_asset_ms": round(med * 1000 / involved, 6) if involved else None,
            "peak_rss_mb": round(max(r[2] for r in runs), 1),
            "executed": runs[-1][0].get("executed", 0),
            "process_wall_s": round(_median([r[1] for r in runs]), 6),
            "process_wall_samples_s": [round(r[1], 6) for r in runs],
            "process_cpu_s": round(_median([r[3] for r in runs]), 6),
            "phases_s": {
                ph: round(_median([r[0]["phases"][ph] for r in runs]), 6) for ph in phase_names
            },
            "lib_import_s": round(_median([r[0]["lib_import_s"] for r in runs]), 6),
            "api_import_s": round(_median([r[0]["api_import_s"] for r in runs]), 6),
            "python": sys.version.split()[0],
            "loadavg_1m": [round(load_start, 2), round(os.getloadavg()[0], 2)],
            "core": str(Path(runs[0][0]["core_file"]).parent),
            "core_rev": core_revision(runs[0][0]["core_file"]),
            "bytecode": not args.no_bytecode,
        }
        if m == "incremental":
            line["changed"] = changed
            line["affected"] = affected
        if args.label:
            line["label"] = args.label
        if args.profile:
            line["profiled"] = True
        lines.append(json.dumps(line))
    for line in lines:
        print(line)
    if args.out and not args.profile:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--_child":
        _child(sys.argv[2])
    else:
        sys.exit(main())
