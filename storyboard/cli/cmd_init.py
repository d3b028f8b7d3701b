"""``storyboard init [DIR]``: make DIR a storyboard project, ready for git.

It makes ``DIR/.storyboard/`` (which marks DIR as the project folder: every storyboard below it
shares its cache, journal and records) and makes ``DIR/.gitignore`` ignore ``build/`` and
``.storyboard/`` (:mod:`storyboard.build.state.gitignore`: lines added, none rewritten). The first
build of a project does the same; ``init`` is for a project made by an older storyboard, or
one to set up before its first build.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "init",
        help="make a folder a storyboard project: .storyboard/ and a .gitignore for git",
        description="Make DIR (default: the current folder) the project folder of the "
        "storyboards in it and below: make DIR/.storyboard/, where they keep their cache, and "
        "make DIR/.gitignore ignore build/ and .storyboard/ (adding the lines it lacks; the "
        "lines already there stay as they are), so that `git add -A` commits the storyboards, "
        "their assets and lock files, and not the videos. Sends nothing.",
    )
    parser.add_argument("dir", metavar="DIR", nargs="?", default=".", help="the project folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard.build.state.gitignore import ensure_ignored
    from storyboard.build.state.safe import Tree, UnsafePath
    from storyboard.core.diagnostics import display_path, printable
    from storyboard.core.errors import InputError
    from storyboard.core.files import disk_error
    from storyboard.core.project import find_project_root

    folder = Path(args.dir).absolute()
    if not folder.is_dir():
        raise InputError.at(None, f"{args.dir}: no such folder")
    tree = Tree.at(folder)
    state = tree.root / ".storyboard"
    said = printable(display_path(state))
    # the project a storyboard in DIR belongs to now
    above = find_project_root(tree.root / "storyboard.yaml")
    if above != tree.root and (above / ".storyboard").exists():
        raise InputError.at(
            None,
            f"{args.dir} is inside the project {printable(display_path(above))}, whose "
            "storyboards keep their cache and their pending requests in "
            f"{printable(display_path(above / '.storyboard'))}; a {said} here would part "
            "the storyboards below it from them: run `storyboard init "
            f"{printable(display_path(above))}` instead",
        )
    try:
        tree.check(tree.root / ".gitignore", folder=False)  # refused before anything is made
        if tree.check(state, folder=True):
            print(f"storyboard: {said} is there already", file=sys.stderr)
        else:
            tree.makedirs(state)
            print(f"storyboard: made {said}, the project's state", file=sys.stderr)
    except UnsafePath as exc:
        raise InputError.at(None, str(exc)) from None
    except OSError as exc:  # a read-only or full disk: said, not a traceback
        raise disk_error(exc, f"make {said}") from exc
    done = ensure_ignored(tree)
    where = printable(display_path(done.path))
    if done.problem is not None:
        raise InputError.at(None, f"{where} {done.problem}")
    if done.created:
        print(f"storyboard: made {where} with {' and '.join(done.added)}", file=sys.stderr)
    elif done.added:
        print(f"storyboard: added {' and '.join(done.added)} to {where}", file=sys.stderr)
    else:
        print(f"storyboard: {where} ignores .storyboard/ and build/ already", file=sys.stderr)
    return 0
