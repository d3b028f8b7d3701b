"""``storyboard compile FILE [-o DIR] [--json]``: the exact requests, without sending them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "compile",
        help="compile a storyboard to the model's requests (sends nothing)",
        description="Compile every take to its videoInference request, in dependency order.",
    )
    parser.add_argument("file", metavar="FILE", help="storyboard file")
    parser.add_argument("-o", "--output", metavar="DIR", help="write one JSON file per take")
    parser.add_argument("--json", action="store_true", help="print all takes as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard import api
    from storyboard.cli.cmd_deps import output_tree
    from storyboard.compiler.compile import dumps

    compiled = api.compile_storyboard(args.file)
    if args.output:
        folder = Path(args.output)
        tree = output_tree(folder)
        files = [(folder / f"{take.id}.json", take) for take in compiled.takes]
        # a symlink (or a folder) at DIR, on the way or at a file: refused (UnsafePath,
        # exit 1) before anything is written; each file is then written whole, never followed
        tree.check(folder, folder=True)
        for path, _ in files:
            tree.check(path, folder=False)
        tree.makedirs(folder)
        for path, take in files:
            tree.write_atomic(path, dumps(take.to_json()).encode("utf-8"))
        print(f"wrote {len(compiled.takes)} request(s) to {folder}", file=sys.stderr)
    if args.json or not args.output:
        if args.json:
            sys.stdout.write(dumps(compiled.to_json()))
        else:
            for take in compiled.takes:
                needs = (
                    f" (after {', '.join(take.take.depends_on)})" if take.take.depends_on else ""
                )
                shots = ", ".join(s.id for s in take.take.shots)
                print(f"# take {take.id}: {shots}{needs}")
                sys.stdout.write(dumps(take.request))
    return 0
