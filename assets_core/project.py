"""A project: a folder whose ``pyproject.toml`` has a ``[tool.assets]`` table.

Loading a project reads that table, imports the listed modules (from the project
folder), collects the definitions they hold, builds the graph and computes the
code version of every asset.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
import sys
import tomllib
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from assets_core import collector
from assets_core.checks.definition import CheckDef, check_def_of
from assets_core.code_cache import CodeVersions, load_code_versions
from assets_core.code_version import CodePart, CodeVersion, Fingerprinter, digest
from assets_core.definitions import Definition, definition_of
from assets_core.errors import DefinitionError, ProjectError
from assets_core.graph import Graph

DEFAULT_CATALOG = "sqlite:///.assets/catalog.db"
DEFAULT_STORE = ".assets/store"
_KNOWN_KEYS = {"modules", "sql_paths", "catalog", "store", "engines", "pools", "openlineage"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectConfig:
    root: Path
    modules: tuple[str, ...]
    catalog_url: str
    store_path: Path
    raw: dict[str, Any]

    @property
    def state_dir(self) -> Path:
        return self.root / ".assets"


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` whose pyproject.toml has [tool.assets]."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        pp = d / "pyproject.toml"
        if pp.is_file() and "[tool.assets" in pp.read_text(encoding="utf-8", errors="replace"):
            return d
    raise ProjectError(
        f"no assets project at or above {here}",
        hint="run inside a project folder, pass -p/--project DIR, or add a [tool.assets] "
        'table with modules = ["defs"] to a pyproject.toml',
    )


def read_config(root: Path) -> ProjectConfig:
    root = root.resolve()
    pp = root / "pyproject.toml"
    if not pp.is_file():
        raise ProjectError(
            f"{root} has no pyproject.toml",
            hint='create one with a [tool.assets] table, e.g. modules = ["defs"]',
        )
    try:
        data = tomllib.loads(pp.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ProjectError(f"{pp}: {e}") from None
    raw = data.get("tool", {}).get("assets")
    if not isinstance(raw, dict):
        raise ProjectError(
            f"{pp} has no [tool.assets] table",
            hint='add:\n[tool.assets]\nmodules = ["defs"]',
        )
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        raise ProjectError(
            f"{pp}: unknown key(s) in [tool.assets]: {', '.join(sorted(unknown))}",
            hint="known keys: " + ", ".join(sorted(_KNOWN_KEYS)),
        )
    modules = raw.get("modules", [])
    if isinstance(modules, str) or not all(isinstance(m, str) for m in modules):
        raise ProjectError(
            f'{pp}: [tool.assets] modules must be a list of module names, e.g. ["defs"]'
        )
    url = os.environ.get("ASSETS_CATALOG_URL") or raw.get("catalog") or DEFAULT_CATALOG
    store = Path(raw.get("store", DEFAULT_STORE))
    return ProjectConfig(
        root=root,
        modules=tuple(modules),
        catalog_url=_anchor_sqlite(url, root),
        store_path=store if store.is_absolute() else root / store,
        raw=raw,
    )


def _anchor_sqlite(url: str, root: Path) -> str:
    """Resolve a relative SQLite path against the project folder, not the cwd."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rel = url[len(prefix) :]
        if rel and rel != ":memory:" and not rel.startswith(":"):
            return prefix + str(root / rel)
    return url


def _user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without assets-core's or importlib's frames."""
    here = str(Path(__file__).resolve().parent)
    tb = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in tb if not f.filename.startswith(here) and "importlib" not in f.filename]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def _forget_modules(names: Iterable[str]) -> None:
    for name in names:
        for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[m]


def import_modules(root: Path, names: Iterable[str]) -> list[ModuleType]:
    """Import ``names`` (and, for packages, every submodule) from ``root``."""
    names = list(names)
    _forget_modules(names)
    root_s = str(root)
    if root_s not in sys.path:
        sys.path.insert(0, root_s)
    importlib.invalidate_caches()
    out: list[ModuleType] = []
    for name in names:
        try:
            mod = importlib.import_module(name)
            out.append(mod)
            if hasattr(mod, "__path__"):
                for info in pkgutil.walk_packages(mod.__path__, prefix=name + "."):
                    out.append(importlib.import_module(info.name))
        except ModuleNotFoundError as e:
            if e.name and (e.name == name or name.startswith(e.name + ".")):
                raise ProjectError(
                    f"module {name!r} listed in [tool.assets] modules is not in {root}",
                    hint=f"create {root / (name.replace('.', '/') + '.py')} or fix the name",
                ) from None
            raise DefinitionError(
                f"importing {name} failed:\n{_user_traceback(e)}",
                hint=f"install the missing package '{e.name}'",
            ) from None
        except DefinitionError:
            raise
        except Exception as e:  # user code at import time can raise anything
            raise DefinitionError(
                f"importing {name} failed:\n{_user_traceback(e)}",
                hint="fix the error above in your definitions",
            ) from None
    return out


def collect(modules: Iterable[ModuleType]) -> list[Definition]:
    """Every definition held by a module-level name, in module then file order."""
    seen: set[int] = set()
    out: list[Definition] = []
    for mod in modules:
        for obj in list(vars(mod).values()):
            d = definition_of(obj)
            if d is not None and id(d) not in seen:
                seen.add(id(d))
                out.append(d)
    return out


def collect_checks(modules: Iterable[ModuleType]) -> list[CheckDef]:
    """Every custom ``@check`` held by a module-level name."""
    out: dict[int, CheckDef] = {}
    for mod in modules:
        for obj in list(vars(mod).values()):
            d = check_def_of(obj)
            if d is not None:
                out.setdefault(id(d), d)
    return list(out.values())


class Project:
    """A loaded project: config, definitions, graph and code versions."""

    def __init__(
        self, config: ProjectConfig, graph: Graph, code_versions: Mapping[str, CodeVersion]
    ) -> None:
        self.config = config
        self.graph = graph
        self.code_versions = CodeVersions.of(code_versions)
        self._check_versions: dict[str, CodeVersion] | None = None
        self.code_texts: dict[str, str] = {}
        # the code_stamp of each asset function, as fingerprinted (see code_cache.load_code_versions)
        self.own_stamps: dict[str, str] = {}

    @property
    def check_versions(self) -> dict[str, CodeVersion]:
        """Per asset with checks: one part per check, versioned apart from the asset's code."""
        if self._check_versions is None:
            self._check_versions = check_versions(self.config.root, self.graph)
        return self._check_versions

    @property
    def root(self) -> Path:
        return self.config.root

    @classmethod
    def load(cls, path: str | Path | None = None) -> Project:
        root = find_root() if path is None else Path(path)
        if not (root / "pyproject.toml").is_file():
            raise ProjectError(
                f"{root} is not an assets project (no pyproject.toml)",
                hint="pass the folder that holds the project's pyproject.toml",
            )
        config = read_config(root)
        with collector.paused():
            modules = import_modules(config.root, config.modules)
            defs = _sql_definitions(config, collect(modules))
            graph = Graph.build(defs, collect_checks(modules))
            versions, texts, own_stamps = load_code_versions(
                config.root, config.state_dir / "cache", graph
            )
        project = cls(config, graph, versions)
        # normalized code of the parts fingerprinted in this load, by digest, and the
        # stamps of the asset functions: provenance stores their text without parsing
        project.code_texts = texts
        project.own_stamps = own_stamps
        return project

    def definitions_snapshot(self) -> dict[str, Any]:
        """The definitions as recorded with each run (JSON-ready)."""
        g = self.graph
        out: dict[str, Any] = {}
        for k in g.order:
            d = g.defs[k]
            out[k] = {
                "kind": d.kind,
                "group": d.group,
                "tags": sorted(d.tags),
                "upstream": list(g.upstream[k]),
                "deps": list(g.order_deps[k]),
                "file": _relative(d.location.file, self.root),
                "line": d.location.line,
                "code_version": self.code_versions.texts.get(k),
            }
        return out


@functools.lru_cache(maxsize=4096)
def _relative(file: str, root: Path) -> str:
    inside = str(root) + os.sep
    if file.startswith(inside) and os.sep + ".." not in file:  # the usual case: no resolving
        return file[len(inside) :]
    try:
        return str(Path(file).resolve().relative_to(root))
    except ValueError:
        return file


def _sql_definitions(config: ProjectConfig, defs: list[Definition]) -> list[Definition]:
    """``defs`` plus the ``.sql`` files under ``sql_paths``, with SQL tables resolved to keys.

    The SQL package (and sqlglot) is imported only by projects that use it.
    """
    if not config.raw.get("sql_paths") and not any(
        d.kind == "sql" or getattr(d, "io", None) for d in defs
    ):
        return defs
    from assets_core.sql.loader import load_sql

    return load_sql(config, defs)


def check_versions(root: Path, graph: Graph) -> dict[str, CodeVersion]:
    """Versions of each asset's checks: rule arguments, check code, suite file content."""
    fp: Fingerprinter | None = None
    out: dict[str, CodeVersion] = {}
    for key, checks in graph.checks.items():
        parts = []
        for c in checks:
            spec = c.spec
            if spec is None or spec.predicate is not None:
                fp = fp or Fingerprinter(root)
                fn = c.fn if spec is None else spec.predicate
                body = fp.version_of(fn).version  # type: ignore[arg-type]
            else:
                body = repr(
                    (spec.kind, spec.columns, spec.values, spec.min, spec.max, spec.to)
                    + (spec.field, spec.expression, spec.dtypes, spec.max_age_s)
                )
                if spec.kind == "ge_suite" and isinstance(spec.suite, str):
                    path = Path(spec.suite) if Path(spec.suite).is_absolute() else root / spec.suite
                    try:
                        body += digest(path.read_bytes())
                    except OSError:
                        body += "missing"
                elif spec.kind == "ge_suite":
                    body += digest(repr(spec.suite))
            body += f"|blocking={c.blocking}|reads={c.reads}"
            parts.append(CodePart(c.name, "", digest(body)))
        parts.sort(key=lambda p: p.name)
        version = digest("|".join(f"{p.name}={p.digest}" for p in parts))
        out[key] = CodeVersion(version=version, parts=tuple(parts))
    return out
