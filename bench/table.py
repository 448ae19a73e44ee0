"""Render bench/run.py JSONL output as a Markdown table.

python bench/table.py bench/results.jsonl [--label TEXT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = (
    ("measure", "measure"),
    ("workload", "W"),
    ("n", "N"),
    ("median_s", "in-process median s"),
    ("min_s", "min s"),
    ("per_asset_ms", "ms/asset"),
    ("phases", "phases (median s)"),
    ("process_wall_s", "process wall s"),
    ("peak_rss_mb", "peak RSS MB"),
    ("executed", "executed"),
    ("repeats", "repeats"),
)


def cell(line: dict, key: str) -> str:
    if key == "phases":
        ph = line.get("phases_s") or {}
        return ", ".join(f"{k} {v:.3f}" for k, v in ph.items()) or "-"
    if key == "repeats":
        return str(len(line.get("samples_s", [])))
    v = line.get(key)
    if v is None:
        return "-"
    if key == "peak_rss_mb":
        return f"{v:.1f}"
    if isinstance(v, float):
        return f"{v:.4f}" if v < 1 else f"{v:.3f}"
    return str(v)


def render(lines: list[dict]) -> str:
    out = [
        "| " + " | ".join(h for _, h in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for line in lines:
        name = line["measure"] + ("" if line.get("bytecode", True) else " (no bytecode)")
        row = [name] + [cell(line, k) for k, _ in COLUMNS[1:]]
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl", type=Path)
    ap.add_argument("--label", default=None, help="only lines with this label")
    args = ap.parse_args()
    lines = [json.loads(x) for x in args.jsonl.read_text().splitlines() if x.strip()]
    if args.label is not None:
        lines = [x for x in lines if x.get("label") == args.label]
    print(render(lines))


if __name__ == "__main__":
    main()
