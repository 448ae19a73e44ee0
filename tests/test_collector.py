"""The garbage collector stays out of loads and plans, and still frees what they drop."""

from __future__ import annotations

import gc
import weakref

from assets_core import collector


class Node:
    def __init__(self) -> None:
        self.peer: Node | None = None


def test_a_paused_block_leaves_no_young_objects_to_traverse_afterwards() -> None:
    gc.collect()
    with collector.paused():
        assert not gc.isenabled()
        kept = [Node() for _ in range(5000)]  # far over the youngest generation's threshold
    assert gc.isenabled()
    collections: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        more = [Node() for _ in range(100)]  # would trigger the deferred young collection
    finally:
        gc.callbacks.remove(seen)
    assert collections == []
    # what the block made went to the oldest generation, untraversed
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert id(kept[0]) in oldest and id(kept[-1]) in oldest
    assert len(more) == 100


def test_cycles_made_in_a_paused_block_are_still_collected() -> None:
    with collector.paused():
        a, b = Node(), Node()
        a.peer, b.peer = b, a
        gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None


def test_a_paused_block_inside_a_frozen_one_keeps_the_freeze() -> None:
    with collector.frozen():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with collector.paused():
            Node()
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0


def test_a_nested_paused_block_keeps_the_collector_off_until_the_outer_one_ends() -> None:
    with collector.paused():
        with collector.paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
