"""Staging and auditing a new value: built-in rules run while the frame is written.

``stage_and_audit`` writes a DataFrame in a second thread while its built-in rules
read it; checks that run user code wait for the write. Outcomes keep the order of
the checks, and the staged file is the one a plain ``store.stage`` writes.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

from assets_core import checks as c
from assets_core.checks.definition import Check
from assets_core.executors.attempt import stage_and_audit
from assets_core.stores import FileStore


def bound(spec: Any = None, fn: Any = None, name: str = "") -> Check:
    return Check(
        asset="orders",
        name=spec.name if spec is not None else name,
        blocking=True,
        spec=spec,
        fn=fn,
        inputs=(("orders", "orders"),),
        location=None,
    )


def store(root: Path) -> FileStore:
    return FileStore(root, lambda _: None)


class ThreadRecordingStore(FileStore):
    """A file store that notes which thread staged each value."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, lambda _: None)
        self.threads: list[threading.Thread] = []

    def stage(self, key: str, value: Any) -> Any:
        self.threads.append(threading.current_thread())
        return super().stage(key, value)


ORDERS = {"order_id": [1, 2, 2, 4], "currency": ["EUR", "USD", "GBP", None]}


@pytest.mark.parametrize("make", [pl.DataFrame, pd.DataFrame], ids=["polars", "pandas"])
def test_outcomes_keep_check_order_and_user_checks_run_after_the_write(
    make: Any, tmp_path: Path
) -> None:
    files_seen_by_user_check: list[list[Path]] = []

    def sees_the_written_file(orders: Any) -> bool:
        files_seen_by_user_check.append(sorted((tmp_path / "a").rglob("*.parquet")))
        return True

    checks = [
        bound(c.unique("order_id")),
        bound(fn=sees_the_written_file, name="sees_the_written_file"),
        bound(c.accepted_values("currency", ["EUR", "USD"])),
        bound(c.expression(lambda df: [True] * len(df), name="callable")),
        bound(c.not_null("currency", blocking=False)),
    ]
    df = make(ORDERS)
    staged, outcomes = stage_and_audit(
        store(tmp_path / "a"), "orders", df, checks, lambda k: None, tmp_path
    )
    assert [o.check.name for o in outcomes] == [ch.name for ch in checks]
    assert [(o.passed, o.result.failing_rows) for o in outcomes] == [
        (False, 2),
        (True, None),
        (False, 1),
        (True, 0),
        (False, 1),
    ]
    # the user's check ran once the value was written, and that file is what a plain
    # sequential stage writes
    plain = store(tmp_path / "b").stage("orders", df)
    assert staged == plain
    (written,) = files_seen_by_user_check
    assert [p.name for p in written] == [Path(plain.ref).name]


def test_a_check_that_changes_the_frame_does_not_change_what_is_stored(tmp_path: Path) -> None:
    def overwrites(orders: Any) -> bool:
        orders["order_id"] = 0  # a user's check mutating the pandas frame it was given
        return True

    df = pd.DataFrame(ORDERS)
    expected = store(tmp_path / "b").stage("orders", pd.DataFrame(ORDERS))
    staged, (u, o) = stage_and_audit(
        store(tmp_path / "a"),
        "orders",
        df,
        [bound(c.unique("order_id")), bound(fn=overwrites, name="overwrites")],
        lambda k: None,
        tmp_path,
    )
    assert staged.data_version == expected.data_version
    assert store(tmp_path / "a").load("orders", staged.ref)["order_id"].tolist() == [1, 2, 2, 4]
    assert (u.result.failing_rows, o.passed) == (2, True)


@pytest.mark.parametrize(
    ("value", "checks", "own_thread"),
    [
        (pl.DataFrame(ORDERS), [c.unique("order_id")], True),
        (pd.DataFrame(ORDERS), [c.row_count(min=1), c.not_null("currency")], True),
        (pl.DataFrame(ORDERS), [], False),
        ({"not": "a frame"}, [c.row_count(min=1)], False),
        (pl.DataFrame(ORDERS), [c.expression(lambda df: [True] * len(df), name="user")], False),
    ],
    ids=["polars-builtin", "pandas-builtins", "no-checks", "not-a-frame", "user-code-only"],
)
def test_a_frame_is_written_in_its_own_thread_only_when_built_in_rules_can_read_it_meanwhile(
    value: Any, checks: list[Any], own_thread: bool, tmp_path: Path
) -> None:
    s = ThreadRecordingStore(tmp_path / "store")
    staged, outcomes = stage_and_audit(
        s, "orders", value, [bound(x) for x in checks], lambda k: None, tmp_path
    )
    (thread,) = s.threads
    assert (thread is not threading.current_thread()) is own_thread
    assert len(outcomes) == len(checks)
    assert staged.data_version


def test_an_error_of_the_background_write_is_raised_to_the_caller(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    broken = store(not_a_folder)  # the store's root is a file: writing fails
    df = pl.DataFrame(ORDERS)
    with pytest.raises(OSError) as plain:
        broken.stage("orders", df)
    with pytest.raises(type(plain.value)):
        stage_and_audit(
            broken, "orders", df, [bound(c.unique("order_id"))], lambda k: None, tmp_path
        )
