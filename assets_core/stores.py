"""Stores write and read asset values.

Values are content-addressed: the data version is the hash of the stored bytes
(parquet for pandas and polars frames, pickle otherwise), so equal content gets
the same version in any process, and versions sit side by side. A file is
written to a temporary name, fsynced and renamed; nothing points at it until the
catalog publishes it. Small pickled values live inline in the catalog and are
published in the same transaction as their record.

A local worker process writes without waiting for the disk (``sync_writes =
False``): the run that publishes the value fsyncs it (:meth:`FileStore.sync_soon`,
in background threads) and commits the record that publishes it only once that is
done (:meth:`FileStore.wait_synced`, called before each commit of the run's
records), so a published value is on disk all the same, while the worker goes on
to its next attempt and the run to its next record.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assets_core.code_version import digest
from assets_core.errors import MissingExtraError, StoreError

INLINE_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Staged:
    """A value written to the store but not yet published."""

    data_version: str
    ref: str  # "<format>:<location>"
    inline: bytes | None
    rows: int | None
    columns: list[tuple[str, str]] | None


def _frame_kind(value: Any) -> str | None:
    mod = type(value).__module__
    if type(value).__name__ != "DataFrame":
        return None
    if mod.startswith("pandas"):
        return "pandas"
    if mod.startswith("polars"):
        return "polars"
    return None


def _pyarrow(purpose: str) -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise MissingExtraError("pyarrow", "pandas", purpose) from None
    return pyarrow


def _parquet_bytes(value: Any, kind: str) -> tuple[bytes, int, list[tuple[str, str]]]:
    pa = _pyarrow(f"storing a {kind} DataFrame as parquet")
    if kind == "pandas":
        table = pa.Table.from_pandas(value)
        columns = [(str(c), str(value[c].dtype)) for c in value.columns]
    else:
        table = value.to_arrow()
        columns = [(c, str(d)) for c, d in value.schema.items()]
    buf = io.BytesIO()
    pa.parquet.write_table(table, buf)
    return buf.getvalue(), len(value), columns


class FileStore:
    """Parquet and pickle files under ``root``, small values inline in the catalog."""

    def __init__(
        self,
        root: Path,
        inline_reader: Callable[[str], bytes | None],
        bulk_reader: Callable[[list[str]], dict[str, bytes]] | None = None,
    ) -> None:
        self.root = Path(root)
        self._inline_reader = inline_reader
        self._bulk_reader = bulk_reader
        self._prefetched: dict[str, bytes] = {}
        # values up to this size are kept in the catalog; 0 writes every value to a file
        self.inline_limit = INLINE_LIMIT
        # False: written files are not fsynced here; whoever publishes them calls sync()
        self.sync_writes = True
        self._syncer: Any = None  # a thread pool for sync_soon(), started when first used
        self._syncing: list[Any] = []
        self._syncing_lock = threading.Lock()

    def prefetch(self, refs: list[str]) -> None:
        """Read the inline values among ``refs`` in one go, for the loads that follow."""
        dvs = [r[5:] for r in refs if r.startswith("blob:") and r[5:] not in self._prefetched]
        if len(dvs) > 1 and self._bulk_reader is not None:
            self._prefetched.update(self._bulk_reader(dvs))

    def stage(self, key: str, value: Any) -> Staged:
        kind = _frame_kind(value)
        if kind is not None:
            data, rows, columns = _parquet_bytes(value, kind)
            dv = digest(kind.encode() + b"\0" + data)
            rel = f"{key}/{dv}.{kind}.parquet"
            self._write(rel, data)
            return Staged(dv, f"{kind}:{rel}", None, rows, columns)
        try:
            data = pickle.dumps(value, protocol=5)
        except Exception as e:  # pickling user objects can raise anything
            raise StoreError(
                f"asset {key} returned a {type(value).__name__}, which cannot be pickled: {e}",
                hint="return a DataFrame, or a picklable object",
            ) from None
        dv = digest(b"pickle\0" + data)
        rows = len(value) if isinstance(value, list | tuple | dict) else None
        if len(data) <= self.inline_limit:
            return Staged(dv, f"blob:{dv}", data, rows, None)
        rel = f"{key}/{dv}.pickle"
        self._write(rel, data)
        return Staged(dv, f"pickle:{rel}", None, rows, None)

    def _write(self, rel: str, data: bytes) -> None:
        final = self.root / rel
        if final.exists() and final.stat().st_size == len(data):
            return  # content-addressed: the same version is already there
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".staging-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                if self.sync_writes:
                    os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if self.sync_writes:
            _fsync_path(final.parent)

    def sync(self, ref: str | None) -> None:
        """Make the file behind ``ref`` (and its name) durable: before publishing a value
        that a store with ``sync_writes = False`` wrote."""
        path = self.path_of(ref) if ref else None
        if path is None or not path.exists():  # inline values are in the catalog's transaction
            return
        _fsync_path(path)
        _fsync_path(path.parent)

    def sync_soon(self, ref: str | None) -> None:
        """Start :meth:`sync` of ``ref`` in a background thread; :meth:`wait_synced` waits
        for it. The run records the value meanwhile and waits before that record commits."""
        if self._syncer is None:
            from concurrent.futures import ThreadPoolExecutor

            self._syncer = ThreadPoolExecutor(4, thread_name_prefix="assets-fsync")
        fut = self._syncer.submit(self.sync, ref)
        with self._syncing_lock:
            self._syncing.append(fut)

    def wait_synced(self) -> None:
        """Wait until every :meth:`sync_soon` so far is done (raises what one raised)."""
        with self._syncing_lock:
            pending, self._syncing = self._syncing, []
        for fut in pending:
            fut.result()

    def close(self) -> None:
        if self._syncer is not None:
            self.wait_synced()
            self._syncer.shutdown()
            self._syncer = None

    def load(self, key: str, ref: str) -> Any:
        fmt, _, loc = ref.partition(":")
        if fmt == "blob":
            data = self._prefetched.pop(loc, None) or self._inline_reader(loc)
            if data is None:
                raise StoreError(
                    f"the published value of {key} ({loc}) is missing from the catalog"
                )
            return pickle.loads(data)
        path = self.root / loc
        if not path.exists():
            raise StoreError(
                f"the published value of {key} is missing: {path}",
                hint=f"rematerialize it: assets materialize {key} --force",
            )
        if fmt == "pickle":
            return pickle.loads(path.read_bytes())
        if fmt == "pandas":
            pa = _pyarrow("reading a pandas DataFrame from parquet")
            return pa.parquet.read_table(path).to_pandas()
        if fmt == "polars":
            try:
                import polars as pl
            except ImportError:
                raise MissingExtraError("polars", "polars", f"reading {key}") from None
            return pl.read_parquet(path)
        raise StoreError(f"unknown value format {fmt!r} for {key}")

    def path_of(self, ref: str) -> Path | None:
        fmt, _, loc = ref.partition(":")
        return None if fmt == "blob" else self.root / loc


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
