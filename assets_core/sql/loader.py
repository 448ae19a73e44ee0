"""Loading a project's SQL assets: find the files, parse them (or reuse the cache),
and map every table a query reads to the asset or source it names.

Parsing is cached by file content (``.assets/cache/sql_assets.pickle``): a file
that did not change is not parsed again, so a project whose SQL did not change
loads without importing sqlglot at all.

Table names map to keys by their parts: ``bi.customer_journey`` reads
``bi/customer_journey`` (case-insensitively when no key matches exactly); a bare
``orders`` reads ``orders``, or the one key whose last part is ``orders``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from assets_core.code_version import digest
from assets_core.definitions import Location
from assets_core.errors import DefinitionError, ProjectError, UnknownUpstreamError, closest
from assets_core.parallel import background, in_two, meanwhile, meanwhile_pending
from assets_core.sql.definition import (
    SqlAssetDef,
    build,
    parse_header,
    split_header,
    sql_format,
)
from assets_core.sql.engines import engine_specs, unknown_engine
from assets_core.sql.lexical import layout_free_key

CACHE_NAME = "sql_assets.pickle"
# entries: (content digest, (tables, positions, fingerprint, sources), layout key)
_CACHE_FORMAT = 3


def load_sql(config: Any, defs: Sequence[Any]) -> list[Any]:
    """``defs`` plus the project's ``.sql`` assets, every SQL asset's tables resolved."""
    out = list(defs)
    out.extend(sql_files(config.root, config.raw.get("sql_paths", []), config.state_dir))
    specs = engine_specs(config.root, config.raw)
    for d in out:
        if d.kind == "sql" and d.engine not in specs:
            unknown_engine(d.engine, specs, f"asset {d.key}", str(d.location))
        io = getattr(d, "io", None)
        if io is not None and io not in specs:
            unknown_engine(io, specs, f"asset {d.key} (io=)", str(d.location))
    return resolve_tables(out)


def sql_files(root: Path, sql_paths: Any, state_dir: Path) -> list[SqlAssetDef]:
    """A definition per ``.sql`` file under each folder of ``sql_paths``."""
    if isinstance(sql_paths, str) or not all(isinstance(p, str) for p in sql_paths):
        raise ProjectError(
            '[tool.assets] sql_paths must be a list of folders, e.g. ["models"]',
            hint='write sql_paths = ["models"]',
        )
    files: list[tuple[str, str]] = []  # (key, path relative to the project folder)
    root_s = str(root)
    for rel in sql_paths:
        folder = os.path.join(root_s, rel)
        if not os.path.isdir(folder):
            raise ProjectError(
                f"folder {rel!r} listed in [tool.assets] sql_paths is not in {root}",
                hint=f"create {folder} or fix the name",
            )
        found = []
        # os.walk and plain strings: pathlib costs more than parsing does on a warm load
        for here, _, names in os.walk(folder):
            sub = os.path.relpath(here, folder)
            prefix = os.path.relpath(here, root_s)  # once a folder, not once a file
            for name in names:
                if name.endswith(".sql"):
                    key = name[:-4] if sub == "." else f"{sub}/{name[:-4]}".replace(os.sep, "/")
                    found.append((key, name if prefix == "." else os.path.join(prefix, name)))
        files.extend(sorted(found, key=lambda kf: kf[1]))
    if not files:
        return []
    cache_path = state_dir / "cache" / CACHE_NAME
    cache = _read_cache(cache_path)
    read: list[tuple[str, str, str, str, str, Any, Any]] = []
    missing: list[tuple[str, str, str, str]] = []  # files to parse with sqlglot
    for key, rel in files:
        path = os.path.join(root_s, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        stamp = digest(text)
        rel = rel.replace(os.sep, "/")
        hit = cache.get(rel)
        if hit is not None and hit[0] == stamp:
            parsed, layout = hit[1], hit[2]
        else:  # new or changed: maybe only in its comments and layout
            layout = layout_free_key(text, split_header(text)[0])
            parsed = None
            if hit is not None and layout is not None and hit[2] == layout:
                tables, _, fingerprint, sources = hit[1]
                parsed = (tables, None, fingerprint, sources)  # positions: parsed on demand
            else:
                missing.append((key, text, path, rel))
        read.append((key, text, path, rel, stamp, parsed, layout))
    parses = iter(_parse_all(missing))
    fresh: dict[str, Any] = {}
    out = []
    for key, text, path, rel, stamp, parsed, layout in read:
        if parsed is None:
            parsed = next(parses)  # None: the child could not, so it is parsed (or fails) here
        d = _from_file(key, text, path, rel, parsed)
        fresh[rel] = (stamp, (d.tables, d.table_positions, d.fingerprint, d.sources), layout)
        out.append(d)
    if fresh != cache:
        _write_cache(cache_path, fresh)
    return out


# parsing a file costs ~0.5 ms: from this many on, half of them are parsed in a child
_SPLIT_FROM = 100


def _parse_all(files: Sequence[tuple[str, str, str, str]]) -> list[Any]:
    """What :func:`_parse_each` gives, computed on a second core when that saves time.

    Many files (a cold load): half are parsed in a forked child. A few, when sqlglot is
    not imported yet: a child imports it and parses them, while this process does the
    work registered with :func:`assets_core.parallel.meanwhile` (the CLI's
    ``materialize`` imports the catalog's SQLAlchemy then), and never imports sqlglot.
    """
    if not files:
        return []
    running = meanwhile_pending()  # a run follows: its engines' modules are wanted too
    with meanwhile(_import_engines) if running else contextlib.nullcontext():
        if len(files) >= _SPLIT_FROM:
            first, second = in_two(_parse_each, files, min_items=_SPLIT_FROM)
            return first if second is None else first + second
        child = running and "sqlglot" not in sys.modules
        return background(lambda: _parse_each(files), fork=child).result()


def _import_engines() -> None:
    """Import the default engine's module (and DuckDB): then a thread that opens a
    DuckDB file ahead of the run (see ``engines.open_ahead``) has only that to do."""
    import duckdb  # noqa: F401

    import assets_core.sql.duckdb_engine  # noqa: F401


def _parse_each(files: Sequence[tuple[str, str, str, str]]) -> list[Any]:
    """(tables, positions, fingerprint, sources) of each file; None where it fails (the
    caller parses that one again, to raise its error)."""
    out: list[Any] = []
    for key, text, path, rel in files:
        try:
            d = _from_file(key, text, path, rel, None)
        except Exception:
            out.append(None)
            continue
        out.append((d.tables, d.table_positions, d.fingerprint, d.sources))
    return out


def _from_file(key: str, text: str, path: str, rel: str, parsed: Any) -> SqlAssetDef:
    header_text, header_line = split_header(text)
    header = parse_header(header_text, key=key, file=path, line=header_line)
    return build(
        key,
        text,
        location=Location(path, header_line or 1),
        path=rel,
        header=header,
        parsed=parsed,
    )


def resolve_tables(defs: Iterable[Any]) -> list[Any]:
    """Every SQL asset with ``ins`` mapping each table it reads to a known key."""
    defs = list(defs)
    keys = [d.key for d in defs]
    exact = set(keys)
    folded: dict[str, list[str]] = {}
    by_last: dict[str, list[str]] = {}
    for k in keys:
        folded.setdefault(k.lower(), []).append(k)
        by_last.setdefault(k.rsplit("/", 1)[-1].lower(), []).append(k)
    out = []
    for d in defs:
        if d.kind != "sql" or (d.ins and len(d.ins) == len(d.tables)):
            out.append(d)
            continue
        ins = {t: _table_key(d, t, exact, folded, by_last) for t in d.tables}
        out.append(replace(d, params=d.tables, ins=ins))
    return out


def _table_key(
    d: SqlAssetDef,
    table: str,
    exact: set[str],
    folded: Mapping[str, list[str]],
    by_last: Mapping[str, list[str]],
) -> str:
    parts = table.split(".")
    guess = "/".join(parts)
    if guess == d.key:
        raise DefinitionError(
            f"asset {d.key} reads its own table {table}",
            key=d.key,
            location=_where(d, table),
            hint="an asset cannot read itself; read its upstreams instead",
        )
    if guess in exact:
        return guess
    found = [k for k in folded.get(guess.lower(), ()) if k != d.key]
    if len(found) == 1:
        return found[0]
    if len(parts) == 1:
        found = [k for k in by_last.get(parts[0].lower(), ()) if k != d.key]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise DefinitionError(
                f"asset {d.key}: table {table} could be any of "
                + ", ".join(_as_table(k) for k in sorted(found)),
                key=d.key,
                location=_where(d, table),
                hint=f"qualify it, e.g. {_as_table(sorted(found)[0]).split(' ')[0]}",
            )
    near = closest(guess, exact - {d.key})
    hint = (
        "did you mean " + ", ".join(_as_table(k) for k in near) + "? " if near else ""
    ) + f'if it is data the project does not produce, declare it: source("{guess}", ...)'
    raise UnknownUpstreamError(
        f"asset {d.key} reads table {table}, which is neither an asset nor a source",
        key=d.key,
        location=_where(d, table),
        hint=hint,
    )


def _as_table(key: str) -> str:
    return f"{key.replace('/', '.')} ({key})"


def _where(d: SqlAssetDef, table: str) -> str:
    if d.path is None:
        return str(d.location)
    position = d.position_of(table)
    if position is None:
        return str(d.location)
    return f"{d.location.file}:{position[0]}:{position[1]}"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("__format__") != _cache_stamp():
        return {}
    data.pop("__format__")
    return data


def _write_cache(path: Path, entries: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps({"__format__": _cache_stamp(), **entries}, protocol=5))
        os.replace(tmp, path)
    except OSError:
        pass  # the cache only saves time; a read-only project still works


def _cache_stamp() -> str:
    """Parses (fingerprints included) depend on how SQL is fingerprinted and on sqlglot's
    version: a new one of either parses everything again."""
    return f"{_CACHE_FORMAT}:{sql_format()}"
