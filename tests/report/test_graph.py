"""The report's graph: element links drawn apart from the hand-offs (in a band of their own
below the takes), and no label cut or drawn past its box, measured in Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from storyboard.report.graph_svg import graph_svg
from tests.browser import keep_screenshot, needs_webdriver

# long ids and labels, wide letters, a CJK name: what clipped before (the labels were cut
# with an ellipsis to fit boxes of at most 240 px, and hand-off labels ran over the takes)
GRAPH = {
    "takes": [
        {"id": "arrival", "shots": ["arrival"], "seconds": 6},
        {"id": "storm.1", "shots": ["lamp-dies", "stairs", "gallery", "boat-lost-in-the-WWW-mmm"],
         "seconds": 13},
        {"id": "storm.2", "shots": ["signal", "turning"], "seconds": 7},
        {"id": "repair", "shots": ["repair"], "seconds": 4},
        {"id": "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM", "shots": ["dawn"], "seconds": 7},
        {"id": "灯台守の夜明け", "shots": ["postcard"], "seconds": None},
    ],
    "elements": ["keeper", "lantern", "WWWWWWWWWWWWWWWWWWWW"],
    "edges": [
        *({"from": "element:keeper", "to": t, "kind": "element"}
          for t in ("arrival", "storm.1", "repair", "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM")),
        *({"from": "element:lantern", "to": t, "kind": "element"}
          for t in ("storm.1", "storm.2", "repair")),
        {"from": "element:WWWWWWWWWWWWWWWWWWWW", "to": "灯台守の夜明け", "kind": "element"},
        {"from": "storm.1", "to": "storm.2", "kind": "boat-lost-in-the-WWW-mmm last -> start"},
        {"from": "storm.1", "to": "repair", "kind": "lamp-dies frame 48 -> start"},
        {"from": "repair", "to": "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM",
         "kind": "repair last -> start"},
        {"from": "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM", "to": "灯台守の夜明け", "kind": "edit"},
        {"from": "storm.2", "to": "repair", "kind": "reference video"},
    ],
}  # fmt: skip


def test_element_links_are_drawn_below_the_hand_offs_and_every_label_is_whole() -> None:
    svg = str(graph_svg(GRAPH, {"arrival": "cached"}))
    assert "…" not in svg  # nothing cut with an ellipsis
    for take in GRAPH["takes"]:
        assert f">{take['id']}</text>" in svg
    for edge in GRAPH["edges"]:
        if edge["kind"] != "element":
            assert f">{edge['kind'].replace('>', '&gt;')}</text>" in svg
    boxes = re.findall(
        r'<g class="node take[^>]*><title>[^<]*</title><rect x="[\d.]+" y="([\d.]+)" '
        r'width="[\d.]+" height="([\d.]+)"',
        svg,
    )
    assert len(boxes) == len(GRAPH["takes"])
    bottom = max(float(y) + float(h) for y, h in boxes)
    hand_offs = re.findall(r'<path class="edge"[^>]* d="([^"]+)"', svg)
    assert len(hand_offs) == 5
    ys = [float(y) for d in hand_offs for y in re.findall(r",(-?[\d.]+)", d)]
    assert len(ys) == 5 * 4 and max(ys) <= bottom  # every hand-off among the takes
    links = re.findall(
        r'<g class="element-edge" data-from="element:([^"]+)" data-to="([^"]+)">', svg
    )
    assert sorted(links) == sorted(
        (e["from"].removeprefix("element:"), e["to"])
        for e in GRAPH["edges"]
        if e["kind"] == "element"
    )
    for chip in re.findall(r'<g class="element-edge".*?<rect x="[\d.]+" y="([\d.]+)"', svg):
        assert float(chip) > bottom  # every element link in the band below the takes
    for line in re.findall(r'<path class="element-line"[^>]* d="M[\d.]+,([\d.]+)', svg):
        assert float(line) > bottom


@needs_webdriver
def test_no_text_of_the_graph_is_clipped_or_over_another_box(driver: Any, tmp_path: Path) -> None:
    page = tmp_path / "graph.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">'
        + str(graph_svg(GRAPH, {"storm.1": "generated", "repair": "failed"}))
        + "</body></html>",
        encoding="utf-8",
    )
    driver.get(page.as_uri())
    found = driver.execute_script(
        """
        var svg = document.querySelector('svg.graph');
        var box = function (el) {
          var b = el.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height];
        };
        var texts = Array.from(svg.querySelectorAll('text')).map(function (t) {
          var rect = t.parentNode.querySelector('rect');
          return {text: t.textContent, box: box(t), label: t.classList.contains('edge-label'),
                  owner: t.parentNode.tagName === 'g' && rect && t.parentNode.classList.length
                         ? box(rect) : null};
        });
        var rects = Array.from(svg.querySelectorAll('g.node rect, g.element-edge rect')).map(box);
        return {texts: texts, rects: rects, width: svg.width.baseVal.value,
                height: svg.height.baseVal.value};
        """
    )
    assert len(found["texts"]) > 20
    for text in found["texts"]:
        x0, y0, x1, y1 = text["box"]
        assert x0 >= 0 and x1 <= found["width"] and y0 >= 0 and y1 <= found["height"], text
        if text["owner"] is not None:  # inside its box, with room to spare
            bx0, by0, bx1, by1 = text["owner"]
            assert bx0 < x0 and x1 < bx1 and by0 <= y0 and y1 <= by1, text
        if text["label"]:  # a hand-off label is over no take
            for rx0, ry0, rx1, ry1 in found["rects"]:
                assert x1 <= rx0 or rx1 <= x0 or y1 <= ry0 or ry1 <= y0, (text, (rx0, ry0))
    driver.set_window_size(int(found["width"]) + 40, int(found["height"]) + 140)
    keep_screenshot(driver, "report-graph")
    driver.set_window_size(1300, 1000)
