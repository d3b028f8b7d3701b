"""A shared, content-addressed remote cache of takes on object storage (S3, GCS, Azure, a
folder), for teams and CI.

Place in the pipeline: beside the local cache, under execute. A take is looked up in the
local cache, then on the remote by its key, then at the lock file's URL, then (only if the
plan said so) made by the provider; every paid take a build stores is pushed to the remote
before the build reports. ``storyboard push``, ``pull`` and ``remote`` move and show the
rest. See docs/remote.md.

Modules: :mod:`.config` (which remote: ``storyboard.toml``, ``STORYBOARD_REMOTE``,
``--remote``), :mod:`.store` (the bucket's layout, through obstore: the only module that
knows it), :mod:`.transfer` (one take pushed or fetched, every byte verified),
:mod:`.session` (what a build asks of the remote), :mod:`.sync` (``push`` and ``pull``).
"""

from __future__ import annotations

from pathlib import Path

from storyboard.remote.config import RemoteConfig, find_remote

__all__ = ["RemoteConfig", "configured", "find_remote"]


def configured(
    storyboard: Path, *, flag: str | None = None, disabled: bool = False
) -> RemoteConfig | None:
    """The remote of the project that holds ``storyboard`` (see :mod:`.config`).

    Raises:
        InputError: the remote's URL or ``storyboard.toml`` is wrong.
    """
    from storyboard.load import find_project_root

    return find_remote(find_project_root(storyboard), flag=flag, disabled=disabled)
