"""Compare two revisions of assets-core on one measure, interleaving their runs.

Usage (from the repository root)::

    python bench/compare.py OLD_REV NEW_REV --workload W1 --n 1000 --measure noop --rounds 7

Each revision is extracted with ``git archive`` into a temporary folder and run through
``bench/run.py --core``; the rounds alternate old, new, old, new, ... so that load from
other work on the machine falls on both alike. Prints one JSON line per revision (median,
best and every sample of the in-process time and of each phase) and one with the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def snapshot(rev: str, into: Path) -> Path:
    """``assets_core`` of ``rev`` extracted under ``into/<rev>``."""
    out = into / rev.replace("/", "_")
    out.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", rev, "assets_core"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def run_once(core: Path, args: argparse.Namespace, warmup: bool) -> dict:
    cmd = [
        sys.executable,
        str(HERE / "run.py"),
        "--workload",
        args.workload,
        "--n",
        str(args.n),
        "--measure",
        args.measure,
        "--repeats",
        "1",
        "--core",
        str(core),
    ]
    if not warmup:
        cmd.append("--no-warmup")
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(rev: str, lines: list[dict]) -> dict:
    secs = [x["median_s"] for x in lines]
    phases = {
        ph: round(statistics.median(x["phases_s"][ph] for x in lines), 6)
        for ph in lines[0]["phases_s"]
    }
    return {
        "rev": rev,
        "median_s": round(statistics.median(secs), 6),
        "min_s": round(min(secs), 6),
        "samples_s": secs,
        "phases_s": phases,
        "process_wall_s": round(statistics.median(x["process_wall_s"] for x in lines), 6),
        "peak_rss_mb": max(x["peak_rss_mb"] for x in lines),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--workload", choices=("W1", "W2"), default="W1")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--measure", default="noop")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="assets-compare-") as tmp:
        cores = {rev: snapshot(rev, Path(tmp)) for rev in (args.old, args.new)}
        got: dict[str, list[dict]] = {rev: [] for rev in cores}
        for i in range(args.rounds):
            for rev, core in cores.items():
                got[rev].append(run_once(core, args, warmup=i == 0))
    old, new = (summary(rev, got[rev]) for rev in (args.old, args.new))
    common = {"workload": args.workload, "n": args.n, "measure": args.measure}
    for s in (old, new):
        print(json.dumps({**common, **s}))
    ratio = {
        "median_speedup": round(old["median_s"] / new["median_s"], 3),
        "min_speedup": round(old["min_s"] / new["min_s"], 3),
    }
    print(json.dumps({**common, "old": args.old, "new": args.new, **ratio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
