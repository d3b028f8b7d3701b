"""``storyboard deps FILE [-o FILE.d] [--target T]``: a make dependency file."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storyboard.build.state.safe import Tree


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "deps",
        help="write a make dependency file for a storyboard",
        description="List the storyboard, its includes, templates and local assets as a "
        "make rule, so make rebuilds the film exactly when one of them changes.",
    )
    parser.add_argument("file", metavar="FILE", help="storyboard file")
    parser.add_argument("-o", "--output", metavar="FILE.d", help="write here (default stdout)")
    parser.add_argument(
        "--target", metavar="T",
        help="the rule's target (default: the film the backend's build writes)",
    )  # fmt: skip
    parser.add_argument(
        "--backend", choices=("auto", "preview", "runware"), default="auto",
        help="whose film is the default target: build/NAME/preview/ or build/NAME/runware/ "
        "(auto: runware when RUNWARE_API_KEY is set, as for build)",
    )  # fmt: skip
    parser.set_defaults(func=run)


def output_tree(path: str | os.PathLike[str]) -> Tree:
    """The tree an output the user named (``-o``) is written in: the current folder when
    ``path`` lies inside it, so that no folder on the way there may be a symlink (a committed
    ``build -> ~``); else the nearest existing folder above ``path``, for an output chosen
    outside (``-o /tmp/film.d``). Either way the output itself, its temporary and any folder
    below that root are never followed (:meth:`Tree.write_atomic`)."""
    from storyboard.build.state.safe import Tree

    here = Tree.at(Path.cwd())
    return here if here.contains(path) and here.parts(path) else Tree.around(path)


def run(args: argparse.Namespace) -> int:
    from storyboard import api
    from storyboard.backends.factory import resolve_name
    from storyboard.backends.namespaces import namespace
    from storyboard.build.depfile import (
        default_target,
        dependencies,
        looked_for,
        render_depfile,
    )

    # the whole check, compile included: a storyboard no build could make gets no rule
    checked = api.compile_storyboard(args.file).checked
    base = Path.cwd()
    film = default_target(checked, backend=namespace(resolve_name(args.backend)))
    target = args.target or os.path.relpath(film.absolute(), base)
    deps = dependencies(checked)
    text = render_depfile(target, [*deps, *looked_for(checked, deps)], base)
    if args.output:
        # whole, and never through a symlink: raises UnsafePath (exit 1), writes nothing then
        output_tree(args.output).write_atomic(args.output, text.encode("utf-8"))
    else:
        sys.stdout.write(text)
    return 0
