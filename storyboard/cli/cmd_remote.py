"""``storyboard remote [FILE...]``: the configured remote, whether it answers and takes
writes, and how many of each storyboard's locked takes it holds.

Also the options every command that may use the remote shares (``--remote URL``,
``--no-remote``) and the progress view of ``push`` and ``pull``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storyboard.build.remote_sync import Moved
    from storyboard.remote.config import RemoteConfig


def add_remote_options(parser: argparse.ArgumentParser) -> None:
    """``--remote URL`` and ``--no-remote``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--remote", metavar="URL", default=None,
        help="the shared remote cache (s3://, gs://, az://, file://); default: "
        "STORYBOARD_REMOTE, else [remote] url in storyboard.toml",
    )  # fmt: skip
    group.add_argument(
        "--no-remote", action="store_true", help="use no remote, whatever is configured"
    )


def remote_of(args: argparse.Namespace, near: Path) -> RemoteConfig | None:
    """The remote the options and the project of ``near`` (a storyboard, or a folder) name.

    Raises:
        InputError: a wrong URL or ``storyboard.toml``.
    """
    from storyboard.core.project import find_project_root
    from storyboard.remote.config import find_remote

    # (not remote_sync's project_of: a build with nothing to do must not import asyncio)
    project = find_project_root(near if near.suffix else near / "x")
    return find_remote(project, flag=args.remote, disabled=args.no_remote)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "remote",
        help="show the shared remote cache: reachable, writable, what it holds",
        description="Show the project's remote (from --remote, STORYBOARD_REMOTE or "
        "storyboard.toml), whether it answers and takes writes (it writes, once, the marker "
        "storyboard-remote.json at its root, never over anything), and for each FILE how "
        "many of its locked takes it holds. Credentials come from the store's own "
        "environment and are never printed.",
    )
    parser.add_argument("files", metavar="FILE", nargs="*", help="storyboard files")
    add_remote_options(parser)
    parser.add_argument(
        "--read-only", action="store_true", help="do not check that the remote takes writes"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from storyboard.build.remote_sync import lock_pairs, status
    from storyboard.build.state.workspace import Workspace
    from storyboard.compiler.compile import dumps
    from storyboard.core.diagnostics import display_path, printable
    from storyboard.remote.store import Store

    near = Path(args.files[0]) if args.files else Path.cwd()
    config = remote_of(args, near)
    if config is None:
        if args.json:
            sys.stdout.write(dumps({"url": None, "reachable": False}))
        print(
            "storyboard: no remote: set [remote] url in storyboard.toml, STORYBOARD_REMOTE, "
            "or pass --remote URL (see docs/remote.md)",
            file=sys.stderr,
        )
        return 1
    from storyboard.core.project import find_project_root

    pairs: dict[str, list[tuple[str, str]]] = {}
    for name in args.files:
        path = Path(name)
        workspace = Workspace.for_storyboard(path.absolute(), find_project_root(path))
        pairs[name] = lock_pairs(workspace)
    every = sorted({p for found in pairs.values() for p in found})
    store = Store(config)
    found = asyncio.run(status(store, every, write=not args.read_only))
    held = set()
    if found.reachable and every:
        answers = asyncio.run(_held(store, every))
        held = {p for p, yes in zip(every, answers, strict=True) if yes}
    if args.json:
        data = found.to_json()
        data["storyboards"] = {
            name: {"locked": len(p), "held": len(set(p) & held)} for name, p in pairs.items()
        }
        sys.stdout.write(dumps(data))
    else:
        print(f"remote: {printable(config.url)} (from {printable(config.source)})")
        if found.reachable:
            print("reachable: yes")
        else:
            print(f"reachable: no: {printable(found.problem)}")
        if found.reachable and not args.read_only:
            if found.writable:
                print("writable: yes")
            else:
                print(f"writable: {'no' if found.writable is False else 'unknown'}: "
                      f"{printable(found.problem)}")  # fmt: skip
        for name, p in pairs.items():
            shown = printable(display_path(Path(name)))
            print(f"{shown}: {len(set(p) & held)} of its {len(p)} locked takes on the remote")
    return 0 if found.reachable else 1


async def _held(store: Any, pairs: list[tuple[str, str]]) -> list[bool]:
    from storyboard.remote.store import gather_limited, result_path

    answers = await gather_limited(8, *(store.exists(result_path(n, k)) for n, k in pairs))
    return [a is True for a in answers]


class Bar:
    """Progress of a push or pull on stderr: a bar redrawn in place on a terminal, a line per
    take otherwise (or when ``CI`` is set)."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.live = sys.stderr.isatty() and not os.environ.get("CI")
        self.bytes = 0

    def __call__(self, moved: Moved, ended: int, total: int) -> None:
        from storyboard.core.diagnostics import printable

        self.bytes += moved.bytes
        if moved.status == "failed":
            if self.live:
                sys.stderr.write("\r\x1b[K")
            sys.stderr.write(printable(f"{moved.take}: FAILED: {moved.message}") + "\n")
        elif moved.message:  # pushed or there, with something to say (a record not ours)
            if self.live:
                sys.stderr.write("\r\x1b[K")
            sys.stderr.write(printable(f"{moved.take}: {moved.status}: {moved.message}") + "\n")
        elif not self.live:
            size = f" ({moved.bytes / 1e6:.1f} MB)" if moved.bytes else ""
            sys.stderr.write(printable(f"{moved.take}: {moved.status}{size}") + "\n")
        if self.live:
            width = 30
            filled = width * ended // max(1, total)
            bar = "#" * filled + "." * (width - filled)
            sys.stderr.write(
                f"\r{self.verb} [{bar}] {ended}/{total} takes, {self.bytes / 1e6:.1f} MB"
            )
            if ended == total:
                sys.stderr.write("\n")
        sys.stderr.flush()
