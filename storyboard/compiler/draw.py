"""Pictures of a compiled storyboard: which shots each take holds, which elements it uses,
and the hand-offs between takes, as one JSON description rendered to Mermaid or dot."""

from __future__ import annotations

from typing import Any

from storyboard.compiler.compile import Compiled
from storyboard.compiler.resolve import Handoff


def describe(compiled: Compiled) -> dict[str, Any]:
    """Nodes and edges: takes (with their shots), elements, and typed edges."""
    takes = []
    edges: list[dict[str, str]] = []
    elements: set[str] = set()
    for compiled_take in compiled.takes:
        take = compiled_take.take
        names = list(take.elements)
        elements.update(names)
        takes.append(
            {
                "id": take.id,
                "shots": [s.id for s in take.shots],
                "sequence": take.sequence,
                "seconds": take.duration,
                "elements": names,
            }
        )
        for name in names:
            edges.append({"from": f"element:{name}", "to": take.id, "kind": "element"})
        for field, value in (("start", take.start), ("end", take.end), ("edit", take.edit)):
            if isinstance(value, Handoff):
                edges.append({"from": value.take, "to": take.id, "kind": _label(field, value)})
        for value in take.reference_videos:
            if isinstance(value, Handoff):
                edges.append({"from": value.take, "to": take.id, "kind": "reference video"})
    return {
        "storyboard": compiled.checked.document.path.name,
        "takes": takes,
        "elements": sorted(elements),
        "edges": edges,
    }


def _label(field: str, handoff: Handoff) -> str:
    if field == "edit":
        return "edit"
    frame = handoff.frame
    what = frame if isinstance(frame, str) else f"frame {frame}"
    return f"{handoff.shot} {what} -> {field}"


def _node_id(name: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in name)


def to_mermaid(picture: dict[str, Any]) -> str:
    lines = ["flowchart LR"]
    for take in picture["takes"]:
        shots = "<br/>".join(take["shots"])
        seconds = f"{take['seconds']} s" if take["seconds"] is not None else "edit"
        lines.append(
            f'  {_node_id(take["id"])}["{take["id"]}<br/><small>{shots}<br/>{seconds}</small>"]'
        )
    for name in picture["elements"]:
        lines.append(f'  {_node_id("element:" + name)}(["{name}"])')
    for edge in picture["edges"]:
        arrow = "-.->" if edge["kind"] == "element" else "-->"
        label = "" if edge["kind"] == "element" else f'|"{edge["kind"]}"|'
        lines.append(f"  {_node_id(edge['from'])} {arrow}{label} {_node_id(edge['to'])}")
    return "\n".join(lines) + "\n"


def to_dot(picture: dict[str, Any]) -> str:
    lines = ["digraph storyboard {", "  rankdir=LR;", "  node [shape=box];"]
    for take in picture["takes"]:
        label = "\\n".join([take["id"], *take["shots"]])
        lines.append(f'  "{take["id"]}" [label="{label}"];')
    for name in picture["elements"]:
        lines.append(f'  "element:{name}" [label="{name}", shape=ellipse];')
    for edge in picture["edges"]:
        style = ", style=dashed" if edge["kind"] == "element" else ""
        label = "" if edge["kind"] == "element" else edge["kind"]
        lines.append(f'  "{edge["from"]}" -> "{edge["to"]}" [label="{label}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"
