"""Runs started together on one catalog compute each asset once and lose no record."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter

from conftest import CLI, cli_env, rows_at

DEFS = """
import os
import time
from pathlib import Path

from assets_core import asset

LOG = Path(__file__).with_name("calls.log")


def _ran(name):
    with open(LOG, "a") as f:  # one short append per call: lines never interleave
        f.write(f"{name} {os.getpid()}\\n")
    time.sleep(0.15)
    while name == "top" and LOG.with_name("hold").exists():  # a test holds the run here
        time.sleep(0.05)

{assets}
"""


def _project(make_project):
    lines = []
    for i in range(4):
        lines.append(f"@asset\ndef root_{i}():\n    _ran('root_{i}')\n    return {i}\n")
        lines.append(
            f"@asset\ndef mid_{i}(root_{i}):\n    _ran('mid_{i}')\n    return root_{i} * 2\n"
        )
    ups = ", ".join(f"mid_{i}" for i in range(4))
    lines.append(
        f"@asset\ndef top({ups}):\n    _ran('top')\n    return {' + '.join(ups.split(', '))}\n"
    )
    return make_project({"defs.py": DEFS.replace("{assets}", "\n\n".join(lines))})


def _start(root, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "-p", str(root), "materialize", "--json", *args],
        env=cli_env({"ASSETS_CATALOG_URL": url}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_racing_runs_materialize_each_asset_exactly_once(make_project, catalog_url):
    root = _project(make_project)
    procs = [_start(root, catalog_url) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [e for _, e in outs]

    calls = Counter(line.split()[0] for line in (root / "calls.log").read_text().splitlines())
    assert calls == Counter({k: 1 for k in calls}) and len(calls) == 9
    success = rows_at(catalog_url, "select key from materializations where status = 'success'")
    assert sorted(k for (k,) in success) == sorted(calls)
    # every run recorded every step it planned: computed, or taken from the run that did
    for out, _ in outs:
        report = json.loads(out)
        recorded = rows_at(
            catalog_url,
            f"select count(*) from materializations where run_id = '{report['run_id']}'",
        )
        assert recorded == [(len(report["steps"]),)]
        for s in report["steps"]:
            assert s["status"] == "success" or s["reason"].startswith("materialized_elsewhere")
    assert rows_at(catalog_url, "select status, count(*) from runs group by status") == [
        ("success", 4)
    ]
    assert rows_at(catalog_url, "select count(*) from leases") == [(0,)]


def test_a_run_that_does_not_wait_skips_what_another_run_is_materializing(
    make_project, catalog_url
):
    root = _project(make_project)
    (root / "hold").touch()  # the first run stays at work on "top" until released
    first = _start(root, catalog_url)
    second = None
    try:
        log = root / "calls.log"
        deadline = time.time() + 120
        while "top" not in (log.read_text() if log.exists() else "") and time.time() < deadline:
            time.sleep(0.05)
        second = _start(root, catalog_url, "--no-wait")
        out2, err2 = second.communicate(timeout=300)
        (root / "hold").unlink()
        out1, err1 = first.communicate(timeout=300)
    finally:  # never leave a run waiting on the hold file
        (root / "hold").unlink(missing_ok=True)
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert (first.returncode, second.returncode) == (0, 0), err1 + err2
    steps = json.loads(out2)["steps"]
    reasons = [s["reason"] for s in steps]
    assert all(s["status"] == "skipped" for s in steps)
    assert any(r.startswith("in_progress_elsewhere: run ") for r in reasons), reasons
    assert all(
        r.split(":")[0] in ("in_progress_elsewhere", "materialized_elsewhere") for r in reasons
    )
    calls = Counter(line.split()[0] for line in log.read_text().splitlines())
    assert set(calls.values()) == {1}
