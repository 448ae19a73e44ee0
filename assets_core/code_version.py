"""Code versions: fingerprints of how an asset is computed.

The fingerprint of a Python asset covers its normalized AST (comments, layout,
docstrings and decorators do not count) plus, transitively, the project-level
functions, classes and module constants it references. Third-party code (not
under the project folder) is not part of it.

A :class:`CodeVersion` keeps one part per piece of code so that a changed
version can say *which* function or helper changed.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import json
import linecache
import os
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

_CONST_TYPES = (
    int,
    float,
    complex,
    str,
    bytes,
    bool,
    type(None),
    tuple,
    list,
    dict,
    frozenset,
    set,
)


# Named tuples: immutable values like the rest of the plan, and cheap to build and to
# load from the code-version cache, which holds one per asset and part.
class CodePart(NamedTuple):
    name: str  # "module.function"
    file: str  # path relative to the project folder
    digest: str

    def __reduce__(self) -> tuple[Any, ...]:
        return _REBUILD, (CodePart, tuple(self))


# How a Python code version is made: bumped with every change that gives the same code
# another digest (the code-version cache's file name changes with it). A materialization
# records it beside the parts, so that a plan tells an upgrade's rebuild from an edit.
PYTHON_FORMAT = "python/6"
FORMAT_KEY = "#format"  # its entry in a recorded parts map: ["", format]; no part's name


class CodeVersion(NamedTuple):
    version: str
    parts: tuple[CodePart, ...]  # the asset's own code first, then helpers by name
    format: str = ""  # how the digests were made (PYTHON_FORMAT, ...); "" when pinned

    @classmethod
    def pinned(cls, version: str) -> CodeVersion:
        return cls(version=version, parts=(CodePart("code_version=", "", version),))

    def as_mapping(self) -> dict[str, list[str]]:
        return {p.name: [p.file, p.digest] for p in self.parts}

    def parts_json(self) -> str:
        """:meth:`as_mapping` and the format, as the JSON a materialization records
        (made once per version)."""
        return _parts_json(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return _REBUILD, (CodeVersion, tuple(self))


@functools.lru_cache(maxsize=1 << 16)
def _parts_json(cv: CodeVersion) -> str:
    parts: dict[str, list[str]] = cv.as_mapping()
    if cv.format:
        parts[FORMAT_KEY] = ["", cv.format]
    return json.dumps(parts)


# Unpickling a named tuple calls its Python ``__new__``; ``tuple.__new__(cls, fields)``
# builds the same value in C. The code-version cache holds a few per asset.
_REBUILD = tuple.__new__


def digest(data: bytes | str, size: int = 16) -> str:
    if isinstance(data, str):
        data = data.encode()
    return hashlib.blake2b(data, digest_size=size).hexdigest()


def _strip_own_docstring(node: Any) -> None:
    body = node.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        node.body = body[1:] or [ast.Pass()]


def _strip_docstrings(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Drop every docstring in ``tree`` (in place); return the functions found on the way."""
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module):
            if not isinstance(node, ast.ClassDef | ast.Module):
                functions.append(node)
            _strip_own_docstring(node)
    return functions


@dataclass(slots=True)
class _ModuleIndex:
    """One parsed source file: top-level definitions and functions by first line."""

    tree: ast.Module
    lines: list[str]
    by_line: dict[int, ast.FunctionDef | ast.AsyncFunctionDef]
    top: dict[str, ast.AST]
    imports: dict[str, tuple[str, str]]  # local name -> (module, attribute) for `from m import a`
    canon: dict[int, tuple[str, list[tuple[str, str | None]]]]

    def canonical(self, node: ast.AST) -> tuple[str, list[tuple[str, str | None]]]:
        """:func:`canonical` of ``node``, computed once per node."""
        got = self.canon.get(id(node))
        if got is None:
            got = self.canon[id(node)] = canonical(node)
        return got

    def source(self, node: ast.AST) -> str:
        return node_source(node, self.lines)


def node_source(node: ast.AST, lines: list[str]) -> str:
    """``node``'s lines of ``lines`` (its file) as written, decorators included, dedented."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])  # type: ignore[attr-defined]
    return textwrap.dedent("".join(lines[first - 1 : node.end_lineno]))  # type: ignore[attr-defined]


class Fingerprinter:
    """Computes code versions for functions of one project; caches parsed files."""

    def __init__(self, project_root: Path) -> None:
        self.root = Path(project_root).resolve()
        self._root_s = str(self.root) + os.sep
        self._files: dict[str, _ModuleIndex | None] = {}
        self._in_project: dict[str, bool] = {}
        self._rels: dict[str, str] = {}
        self._refs: dict[int, list[tuple[str, str | None]]] = {}
        # how to re-check each part cheaply at the next load, without parsing:
        # part name -> (kind, module, attribute path, stamp)
        self._probes: dict[str, Probe] = {}
        self._checked: set[str] = set()
        self._abs: dict[str, str] = {}
        # the normalized source behind each part digest, for provenance (code_sources)
        self.texts: dict[str, str] = {}
        self._functions: dict[tuple[Any, bool], tuple[CodePart, ast.AST | None, Any]] = {}
        # a helper's parts and those of everything it reaches, by its code object
        self._closures: dict[Any, dict[str, CodePart]] = {}
        self._following: set[Any] = set()  # helpers being walked (for cycles)

    # -- public -------------------------------------------------------------------------
    def version_of(self, fn: Callable[..., Any]) -> CodeVersion:
        parts: dict[str, CodePart] = {}
        own = self._function_part(fn, parts, top=True)
        helpers = sorted((p for n, p in parts.items() if n != own.name), key=lambda p: p.name)
        ordered = (own, *helpers)
        return CodeVersion(
            version=digest("|".join(f"{p.name}={p.digest}" for p in ordered)),
            parts=ordered,
            format=PYTHON_FORMAT,
        )

    def probes_of(self, version: CodeVersion) -> tuple[Probe, ...]:
        """Runtime stamps of every part of ``version`` (see :func:`probe_holds`)."""
        return tuple(self._probes[p.name] for p in version.parts if p.name in self._probes)

    def files_of(self, version: CodeVersion) -> set[str]:
        out = set()
        for p in version.parts:
            if p.file:
                full = self._abs.get(p.file)
                if full is None:
                    full = self._abs[p.file] = str(self.root / p.file)
                out.add(full)
        return out

    # -- internals ----------------------------------------------------------------------
    def _is_project_file(self, filename: str | None) -> bool:
        if not filename:
            return False
        got = self._in_project.get(filename)
        if got is None:
            real = os.path.realpath(filename)
            got = (
                real.startswith(self._root_s)
                and "site-packages" not in real
                and f"{os.sep}.venv{os.sep}" not in real[len(self._root_s) - 1 :]
            )
            self._in_project[filename] = got
        return got

    def _index(self, filename: str) -> _ModuleIndex | None:
        if filename in self._files:
            return self._files[filename]
        try:
            src = Path(filename).read_text(encoding="utf-8")
            tree = ast.parse(src, filename=filename)
            lines = src.splitlines(keepends=True)
        except (OSError, SyntaxError, ValueError):
            self._files[filename] = None
            return None
        by_line: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        for node in _strip_docstrings(tree):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            by_line[first] = node
            by_line.setdefault(node.lineno, node)
        top: dict[str, ast.AST] = {}
        imports: dict[str, tuple[str, str]] = {}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                top[node.name] = node
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            top[n.id] = node
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                top[node.target.id] = node
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    imports[a.asname or a.name] = (node.module, a.name)
        idx = _ModuleIndex(
            tree=tree, lines=lines, by_line=by_line, top=top, imports=imports, canon={}
        )
        self._files[filename] = idx
        return idx

    def _rel(self, filename: str) -> str:
        got = self._rels.get(filename)
        if got is None:
            try:
                got = str(Path(os.path.realpath(filename)).relative_to(self.root))
            except ValueError:
                got = filename
            self._rels[filename] = got
        return got

    def _function_part(
        self, fn: Callable[..., Any], parts: dict[str, CodePart], *, top: bool = False
    ) -> CodePart:
        fn = inspect.unwrap(fn)
        code = fn.__code__
        name = f"{fn.__module__}.{fn.__qualname__}"
        if name in parts:
            return parts[name]
        if top or code in self._following:  # an asset, or a helper in a cycle: walk it here
            return self._walk_function(fn, name, parts, top=top)
        # a helper: everything it reaches is the same for every asset that calls it, so it
        # is walked once (into its own dict) and then merged into each caller's parts
        closure = self._closures.get(code)
        if closure is None:
            self._following.add(code)
            try:
                closure = {}
                self._walk_function(fn, name, closure, top=False)
            finally:
                self._following.discard(code)
            self._closures[code] = closure
        parts.update(closure)
        return closure[name]

    def _walk_function(
        self, fn: Callable[..., Any], name: str, parts: dict[str, CodePart], *, top: bool
    ) -> CodePart:
        """``fn``'s own part, and (into ``parts``) those of everything it references."""
        code = fn.__code__
        memo_key = (code, top)
        known = self._functions.get(memo_key)
        if known is not None:  # a helper shared by many assets is parsed once
            if name not in self._probes:
                self._probes[name] = ("f", fn.__module__, fn.__qualname__, code_stamp(fn))
            part, node, idx = known
            parts[name] = part
            if node is not None:
                self._follow(node, fn.__globals__, idx, parts)
            return part
        if code.co_filename not in self._checked:
            linecache.checkcache(code.co_filename)  # the file may have changed since last read
            self._checked.add(code.co_filename)
        found = _function_source(code)
        idx = None
        if found is None:
            idx = self._index(code.co_filename)
            node = idx.by_line.get(code.co_firstlineno) if idx else None
            text = idx.source(node) if idx and node else ""
            stamp = code_stamp(fn)
        else:
            node, text, stamp = found
        self._probes[name] = ("f", fn.__module__, fn.__qualname__, stamp or code_stamp(fn))
        if node is None:
            # no source (e.g. defined in a REPL): fall back to the bytecode
            part = CodePart(name, self._rel(code.co_filename), digest(_code_bytes(code)))
            parts[name] = part
            self._functions[memo_key] = (part, None, None)
            return part
        if top:  # an asset's decorator arguments are not how it computes
            node.decorator_list = []
        canon, refs = canonical(node)  # not memoized: an asset's own drops its decorators
        self._refs[id(node)] = refs
        part = CodePart(name, self._rel(code.co_filename), digest(canon))
        parts[name] = part
        self.texts[part.digest] = text
        self._functions[memo_key] = (part, node, idx)
        self._follow(node, fn.__globals__, idx, parts)
        return part

    def _follow(
        self,
        node: ast.AST,
        env: Mapping[str, Any],
        idx: _ModuleIndex | None,
        parts: dict[str, CodePart],
    ) -> None:
        refs = self._refs.get(id(node))
        if refs is None:
            refs = self._refs[id(node)] = (idx.canonical(node) if idx else canonical(node))[1]
        for ref, attr in refs:
            if ref not in env:
                continue
            value = env[ref]
            if isinstance(value, ModuleType):
                # `pkg.mod.fn`: walk through submodules to the first object that is not one
                for a in attr.split(".") if attr else ():
                    obj = getattr(value, a, None)
                    if not isinstance(obj, ModuleType):
                        self._object(obj, a, value.__dict__, parts)
                        break
                    value = obj
            else:
                self._object(value, ref, env, parts, home=idx)

    def _object(
        self,
        value: Any,
        name: str,
        env: Mapping[str, Any],
        parts: dict[str, CodePart],
        home: _ModuleIndex | None = None,
    ) -> None:
        if inspect.isfunction(value):
            if self._is_project_file(value.__code__.co_filename):
                self._function_part(value, parts)
        elif inspect.isclass(value):
            mod = sys.modules.get(value.__module__)
            file = getattr(mod, "__file__", None)
            if mod is None or not self._is_project_file(file):
                return
            qual = f"{value.__module__}.{value.__qualname__}"
            idx = self._index(file)  # type: ignore[arg-type]
            cnode = idx.top.get(value.__name__) if idx else None
            if qual in parts or idx is None or cnode is None:
                return
            parts[qual] = CodePart(qual, self._rel(file), digest(idx.canonical(cnode)[0]))  # type: ignore[arg-type]
            self.texts[parts[qual].digest] = idx.source(cnode)
            self._probes[qual] = ("c", value.__module__, value.__qualname__, file_stamp(file))  # type: ignore[arg-type]
            self._follow(cnode, mod.__dict__, idx, parts)
        elif isinstance(value, _CONST_TYPES):
            self._constant(name, env, parts, home)

    def _constant(
        self,
        name: str,
        env: Mapping[str, Any],
        parts: dict[str, CodePart],
        home: _ModuleIndex | None,
    ) -> None:
        modname = env.get("__name__")
        file = env.get("__file__")
        if not isinstance(file, str) or not self._is_project_file(file):
            return
        idx = self._index(file)
        if idx is None:
            return
        node = idx.top.get(name)
        if node is None and name in idx.imports:
            src_mod, src_name = idx.imports[name]
            mod = sys.modules.get(src_mod)
            if mod is not None:
                self._constant(src_name, mod.__dict__, parts, None)
            return
        if node is None:
            return
        qual = f"{modname}.{name}"
        if qual not in parts:
            parts[qual] = CodePart(qual, self._rel(file), digest(idx.canonical(node)[0]))
            self.texts[parts[qual].digest] = idx.source(node)
            self._probes[qual] = ("v", str(modname), name, _value_stamp(env.get(name)))
            self._follow(node, env, idx, parts)


def canonical(node: ast.AST) -> tuple[str, list[tuple[str, str | None]]]:
    """One pass over ``node``: the text its digest is computed from, and (name, dotted
    attributes) for every global-looking name it reads.

    The text lists each node's type, then each of its fields that is set, by name, in
    order (identifiers and constants by ``repr``, lists with their length): equal trees
    give equal texts and different trees different ones, so comments, layout and
    quoting never count, and a field a later Python adds (unset here) changes nothing.
    An explicit stack instead of recursion or ``ast.walk``: this runs for every
    function fingerprinted.
    """
    out: list[str] = []
    emit = out.append
    attr_of: dict[int, str] = {}
    local: set[str] = set()
    loads: list[ast.Name] = []
    stack: list[Any] = [node]
    pop, extend = stack.pop, stack.extend
    name_t, attribute_t, arg_t, load_t = ast.Name, ast.Attribute, ast.arg, ast.Load
    ast_t, str_t, list_t = ast.AST, str, list
    while stack:
        n = pop()
        cls = type(n)
        if cls is str_t:
            emit(n)
            continue
        emit(cls.__name__)
        if cls is name_t:
            if type(n.ctx) is load_t:
                loads.append(n)
            else:
                local.add(n.id)
            emit(repr(n.id))
            emit(type(n.ctx).__name__)
            continue
        if cls is attribute_t:
            chain, base = [n.attr], n.value
            while type(base) is attribute_t:
                chain.append(base.attr)
                base = base.value
            if type(base) is name_t:  # an outer attribute is met before the inner ones
                attr_of.setdefault(id(base), ".".join(reversed(chain)))
        elif cls is arg_t:
            local.add(n.arg)
        items: list[Any] = []
        for field in n._fields:
            value = getattr(n, field, None)
            if value is None or (type(value) is list_t and not value):
                continue
            items.append(field)
            if isinstance(value, ast_t):
                items.append(value)
            elif type(value) is list_t:
                items.append(f"[{len(value)}")
                items.extend(v if isinstance(v, ast_t) else repr(v) for v in value)
            else:
                items.append(repr(value))
        items.reverse()  # popped in field order
        extend(items)
    return "\n".join(out), [(n.id, attr_of.get(id(n))) for n in loads if n.id not in local]


def part_digest(node: ast.AST) -> str:
    """The digest of a code part's tree (docstrings, and an asset's decorators, removed)."""
    return digest(canonical(node)[0])


def _code_bytes(code: Any) -> bytes:
    out = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            out.append(_code_bytes(c))
        elif isinstance(c, frozenset):  # set literals: their repr order varies by process
            out.append(repr(sorted(map(repr, c))).encode())
        else:
            out.append(repr(c).encode())
    return b"".join(out)


Probe = tuple[str, str, str, str]


def code_stamp(fn: Any) -> str:
    """A cheap fingerprint of a function's text as loaded (its lines in the file).

    It changes whenever the function's text does (comments included), so an
    unchanged stamp means the normalized-AST version computed earlier still holds.
    It is only a cache key, never recorded as a version.
    """
    code = fn.__code__
    raw = _own_lines(code)
    if raw is not None:
        return digest(raw)
    extra = repr((fn.__defaults__, fn.__kwdefaults__, getattr(fn, "__annotations__", None)))
    return digest(_code_bytes(code) + extra.encode())


def stamped_source(fn: Any, stamp: str) -> str | None:
    """The text of ``fn`` as written (dedented), when its lines still have ``stamp`` (its
    :func:`code_stamp` when it was fingerprinted); None otherwise."""
    raw = _own_lines(fn.__code__)
    if raw is None or digest(raw) != stamp:
        return None
    return _as_written(raw)


def _own_lines(code: Any) -> str | None:
    """A function's lines in its file, when its code object tells where it ends (what
    :func:`code_stamp` digests); None when not."""
    lines = linecache.getlines(code.co_filename)
    start, end = code.co_firstlineno - 1, _last_line(code)
    return "".join(lines[start:end]) if lines and end > start else None


def _as_written(raw: str) -> str:
    """A function's lines dedented (a method's, a nested function's), as it is shown."""
    return textwrap.dedent(raw) if raw[:1].isspace() else raw


def file_stamp(path: str) -> str:
    try:
        return digest(Path(path).read_bytes())
    except OSError:
        return "missing"


def _value_stamp(value: Any) -> str:
    if isinstance(value, set | frozenset):
        return digest(repr(sorted(map(repr, value))))
    return digest(repr(value))


def probe_holds(probe: Probe, memo: dict[Probe, bool]) -> bool:
    """Does the part ``probe`` describes still have the same stamp in this process?"""
    got = memo.get(probe)
    if got is not None:
        return got
    kind, module, attr, stamp = probe
    mod = sys.modules.get(module)
    obj: Any = mod
    ok = False
    if mod is not None and "<" not in attr:
        for a in attr.split("."):
            obj = getattr(obj, a, _MISSING)
            if obj is _MISSING:
                break
        if obj is not _MISSING:
            if kind == "f":
                ok = inspect.isfunction(obj) and code_stamp(inspect.unwrap(obj)) == stamp
            elif kind == "c":
                ok = file_stamp(getattr(mod, "__file__", "") or "") == stamp
            else:
                ok = _value_stamp(obj) == stamp
    memo[probe] = ok
    return ok


_MISSING = object()


def _function_source(
    code: Any,
) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, str, str | None] | None:
    """The function's tree (docstrings removed), its lines as written (dedented), and
    their :func:`code_stamp` when the code object tells where they end (None if not),
    from one read of the lines.

    Parses just the function's own lines (much cheaper than its whole module).
    """
    lines = linecache.getlines(code.co_filename)
    start = code.co_firstlineno - 1
    if not lines or start >= len(lines):
        return None
    tree = None
    text = ""
    stamp = None
    raw = _own_lines(code)
    if raw is not None:  # the code object knows where the function ends: no tokenizing
        stamp = digest(raw)
        text = _as_written(raw)
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            tree = None
    if tree is None:
        try:
            text = textwrap.dedent("".join(inspect.getblock(lines[start:])))
            tree = ast.parse(text)
        except (SyntaxError, ValueError, IndexError):
            return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    if any(hasattr(c, "co_code") for c in code.co_consts):
        _strip_docstrings(tree)  # nested functions, classes, lambdas: their docstrings too
    else:  # a flat function: only its own body can start with a docstring
        _strip_own_docstring(tree.body[0])
    return tree.body[0], text, stamp


@functools.lru_cache(maxsize=8192)  # a code object's positions never change
def _last_line(code: Any) -> int:
    last = 0
    for _, end, _, _ in code.co_positions():
        if end is not None and end > last:
            last = end
    for c in code.co_consts:
        if hasattr(c, "co_positions"):
            last = max(last, _last_line(c))
    return last


def normalized(node: ast.AST) -> str:
    """A part's tree (docstrings already removed) written back as source: what
    provenance shows, without comments, and laid out one way whatever the file's."""
    return ast.unparse(node)


def diff_parts(
    old: Mapping[str, list[str]] | None, new: Mapping[str, list[str]], new_format: str = ""
) -> list[str]:
    """Human-readable list of what changed between two recorded part maps.

    When ``old`` was fingerprinted another way than ``new_format`` (an upgrade of
    assets-core, or of sqlglot for SQL), that is what is said: the digests of unchanged
    code differ then too.
    """
    if not old:
        return ["code version changed"]
    old = dict(old)
    was = old.pop(FORMAT_KEY, None)
    if was is not None and new_format and was[1] != new_format:
        return [
            f"fingerprinted another way since it was built ({was[1]} -> {new_format}, an "
            "upgrade): every asset so fingerprinted is rebuilt once, its code may be unchanged"
        ]
    out = []
    for name, (file, dig) in new.items():
        prev = old.get(name)
        if prev is None:
            out.append(f"now uses {name} ({file})" if file else f"{name} added")
        elif prev[1] != dig:
            out.append(f"{name} changed ({file})" if file else f"{name} changed")
    for name, (file, _) in old.items():
        if name not in new:
            out.append(f"no longer uses {name} ({file})" if file else f"{name} removed")
    return out or ["code version changed"]
