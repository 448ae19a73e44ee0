"""Drawing the lineage of N assets (the W1 graph, in 10 groups) after one materialization.

    python bench/lineage_bench.py --n 2000 --repeats 3

Prints one JSON line per measure: status (catalog read + plan + freshness), dot_source
(building the DOT text), layout_svg and layout_png (graphviz's ``dot``), and cli_svg /
cli_text / cli_json (``assets lineage`` in a fresh process, project load included).
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

REPO = Path(__file__).resolve().parents[1]
WORKLOADS = REPO.parent / "shared" / "bench"


def make_project(root: Path, n: int) -> None:
    sys.path.insert(0, str(WORKLOADS))
    from workloads import layered_dag

    graph = layered_dag(n)
    lines = ["from assets_core import asset", ""]
    for i, (name, ups) in enumerate(graph):
        group = f"g{i * 10 // n}"
        ins = ", ".join(f'"{u}": "{u}"' for u in ups)
        lines.append(f'@asset(group="{group}", ins={{{ins}}})')
        lines.append(f"def {name}({', '.join(ups)}):")
        lines.append(f"    return {i} + {' + '.join(ups) if ups else '0'}")
        lines.append("")
    (root / "defs.py").write_text("\n".join(lines))
    (root / "pyproject.toml").write_text('[tool.assets]\nmodules = ["defs"]\n')


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    from assets_core.executor import execute, make_plan, open_catalog
    from assets_core.freshness import current_time
    from assets_core.lineage import build_view, render_image, to_dot
    from assets_core.project import Project
    from assets_core.status import compute_status

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_project(root, args.n)
        project = Project.load(root)
        catalog = open_catalog(project)
        execute(project, make_plan(project, catalog), catalog)
        now = current_time()
        samples: dict[str, list[float]] = {}
        statuses: list = []

        def status() -> None:
            statuses[:] = compute_status(project, catalog, now=now)

        samples["status"] = timed(status, args.repeats)
        by_key = {s.key: s for s in statuses}
        view = build_view(project.graph, by_key, project.graph.defs, now=now)
        dot = to_dot(view, title="bench")
        samples["dot_source"] = timed(lambda: to_dot(view, title="bench"), args.repeats)
        samples["layout_svg"] = timed(lambda: render_image(dot, "svg"), args.repeats)
        samples["layout_png"] = timed(lambda: render_image(dot, "png"), 1)
        for name, extra in (
            ("cli_svg", ["-o", str(root / "g.svg")]),
            ("cli_text", []),
            ("cli_json", ["--json"]),
        ):
            cmd = [sys.executable, "-m", "assets_core.cli", "-p", str(root), "lineage", *extra]
            samples[name] = timed(
                lambda cmd=cmd: subprocess.run(cmd, check=True, capture_output=True, env=env),
                args.repeats,
            )
        for measure, xs in samples.items():
            print(
                json.dumps(
                    {
                        "measure": measure,
                        "n": args.n,
                        "median_s": round(statistics.median(xs), 3),
                        "samples_s": [round(x, 3) for x in xs],
                    }
                )
            )


if __name__ == "__main__":
    main()
