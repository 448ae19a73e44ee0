"""Keeping Python's cyclic garbage collector out of the hot paths.

Loading a project creates many long-lived objects at once (a function, a
definition and a code version per asset). Each allocation burst makes the
collector traverse everything allocated so far, again and again: at a thousand
assets that is as much time as the load itself. Nothing in a load or a plan is
garbage, so collection is paused there, and what the block allocated is then
handed to the oldest generation as it is (see :func:`paused`). A run freezes what
exists when it starts (the project, the plan, the catalog state) so that
collections during the run, which user code may need, only look at what the run
itself allocates.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_frozen = 0  # depth of frozen() blocks


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside the block (restored after, even when nested).

    The collector counts allocations while it is disabled, so the first allocation
    after the block would otherwise collect the youngest generation: a traversal of
    everything the block made, all of it alive. Instead those objects move to the
    oldest generation untraversed (``freeze`` + ``unfreeze``: two list splices),
    where only full collections look at them, as at any object that lives long.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            if not _frozen:  # inside frozen(), unfreeze would end that block's freeze
                gc.freeze()
                gc.unfreeze()
            gc.enable()


@contextmanager
def frozen() -> Iterator[None]:
    """Objects alive on entry are left out of collections until the block ends."""
    global _frozen
    gc.freeze()
    _frozen += 1
    try:
        yield
    finally:
        _frozen -= 1
        gc.unfreeze()
