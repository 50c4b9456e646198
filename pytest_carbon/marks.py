"""Markers on collected items, looked up fast; a leaf module (the plugin and the gate import it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def any_marked(items: Iterable[Any], name: str) -> bool:
    """True when some item carries marker ``name``, itself or through a parent (class, module...).

    What ``item.get_closest_marker(name) is not None`` tells for one item, for all of them at a
    fraction of the cost: a marker lives in the ``own_markers`` of the item or of one of its
    parents, and each parent, shared by many items, is looked at once.
    """
    seen: set[int] = set()
    for item in items:
        node: Any = item
        while node is not None and id(node) not in seen:
            seen.add(id(node))
            for mark in node.own_markers:
                if mark.name == name:
                    return True
            node = node.parent
    return False
