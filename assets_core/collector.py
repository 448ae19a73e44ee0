"""Keeping Python's cyclic garbage collector out of the hot paths.

Loading a project creates many long-lived objects at once (a function, a
definition and a code version per asset). Each allocation burst makes the
collector traverse everything allocated so far, again and again: at a thousand
assets that is as much time as the load itself. Nothing in a load or a plan is
garbage, so collection is paused there. A run freezes what exists when it starts
(the project, the plan, the catalog state) so that collections during the run,
which user code may need, only look at what the run itself allocates.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside the block (restored after, even when nested)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def frozen() -> Iterator[None]:
    """Objects alive on entry are left out of collections until the block ends."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
