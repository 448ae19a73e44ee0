"""The file store: content-addressed parquet and pickle values, atomic writes, gc."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets_core.errors import StoreError
from assets_core.stores import INLINE_LIMIT, FileStore


def store_at(root: Path) -> tuple[FileStore, dict[str, bytes]]:
    """A store whose inline values live in a dict (the catalog's blob table in real runs)."""
    blobs: dict[str, bytes] = {}
    return FileStore(root, blobs.get), blobs


def stage_and_load(root: Path, key: str, value: object) -> tuple[str, object]:
    store, blobs = store_at(root)
    staged = store.stage(key, value)
    if staged.inline is not None:
        blobs[staged.data_version] = staged.inline
    return staged.data_version, store.load(key, staged.ref)


def test_pandas_frame_round_trips_through_parquet(tmp_path: Path) -> None:
    df = pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", None], "amount": [1.5, 2.0, 3.25]})
    store, _ = store_at(tmp_path)
    staged = store.stage("bi/orders", df)
    assert staged.ref.startswith("pandas:bi/orders/")
    assert staged.ref.endswith(".pandas.parquet")
    assert staged.inline is None
    assert staged.rows == 3
    assert staged.columns == [(c, str(df[c].dtype)) for c in ("id", "name", "amount")]
    assert (tmp_path / staged.ref.split(":", 1)[1]).is_file()
    back = store.load("bi/orders", staged.ref)
    pd.testing.assert_frame_equal(back, df)


def test_polars_frame_round_trips_through_parquet(tmp_path: Path) -> None:
    df = pl.DataFrame({"id": [1, 2, 3], "name": ["a", "b", None]})
    store, _ = store_at(tmp_path)
    staged = store.stage("orders", df)
    assert staged.ref.startswith("polars:orders/")
    assert staged.rows == 3
    assert staged.columns == [("id", "Int64"), ("name", "String")]
    back = store.load("orders", staged.ref)
    assert isinstance(back, pl.DataFrame)
    assert back.equals(df)


@pytest.mark.parametrize(
    "value", [1, "text", [1, 2, 3], {"a": (1, 2)}, None, {"nested": {"x": [1.5]}}]
)
def test_small_picklable_values_are_kept_inline_and_round_trip(
    tmp_path: Path, value: object
) -> None:
    store, _ = store_at(tmp_path)
    staged = store.stage("v", value)
    assert staged.ref == f"blob:{staged.data_version}"
    assert staged.inline is not None
    assert list(tmp_path.rglob("*")) == []  # nothing on disk
    assert stage_and_load(tmp_path, "v", value)[1] == value


def test_large_pickled_values_go_to_a_file_and_round_trip(tmp_path: Path) -> None:
    value = list(range(INLINE_LIMIT))
    store, _ = store_at(tmp_path)
    staged = store.stage("big", value)
    assert staged.ref.startswith("pickle:big/") and staged.inline is None
    assert staged.rows == INLINE_LIMIT
    assert store.load("big", staged.ref) == value


def test_an_unpicklable_value_is_a_store_error_naming_the_asset(tmp_path: Path) -> None:
    store, _ = store_at(tmp_path)
    with pytest.raises(StoreError) as ei:
        store.stage("bi/gen", (x for x in range(3)))
    assert "asset bi/gen returned a generator, which cannot be pickled" in str(ei.value)
    assert ei.value.exit_code == 1


def test_a_missing_published_file_is_a_store_error_with_the_fix(tmp_path: Path) -> None:
    store, _ = store_at(tmp_path)
    staged = store.stage("bi/orders", pd.DataFrame({"a": [1]}))
    store.path_of(staged.ref).unlink()
    with pytest.raises(StoreError) as ei:
        store.load("bi/orders", staged.ref)
    assert "the published value of bi/orders is missing" in str(ei.value)
    assert ei.value.hint == "rematerialize it: assets materialize bi/orders --force"


def test_writes_leave_no_staging_files_and_equal_content_is_written_once(tmp_path: Path) -> None:
    store, _ = store_at(tmp_path)
    a = store.stage("k", pd.DataFrame({"x": [1, 2]}))
    b = store.stage("k", pd.DataFrame({"x": [1, 2]}))
    c = store.stage("k", list(range(INLINE_LIMIT)))
    assert a == b
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert files == sorted([Path(a.ref).name, Path(c.ref).name])
    assert not [p for p in tmp_path.rglob(".staging-*")]


def test_equal_values_get_the_same_version_and_different_values_do_not(tmp_path: Path) -> None:
    store, _ = store_at(tmp_path)
    v = store.stage("k", {"a": 1}).data_version
    assert store.stage("other/key", {"a": 1}).data_version == v
    assert store.stage("k", {"a": 2}).data_version != v
    # the same content as pandas and as polars are different values
    pdv = store.stage("k", pd.DataFrame({"a": [1]})).data_version
    plv = store.stage("k", pl.DataFrame({"a": [1]})).data_version
    assert pdv != plv


_VERSIONS_IN_A_NEW_PROCESS = """
import json, sys, tempfile
import pandas as pd, polars as pl
from assets_core.stores import FileStore
data = {"id": [1, 2, 3], "city": ["Oslo", "Lima", "Pune"], "x": [0.5, 1.5, 2.5]}
with tempfile.TemporaryDirectory() as d:
    s = FileStore(d, lambda _: None)
    out = {"pandas": s.stage("k", pd.DataFrame(data)).data_version,
           "polars": s.stage("k", pl.DataFrame(data)).data_version,
           "pickle": s.stage("k", data).data_version}
print(json.dumps(out))
"""


def test_equal_content_has_the_same_version_in_another_process(tmp_path: Path) -> None:
    data = {"id": [1, 2, 3], "city": ["Oslo", "Lima", "Pune"], "x": [0.5, 1.5, 2.5]}
    store, _ = store_at(tmp_path)
    here = {
        "pandas": store.stage("k", pd.DataFrame(data)).data_version,
        "polars": store.stage("k", pl.DataFrame(data)).data_version,
        "pickle": store.stage("k", data).data_version,
    }
    proc = subprocess.run(
        [sys.executable, "-c", _VERSIONS_IN_A_NEW_PROCESS],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert json.loads(proc.stdout) == here


# -- property: equal frames share a version, frames that differ in one thing do not -------

KINDS = ("int", "float", "str")
_columns = st.lists(
    st.text(alphabet="abcxyz_", min_size=1, max_size=4), min_size=1, max_size=3, unique=True
)


@st.composite
def frame_and_mutation(draw):
    names = draw(_columns)
    n = draw(st.integers(min_value=1, max_value=6))
    cols = [
        (
            name,
            draw(st.sampled_from(KINDS)),
            draw(st.lists(st.integers(-50, 50), min_size=n, max_size=n)),
        )
        for name in names
    ]
    i = draw(st.integers(0, len(cols) - 1))
    name, kind, values = cols[i]
    what = draw(st.sampled_from(("rename", "dtype", "value")))
    if what == "rename":
        new = draw(
            st.text(alphabet="abcxyz_", min_size=1, max_size=4).filter(lambda s: s not in names)
        )
        changed = (new, kind, values)
    elif what == "dtype":
        changed = (name, draw(st.sampled_from([k for k in KINDS if k != kind])), values)
    else:
        j = draw(st.integers(0, n - 1))
        delta = draw(st.integers(1, 50))
        changed = (name, kind, [v + delta if k == j else v for k, v in enumerate(values)])
    mutated = [*cols[:i], changed, *cols[i + 1 :]]
    return draw(st.sampled_from(("pandas", "polars"))), cols, mutated, what


def build(lib: str, cols):
    conv = {"int": int, "float": float, "str": str}
    data = {name: [conv[kind](v) for v in values] for name, kind, values in cols}
    return pd.DataFrame(data) if lib == "pandas" else pl.DataFrame(data)


@settings(max_examples=60, deadline=None)
@given(frame_and_mutation())
def test_frames_share_a_version_exactly_when_they_are_equal(case) -> None:
    lib, cols, mutated, _what = case
    with tempfile.TemporaryDirectory() as d:
        store, _ = store_at(Path(d))
        first = store.stage("k", build(lib, cols)).data_version
        again = store.stage("k", build(lib, cols)).data_version
        other = store.stage("k", build(lib, mutated)).data_version
    assert first == again
    assert first != other


@pytest.mark.parametrize("lib", ["pandas", "polars"])
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"x": [1, 2]}, {"y": [1, 2]}),  # column name
        ({"x": [1, 2]}, {"x": [1.0, 2.0]}),  # dtype
        ({"x": [1, 2]}, {"x": [1, 3]}),  # one value
        ({"x": [1, 2]}, {"x": [2, 1]}),  # row order
        ({"x": [1], "y": [2]}, {"y": [2], "x": [1]}),  # column order
        ({"x": ["1", "2"]}, {"x": [1, 2]}),  # text vs numbers
    ],
)
def test_frames_differing_in_one_thing_get_different_versions(
    tmp_path: Path, lib: str, a: dict, b: dict
) -> None:
    store, _ = store_at(tmp_path)
    frame = pd.DataFrame if lib == "pandas" else pl.DataFrame
    assert store.stage("k", frame(a)).data_version != store.stage("k", frame(b)).data_version


# -- gc through the CLI ---------------------------------------------------------------------

GC_PROJECT = {
    "defs.py": """
        from pathlib import Path

        from assets_core import asset, source

        numbers = source("raw/numbers", path="data/numbers.txt")

        @asset
        def big(numbers):
            # pickles to more than the inline limit, so it is stored as a file
            n = int(Path(numbers[0]).read_text())
            return [n] * 100_000

        @asset
        def small(numbers):
            return int(Path(numbers[0]).read_text())
    """,
    "data/numbers.txt": "1\n",
}


def test_gc_removes_unpublished_versions_beyond_keep_and_never_the_published_one(
    make_project, write_file, cli_json, catalog_rows, published_values
) -> None:
    root = make_project(GC_PROJECT)
    for n in (1, 2, 3):
        write_file(root / "data/numbers.txt", f"{n}\n")
        cli_json(root, "materialize", "--json")
    big_files = root / ".assets/store/big"
    assert len(list(big_files.glob("*.pickle"))) == 3
    assert catalog_rows(root, "select count(*) from blobs") == [(3,)]

    dry = cli_json(root, "gc", "--keep", "0", "--dry-run", "--json")
    assert dry["dry_run"] is True
    assert (len(dry["removed_files"]), len(dry["removed_blobs"])) == (2, 2)
    assert len(list(big_files.glob("*.pickle"))) == 3  # a dry run removes nothing

    keep1 = cli_json(root, "gc", "--keep", "1", "--json")
    assert (len(keep1["removed_files"]), len(keep1["removed_blobs"])) == (1, 1)
    assert len(list(big_files.glob("*.pickle"))) == 2

    keep0 = cli_json(root, "gc", "--keep", "0", "--json")
    assert (len(keep0["removed_files"]), len(keep0["removed_blobs"])) == (1, 1)
    assert len(list(big_files.glob("*.pickle"))) == 1
    assert catalog_rows(root, "select count(*) from blobs") == [(1,)]

    assert published_values(root, "big", "small") == {"big": [3] * 100_000, "small": 3}
    assert cli_json(root, "plan", "--json")["steps"] == []


def test_gc_removes_staging_leftovers(make_project, cli_json) -> None:
    root = make_project(GC_PROJECT)
    cli_json(root, "materialize", "--json")
    leftover = root / ".assets/store/big/.staging-abc.tmp"
    leftover.write_bytes(b"half a file")
    out = cli_json(root, "gc", "--json")
    assert out["removed_files"] == [str(leftover)]
    assert not leftover.exists()
    assert len(list((root / ".assets/store/big").glob("*.pickle"))) == 1
