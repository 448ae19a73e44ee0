"""Observing sources: the current version of data the project reads but does not produce."""

from __future__ import annotations

import glob
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assets_core.code_version import digest
from assets_core.definitions import SourceDef
from assets_core.errors import AssetsError


class ObservationError(AssetsError):
    exit_code = 1


def matched_files(src: SourceDef, root: Path) -> list[Path]:
    assert src.path is not None
    pattern = src.path if Path(src.path).is_absolute() else str(root / src.path)
    return sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())


def observe(src: SourceDef, root: Path) -> str:
    """The current version of ``src``: a content hash of its files, or its observe() value."""
    if src.path is not None:
        files = matched_files(src, root)
        h = [f"{_rel(p, root)}\0{digest(p.read_bytes())}" for p in files]
        return digest("\n".join(h)) if files else "no-files"
    assert src.observe is not None
    try:
        value = src.observe()
    except Exception as e:  # user code can raise anything
        raise ObservationError(
            f"observing source {src.key} failed: {type(e).__name__}: {e}",
            hint=f"fix the observe= function at {src.location}",
        ) from e
    return value if isinstance(value, str) and len(value) <= 64 else digest(repr(value))


def value_of(src: SourceDef, root: Path) -> Any:
    """What an asset that reads ``src`` receives."""
    if src.path is not None:
        return matched_files(src, root)
    assert src.observe is not None
    return src.observe()


def observe_all(sources: Mapping[str, SourceDef], root: Path) -> dict[str, str]:
    return {k: observe(s, root) for k, s in sources.items()}


def _rel(p: Path, root: Path) -> str:
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)
