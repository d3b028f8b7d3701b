"""``storyboard push [FILE...]``: send the remote the takes it lacks.

With FILEs: each storyboard's takes that are in the local cache, in the namespaces its lock
file names and Runware's at ``RUNWARE_BASE_URL`` (``--previews``: the offline preview's
too), and the remote does not hold. Always: every take a build left queued because its push
failed. In parallel, with a progress bar and a summary (takes, bytes, seconds).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storyboard.cli.cmd_remote import add_remote_options
from storyboard.cli.options import add_wait_option

if TYPE_CHECKING:
    from storyboard.build.remote_sync import Want
    from storyboard.build.state.workspace import Workspace


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "push",
        help="send the shared remote cache the paid takes it lacks",
        description="Send the remote every paid take of each FILE that the local cache holds "
        "and the remote lacks (media first, then its record; never over an object already "
        "there), and every take a build left queued. Previews only with --previews.",
    )
    add_sync_options(parser)
    parser.set_defaults(func=run)


def add_sync_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", metavar="FILE", nargs="*", help="storyboard files")
    add_remote_options(parser)
    parser.add_argument("--previews", action="store_true", help="the offline previews' takes too")
    parser.add_argument(
        "--preview-scale", type=float, default=0.25, metavar="F",
        help="with --previews: the previews at this scale (default 0.25)",
    )  # fmt: skip
    parser.add_argument("-j", "--jobs", type=int, default=8, metavar="N", help="takes at once")
    add_wait_option(
        parser,
        "wait this long for a build of the project to finish",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    return sync(args, "push")


def sync(args: argparse.Namespace, direction: str) -> int:
    """``push`` or ``pull`` of the takes of ``args.files`` (see the modules' docstrings)."""
    import asyncio

    from storyboard.build import remote_sync
    from storyboard.cli.cmd_remote import Bar, remote_of
    from storyboard.compiler.compile import dumps
    from storyboard.core.diagnostics import printable
    from storyboard.core.errors import InputError
    from storyboard.remote.store import Store

    if args.jobs < 1:
        raise InputError.at(None, "--jobs must be at least 1")
    if not 0 < args.preview_scale <= 1:
        raise InputError.at(None, "--preview-scale must be in (0, 1]")
    near = Path(args.files[0]) if args.files else Path.cwd()
    config = remote_of(args, near)
    if config is None:
        raise InputError.at(
            None,
            f"{direction}: no remote: set [remote] url in storyboard.toml, STORYBOARD_REMOTE, "
            "or pass --remote URL (see docs/remote.md)",
        )
    projects = wants_of(args, direction)
    store = Store(config)
    summaries = []
    for workspace, wants in projects:
        bar = Bar("pushing" if direction == "push" else "pulling")
        with remote_sync.locked_project(workspace, args.wait):
            if direction == "push":
                summary = asyncio.run(
                    remote_sync.push(store, workspace, wants, jobs=args.jobs, progress=bar)
                )
            else:
                summary = asyncio.run(
                    remote_sync.pull(
                        store, workspace, wants, jobs=args.jobs, progress=bar,
                        check=remote_sync.playable,
                    )
                )  # fmt: skip
        summaries.append(summary)
        for bad in summary.damaged:  # a queue file that cannot be read: said, never skipped
            print(printable(f"push: {bad.message}"), file=sys.stderr)
        print(printable(summary.line()), file=sys.stderr)
    if args.json:
        data = [s.to_json() for s in summaries]
        sys.stdout.write(dumps(data[0] if len(data) == 1 else data))
    return 1 if any(s.failed for s in summaries) else 0


def wants_of(args: argparse.Namespace, direction: str) -> list[tuple[Workspace, list[Want]]]:
    """The takes of each FILE, grouped by project; without FILEs, the project of the current
    folder: its queue (push), or every lock file below the current folder (pull)."""
    from storyboard.backends.namespaces import namespace
    from storyboard.build import remote_sync
    from storyboard.build.pipeline import prepare
    from storyboard.build.state.workspace import Workspace

    spaces = remote_sync.namespaces(previews=args.previews, preview_scale=args.preview_scale)
    groups: dict[Path, tuple[Workspace, list[Want]]] = {}
    if not args.files:
        root = remote_sync.project_of(Path.cwd())
        if direction == "push":
            anchor = Workspace.for_storyboard(root / "storyboard.yaml", root)
            return [(anchor, [])]
        for lock in sorted(Path.cwd().rglob("*.lock")):
            if {"build", ".storyboard", ".git"} & set(lock.relative_to(Path.cwd()).parts):
                continue
            workspace = Workspace.for_storyboard(lock.with_suffix(".yaml").absolute(), root)
            entries = remote_sync.lock_entries(workspace)
            wants = [
                remote_sync.Want(ns, key, entry.take or key[:12], locked=entry)
                for (ns, key), entry in sorted(entries.items())
            ]
            group = groups.setdefault(workspace.project_root, (workspace, []))
            group[1].extend(wants)
        return [(w, remote_sync.keep_paid(ws, args.previews)) for w, ws in groups.values()]
    for name in args.files:
        prepared = prepare(name, backend_name=namespace("runware"))
        workspace, keys = prepared.workspace, prepared.keys
        takes = [
            (t.id, keys[t.id], str(t.request.get("model") or "") or None)
            for t in prepared.compiled.takes
        ]
        entries = remote_sync.lock_entries(workspace)
        locked = [(key, ns) for ns, key in sorted(entries)]
        wants = remote_sync.wanted(takes, locked, spaces)
        if direction == "pull":
            wants = remote_sync.with_lock(wants, entries)
        group = groups.setdefault(workspace.project_root, (workspace, []))
        group[1].extend(wants)
    return [(w, remote_sync.keep_paid(ws, args.previews)) for w, ws in groups.values()]
