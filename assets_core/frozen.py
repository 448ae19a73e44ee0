"""Frozen dataclasses made in one step, where a load or a run makes one per asset.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``. For
the 18 fields of an ``AssetDef`` or a catalog ``Record`` that costs more than the rest
of ``@asset``, or than the rest of recording a step. :func:`built` gives the instance
its dictionary in one step instead, so such a class is not slotted.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

_NEW = object.__new__
_SET = object.__setattr__
_FIELDS: dict[type, frozenset[str]] = {}


def built(cls: type[T], fields: dict[str, Any]) -> T:
    """``cls(**fields)`` for a frozen dataclass without slots, where ``fields`` names
    every field, defaults included (``fields`` becomes the instance's dictionary).

    Only the number of fields is checked here (comparing the names would cost a
    third of the call); the tests of each caller check the names.
    """
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    if len(fields) != len(names):
        raise TypeError(
            f"{cls.__name__}: missing {sorted(names - fields.keys())}, "
            f"unknown {sorted(fields.keys() - names)}"
        )
    obj = _NEW(cls)
    _SET(obj, "__dict__", fields)
    return obj
