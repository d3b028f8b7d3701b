"""The take graph's own algorithms (no networkx on the check path) agree with networkx's."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from storyboard.compiler.graph import Edges, TakeGraph

NODES = [f"t{i}" for i in range(8)]


@st.composite
def graphs(draw: st.DrawFn) -> list[tuple[str, str]]:
    pairs = st.tuples(st.sampled_from(NODES), st.sampled_from(NODES))
    return [(a, b) for a, b in draw(st.lists(pairs, max_size=14)) if a != b]


def both(edges: list[tuple[str, str]]) -> tuple[Edges, nx.DiGraph[str]]:
    ours, theirs = Edges(), nx.DiGraph()
    for node in NODES:
        ours.add_node(node)
        theirs.add_node(node)
    for a, b in edges:
        ours.add_edge(a, b)
        theirs.add_edge(a, b)
    return ours, theirs


@settings(max_examples=300, deadline=None)
@given(edges=graphs())
def test_the_graph_agrees_with_networkx(edges: list[tuple[str, str]]) -> None:
    ours, theirs = both(edges)
    cycle = ours.find_cycle()
    try:
        expected = nx.find_cycle(theirs)
    except nx.NetworkXNoCycle:
        expected = None
    assert cycle == expected
    if cycle is not None:
        return
    order = {n: f"{(7 * i) % 8}" for i, n in enumerate(NODES)}
    key = order.__getitem__
    assert ours.topological_order(key) == list(nx.lexicographical_topological_sort(theirs, key))
    graph = TakeGraph(ours, dict.fromkeys(NODES))  # type: ignore[arg-type]
    assert graph.levels() == [sorted(g) for g in nx.topological_generations(theirs)]
    for node in NODES:
        assert graph.ancestors(node) == nx.ancestors(theirs, node)
        assert graph.descendants(node) == nx.descendants(theirs, node)
        assert graph.upstream(node) == sorted(theirs.predecessors(node))
    part = set(NODES[::2])
    assert graph.subgraph(part).edges() == sorted(theirs.subgraph(part).edges())
    assert sorted(graph.digraph.edges()) == sorted(theirs.edges())
