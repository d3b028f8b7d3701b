"""The dependency graph of a build drawn as inline SVG, for the HTML report.

Place in the pipeline: part of the report, the last stage. It takes the graph description
of :func:`storyboard.compiler.draw.describe` (takes, elements, typed edges) as the film record keeps
it, and lays it out itself, so the report needs no layout engine, no network and no script:

- the hand-offs, above: takes in columns by depth (a take sits one column right of the
  deepest take it needs), so every hand-off points right; rows in story order. A take shows
  its id, its shots and seconds, coloured by what the build did with it (cached, locked,
  generated, failed, skipped, unselected). Each hand-off leaves its take at a port of its own
  on the right side and enters at one on the left, labelled just after it leaves
  (``b last -> start``); the gap between columns is as wide as the longest label needs;
- the elements, below, apart: one row per element, its pill on the left and, in the columns
  of the takes that use it, a chip of each such take on a dashed line, so element links never
  cross the hand-offs;
- no text is cut: boxes and gaps are sized from a generous estimate of each text's width
  (:func:`text_width`), checked in Chromium by the report's tests.

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
MIN_GAP = 90
PAD = 16
FONT = 12  # px: node titles (bold), element names
SMALL = 11  # px: a take's shots line
LABEL = 10  # px: hand-off labels
MIN_W = 120
PORT_STEP = 16  # px between two ports on one side of a take
CHIP_H = 22
ELEMENT_ROW = 30
BAND_GAP = 34  # px between the takes and the elements' band
GUTTER = 40  # px between the elements' pills and the first column of takes
LEGEND_H = 30

STATUS_COLORS = {
    "cached": ("#dbe8f7", "#3b6ea8"),
    "remote": ("#e4e0f5", "#5b4ba3"),
    "locked": ("#d9f0ee", "#2f8a80"),
    "generated": ("#dcf2dc", "#3d8b3d"),
    "failed": ("#f8dada", "#b03a3a"),
    "skipped": ("#ececec", "#8a8a8a"),
    "unselected": ("#f4f4f4", "#b5b5b5"),
}
UNKNOWN = ("#ffffff", "#555555")
ELEMENT = ("#fbf1d9", "#a07a1e")


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """A generous width in pixels of ``text`` in a sans-serif font of ``size`` px: wider than
    DejaVu Sans, Liberation Sans and Helvetica draw it, so a box sized from it holds it."""
    import unicodedata

    total = 0.0
    for char in text:
        if unicodedata.east_asian_width(char) in ("W", "F"):
            em = 1.05
        elif char in "mwMW@%":
            em = 1.0
        elif char.isupper() or char.isdigit() or char in "#&~":
            em = 0.78
        elif char in "ijl.,:;'|!() ":
            em = 0.36
        else:
            em = 0.66
        total += em
    return total * size * (1.1 if bold else 1.0)


@dataclass(frozen=True)
class _Node:
    id: str
    lines: tuple[str, ...]
    column: int
    row: int
    status: str = ""
    tooltip: str = ""


def _layout(graph: Mapping[str, Any], statuses: Mapping[str, str]) -> list[_Node]:
    takes = list(graph.get("takes", ()))
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
    rows: dict[int, int] = {}
    nodes: list[_Node] = []
    for take in takes:
        take_id = str(take["id"])
        column = depth[take_id]
        rows[column] = rows.get(column, -1) + 1
        shots = ", ".join(str(s) for s in take.get("shots", ()))
        seconds = take.get("seconds")
        length = f"{seconds} s" if seconds is not None else "edit"
        status = statuses.get(take_id, "")
        tooltip = f"take {take_id}: {shots} ({length})" + (f", {status}" if status else "")
        nodes.append(
            _Node(take_id, (take_id, f"{shots} · {length}"), column, rows[column], status,
                  tooltip)
        )  # fmt: skip
    return nodes


def graph_svg(graph: Mapping[str, Any], statuses: Mapping[str, str] | None = None) -> Markup:
    """The graph description drawn as an ``<svg>`` element (see the module docstring).

    Args:
        graph: what :func:`storyboard.compiler.draw.describe` returns.
        statuses: each take's build status, by take id, for its colour.
    """
    nodes = _layout(graph, statuses or {})
    elements = [str(e) for e in graph.get("elements", ())]
    if not nodes and not elements:
        return Markup('<svg class="graph" width="0" height="0" role="img"></svg>')
    by_id = {n.id: n for n in nodes}
    edges = [e for e in graph.get("edges", ()) if e["from"] in by_id and e["to"] in by_id]
    uses = [
        e for e in graph.get("edges", ())
        if str(e["from"]).startswith("element:") and e["to"] in by_id
    ]  # fmt: skip
    # ports: each hand-off leaves and enters at a port of its own
    outs: dict[str, list[Any]] = {n.id: [] for n in nodes}
    ins: dict[str, list[Any]] = {n.id: [] for n in nodes}
    for edge in edges:
        outs[str(edge["from"])].append(edge)
        ins[str(edge["to"])].append(edge)
    for node_id in by_id:
        outs[node_id].sort(key=lambda e: (by_id[e["to"]].row, by_id[e["to"]].column))
        ins[node_id].sort(key=lambda e: (by_id[e["from"]].row, by_id[e["from"]].column))
    ports = max((len(p) for p in (*outs.values(), *ins.values())), default=0)
    node_h = max(NODE_H, PORT_STEP * (ports + 1))
    node_w = int(max([MIN_W, *(
        max(text_width(n.lines[0], FONT, bold=True), text_width(n.lines[1], SMALL)) + 24
        for n in nodes
    )]))  # fmt: skip
    labels = [str(e.get("kind", "")) for e in edges]
    gap = int(max([MIN_GAP, *(text_width(t, LABEL) + 70 for t in labels)]))
    pill_w = int(max([0, *(text_width(e, FONT) + 28 for e in elements)]))
    left = PAD + (pill_w + GUTTER if elements else 0)
    columns = max((n.column for n in nodes), default=-1) + 1
    rows = max((n.row for n in nodes), default=-1) + 1
    where = {n.id: (left + n.column * (node_w + gap), PAD + n.row * (node_h + ROW_GAP))
             for n in nodes}  # fmt: skip
    takes_bottom = PAD + rows * node_h + max(rows - 1, 0) * ROW_GAP
    # the elements' band: per element, a row as tall as its most chips in one column
    band: list[tuple[str, int, int, list[tuple[str, int, int]]]] = []
    y = takes_bottom + BAND_GAP if nodes else PAD
    for name in elements:
        used = [str(e["to"]) for e in uses if e["from"] == f"element:{name}"]
        stacked: dict[int, int] = {}
        chips: list[tuple[str, int, int]] = []
        for take_id in used:
            column = by_id[take_id].column
            stacked[column] = stacked.get(column, -1) + 1
            chips.append(
                (take_id, left + column * (node_w + gap), y + stacked[column] * (CHIP_H + 6))
            )
        height = max(ELEMENT_ROW, (max(stacked.values(), default=0) + 1) * (CHIP_H + 6))
        band.append((name, y, height, chips))
        y += height + 8
    legend_y = y + 18 if elements else takes_bottom + 28
    legend_w = 2 * PAD + sum(30 + text_width(status, SMALL) for status in STATUS_COLORS)
    width = int(max(legend_w, left + columns * node_w + max(columns - 1, 0) * gap + PAD,
                    PAD + pill_w + PAD))  # fmt: skip
    height = int(legend_y + LEGEND_H // 2)

    out = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="dependency graph of the takes">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
        f'<g font-family="system-ui, sans-serif" font-size="{FONT}">',
    ]
    for edge in edges:
        source, target = str(edge["from"]), str(edge["to"])
        k_out, n_out = outs[source].index(edge), len(outs[source])
        k_in, n_in = ins[target].index(edge), len(ins[target])
        x1 = where[source][0] + node_w
        y1 = where[source][1] + node_h * (k_out + 1) / (n_out + 1)
        x2 = where[target][0]
        y2 = where[target][1] + node_h * (k_in + 1) / (n_in + 1)
        kind = str(edge.get("kind", ""))
        # straight while its label runs above it, then a curve to the target
        xa = x1 + (text_width(kind, LABEL) + 12 if kind else 0)
        bend = max(20.0, (x2 - xa) / 2)
        out.append(
            f'<path class="edge" data-from="{escape(source)}" data-to="{escape(target)}" '
            f'd="M{x1:g},{y1:g} H{xa:g} C{xa + bend:g},{y1:g} {x2 - bend:g},{y2:g} {x2:g},{y2:g}" '
            f'fill="none" stroke="#555" stroke-width="1.3" marker-end="url(#arrow)"/>'
        )
        if kind:
            out.append(
                f'<text class="edge-label" x="{x1 + 8:g}" y="{y1 - 4:g}" '
                f'font-size="{LABEL}" fill="#333" stroke="#fff" stroke-width="3" '
                f'paint-order="stroke">{escape(kind)}</text>'
            )
    for node in nodes:
        x, y0 = where[node.id]
        fill, stroke = STATUS_COLORS.get(node.status, UNKNOWN)
        out.append(
            f'<g class="node take status-{escape(node.status or "unknown")}" '
            f'data-take="{escape(node.id)}"><title>{escape(node.tooltip)}</title>'
            f'<rect x="{x}" y="{y0}" width="{node_w}" height="{node_h}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
            f'<text x="{x + 10}" y="{y0 + node_h / 2 - 5:g}" font-weight="600">'
            f"{escape(node.lines[0])}</text>"
            f'<text x="{x + 10}" y="{y0 + node_h / 2 + 12:g}" fill="#444" font-size="{SMALL}">'
            f"{escape(node.lines[1])}</text></g>"
        )
    fill, stroke = ELEMENT
    for name, top, _height, chips in band:
        mid = top + CHIP_H / 2
        pill = f"element:{name}"
        if chips:
            last = max(x for _, x, _ in chips)
            out.append(
                f'<path class="element-line" data-element="{escape(name)}" '
                f'd="M{PAD + pill_w},{mid:g} H{last:g}" stroke="{stroke}" stroke-width="1.2" '
                f'stroke-dasharray="4 3" fill="none"/>'
            )
        out.append(
            f'<g class="node element" data-element="{escape(name)}">'
            f"<title>element {escape(name)}</title>"
            f'<rect x="{PAD}" y="{top}" width="{pill_w}" height="{CHIP_H}" '
            f'rx="{CHIP_H // 2}" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{PAD + pill_w / 2:g}" y="{mid + 4:g}" text-anchor="middle">'
            f"{escape(name)}</text></g>"
        )
        for take_id, x, chip_y in chips:
            take_fill, take_stroke = STATUS_COLORS.get(by_id[take_id].status, UNKNOWN)
            link = ""
            if chip_y != top:  # a second take of one column: a short link down to it
                link = (
                    f'<path d="M{x - 8:g},{mid:g} V{chip_y + CHIP_H / 2:g} H{x:g}" '
                    f'stroke="{stroke}" stroke-width="1.2" stroke-dasharray="4 3" fill="none"/>'
                )
            out.append(
                f'<g class="element-edge" data-from="{escape(pill)}" data-to="{escape(take_id)}">'
                f"{link}<title>{escape(take_id)} uses {escape(name)}</title>"
                f'<rect x="{x}" y="{chip_y}" width="{node_w}" height="{CHIP_H}" rx="4" '
                f'fill="{take_fill}" stroke="{take_stroke}"/>'
                f'<text x="{x + 10}" y="{chip_y + CHIP_H / 2 + 4:g}" font-size="{SMALL}">'
                f"{escape(take_id)}</text></g>"
            )
    x = PAD
    for status, (fill, stroke) in STATUS_COLORS.items():
        out.append(
            f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" rx="2" fill="{fill}" '
            f'stroke="{stroke}"/><text x="{x + 17}" y="{legend_y}" font-size="{SMALL}">'
            f"{status}</text>"
        )
        x += 30 + int(text_width(status, SMALL))
    out.append("</g></svg>")
    return Markup("".join(out))
