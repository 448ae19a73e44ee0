"""Leases keep racing runs from materializing one asset twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import start_run
from sqlalchemy import update

from assets_core.catalog import schema as t
from assets_core.catalog.catalog import Catalog, Record
from assets_core.catalog.leases import Leases


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


def test_free_leases_are_taken_and_a_second_run_is_told_who_holds_them(cat):
    first, second = Leases(cat, start_run(cat)), Leases(cat, start_run(cat))
    assert first.acquire(["a", "b"]) == {}
    busy = second.acquire(["b", "c"])
    assert list(busy) == ["b"]
    assert busy["b"].run_id == first.run_id
    assert first.run_id in busy["b"].describe()
    assert {k: h.run_id for k, h in first.holders(["a", "b", "c"]).items()} == {
        "a": first.run_id,
        "b": first.run_id,
        "c": second.run_id,
    }


def test_a_run_asking_for_many_keys_at_once_gets_exactly_the_free_ones(cat):
    # a run takes the leases of all its steps in one call: past a few dozen keys
    # SQLite reads the whole (small) table instead of binding every key
    keys = [f"k{i:03d}" for i in range(150)]
    first, second = Leases(cat, start_run(cat)), Leases(cat, start_run(cat))
    assert first.acquire(keys[::3]) == {}
    busy = second.acquire(keys)
    assert sorted(busy) == keys[::3]
    assert {h.run_id for h in busy.values()} == {first.run_id}
    held = {k: h.run_id for k, h in first.holders(keys).items()}
    assert held == {k: (first.run_id if i % 3 == 0 else second.run_id) for i, k in enumerate(keys)}


def test_many_states_are_read_at_once_like_the_whole_state(cat):
    rid = start_run(cat)
    keys = [f"k{i:03d}" for i in range(250)]
    for k in keys[:240]:
        cat.record(Record(run_id=rid, key=k, status="success", data_version=f"v-{k}",
                          value_ref=f"blob:{k}", started_at=1.0, ended_at=2.0))  # fmt: skip
    whole = cat.state().assets
    got = cat.asset_states([*keys, "never-recorded"])
    assert got == {k: whole[k] for k in keys[:240]}
    assert cat.asset_states(keys[:3]) == {k: whole[k] for k in keys[:3]}


def test_taking_a_lease_again_in_the_same_run_succeeds(cat):
    leases = Leases(cat, start_run(cat))
    assert leases.acquire(["a"]) == {}
    assert leases.acquire(["a"]) == {}


def test_an_expired_lease_is_taken_over(cat):
    old = Leases(cat, start_run(cat), ttl_s=-1.0)  # expired the moment it is taken
    assert old.acquire(["a"]) == {}
    new = Leases(cat, start_run(cat))
    assert new.acquire(["a"]) == {}
    assert new.holders(["a"])["a"].run_id == new.run_id


def test_a_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(cat):
    old = Leases(cat, start_run(cat), ttl_s=3600)
    old.acquire(["a"])
    with cat.writer.begin() as conn:
        conn.execute(update(t.leases).values(pid=_dead_pid()))
    new = Leases(cat, start_run(cat))
    assert new.acquire(["a"]) == {}


def test_a_live_lease_on_another_host_is_respected_until_it_expires(cat):
    old = Leases(cat, start_run(cat), ttl_s=3600)
    old.acquire(["a"])
    with cat.writer.begin() as conn:
        conn.execute(update(t.leases).values(pid=_dead_pid(), host="elsewhere"))
    new = Leases(cat, start_run(cat))
    assert list(new.acquire(["a"])) == ["a"]
    with cat.writer.begin() as conn:
        conn.execute(update(t.leases).values(expires_at=0.0))
    assert new.acquire(["a"]) == {}


def test_recording_an_asset_ends_its_lease_in_the_same_transaction(cat):
    rid = start_run(cat)
    leases = Leases(cat, rid)
    leases.acquire(["a", "b"])
    cat.record(Record(run_id=rid, key="a", status="failed", error="boom"))
    assert set(leases.holders(["a", "b"])) == {"b"}
    leases.release(["b"])
    assert leases.holders(["a", "b"]) == {}


def test_renewing_pushes_the_expiry_forward(cat):
    leases = Leases(cat, start_run(cat), ttl_s=5)
    leases.acquire(["a"])
    before = leases.holders(["a"])["a"].expires_at
    leases.ttl_s = 500
    leases.renew()
    assert leases.holders(["a"])["a"].expires_at > before + 400


def test_finishing_or_interrupting_a_run_ends_its_leases(cat):
    done, dead = start_run(cat), start_run(cat)
    Leases(cat, done).acquire(["a"])
    Leases(cat, dead).acquire(["b"])
    cat.finish_run(done, "success", {})
    with cat.writer.begin() as conn:
        conn.execute(update(t.runs).where(t.runs.c.id == dead).values(pid=_dead_pid()))
    cat.mark_interrupted()
    assert Leases(cat, "x").holders(["a", "b"]) == {}


RACER = textwrap.dedent(
    """
    import json, sys, time
    from assets_core.catalog.catalog import Catalog
    from assets_core.catalog.leases import Leases
    url, keys, start = sys.argv[1], sys.argv[2].split(","), float(sys.argv[3])
    cat = Catalog.open(url)
    rid = cat.start_run(command="materialize", selection="", planned=0, definitions={})
    leases = Leases(cat, rid, ttl_s=600)
    time.sleep(max(0.0, start - time.time()))
    won = []
    if len(sys.argv) > 4:  # all at once, as a run takes its steps' leases
        busy = leases.acquire(keys)
        won = [k for k in keys if k not in busy]
    for k in [] if won or len(sys.argv) > 4 else keys:  # one at a time: races most often
        if not leases.acquire([k]):
            won.append(k)
    print(json.dumps(won), flush=True)
    sys.stdin.read()  # stay alive (a dead holder's leases may be taken) until told to end
    """
)


@pytest.mark.parametrize("at_once", [False, True], ids=["one-by-one", "all-at-once"])
def test_racing_processes_never_both_get_one_lease(catalog_url, at_once):
    import time

    Catalog.open(catalog_url).close()
    keys = [f"k{i:02d}" for i in range(80 if at_once else 30)]
    start = str(time.time() + 1.5)  # let every process get ready, then go together
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, catalog_url, ",".join(keys), start, *["all"] * at_once],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    lines = [p.stdout.readline() for p in procs]  # every racer is done acquiring
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [e for _, e in outs]
    won = [k for line in lines for k in json.loads(line)]
    assert sorted(won) == keys  # every key won exactly once
