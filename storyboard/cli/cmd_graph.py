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
    from storyboard.compile import dumps
    from storyboard.draw import describe, to_dot, to_mermaid

    compiled = api.compile_storyboard(args.file)
    picture = describe(compiled)
    if args.format == "json":
        sys.stdout.write(dumps(picture))
    elif args.format == "dot":
        sys.stdout.write(to_dot(picture))
    else:
        sys.stdout.write(to_mermaid(picture))
    return 0
