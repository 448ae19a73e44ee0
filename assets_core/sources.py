"""Observing sources: the current version of data the project reads but does not produce.

A path source's version is a hash over its matched files (relative path and
content). Hashing every file on every plan would cost time proportional to the
data, so a :class:`FileDigestCache` remembers each file's digest with its size
and modification time: a file whose size and mtime are unchanged is not read
again. Files modified in the last two seconds are always hashed (and not cached),
so a write that lands within one mtime tick of the previous one is never missed.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pickle
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assets_core.code_version import digest
from assets_core.definitions import SourceDef
from assets_core.errors import AssetsError

CACHE_NAME = "source_files.pickle"
# A file modified this recently may change again within the same mtime tick.
_RACY_S = 2.0


class ObservationError(AssetsError):
    exit_code = 1


@dataclass(frozen=True, slots=True)
class Observation:
    """One source's version as seen now."""

    key: str
    version: str
    files: int | None  # how many files matched, for path sources


class FileDigestCache:
    """``path -> (size, mtime_ns, digest)``, kept in ``.assets/cache/`` between commands."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._entries: dict[str, tuple[int, int, str]] = {}
        self._dirty = False
        if path is not None:
            try:
                self._entries = pickle.loads(path.read_bytes())
            except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
                self._entries = {}

    def digest_of(self, path: str, st: os.stat_result, now: float) -> str:
        hit = self._entries.get(path)
        if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        with open(path, "rb") as f:
            got = hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=16)).hexdigest()
        if now - st.st_mtime_ns / 1e9 > _RACY_S:
            self._entries[path] = (st.st_size, st.st_mtime_ns, got)
            self._dirty = True
        elif hit is not None:
            del self._entries[path]
            self._dirty = True
        return got

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pickle.dumps(self._entries, protocol=5))
            os.replace(tmp, self.path)
        except OSError:
            pass  # the cache only saves time; a read-only project still works
        self._dirty = False


def matched_files(src: SourceDef, root: Path) -> list[Path]:
    return [Path(p) for p, _ in _matched(src, root)]


def _matched(src: SourceDef, root: Path) -> list[tuple[str, os.stat_result]]:
    assert src.path is not None
    pattern = src.path if Path(src.path).is_absolute() else str(root / src.path)
    out = []
    for p in glob.glob(pattern, recursive=True):
        try:
            st = os.stat(p)
        except OSError:
            continue  # removed between the listing and the stat
        if st.st_mode & 0o170000 == 0o100000:  # a regular file
            out.append((p, st))
    out.sort()
    return out


def observe(src: SourceDef, root: Path, cache: FileDigestCache | None = None) -> str:
    """The current version of ``src``: a content hash of its files, or its observe() value."""
    return observe_one(src, root, cache or FileDigestCache()).version


def observe_one(src: SourceDef, root: Path, cache: FileDigestCache) -> Observation:
    if src.path is not None:
        files = _matched(src, root)
        now = time.time()
        root_s = str(root) + os.sep
        h = [
            f"{p[len(root_s) :] if p.startswith(root_s) else p}\0{cache.digest_of(p, st, now)}"
            for p, st in files
        ]
        version = digest("\n".join(h)) if files else "no-files"
        return Observation(src.key, version, len(files))
    assert src.observe is not None
    try:
        value = src.observe()
    except Exception as e:  # user code can raise anything
        raise ObservationError(
            f"observing source {src.key} (declared at {src.location}) failed: "
            f"{type(e).__name__}: {e}{_raised_at(e, src.observe)}",
            hint=f"fix the observe= function {_where(src.observe)}, or the system it reads",
        ) from e
    version = value if isinstance(value, str) and len(value) <= 64 else digest(repr(value))
    return Observation(src.key, version, None)


def _where(fn: Any) -> str:
    """``name at file:line`` of a function, as far as it can be told."""
    import inspect

    fn = inspect.unwrap(fn)
    code = getattr(fn, "__code__", None)
    name = getattr(fn, "__qualname__", None) or repr(fn)
    return f"{name} at {code.co_filename}:{code.co_firstlineno}" if code else name


def _raised_at(e: BaseException, fn: Any) -> str:
    """`` (raised at file:line)``: the innermost frame of ``e`` in the file of ``fn``
    (where the user's code called a library that raised), else the innermost frame."""
    import inspect

    code = getattr(inspect.unwrap(fn), "__code__", None)
    own = code.co_filename if code is not None else None
    frames = []
    tb = e.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    mine = [f for f in frames if f[0] == own]
    if not (mine or frames):
        return ""
    file, line = (mine or frames)[-1]
    return f" (raised at {file}:{line})"


def value_of(src: SourceDef, root: Path) -> Any:
    """What an asset that reads ``src`` receives."""
    if src.path is not None:
        return matched_files(src, root)
    assert src.observe is not None
    return src.observe()


def observe_all(
    sources: Mapping[str, SourceDef], root: Path, cache_dir: Path | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """The current version of each source, and apart, the error of each source that
    could not be observed (its ``observe=`` function raised): one source that is down
    does not stop the others. File digests are cached under ``cache_dir``."""
    errors: dict[str, str] = {}
    seen = observe_many(sources.values(), root, cache_dir, errors=errors)
    return {o.key: o.version for o in seen}, errors


def observe_many(
    sources: Iterable[SourceDef],
    root: Path,
    cache_dir: Path | None = None,
    *,
    errors: dict[str, str] | None = None,
) -> list[Observation]:
    """An observation of each source. A source that cannot be observed raises its
    ObservationError, or with ``errors`` given, leaves its message there instead."""
    cache = FileDigestCache(cache_dir / CACHE_NAME if cache_dir is not None else None)
    out = []
    try:
        for s in sources:
            try:
                out.append(observe_one(s, root, cache))
            except ObservationError as e:
                if errors is None:
                    raise
                errors[s.key] = e.render()
    finally:
        cache.save()
    return out
