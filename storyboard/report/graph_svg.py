"""The dependency graph of a build drawn as inline SVG, for the HTML report.

Place in the pipeline: part of the report, the last stage. It takes the graph description
of :func:`storyboard.compiler.draw.describe` (takes, elements, typed edges) as the film record keeps
it, and lays it out itself, so the report needs no layout engine, no network and no script:

- columns: elements first (when there are any), then takes by depth (a take sits one column
  right of the deepest take it needs), so every hand-off points right;
- rows: story order inside a column;
- nodes: a take shows its id, its shots and seconds, coloured by what the build did with it
  (cached, locked, generated, failed, skipped, unselected); an element is a rounded pill;
- edges: curves from the upstream take's right side to the downstream take's left side,
  labelled with the hand-off (``b last -> start``); element uses are dashed.

Everything is escaped here (:func:`markupsafe.escape`), so the result is safe to put in a
page as it is. The output is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

NODE_H = 46
ROW_GAP = 18
COL_GAP = 90
PAD = 16
CHAR_W = 7.0  # average glyph width of the 12 px sans-serif used, for sizing boxes
MIN_W, MAX_W = 120, 240
LEGEND_H = 30

STATUS_COLORS = {
    "cached": ("#dbe8f7", "#3b6ea8"),
    "locked": ("#d9f0ee", "#2f8a80"),
    "generated": ("#dcf2dc", "#3d8b3d"),
    "failed": ("#f8dada", "#b03a3a"),
    "skipped": ("#ececec", "#8a8a8a"),
    "unselected": ("#f4f4f4", "#b5b5b5"),
}
UNKNOWN = ("#ffffff", "#555555")
ELEMENT = ("#fbf1d9", "#a07a1e")


@dataclass(frozen=True)
class _Node:
    id: str
    kind: str  # "take" | "element"
    lines: tuple[str, ...]
    column: int
    row: int
    status: str = ""
    tooltip: str = ""


def _fit(text: str, width: float) -> str:
    """``text`` cut with an ellipsis to fit ``width`` pixels."""
    most = max(3, int((width - 16) / CHAR_W))
    return text if len(text) <= most else text[: most - 1] + "…"


def _layout(graph: Mapping[str, Any], statuses: Mapping[str, str]) -> list[_Node]:
    takes = list(graph.get("takes", ()))
    elements = list(graph.get("elements", ()))
    ids = {str(t["id"]) for t in takes}
    depth: dict[str, int] = {str(t["id"]): 0 for t in takes}
    needs: dict[str, set[str]] = {i: set() for i in depth}
    for edge in graph.get("edges", ()):
        if edge["from"] in ids and edge["to"] in ids:
            needs[str(edge["to"])].add(str(edge["from"]))
    for _ in range(len(takes)):  # longest path; the description is acyclic
        changed = False
        for take_id, ups in needs.items():
            want = max((depth[u] + 1 for u in ups), default=0)
            if want > depth[take_id]:
                depth[take_id], changed = want, True
        if not changed:
            break
    shift = 1 if elements else 0
    rows: dict[int, int] = {}
    nodes: list[_Node] = []
    for name in elements:
        rows[0] = rows.get(0, -1) + 1
        nodes.append(_Node(f"element:{name}", "element", (str(name),), 0, rows[0]))
    for take in takes:
        take_id = str(take["id"])
        column = depth[take_id] + shift
        rows[column] = rows.get(column, -1) + 1
        shots = ", ".join(str(s) for s in take.get("shots", ()))
        seconds = take.get("seconds")
        length = f"{seconds} s" if seconds is not None else "edit"
        status = statuses.get(take_id, "")
        tooltip = f"take {take_id}: {shots} ({length})" + (f", {status}" if status else "")
        nodes.append(
            _Node(take_id, "take", (take_id, f"{shots} · {length}"), column, rows[column],
                  status, tooltip)
        )  # fmt: skip
    return nodes


def graph_svg(graph: Mapping[str, Any], statuses: Mapping[str, str] | None = None) -> Markup:
    """The graph description drawn as an ``<svg>`` element (see the module docstring).

    Args:
        graph: what :func:`storyboard.compiler.draw.describe` returns.
        statuses: each take's build status, by take id, for its colour.
    """
    nodes = _layout(graph, statuses or {})
    if not nodes:
        return Markup('<svg class="graph" width="0" height="0" role="img"></svg>')
    longest = max(len(line) for n in nodes for line in n.lines)
    node_w = int(min(MAX_W, max(MIN_W, longest * CHAR_W + 20)))
    columns = max(n.column for n in nodes) + 1
    rows = max(n.row for n in nodes) + 1
    legend_w = 2 * PAD + sum(30 + int(len(status) * CHAR_W) for status in STATUS_COLORS)
    width = max(legend_w, 2 * PAD + columns * node_w + (columns - 1) * COL_GAP)
    height = 2 * PAD + rows * NODE_H + (rows - 1) * ROW_GAP + LEGEND_H
    where = {n.id: (PAD + n.column * (node_w + COL_GAP), PAD + n.row * (NODE_H + ROW_GAP))
             for n in nodes}  # fmt: skip

    out = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="dependency graph of the takes">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
        '<g font-family="system-ui, sans-serif" font-size="12">',
    ]
    for edge in graph.get("edges", ()):
        source, target = str(edge["from"]), str(edge["to"])
        if source not in where or target not in where:
            continue
        x1, y1 = where[source][0] + node_w, where[source][1] + NODE_H / 2
        x2, y2 = where[target][0], where[target][1] + NODE_H / 2
        bend = max(30.0, (x2 - x1) / 2)
        kind = str(edge.get("kind", ""))
        dashed = kind == "element"
        style = ' class="edge element-edge" stroke-dasharray="4 3"' if dashed else ' class="edge"'
        out.append(
            f'<path{style} data-from="{escape(source)}" data-to="{escape(target)}" '
            f'd="M{x1:g},{y1:g} C{x1 + bend:g},{y1:g} {x2 - bend:g},{y2:g} {x2:g},{y2:g}" '
            f'fill="none" stroke="#555" stroke-width="1.3" marker-end="url(#arrow)"/>'
        )
        if not dashed and kind:
            # the curve's midpoint: the average of its control points weighted 1, 3, 3, 1
            mx = (x1 + 3 * (x1 + bend) + 3 * (x2 - bend) + x2) / 8
            my = (y1 + y2) / 2
            out.append(
                f'<text class="edge-label" x="{mx:g}" y="{my - 5:g}" text-anchor="middle" '
                f'font-size="10" fill="#333" stroke="#fff" stroke-width="3" '
                f'paint-order="stroke">{escape(_fit(kind, COL_GAP + node_w))}</text>'
            )
    for node in nodes:
        x, y = where[node.id]
        if node.kind == "element":
            fill, stroke = ELEMENT
            out.append(
                f'<g class="node element" data-element="{escape(node.lines[0])}">'
                f"<title>element {escape(node.lines[0])}</title>"
                f'<rect x="{x}" y="{y + 8}" width="{node_w}" height="{NODE_H - 16}" '
                f'rx="{(NODE_H - 16) // 2}" fill="{fill}" stroke="{stroke}"/>'
                f'<text x="{x + node_w / 2:g}" y="{y + NODE_H / 2 + 4:g}" '
                f'text-anchor="middle">{escape(_fit(node.lines[0], node_w))}</text></g>'
            )
            continue
        fill, stroke = STATUS_COLORS.get(node.status, UNKNOWN)
        out.append(
            f'<g class="node take status-{escape(node.status or "unknown")}" '
            f'data-take="{escape(node.id)}"><title>{escape(node.tooltip)}</title>'
            f'<rect x="{x}" y="{y}" width="{node_w}" height="{NODE_H}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
            f'<text x="{x + 10}" y="{y + 18}" font-weight="600">'
            f"{escape(_fit(node.lines[0], node_w))}</text>"
            f'<text x="{x + 10}" y="{y + 35}" fill="#444" font-size="11">'
            f"{escape(_fit(node.lines[1], node_w))}</text></g>"
        )
    legend_y = height - PAD - 10
    x = PAD
    for status, (fill, stroke) in STATUS_COLORS.items():
        out.append(
            f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" rx="2" fill="{fill}" '
            f'stroke="{stroke}"/><text x="{x + 17}" y="{legend_y}" font-size="11">'
            f"{status}</text>"
        )
        x += 30 + int(len(status) * CHAR_W)
    out.append("</g></svg>")
    return Markup("".join(out))
