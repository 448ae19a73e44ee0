"""The code versions of a project's assets, kept between loads in ``.assets/cache/``.

Fingerprinting a function costs ~0.1 ms, so each load reuses what the last one found
where nothing changed. A version's text is all a plan compares; its parts (which
function and helpers, by file and digest) are needed only to say what changed, or to
record a materialization. The cache keeps the parts apart and :class:`CodeVersions`
unpickles them when one is first asked for: a load that finds nothing stale never
does (at 1,000 assets that is most of the cache's load time).
"""

from __future__ import annotations

import functools
import linecache
import os
import pickle
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from assets_core.code_version import (
    CodePart,
    CodeVersion,
    Fingerprinter,
    Probe,
    code_stamp,
    probe_holds,
)
from assets_core.definitions import AssetDef, SourceDef
from assets_core.graph import Graph
from assets_core.parallel import in_two
from assets_core.sources import FileDigestCache

CACHE_NAME = "code_versions.v8.pickle"  # v8: the parts apart from the versions
FILES_CACHE_NAME = "code_files.pickle"  # content stamps by (size, mtime), as for sources

Parts = tuple[CodePart, ...]
_LOAD_ERRORS = (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError)


class CodeVersions(Mapping[str, CodeVersion]):
    """The code version of each asset, by key, in the graph's order.

    ``texts`` maps each key to its version's text, which is what a plan compares. A
    version the cache served without its parts is built when first looked up: the
    parts of all of them are read then, in one go, by ``parts()``.
    """

    __slots__ = ("_built", "_formats", "_parts", "texts")

    def __init__(
        self,
        built: Mapping[str, CodeVersion],
        *,
        texts: dict[str, str] | None = None,
        formats: Mapping[str, str] | None = None,
        parts: Callable[[], Mapping[str, Parts]] | None = None,
    ) -> None:
        """``built``: versions at hand. ``texts`` (each key's version text, in order)
        also holds the keys of ``formats``: the versions whose parts ``parts()`` gives."""
        self._built = dict(built)
        self.texts = texts if texts is not None else {k: v.version for k, v in built.items()}
        self._formats = formats or {}
        self._parts = parts

    @classmethod
    def of(cls, versions: Mapping[str, CodeVersion]) -> CodeVersions:
        """``versions`` as a :class:`CodeVersions` (itself when it is one)."""
        return versions if isinstance(versions, CodeVersions) else cls(versions)

    def __getitem__(self, key: str) -> CodeVersion:
        got = self._built.get(key)
        if got is None:
            if key not in self._formats:
                raise KeyError(key)
            self._build_the_rest()
            got = self._built[key]
        return got

    def _build_the_rest(self) -> None:
        assert self._parts is not None
        parts = self._parts()
        for key, fmt in self._formats.items():
            self._built[key] = CodeVersion(self.texts[key], parts[key], fmt)
        self._formats = {}

    def __contains__(self, key: object) -> bool:
        return key in self.texts

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts)

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        return f"CodeVersions({len(self)} assets, {len(self._formats)} without their parts yet)"


def load_code_versions(
    root: Path, cache_dir: Path, graph: Graph
) -> tuple[CodeVersions, dict[str, str], dict[str, str]]:
    """Code version of every asset, reusing last load's result where nothing changed.

    A cached version holds when the files it came from are byte-identical, or else
    when the bytecode (and values) of each of its parts are: one edited function in
    a big module then costs one fingerprint, not one per function of the module.

    The cache holds ``{"stamps": {file: content stamp}, "versions": {key: (files,
    version, format)}, "parts": pickled {key: parts}, "checks": pickled {key: (function
    stamp, probes)}, "own": {key: function stamp}}`` ("own": of each asset function
    that is not wrapped, its :func:`code_stamp` as fingerprinted; returned with the
    versions, and with the texts of the parts fingerprinted in this load). Each file
    is stamped once per load (and read only when its size or mtime changed, see
    :class:`~assets_core.sources.FileDigestCache`); when none of an asset's files
    changed, its version is reused as is and neither its parts nor the per-function
    checks are unpickled.
    """
    cache_path = cache_dir / CACHE_NAME
    try:
        cache: dict[str, Any] = pickle.loads(cache_path.read_bytes())
        known: dict[str, str] = cache["stamps"]
        versions: dict[str, tuple[tuple[str, ...], str, str]] = cache["versions"]
        parts_blob: bytes = cache["parts"]
        checks_blob: bytes | None = cache["checks"]
        stamped: dict[str, str] = cache["own"]
    except (*_LOAD_ERRORS, KeyError, IndexError):  # none yet, damaged, or of another version
        known, versions, parts_blob, checks_blob, stamped = {}, {}, b"", None, {}
    digests = FileDigestCache(cache_dir / FILES_CACHE_NAME)
    now = time.time()
    stamps: dict[str, str] = {}

    def stamp(file: str) -> str:
        got = stamps.get(file)
        if got is None:
            try:
                got = digests.digest_of(file, os.stat(file), now)
            except OSError:
                got = "missing"
            stamps[file] = got
        return got

    changed = {f for f, s in known.items() if stamp(f) != s}
    checks_of = _unpickled_once(checks_blob)
    memo: dict[Any, bool] = {}
    linecache.checkcache()  # function stamps read lines: drop any read before an edit
    built: dict[str, CodeVersion] = {}
    texts: dict[str, str] = {}
    served: dict[str, str] = {}  # key -> format, of the versions the cache served
    rechecked: dict[str, Any] = {}  # key -> checks entry, of those served after checking
    own_stamps: dict[str, str] = {}  # of those, the function's stamp taken to check it
    todo: list[tuple[str, AssetDef, str, str | None]] = []
    for key in graph.order:
        d = graph.defs[key]
        if isinstance(d, SourceDef):
            continue
        if not isinstance(d, AssetDef):
            cv = getattr(d, "code", None) or CodeVersion.pinned("")
        elif d.code_version is not None:
            cv = CodeVersion.pinned(d.code_version)
        else:
            own = d.fn.__code__.co_filename
            hit = versions.get(key)
            fn_stamp = None
            if hit is not None and own in hit[0]:
                if changed.isdisjoint(hit[0]):  # its files are as fingerprinted
                    texts[key] = hit[1]
                    served[key] = hit[2]
                    continue
                held = checks_of(key)
                if (
                    held is not None
                    and (fn_stamp := code_stamp(d.fn)) == held[0]
                    and all(probe_holds(p, memo) for p in _other_probes(d.fn, fn_stamp, held[1]))
                ):
                    texts[key] = hit[1]
                    served[key] = hit[2]
                    rechecked[key] = held
                    if not hasattr(d.fn, "__wrapped__"):
                        own_stamps[key] = fn_stamp
                    continue
            todo.append((key, d, own, fn_stamp))
            texts[key] = ""  # filled below, in order
            continue
        built[key] = cv
        texts[key] = cv.version
    served_parts = functools.partial(
        _served_parts, _unpickled_once(parts_blob or None), served, root, graph
    )
    if not changed and not todo and len(served) == len(versions):  # as the cache holds
        digests.save()
        return CodeVersions(built, texts=texts, formats=served, parts=served_parts), {}, stamped
    # what was fingerprinted now, then the cache written again
    fresh = {k: versions[k] for k in served}
    fresh_checks = dict(rechecked)
    fresh_own = {k: stamped[k] for k in served if k in stamped and k not in rechecked}
    fresh_own.update(own_stamps)
    fp: Fingerprinter | None = None
    if todo:
        fp = Fingerprinter(root)
        for (key, d, own, fn_stamp), (cv, files, probes) in zip(
            todo, _fingerprint_all(fp, [t[1].fn for t in todo]), strict=True
        ):
            files = tuple(sorted(files | {own}))
            for f in files:
                stamp(f)
            fresh[key] = (files, cv.version, cv.format)
            built[key] = cv
            texts[key] = cv.version
            if fn_stamp is None:
                wrapped = hasattr(d.fn, "__wrapped__")
                fn_stamp = code_stamp(d.fn) if wrapped or not probes else probes[0][3]
            fresh_checks[key] = (fn_stamp, probes)
            if not hasattr(d.fn, "__wrapped__"):
                fresh_own[key] = fn_stamp
    out = CodeVersions(built, texts=texts, formats=served, parts=served_parts)
    for key in fresh.keys() - fresh_checks.keys():
        fresh_checks[key] = checks_of(key)
    body = {
        "stamps": {f: stamp(f) for f in {f for entry in fresh.values() for f in entry[0]}},
        "versions": fresh,
        **_shared({k: out[k].parts for k in fresh}, fresh_checks),
        "own": fresh_own,
    }
    _write_atomic(cache_path, pickle.dumps(body, protocol=5))
    digests.save()
    return out, (fp.texts if fp is not None else {}), fresh_own


def _unpickled_once(blob: bytes | None) -> Callable[[str], Any]:
    """``get(key)`` of the dictionary pickled in ``blob``, unpickled on the first call
    (an empty one when ``blob`` is None or cannot be read)."""
    held: dict[str, Any] | None = None

    def get(key: str) -> Any:
        nonlocal held
        if held is None:
            try:
                held = pickle.loads(blob) if blob else {}
            except _LOAD_ERRORS:
                held = {}
        return held.get(key)

    return get


def _served_parts(
    parts_of: Callable[[str], Parts | None], served: Mapping[str, str], root: Path, graph: Graph
) -> dict[str, Parts]:
    """The parts of the versions served from the cache. One the cache lacks (it was
    written by a faulty or interrupted process) is fingerprinted again."""
    out: dict[str, Parts] = {}
    fp: Fingerprinter | None = None
    for key in served:
        got = parts_of(key)
        if got is None:
            fp = fp or Fingerprinter(root)
            got = fp.version_of(graph.defs[key].fn).parts  # type: ignore[union-attr]
        out[key] = got
    return out


def _fingerprint_each(
    fp: Fingerprinter, fns: Sequence[Any]
) -> tuple[list[tuple[CodeVersion, set[str], tuple[Probe, ...]]], dict[str, str]]:
    """Code version, files and probes of each of ``fns``, and the texts of their parts."""
    out = []
    for fn in fns:
        cv = fp.version_of(fn)
        out.append((cv, fp.files_of(cv), fp.probes_of(cv)))
    return out, fp.texts


# fingerprinting a function costs ~0.1 ms: below this many, a child costs more than it saves
_SPLIT_FROM = 200


def _fingerprint_all(
    fp: Fingerprinter, fns: Sequence[Any]
) -> list[tuple[CodeVersion, set[str], tuple[Probe, ...]]]:
    """:func:`_fingerprint_each`, a long list (a cold load) shared with a forked child
    (see :func:`~assets_core.parallel.in_two`)."""
    first, second = in_two(functools.partial(_fingerprint_each, fp), fns, min_items=_SPLIT_FROM)
    if second is None:
        return first[0]
    fp.texts.update(second[1])
    return first[0] + second[0]


def _other_probes(fn: Any, fn_stamp: str, probes: tuple[Any, ...]) -> tuple[Any, ...]:
    """``probes`` without the asset function's own when ``fn_stamp`` has just checked it
    (the first probe is the unwrapped function's: the same function unless wrapped)."""
    if probes and probes[0][3] == fn_stamp and not hasattr(fn, "__wrapped__"):
        return probes[1:]
    return probes


def _shared(parts: dict[str, Parts], checks: dict[str, Any]) -> dict[str, bytes]:
    """The cache's ``parts`` and ``checks``, equal values pickled as one object each.

    Pickle writes an object it has seen once; most assets share their helpers, so
    the cache shrinks several-fold and loads that much faster.
    """
    seen: dict[Any, Any] = {}
    one = seen.setdefault
    out_parts = {key: tuple(one(p, p) for p in ps) for key, ps in parts.items()}
    out_checks = {
        key: (fn_stamp, tuple(one(p, p) for p in probes))
        for key, (fn_stamp, probes) in checks.items()
    }
    return {
        "parts": pickle.dumps(out_parts, protocol=5),
        "checks": pickle.dumps(out_checks, protocol=5),
    }


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass  # the cache only saves time; a read-only project still works
