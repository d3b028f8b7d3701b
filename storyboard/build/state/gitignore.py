"""The project's ``.gitignore``: keep the build folders and the state out of the repository.

Place in the pipeline: beside the state. The first build of a project (the one that makes its
``.storyboard/``) and ``storyboard init`` make sure the ``.gitignore`` at the project folder
ignores ``build/`` and ``.storyboard/``, so that ``git add -A`` commits the storyboard, its
assets and the lock file ``NAME.lock``, and not the videos or the cache.

A ``.gitignore`` the user has is never rewritten nor reordered: the lines it lacks are
appended to it (in place: its mode, owner and links stay), after a comment line saying who
added them. A line is *lacking* when the file does not already ignore that folder by any
pattern of its own (``/build``, ``build``, ``**/build/``...: matched with ``pathspec``'s
gitignore rules, so a file that ignores them another way is left as it is). The build line is
``build/``, which ignores a folder named ``build`` at any depth (a storyboard in a sub-folder
builds in ``sub/build/NAME``), unless the build folder has no ``build`` in its path (a
``--build-dir``): then it is that folder, anchored (``/renders/harbour/``). The file is
opened without following a symlink (:class:`storyboard.build.state.safe.Tree`): a symlink, or
anything else that is not a regular file, in its place is left alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from storyboard.build.state.safe import Tree, UnsafePath
from storyboard.core.diagnostics import display_path
from storyboard.core.files import disk_error, write_all

NAME = ".gitignore"
STATE_LINE = ".storyboard/"
BUILD_LINE = "build/"
HEADER = "# storyboard: its build folders and state (a build makes them again)"


@dataclass
class Ignored:
    """What :func:`ensure_ignored` did to the project's ``.gitignore``."""

    path: Path
    added: list[str] = field(default_factory=list)
    created: bool = False
    problem: str | None = None
    """Why it was left alone (a symlink in its place), if it was."""


def wanted(tree: Tree, build_dir: Path | None) -> dict[str, str]:
    """``{line: the folder it must ignore}``: the state, and the build folder ``build_dir``
    (default: a ``build/`` folder at the top), as paths relative to the project folder."""
    lines = {STATE_LINE: STATE_LINE}
    if build_dir is None:
        lines[BUILD_LINE] = BUILD_LINE
        return lines
    folder = "/".join(tree.parts(build_dir)) + "/"
    lines[BUILD_LINE if "build" in folder.split("/") else "/" + folder] = folder
    return lines


def lacking(text: str, lines: dict[str, str]) -> list[str]:
    """The lines whose folder what the ``.gitignore`` ``text`` says does not ignore yet."""
    spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
    return [line for line, folder in lines.items() if not spec.match_file(folder)]


def ensure_ignored(tree: Tree, build_dir: Path | None = None) -> Ignored:
    """Make the project's ``.gitignore`` ignore ``.storyboard/`` and the build folder: made
    when missing, the lacking lines appended when not. A symlink or a folder in its place is
    reported in :attr:`Ignored.problem` and left alone.

    Raises:
        BuildError: the disk refused to read or write it (full, read-only). The lines are
            appended with one write of a few dozen bytes, so the file has them all or none
            unless the disk fills up in the middle of that write.
    """
    path = tree.root / NAME
    done = Ignored(path)
    lines = wanted(tree, build_dir)
    try:
        existing = tree.read_bytes(path)
        if existing is None:
            try:
                fd = tree.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            except FileExistsError:  # made meanwhile: the user's, read again
                return ensure_ignored(tree, build_dir)
            done.created, done.added, text = True, list(lines), ""
        else:
            text = existing.decode("utf-8", errors="surrogateescape")
            done.added = lacking(text, lines)
            if not done.added:
                return done
            fd = tree.open(path, os.O_WRONLY | os.O_APPEND)
    except UnsafePath as exc:
        done.problem = exc.problem
        return done
    except OSError as exc:
        raise disk_error(exc, f"read {display_path(path)}") from exc
    before = "\n" if text and not text.endswith("\n") else ""
    if text.strip():
        before += "\n"  # a blank line between the user's lines and storyboard's
    block = before + "\n".join([HEADER, *done.added]) + "\n"
    try:
        write_all(fd, block.encode("utf-8"))
        os.fsync(fd)
    except OSError as exc:
        raise disk_error(exc, f"write {display_path(path)}") from exc
    finally:
        os.close(fd)
    return done
