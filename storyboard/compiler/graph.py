"""The dependency graph of takes: a thin wrapper over a networkx DiGraph.

An edge ``a -> b`` means take ``b`` needs something take ``a`` makes (a frame, its video).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import networkx as nx

if TYPE_CHECKING:
    from storyboard.compiler.resolve import Take


class TakeGraph:
    """Takes and the hand-offs between them."""

    def __init__(self, graph: nx.DiGraph[str], takes: dict[str, Take]) -> None:
        self._g = graph
        self._takes = takes

    def take(self, take_id: str) -> Take:
        return self._takes[take_id]

    @property
    def digraph(self) -> nx.DiGraph[str]:
        """The underlying graph (read it, do not change it)."""
        return self._g

    def upstream(self, take_id: str) -> list[str]:
        """The takes ``take_id`` needs directly."""
        return sorted(self._g.predecessors(take_id))

    def downstream(self, take_id: str) -> list[str]:
        """The takes that need ``take_id`` directly."""
        return sorted(self._g.successors(take_id))

    def descendants(self, take_id: str) -> set[str]:
        """Every take that needs ``take_id``, directly or not."""
        return set(nx.descendants(self._g, take_id))

    def ancestors(self, take_id: str) -> set[str]:
        """Every take ``take_id`` needs, directly or not."""
        return set(nx.ancestors(self._g, take_id))

    def levels(self) -> list[list[str]]:
        """Takes grouped by depth: each level needs only earlier levels."""
        return [sorted(gen) for gen in nx.topological_generations(self._g)]

    def critical_path(self, weight: Callable[[str], float]) -> tuple[list[str], float]:
        """The chain of dependent takes with the largest total ``weight``, and that total."""
        best: dict[str, tuple[float, str | None]] = {}
        for node in nx.topological_sort(self._g):
            preds = [(best[p][0], p) for p in self._g.predecessors(node)]
            base, via = max(preds, default=(0.0, None), key=lambda x: (x[0], x[1] or ""))
            best[node] = (base + weight(node), via)
        if not best:
            return [], 0.0
        end = max(best, key=lambda n: (best[n][0], n))
        total = best[end][0]
        path: list[str] = []
        cursor: str | None = end
        while cursor is not None:
            path.append(cursor)
            cursor = best[cursor][1]
        return path[::-1], total

    def subgraph(self, take_ids: Iterable[str]) -> TakeGraph:
        ids = set(take_ids)
        return TakeGraph(self._g.subgraph(ids).copy(), {k: self._takes[k] for k in ids})

    def edges(self) -> list[tuple[str, str]]:
        return sorted(self._g.edges())

    def to_json(self) -> dict[str, Any]:
        return {"nodes": sorted(self._g.nodes), "edges": [list(e) for e in self.edges()]}
