"""Observing a file source of N files: first (every file hashed) and unchanged (size/mtime hit).

    python bench/observe_bench.py --files 10000 --repeats 3

Prints one JSON line per measure: first_observe (cold cache), unchanged_observe (the
in-process observation of N unchanged files plus recording it in the catalog), and
cli_observe (``assets observe`` in a fresh process, project import included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFS = """
from assets_core import asset, source

landing = source("raw/landing", path="landing/**/*.csv")


@asset
def count(landing):
    return len(landing)
"""


def make_project(root: Path, n: int) -> None:
    (root / "pyproject.toml").write_text('[tool.assets]\nmodules = ["defs"]\n')
    (root / "defs.py").write_text(DEFS)
    past = time.time() - 3600
    for i in range(n):
        d = root / "landing" / f"d{i // 1000:03d}"
        d.mkdir(parents=True, exist_ok=True)
        f = d / f"f{i:05d}.csv"
        f.write_text(f"id,value\n{i},{i * 7}\n" * 20)
        os.utime(f, (past, past))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from assets_core.catalog import Catalog
    from assets_core.project import Project
    from assets_core.sources import CACHE_NAME, observe_many

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_project(root, args.files)
        project = Project.load(root)
        cache = project.config.state_dir / "cache"
        src = [project.graph.defs["raw/landing"]]
        catalog = Catalog.open(project.config.catalog_url)
        samples: dict[str, list[float]] = {"first_observe": [], "unchanged_observe": []}
        for _ in range(args.repeats):
            (cache / CACHE_NAME).unlink(missing_ok=True)
            t0 = time.perf_counter()
            observe_many(src, root, cache)
            samples["first_observe"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            found = observe_many(src, root, cache)
            catalog.record_observations([(o.key, o.version) for o in found])
            samples["unchanged_observe"].append(time.perf_counter() - t0)
        samples["cli_observe"] = []
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "assets_core.cli", "-p", str(root), "observe", "--json"],
                check=True,
                capture_output=True,
                env=env,
            )
            samples["cli_observe"].append(time.perf_counter() - t0)
        for measure, xs in samples.items():
            print(
                json.dumps(
                    {
                        "measure": measure,
                        "files": args.files,
                        "median_s": round(statistics.median(xs), 4),
                        "samples_s": [round(x, 4) for x in xs],
                    }
                )
            )


if __name__ == "__main__":
    main()
