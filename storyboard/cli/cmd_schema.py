"""``storyboard schema [--include-file]``: print the JSON Schema of the storyboard language."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "schema",
        help="print the JSON Schema of storyboards",
        description="Print the JSON Schema generated from the language's models.",
    )
    parser.add_argument(
        "--include-file",
        action="store_true",
        help="the schema of a file named in `include` (elements and vars only)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard.language.schema import schema_text

    sys.stdout.write(schema_text(include_file=args.include_file))
    return 0
