"""``storyboard graph FILE --format mermaid|dot|json``: shots, takes, elements, hand-offs."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "graph",
        help="draw the dependency graph of a storyboard",
        description="Print shots, takes, elements and hand-offs as Mermaid, Graphviz dot or JSON.",
    )
    parser.add_argument("file", metavar="FILE", help="storyboard file")
    parser.add_argument(
        "--format", choices=("mermaid", "dot", "json"), default="mermaid", help="output format"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard import api
    from storyboard.compiler.compile import dumps
    from storyboard.compiler.draw import describe, to_dot, to_mermaid
    from storyboard.core.diagnostics import printable

    compiled = api.compile_storyboard(args.file)
    picture = describe(compiled)
    if args.format == "json":
        sys.stdout.write(dumps(picture))
    else:
        text = to_dot(picture) if args.format == "dot" else to_mermaid(picture)
        # labels quote shot ids and prompts: no control or bidi character reaches a terminal
        sys.stdout.write("".join(f"{printable(line)}\n" for line in text.splitlines()))
    return 0
