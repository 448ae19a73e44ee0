"""Provenance: exactly what produced one version of an asset.

Everything is recorded when the version is materialized, never reconstructed:
the code fingerprint and its parts (asset function and helpers) with the source
text of each part (table ``code_sources``, one row per part digest, written the
first time a run uses it), the data version of every input, the run, timings and
the results of its checks.

A part's digest is that of its syntax tree with docstrings removed (and, for the
asset function, its decorators), so comments and formatting are not part of it.
The text is stored as written and shown normalized (the tree written back as
source, see :func:`shown_source`): anyone can parse the text shown and check that
its digest (:func:`assets_core.code_version.part_digest`) is the part's.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import textwrap
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, or_, select

from assets_core.catalog import schema as t
from assets_core.catalog.statements import execute_many, rows_with
from assets_core.code_version import (
    FORMAT_KEY,
    _function_source,
    _strip_docstrings,
    node_source,
    normalized,
    part_digest,
    stamped_source,
)
from assets_core.errors import AssetsError

if TYPE_CHECKING:
    from assets_core.catalog import Catalog
    from assets_core.project import Project

_CHUNK = 500
_DIGESTS = "SELECT digest FROM code_sources"


class ProvenanceError(AssetsError):
    """The version asked for is not in the catalog."""


def _candidates(tree: ast.Module, name: str) -> Iterator[ast.AST]:
    """Nodes of ``tree`` that can be the part named ``name`` (``module.qualname``)."""
    last = name.rsplit(".", 1)[-1]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == last:
                yield node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(n, ast.Name) and n.id == last for t in targets for n in ast.walk(t)):
                yield node
    if "<locals>" in name or name.count(".") > 1:  # methods and nested functions
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == last:
                yield node


def _source_if(node: ast.AST, lines: list[str], wanted: str, *, top: bool = False) -> str | None:
    """``node``'s lines (as in ``lines``) when its digest, with or without decorators, is
    ``wanted``. An asset's own function (``top``) is fingerprinted without its decorators:
    that is tried first."""
    if _form_with_digest(node, wanted, top=top) is None:
        return None
    return node_source(node, lines)


def _form_with_digest(node: ast.AST, wanted: str, *, top: bool = False) -> str | None:
    """``node`` normalized, without its decorators or with them, whichever has digest
    ``wanted`` (None if neither)."""
    decorators = getattr(node, "decorator_list", None)
    for drop in (True, False) if top else (False, True):
        if drop and not decorators:
            continue
        if drop:
            node.decorator_list = []  # type: ignore[attr-defined]
        try:
            if part_digest(node) == wanted:
                return normalized(node)
        finally:
            if drop:
                node.decorator_list = decorators  # type: ignore[attr-defined]
    return None


def shown_source(text: str | None, wanted: str) -> str | None:
    """The stored text of the part with digest ``wanted``, normalized as fingerprinted:
    docstrings and comments removed, laid out one way (and an asset's decorators left
    out). A text that does not parse (a SQL query) is shown as stored."""
    if not text:
        return text
    try:
        tree = ast.parse(textwrap.dedent(text))
    except (SyntaxError, ValueError):
        return text
    _strip_docstrings(tree)
    if len(tree.body) == 1:
        shown = _form_with_digest(tree.body[0], wanted, top=True)
        if shown is not None:
            return shown
    return normalized(tree)  # recorded by an older version: already normalized


def part_sources(root: Path, parts: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """Source text as written, by digest, for ``parts`` (``{digest: (name, file)}``).

    A part whose file is gone or changed since its digest was computed is left out.
    """
    by_file: dict[str, dict[str, str]] = {}
    for dig, (name, file) in parts.items():
        if file:
            by_file.setdefault(file, {})[dig] = name
    out: dict[str, str] = {}
    for file, wanted in by_file.items():
        path = os.path.join(root, file)  # as given when ``file`` is absolute
        try:  # a first run reads every asset's file: plain reads, no Path objects
            with open(path, encoding="utf-8") as f:
                source = f.read()
        except OSError:
            continue
        if path.endswith(".sql"):  # a SQL asset's part: its query as written in the file
            out.update(dict.fromkeys(wanted, source))
            continue
        try:
            tree = ast.parse(source, filename=path)
        except (OSError, SyntaxError, ValueError):
            continue
        _strip_docstrings(tree)
        lines = source.splitlines(keepends=True)
        for dig, name in wanted.items():
            for node in _candidates(tree, name):
                text = _source_if(node, lines, dig)
                if text is not None:
                    out[dig] = text
                    break
    return out


def _insert_missing(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(t.code_sources).on_conflict_do_nothing(index_elements=["digest"])
    return insert(t.code_sources)  # SQLite: the write transaction holds the lock throughout


def record_code_sources(project: Project, catalog: Catalog, keys: Iterable[str]) -> int:
    """Store the source of the code parts of ``keys`` not stored yet; return how many."""
    wanted: dict[str, tuple[str, str]] = {}
    keys_list = list(keys)
    for key in keys_list:
        cv = project.code_versions.get(key)
        if cv is None:
            continue
        for p in cv.parts:
            if p.file:
                wanted.setdefault(p.digest, (p.name, p.file))
    if not wanted:
        return 0
    with catalog.engine.connect() as conn:
        for (dig,) in rows_with(conn, _DIGESTS, "digest", list(wanted), _CHUNK):
            wanted.pop(dig, None)
    if not wanted:
        return 0
    known = project.code_texts
    texts = {dig: known[dig] for dig in wanted if dig in known}
    if len(texts) < len(wanted):  # fingerprints came from the cache
        # an asset's own function: its lines, when they are still those fingerprinted
        # (its stamp), else parse just them
        for key in keys_list:
            d = project.graph.defs.get(key)
            cv = project.code_versions.get(key)
            fn = getattr(d, "fn", None)
            if cv is None or fn is None or not cv.parts or cv.parts[0].digest in texts:
                continue
            if cv.parts[0].digest in wanted:
                own = project.own_stamps.get(key)
                text = stamped_source(fn, own) if own is not None else None
                if text is not None:
                    texts[cv.parts[0].digest] = text
                    continue
                found = _function_source(inspect.unwrap(fn).__code__)
                if found and _form_with_digest(found[0], cv.parts[0].digest, top=True):
                    texts[cv.parts[0].digest] = found[1]
        missing = {dig: v for dig, v in wanted.items() if dig not in texts}
        if missing:  # helpers and constants: read their files once each
            texts.update(part_sources(project.root, missing))
    now = time.time()
    rows = [
        {"digest": dig, "name": name, "file": file, "source": texts[dig], "created_at": now}
        for dig, (name, file) in wanted.items()
        if dig in texts
    ]
    if rows:
        with catalog.writer.begin() as conn:
            # another run may have stored some meanwhile: insert only what is still missing
            have = {d for (d,) in rows_with(conn, _DIGESTS, "digest", [r["digest"] for r in rows])}
            rows = [r for r in rows if r["digest"] not in have]
            # on PostgreSQL another run may insert the same digests between the
            # select and the insert; its rows are identical, so theirs stand
            dialect = conn.dialect.name
            execute_many(conn, "code_sources.insert", lambda: _insert_missing(dialect), rows)
    return len(rows)


def find_materialization(catalog: Catalog, key: str, version: str) -> dict[str, Any]:
    """The materialization of ``key`` named by its id or a prefix of its data version."""
    m = t.materializations.c
    q = select(t.materializations).where(m.key == key)
    conds = [_starts_with(m.data_version, version)]
    if version.isdigit():
        conds.append(m.id == int(version))
    q = q.where(or_(*conds), m.status != "skipped").order_by(m.id.desc())
    with catalog.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q.limit(50)).mappings()]
    if version.isdigit():
        by_id = [r for r in rows if r["id"] == int(version)]
        rows = by_id or rows
    versions = {r["data_version"] for r in rows}
    if not rows:
        raise ProvenanceError(
            f"{key} has no version {version!r} (neither a materialization id nor a data version)",
            hint=f"list its versions with: assets show {key}",
        )
    _one_version(
        versions,
        key,
        version,
        "give more characters of the data version, or the materialization id",
    )
    return rows[0]  # the newest materialization that produced this version


def provenance(project: Project, catalog: Catalog, key: str, version: str) -> dict[str, Any]:
    """Everything recorded about how ``version`` of ``key`` was produced (JSON-ready)."""
    row = find_materialization(catalog, key, version)
    parts = json.loads(row["code_parts"]) if row["code_parts"] else {}
    fingerprint = parts.pop(FORMAT_KEY, ["", None])[1]
    inputs = json.loads(row["input_versions"]) if row["input_versions"] else {}
    digests = [d for _, d in parts.values()]
    c = t.code_sources.c
    with catalog.engine.connect() as conn:
        texts = dict(conn.execute(select(c.digest, c.source).where(c.digest.in_(digests))).all())
        run = conn.execute(select(t.runs).where(t.runs.c.id == row["run_id"])).mappings().first()
    g = project.graph
    input_rows = []
    for up, dv in inputs.items():
        is_source = up in g.defs and g.is_source(up)
        input_rows.append(
            {
                "key": up,
                "data_version": dv,
                "kind": "source" if is_source else "asset",
                "show": f"assets show {up} --version {dv[:12]}",
            }
        )
    checks: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    if "check_results" in t.metadata.tables:
        from assets_core.catalog.checks import results_for

        fields = ("check_name", "passed", "severity", "failing_rows", "description")
        for r in reversed(results_for(catalog, key, [row["id"]])):  # oldest first
            if r["run_id"] == row["run_id"]:  # the checks that gated this version
                checks.append({k: r[k] for k in fields})
            else:  # later `assets check` runs on the same version
                audits.append({**{k: r[k] for k in fields}, "run_id": r["run_id"]})
    return {
        "key": key,
        "materialization_id": row["id"],
        "status": row["status"],
        "data_version": row["data_version"],
        "code_version": row["code_version"],
        "fingerprint": fingerprint,  # how the code version was made (None when not recorded)
        "code": [
            {"name": name, "file": file, "digest": dig, "source": shown_source(texts.get(dig), dig)}
            for name, (file, dig) in parts.items()
        ],
        "inputs": input_rows,
        "checks": checks,
        "audits": audits,
        "run": {
            "id": row["run_id"],
            "status": run["status"] if run else None,
            "command": run["command"] if run else None,
            "user": run["user"] if run else None,
            "host": run["host"] if run else None,
        },
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "duration_s": row["duration_s"],
        "rows": row["rows"],
        "columns": json.loads(row["columns"]) if row["columns"] else None,
        "error": row["error"],
    }


def source_versions(catalog: Catalog, key: str, limit: int = 20) -> list[dict[str, Any]]:
    """The versions observed of source ``key``, newest first: when each was first and last
    seen, and how many observations saw it."""
    from sqlalchemy import func

    o = t.observations.c
    q = (
        select(
            o.version,
            func.min(o.observed_at).label("first_seen"),
            func.max(o.observed_at).label("last_seen"),
            func.count().label("observations"),
        )
        .where(o.key == key)
        .group_by(o.version)
        .order_by(func.max(o.observed_at).desc())
        .limit(limit)
    )
    with catalog.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def source_provenance(project: Project, catalog: Catalog, key: str, version: str) -> dict[str, Any]:
    """What is recorded of version ``version`` (a prefix) of source ``key``: when it was
    observed, and the materializations that were built from it."""
    o = t.observations.c
    q = (
        select(o.version, o.observed_at, o.changed, o.run_id)
        .where(o.key == key, _starts_with(o.version, version))
        .order_by(o.id)
    )
    with catalog.engine.connect() as conn:
        seen = [dict(r) for r in conn.execute(q).mappings()]
    versions = {r["version"] for r in seen}
    if not seen:
        raise ProvenanceError(
            f"source {key} was never observed at a version {version!r}",
            hint=f"list its observed versions with: assets show {key}",
        )
    _one_version(versions, key, version, "give more characters of the version")
    (full,) = versions
    readers = list(project.graph.downstream.get(key, ()))
    m = t.materializations.c
    built: list[dict[str, Any]] = []
    if readers:
        with catalog.engine.connect() as conn:
            rows = conn.execute(
                select(m.id, m.key, m.run_id, m.status, m.data_version, m.input_versions)
                .where(
                    m.key.in_(readers),
                    m.status != "skipped",
                    # a cheap pre-filter; the JSON is read below to be sure
                    m.input_versions.contains(full, autoescape=True),
                )
                .order_by(m.id.desc())
            ).mappings()
            for r in rows:
                ins = json.loads(r["input_versions"]) if r["input_versions"] else {}
                if ins.get(key) == full:
                    dv = r["data_version"]
                    built.append(
                        {
                            "key": r["key"],
                            "materialization_id": r["id"],
                            "run_id": r["run_id"],
                            "status": r["status"],
                            "data_version": dv,
                            "show": f"assets show {r['key']} --version {r['id']}",
                        }
                    )
    return {
        "key": key,
        "kind": "source",
        "version": full,
        "first_seen": seen[0]["observed_at"],
        "last_seen": seen[-1]["observed_at"],
        "observations": len(seen),
        "read_by_runs": sorted({r["run_id"] for r in seen if r["run_id"]}),
        "built_from_it": built,
    }


def _starts_with(column: Any, prefix: str) -> Any:
    """``column LIKE 'prefix%'``, the prefix taken literally (a version is hex anyway)."""
    return column.like(prefix.replace("%", "").replace("_", r"\_") + "%", escape="\\")


def _one_version(versions: set[Any], key: str, prefix: str, hint: str) -> None:
    """Refuse a prefix that matches several versions of ``key``."""
    if len(versions) > 1:
        raise ProvenanceError(
            f"{prefix!r} matches several versions of {key}: "
            + ", ".join(sorted(v[:12] for v in versions if v)),
            hint=hint,
        )
