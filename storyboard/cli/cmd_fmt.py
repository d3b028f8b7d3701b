"""``storyboard fmt FILE... [--check] [--diff]``: rewrite storyboards in the canonical layout.

Formats the files named and the files they include. Every file is formatted in memory first:
if one does not parse, its errors are printed (exit status 2) and no file is written.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

from storyboard.core.diagnostics import display_path, printable


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "fmt",
        help="rewrite storyboards in the canonical layout",
        description=(
            "Rewrite storyboards and the files they include in the canonical layout, keeping "
            "comments; values never change. Without --check or --diff, changed files are "
            "rewritten in place."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="storyboard files")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; list the files that would change and exit 1 if any would",
    )
    parser.add_argument(
        "--diff", action="store_true", help="write nothing; print the changes as a unified diff"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard.language.fmt import format_files

    results = format_files(args.files)  # raises InputError (exit 2) before writing anything
    changed = [r for r in results if r.changed]
    for result in changed:
        name = display_path(result.path)
        shown = printable(name)
        if args.diff:
            sys.stdout.write(_diff(result.original, result.formatted, name))
        if args.check:
            print(f"would reformat {shown}", file=sys.stderr)
        elif not args.diff:
            _rewrite(result.path, result.original, result.formatted, shown)
            print(f"reformatted {shown}", file=sys.stderr)
    kept = len(results) - len(changed)
    verb = "would be reformatted" if args.check or args.diff else "reformatted"
    print(f"{_files(len(changed))} {verb}, {_files(kept)} already formatted", file=sys.stderr)
    return 1 if args.check and changed else 0


def _rewrite(path: Path, original: str, formatted: str, shown: str) -> None:
    """Replace ``path`` with ``formatted`` only if it still holds ``original``, the text that
    was formatted (:func:`storyboard.language.fmt.write_if_unchanged`, as ``review`` writes a
    click): a save made in an editor meanwhile is kept, and that file is not rewritten.

    Raises:
        BuildError: the file changed since it was read, became a symlink out of the project
            since, or could not be written (a read-only or full disk); it is as it was. (Not
            an input error, exit 2: files named before it may have been rewritten.)
    """
    from storyboard.core.errors import BuildError, InputError
    from storyboard.core.files import disk_error
    from storyboard.language.fmt import FileChanged, version_of, write_if_unchanged

    try:
        write_if_unchanged(path, version_of(original.encode("utf-8")), formatted)
    except FileChanged:
        raise BuildError(
            f"{shown} changed on disk since fmt read it (saved in an editor?); it was not "
            "rewritten: run storyboard fmt again"
        ) from None
    except InputError as exc:  # a symlink out of the project, made since it was read
        raise BuildError(f"{shown} was not rewritten: {exc.diagnostics[0].render()}") from None
    except OSError as exc:
        raise disk_error(exc, f"write {shown}") from exc


def _files(count: int) -> str:
    return f"{count} file{'s' if count != 1 else ''}"


def _diff(before: str, after: str, name: str) -> str:
    """A unified diff that ``patch -p0`` applies (missing final newlines marked)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), name, name
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
