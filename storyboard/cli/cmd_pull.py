"""``storyboard pull [FILE...]``: bring the takes the remote holds into the local cache.

With FILEs: each storyboard's takes in the namespaces its lock file names and Runware's at
``RUNWARE_BASE_URL`` (``--previews``: the offline preview's too) that the local cache lacks;
without, every lock file's takes below the current folder. Every byte is checked against its
sha256 before it enters the cache. In parallel, with a progress bar and a summary.
"""

from __future__ import annotations

import argparse
from typing import Any

from storyboard.cli.cmd_push import add_sync_options, sync


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "pull",
        help="fetch from the shared remote cache the takes the local cache lacks",
        description="Fetch from the remote every take of each FILE (without FILE: of every "
        "lock file below the current folder) that the local cache lacks, each checked "
        "against its sha256 and as a video before it enters the cache. Pays nothing.",
    )
    add_sync_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return sync(args, "pull")
