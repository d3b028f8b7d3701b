"""P8: ``storyboard pull`` of 24 takes (1080p, 8 s each) from an S3 API (moto, loopback) into
an empty cache, against a plain obstore loop fetching the same objects at the same concurrency.

Setup (not timed): 24 distinct 8 s 1080p clips (4 encoded, each copy made distinct by a
16-byte tail after its last box, which players ignore) are put in a cache and pushed with
:func:`storyboard.build.remote_transfer.push_take`, and the project's lock file names them, as
the build that paid for them left it. Then, timed, interleaved: *ours* is
:func:`storyboard.build.remote_sync.pull` into an empty cache, with the takes as ``storyboard
pull film.yaml`` asks for them (each with its lock entry: each medium fetched by the sha256
the lock records, streamed to a file and hashed as it comes, checked against that sha256 and size,
checked as a video by its headers, and put into the cache: an fsync and a rename); the
*baseline* is ``obstore.get_async`` of the same 24 media objects, streamed to files, 8 at a
time, and nothing else. Before every call of either side, untimed: what the last call wrote
is removed and the disk is synced (``os.sync``), so that neither side pays for deleting or
writing back the other's files.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import statistics
from pathlib import Path
from typing import Any

from bench import media
from bench.harness import Check, Result, paired, ratios, spread
from bench.s3 import moto

TAKES = 24
JOBS = 8
NAMESPACE = "runware"


def _distinct(spec: media.ClipSpec, folder: Path, count: int) -> list[Path]:
    sources = media.clips(spec, count, distinct=4)
    made = []
    for index, source in enumerate(sources):
        target = folder / f"take-{index:02d}.mp4"
        target.write_bytes(source.read_bytes() + f"storyboard-{index:08d}".encode())
        made.append(target)
    return made


def run(runs: int, quick: bool = False) -> Result:
    from storyboard.build.remote_sync import Want, lock_entries, playable, pull, with_lock
    from storyboard.build.remote_transfer import push_take
    from storyboard.build.state.cache import Cache
    from storyboard.build.state.lockfile import LockFile, locked_take
    from storyboard.build.state.workspace import Workspace
    from storyboard.remote.config import RemoteConfig
    from storyboard.remote.store import Store, cas_path

    count = 6 if quick else TAKES
    spec = media.QUICK if quick else media.FULL
    folder = media.scratch("p8")
    project = folder / "project"
    (project / ".storyboard").mkdir(parents=True)
    (project / "film.yaml").write_text("storyboard: 1\n")
    workspace = Workspace.for_storyboard(project / "film.yaml", project)
    bucket = "bench-films"
    with moto(bucket):
        store = Store(RemoteConfig(f"s3://{bucket}/films", "bench"))
        cache = Cache(workspace.cache, tree=workspace.tree, staging=workspace.cache_tmp)
        clips = _distinct(spec, folder, count)
        total = sum(p.stat().st_size for p in clips)
        wants, paths, shas = [], [], []
        lock = LockFile(workspace.lockfile, "film", tree=workspace.tree)
        for index, clip in enumerate(clips):
            key = hashlib.sha256(f"take {index}".encode()).hexdigest()
            entry = cache.put(NAMESPACE, key, [_into(workspace, clip, index)], results=[{}])
            asyncio.run(push_take(store, entry, take=f"t{index}", model="m"))
            # the lock file the build that paid for the take wrote (what the record holds)
            lock.put(locked_take(entry, f"t{index}", "m"))
            wants.append(Want(NAMESPACE, key, f"t{index}"))
            paths.append(cas_path(entry.results[0].sha256))
            shas.append(entry.results[0].sha256)
        lock.write()
        # as `storyboard pull film.yaml` asks: each take with its lock entry
        wants = with_lock(wants, lock_entries(workspace))
        if any(w.locked is None for w in wants):
            raise RuntimeError("the lock file does not name every take")
        pulled: list[int] = []
        target = folder / "plain"

        def reset() -> None:
            shutil.rmtree(workspace.cache, ignore_errors=True)
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            os.sync()

        def ours(check: Any = playable) -> None:
            summary = asyncio.run(pull(store, workspace, wants, jobs=JOBS, check=check))
            if len(summary.done) != count:
                raise RuntimeError(f"pulled {len(summary.done)} of {count}: {summary.moved}")
            pulled.append(summary.bytes)

        def baseline() -> None:
            asyncio.run(_plain(store.store, paths, target))

        def verified() -> None:
            asyncio.run(_plain(store.store, paths, target, digests=shas))

        ours_t, base_t = paired(runs, ours, baseline, before=reset)
        # the floor under a verified pull (every byte hashed, every file synced), timed
        # against the same baseline: what of the ratio is the verification, not the pull
        floor_t, base3_t = paired(runs, verified, baseline, warmup=False, before=reset)
        # where the time goes: the same pull without the video check
        unchecked_t, base2_t = paired(
            runs, lambda: ours(None), baseline, warmup=False, before=reset
        )
    floor_ratio = spread(ratios(floor_t, base3_t, "ratio"))
    over_floor = spread(ratios(ours_t, floor_t, "ratio"))
    return Result(
        key="P8",
        measure=f"pull of {count} takes, {total / count / 1e6:.1f} MB each, from S3 (moto)",
        unit="s",
        ours=ours_t,
        baseline=base_t,
        kind="ratio",
        op="<=",
        target=1.2,
        baseline_name=f"a plain obstore.get_async loop to files, {JOBS} at a time",
        checks=[Check("bytes pulled per run (MB)", pulled[-1] / 1e6, ">=", total / 1e6, "MB")],
        info={
            "takes": count,
            "megabytes": round(total / 1e6, 1),
            "concurrency": JOBS,
            "without_the_video_check": {
                "pull_s": [round(v, 3) for v in unchecked_t],
                "baseline_s": [round(v, 3) for v in base2_t],
                "ratio": round(statistics.median(ratios(unchecked_t, base2_t, "ratio")), 2),
            },
            "verified_floor": {
                "loop_s": [round(v, 3) for v in floor_t],
                "baseline_s": [round(v, 3) for v in base3_t],
                "ratio": [round(v, 2) for v in floor_ratio],
                "ours_over_it": [round(v, 2) for v in over_floor],
            },
        },
        notes=[
            "moto runs in its own process on loopback; the clips are in the page cache",
            "ours also hashes every byte, checks each video's headers, and stores it in the "
            "cache (an fsync, a rename); it fetches by the lock's sha256s, so it reads no "
            "record (a take the lock does not name costs one request more)",
            "before every call, untimed: the last call's files removed, os.sync()",
            f"the floor of a verified pull (the baseline's loop that also hashes every byte "
            f"in a thread, compares the sha256 and syncs each file; no cache): "
            f"{floor_ratio[0]:.2f}x the baseline in the same run; ours is {over_floor[0]:.2f}x it",
        ],
    )


def _into(workspace: object, clip: Path, index: int) -> Path:
    """A copy of ``clip`` where the cache may take it from (inside the project)."""
    from storyboard.build.state.workspace import Workspace

    assert isinstance(workspace, Workspace)
    staging = workspace.tree.make_temp_dir(workspace.cache_tmp, "bench-")
    copy = staging / f"{index}.mp4"
    shutil.copyfile(clip, copy)
    return copy


async def _plain(
    store: object, paths: list[str], folder: Path, digests: list[str] | None = None
) -> None:
    """The baseline: each object streamed to a file, :data:`JOBS` at a time. With
    ``digests``, the floor of a verified pull: each chunk also hashed (sha256, in a thread,
    as the pull does), the digest compared with the object's, and the file synced to the
    disk before it counts as fetched; no cache, no video check, no lock file."""
    import obstore

    gate = asyncio.Semaphore(JOBS)

    def consume(out: Any, digest: Any, chunk: Any) -> None:
        digest.update(chunk)
        out.write(chunk)

    async def one(index: int, path: str) -> None:
        async with gate:
            result = await obstore.get_async(store, path)  # type: ignore[arg-type]
            with open(folder / f"{index}.mp4", "wb") as out:
                if digests is None:
                    async for chunk in result.stream(min_chunk_size=8 << 20):
                        out.write(chunk)
                    return
                digest = hashlib.sha256()
                async for chunk in result.stream(min_chunk_size=8 << 20):
                    await asyncio.to_thread(consume, out, digest, chunk)
                if digest.hexdigest() != digests[index]:
                    raise RuntimeError(f"{path} does not match its sha256")
                out.flush()
                await asyncio.to_thread(os.fsync, out.fileno())

    await asyncio.gather(*(one(i, p) for i, p in enumerate(paths)))
