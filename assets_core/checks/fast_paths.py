"""Shortcuts for common column shapes, exact and with the same results as the general rules.

``unique`` on one integer key column without nulls whose values span a range not
much wider than the number of rows (row ids, surrogate keys, permutations) is
answered by counting each value in an array indexed by ``value - min``: no
hashing, several times cheaper than a distinct count. It needs numpy, which
polars does not require; without numpy, or for a sparse range, the general rule
runs instead.
"""

from __future__ import annotations

from typing import Any

# a counting array of up to this many slots per row (or SMALL_SPAN in all) is cheaper
# than hashing the keys; wider ranges take the general path
DENSE_FACTOR = 2
SMALL_SPAN = 1 << 16


def numpy_or_none() -> Any:
    """numpy, or None when it is not installed (polars runs without it)."""
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def dense_duplicated(values: Any) -> Any | None:
    """A boolean mask of the entries of ``values`` that occur more than once, or None.

    ``values`` is a 1-d numpy integer array without nulls. None means the shortcut
    does not apply (not an integer array, or a range too sparse for a counting array);
    the caller then computes the mask the general way. The mask equals pandas'
    ``duplicated(keep=False)`` and polars' ``is_duplicated()``.
    """
    np = numpy_or_none()
    n = len(values)
    if np is None or n == 0 or values.dtype.kind not in "iu":
        return None
    lo, hi = int(values.min()), int(values.max())
    limit = max(DENSE_FACTOR * n, SMALL_SPAN)
    if 0 <= lo and hi < limit:  # index by the value itself: no array of offsets
        offsets, span = values, hi + 1
    elif hi - lo < limit:
        offsets, span = _offsets(np, values, lo), hi - lo + 1
    else:
        return None
    if offsets.dtype.kind == "u" and offsets.dtype.itemsize == 8:
        offsets = offsets.astype(np.intp)  # bincount takes no uint64; the offsets fit
    # the usual case, every key once: one flag per slot is cheaper than a count per slot
    seen = np.zeros(span, dtype=bool)
    seen[offsets] = True
    if np.count_nonzero(seen) == n:
        return np.zeros(n, dtype=bool)
    return np.bincount(offsets, minlength=span)[offsets] > 1


def _offsets(np: Any, values: Any, lo: int) -> Any:
    """``values - lo`` without overflow (the caller checked that the range is small)."""
    if values.dtype.kind == "u" and values.dtype.itemsize == 8:
        return values - np.uint64(lo)  # uint64 values beyond the int64 range
    return values.astype(np.int64, copy=False) - np.int64(lo)  # narrower types widen first
