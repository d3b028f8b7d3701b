"""A shared, content-addressed remote cache of takes on object storage (S3, GCS, Azure, a
folder), for teams and CI: which remote a project names, and the bucket itself.

Place in the pipeline: under the build (stages 6-7), above the backends. This package knows
the object store and nothing of the build's state: :mod:`.config` (which remote:
``storyboard.toml``, ``STORYBOARD_REMOTE``, ``--remote``) and :mod:`.store` (the bucket's
layout, through obstore: the only module that knows it; create-only writes, reads verified
against their sha256, presigned PUT URLs). It imports the core, the language (to find a
project's root) and the backends' redactor (so that signed URLs and keys never reach a log).

The build joins it to the local cache: :mod:`storyboard.build.remote_transfer` (one take
pushed or fetched, every byte verified), :mod:`storyboard.build.remote_session` (what a
build asks of the remote: a take is looked up in the local cache, then on the remote by its
key, then at the lock file's URL, then, only if the plan said so, made by the provider; every
paid take a build stores is pushed before the build reports) and
:mod:`storyboard.build.remote_sync` (``storyboard push``, ``pull`` and ``remote``).
See docs/remote.md.
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
    from storyboard.core.project import find_project_root

    return find_remote(find_project_root(storyboard), flag=flag, disabled=disabled)
