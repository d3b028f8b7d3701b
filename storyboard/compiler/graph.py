"""The dependency graph of takes: adjacency sets, in the order takes were added.

An edge ``a -> b`` means take ``b`` needs something take ``a`` makes (a frame, its video).

A storyboard's graph is small (takes, not frames) and ``check`` needs only three things of
it: a cycle if there is one, a topological order, and each take's neighbours. Those are a few
lines each here; networkx (about 70 ms to import, a sixth of a one-shot ``check``) is imported
only by :attr:`TakeGraph.digraph`, for callers that want its algorithms.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

    from storyboard.compiler.resolve import Take


class Edges:
    """A directed graph as two adjacency maps (successors and predecessors), each kept in the
    order nodes and edges were added, as networkx keeps them."""

    def __init__(self) -> None:
        self.succ: dict[str, dict[str, None]] = {}
        self.pred: dict[str, dict[str, None]] = {}

    def add_node(self, node: str) -> None:
        self.succ.setdefault(node, {})
        self.pred.setdefault(node, {})

    def add_edge(self, upstream: str, downstream: str) -> None:
        self.add_node(upstream)
        self.add_node(downstream)
        self.succ[upstream][downstream] = None
        self.pred[downstream][upstream] = None

    def __contains__(self, node: object) -> bool:
        return node in self.succ

    def find_cycle(self) -> list[tuple[str, str]] | None:
        """The edges of a cycle, or None: a depth-first search from each node in turn (the
        order of ``networkx.find_cycle``), stopping at the first edge back into the path."""
        done: set[str] = set()
        for root in self.succ:
            if root in done:
                continue
            path = [root]
            on_path = {root}
            stack = [iter(self.succ[root])]
            while stack:
                node = next(stack[-1], None)
                if node is None:
                    stack.pop()
                    done.add(path[-1])
                    on_path.discard(path.pop())
                    continue
                if node in on_path:
                    loop = [*path[path.index(node) :], node]
                    return list(itertools.pairwise(loop))
                if node in done:
                    continue
                path.append(node)
                on_path.add(node)
                stack.append(iter(self.succ[node]))
        return None

    def topological_order(self, key: Callable[[str], str]) -> list[str]:
        """Every node after the nodes it needs; among those ready, the least ``key`` first
        (``networkx.lexicographical_topological_sort``). The graph must have no cycle."""
        waiting = {node: len(preds) for node, preds in self.pred.items()}
        ready = [(key(node), node) for node, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, node = heapq.heappop(ready)
            order.append(node)
            for after in self.succ[node]:
                waiting[after] -= 1
                if waiting[after] == 0:
                    heapq.heappush(ready, (key(after), after))
        if len(order) != len(self.succ):
            raise ValueError("the graph has a cycle")
        return order

    def reach(self, start: str, adjacency: dict[str, dict[str, None]]) -> set[str]:
        """Every node reached from ``start`` along ``adjacency``, ``start`` excluded."""
        seen: set[str] = set()
        todo = list(adjacency[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(adjacency[node])
        return seen

    def generations(self) -> list[list[str]]:
        """Nodes grouped by depth: each group needs only earlier groups."""
        waiting = {node: len(preds) for node, preds in self.pred.items()}
        level = [node for node, count in waiting.items() if count == 0]
        levels = []
        while level:
            levels.append(level)
            following = []
            for node in level:
                for after in self.succ[node]:
                    waiting[after] -= 1
                    if waiting[after] == 0:
                        following.append(after)
            level = following
        return levels

    def subgraph(self, nodes: set[str]) -> Edges:
        out = Edges()
        for node in self.succ:
            if node in nodes:
                out.add_node(node)
        for node in out.succ:
            for after in self.succ[node]:
                if after in nodes:
                    out.add_edge(node, after)
        return out

    def edges(self) -> list[tuple[str, str]]:
        return [(a, b) for a, after in self.succ.items() for b in after]


class TakeGraph:
    """Takes and the hand-offs between them."""

    def __init__(self, graph: Edges, takes: dict[str, Take]) -> None:
        self._g = graph
        self._takes = takes

    def take(self, take_id: str) -> Take:
        return self._takes[take_id]

    def __contains__(self, take_id: object) -> bool:
        return take_id in self._g

    @property
    def digraph(self) -> nx.DiGraph[str]:
        """The graph as a new networkx ``DiGraph`` (imported here, on first use)."""
        import networkx as nx

        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(self._g.succ)
        graph.add_edges_from(self._g.edges())
        return graph

    def upstream(self, take_id: str) -> list[str]:
        """The takes ``take_id`` needs directly."""
        return sorted(self._g.pred[take_id])

    def downstream(self, take_id: str) -> list[str]:
        """The takes that need ``take_id`` directly."""
        return sorted(self._g.succ[take_id])

    def descendants(self, take_id: str) -> set[str]:
        """Every take that needs ``take_id``, directly or not."""
        return self._g.reach(take_id, self._g.succ)

    def ancestors(self, take_id: str) -> set[str]:
        """Every take ``take_id`` needs, directly or not."""
        return self._g.reach(take_id, self._g.pred)

    def levels(self) -> list[list[str]]:
        """Takes grouped by depth: each level needs only earlier levels."""
        return [sorted(gen) for gen in self._g.generations()]

    def critical_path(self, weight: Callable[[str], float]) -> tuple[list[str], float]:
        """The chain of dependent takes with the largest total ``weight``, and that total."""
        best: dict[str, tuple[float, str | None]] = {}
        for node in self._g.topological_order(lambda n: n):
            preds = [(best[p][0], p) for p in self._g.pred[node]]
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
        return TakeGraph(self._g.subgraph(ids), {k: self._takes[k] for k in ids})

    def edges(self) -> list[tuple[str, str]]:
        return sorted(self._g.edges())

    def to_json(self) -> dict[str, Any]:
        return {"nodes": sorted(self._g.succ), "edges": [list(e) for e in self.edges()]}
