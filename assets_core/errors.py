"""Every error assets-core raises on purpose derives from :class:`AssetsError`.

Errors carry the fields a user needs (asset key, file, line, a suggested fix) and
render as one paragraph; the CLI prints that paragraph instead of a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class AssetsError(Exception):
    """Root of every assets-core error. ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class ProjectError(AssetsError):
    """The project folder or its ``[tool.assets]`` table is missing or invalid."""


class DefinitionError(AssetsError):
    """A definition is invalid (bad key, bad decorator arguments, ...)."""

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        location: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.key = key
        self.location = location
        if location:
            message = f"{location}: {message}"
        super().__init__(message, hint=hint)


class CycleError(DefinitionError):
    def __init__(self, path: Sequence[str], locations: Sequence[str]) -> None:
        self.path = tuple(path)
        where = "".join(f"\n  {k}  ({loc})" for k, loc in zip(path, locations, strict=False))
        super().__init__(
            "the assets form a cycle: " + " -> ".join(path) + where,
            hint="remove one of these dependencies; an asset cannot (indirectly) read itself",
        )


class UnknownUpstreamError(DefinitionError):
    pass


class DuplicateKeyError(DefinitionError):
    pass


class SelectionError(AssetsError):
    """A selection string does not parse or selects nothing known."""


class CatalogError(AssetsError):
    """The catalog cannot be opened or is of an incompatible schema version."""


class MaterializationError(AssetsError):
    """User code raised while materializing ``key``; ``__cause__`` is the user's exception."""

    exit_code = 1

    def __init__(self, key: str, user_traceback: str) -> None:
        self.key = key
        self.user_traceback = user_traceback
        super().__init__(f"asset {key} failed:\n{user_traceback}")


class StoreError(AssetsError):
    exit_code = 1


class MissingExtraError(AssetsError):
    """An optional library is needed for what was asked and is not installed."""

    def __init__(self, library: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{library}' package, which is not installed",
            hint=f'pip install "assets-core[{extra}]"',
        )


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The ``n`` candidates closest to ``name`` (for "did you mean" hints)."""
    cands = list(candidates)
    found = difflib.get_close_matches(name, cands, n=n, cutoff=0.5)
    if not found:
        tail = name.rsplit("/", 1)[-1]
        found = [c for c in cands if c.rsplit("/", 1)[-1] == tail][:n]
    return found
