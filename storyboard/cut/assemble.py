"""Stage 7b, the cut: render a :class:`~storyboard.cut.timeline.Timeline` into the film file.

:func:`assemble` narrates it::

    index the sources (packets, cut points)      streams.index_video
      -> render the title cards at the film's codec parameters, cards.render_cards
         and the text drawn over the picture                    cards.render_overlays
      -> plan: which frames are copied, which re-encoded        plan.plan_video
               which AAC frames are copied, silent, encoded     sound.plan_sound
      -> in parallel: re-encode each piece (ffmpeg),            ffmpeg.encode_command
                      mix and encode the sound that changed     sound.encode_runs
                      (or the whole track, if none can be kept) audio.film_audio
      -> join copied GOPs, pieces and audio into one file       mux.join
      -> rename it into place

Everything is streamed (ffmpeg processes, packets, audio blocks), so memory does not grow
with the film's length. Temporary files live in a hidden folder beside the output, removed
afterwards; the output appears atomically (written aside, then renamed).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np

import storyboard.cut.loudness as loudness
from storyboard.core.errors import BuildError
from storyboard.core.memory import give_back_memory
from storyboard.cut.audio import film_audio
from storyboard.cut.cards import render_cards, render_overlays
from storyboard.cut.decode import Samples
from storyboard.cut.ffmpeg import (
    Drawn,
    Encoder,
    PipeEncoder,
    audio_command,
    encode_command,
    run_ffmpeg,
)
from storyboard.cut.mux import AudioPackets, Part, join
from storyboard.cut.plan import CopyPiece, EncodePiece, VideoPlan, plan_video
from storyboard.cut.sound import EncodedRuns, SoundPlan, encode_runs, plan_sound
from storyboard.cut.sound import add_stream as add_sound_stream
from storyboard.cut.sound import packets as sound_packets
from storyboard.cut.streams import VideoIndex, index_video
from storyboard.cut.subtitles import packets_at_most as subtitle_packets
from storyboard.cut.subtitles import track as subtitle_track
from storyboard.cut.timeline import FPS, Timeline, TimelineClip
from storyboard.language.model import Format

EXTENSIONS: dict[str, str] = {"MP4": "mp4", "MOV": "mov", "WEBM": "webm"}


@dataclass(frozen=True)
class PieceReport:
    """One piece of the film's video: copied packets or re-encoded frames, and why."""

    kind: Literal["copy", "encode"]
    film_start: int
    frames: int
    shots: tuple[str, ...]
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": self.film_start,
            "frames": self.frames,
            "shots": list(self.shots),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class AssemblyReport:
    """What :func:`assemble` wrote and how.

    Attributes:
        output: the film file.
        format: its container.
        size: its picture size.
        frames: its length in frames at 24 fps (video and audio alike).
        pieces: the video, piece by piece, in film order.
        timings: seconds spent per phase (``index``, ``encode`` — video pieces and audio in
            parallel —, ``mux``, ``total``).
        unjoinable: per source video re-encoded whole, why it could not be copied.
        sound: how the audio track was made: AAC frames copied from the takes, silent and
            encoded, and the samples each copied clip's sound was moved by
            (``{"rebuilt": true}`` when the whole track was encoded).
    """

    output: Path
    format: Format
    size: tuple[int, int]
    frames: int
    pieces: tuple[PieceReport, ...]
    timings: dict[str, float] = field(default_factory=dict)
    unjoinable: dict[str, str] = field(default_factory=dict)
    sound: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> Fraction:
        return Fraction(self.frames, FPS)

    @property
    def copied_frames(self) -> int:
        return sum(p.frames for p in self.pieces if p.kind == "copy")

    @property
    def encoded_frames(self) -> int:
        return self.frames - self.copied_frames

    @property
    def stream_copy(self) -> bool:
        """True when every video frame was copied (no video was re-encoded)."""
        return self.encoded_frames == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "format": self.format,
            "size": list(self.size),
            "frames": self.frames,
            "seconds": float(self.duration),
            "copied_frames": self.copied_frames,
            "encoded_frames": self.encoded_frames,
            "pieces": [p.to_json() for p in self.pieces],
            "timings": dict(self.timings),
            "unjoinable": dict(self.unjoinable),
            "sound": dict(self.sound),
        }


def measure_videos(
    videos: Mapping[str, Path], indexes: Mapping[Path, VideoIndex] | None = None
) -> dict[str, tuple[int, int]]:
    """``take id -> (frame count, fps)`` of each video, as ``build_timeline`` takes them.

    Reads packets only (no decoding); from ``indexes`` where they hold the video (see
    :func:`index_videos`: index once, then measure and assemble from the same indexes).
    """
    from storyboard.media.probe import probe

    sizes: dict[str, tuple[int, int]] = {}
    for take, path in videos.items():
        index = indexes.get(path) if indexes is not None else None
        if index is not None:
            sizes[take] = (index.frame_count, round(index.fps) or FPS)
            continue
        info = probe(path)
        sizes[take] = (info.frame_count, round(info.fps) or FPS)
    return sizes


def index_videos(paths: Iterable[Path]) -> dict[Path, VideoIndex]:
    """Index each video once (packets only), for :func:`measure_videos` and :func:`assemble`.

    Raises:
        BuildError: a video cannot be read.
    """
    unique = list(dict.fromkeys(paths))
    if len(unique) < 2:
        return {path: index_video(path) for path in unique}
    found: dict[Path, VideoIndex] = {}
    # Opening and demuxing let go of the interpreter lock: a file per CPU at a time.
    with ThreadPoolExecutor(max_workers=min(len(unique), os.cpu_count() or 2)) as pool:
        for at in range(0, len(unique), GIVE_BACK_EVERY):
            chunk = unique[at : at + GIVE_BACK_EVERY]
            found.update(zip(chunk, pool.map(index_video, chunk), strict=True))
            give_back_memory()
    return found


GIVE_BACK_EVERY = 64
"""Videos indexed between two :func:`~storyboard.core.memory.give_back_memory` calls."""


def assemble(
    timeline: Timeline,
    out_path: str | os.PathLike[str],
    *,
    encoder: Encoder | None = None,
    workers: int | None = None,
    indexes: Mapping[Path, VideoIndex] | None = None,
    progress: Progress | None = None,
) -> AssemblyReport:
    """Render the film described by ``timeline`` to ``out_path``.

    Args:
        timeline: the film (see :func:`storyboard.cut.timeline.build_timeline`).
        out_path: the film file; written atomically, its folder created if needed.
        encoder: how re-encoded video is written (preset, threads).
        workers: ffmpeg processes run at once (default: the number of CPUs).
        indexes: the sources already indexed (:func:`index_videos`); others are indexed here.
        progress: told ``(phase, done, total)`` as the cut goes (``indexing`` sources,
            ``re-encoding`` pieces, ``joining``), always from the calling thread.

    Returns:
        What was copied and what re-encoded, and the time each phase took.

    Raises:
        BuildError: a source cannot be read, or ffmpeg or the muxer failed.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".cut", dir=out.parent))
    try:
        # 1. index every source: codec parameters, packets, cut points; render the cards
        # (indexed too) and the text drawn over the picture.
        given = indexes or {}
        tell = progress or _quiet
        sources = list(dict.fromkeys(c.source for c in timeline.clips if c.card is None))
        indexes = {}
        for done, path in enumerate(sources):
            tell("indexing", done, len(sources))
            indexes[path] = given[path] if path in given else index_video(path)
        timeline = render_cards(timeline, indexes, work, encoder or Encoder())
        drawn = render_overlays(timeline, work)
        # 2. plan: copy whole GOPs where possible, re-encode the rest; the same for the sound.
        plan = plan_video(timeline, indexes)
        if plan.total_frames != timeline.total_frames:
            raise BuildError(
                f"the cut planned {plan.total_frames} frames, the film has {timeline.total_frames}"
            )
        offsets = {path: index.start_pts * index.time_base for path, index in indexes.items()}
        sound: SoundPlan | None = None
        if timeline.format in ("MP4", "MOV") and timeline.loudness is None:
            sound = plan_sound(timeline, indexes, offsets)
            if not sound.reuses:
                sound = None  # nothing to keep: one encoder for the whole track
        timings["index"] = time.perf_counter() - started
        # 3. re-encode the pieces and the sound, in parallel; 4. join copied GOPs, pieces and
        # sound (the sound's encoded runs are joined as they come); 5. move the film into place.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cut-audio") as sound_thread:
            runs = None
            track: Future[Any]
            audio = work / ("audio.webm" if timeline.format == "WEBM" else "audio.m4a")
            if sound is not None:
                runs = EncodedRuns([r.first for r in sound.runs if r.kind == "encode"])
                threads = workers or os.cpu_count() or 2
                track = sound_thread.submit(
                    encode_runs, sound, timeline, offsets, runs, workers=threads
                )
            else:
                track = sound_thread.submit(_encode_audio, timeline, indexes, audio)
            levels: dict[str, Any] | None = None
            try:
                mark = time.perf_counter()
                pieces = _encode(
                    timeline, plan, indexes, work, encoder or Encoder(), workers, drawn, tell
                )
                if runs is None:
                    levels = track.result()
                timings["encode"] = time.perf_counter() - mark
                mark = time.perf_counter()
                film = work / f"film.{EXTENSIONS[timeline.format]}"
                tell("joining", 0, 1)
                parts = _parts(plan, indexes, pieces)
                subtitles = (
                    subtitle_track(timeline.subtitles, timeline.format)
                    if timeline.subtitles
                    else None
                )
                join(
                    film,
                    timeline.format,
                    parts,
                    _track(sound, runs) if runs else audio,
                    subtitles,
                    packets=_packets(sound if runs else None, timeline),
                )
                track.result()
            finally:
                if runs is not None:
                    runs.close()
        os.replace(film, out)
        timings["mux"] = time.perf_counter() - mark
    finally:
        shutil.rmtree(work, ignore_errors=True)
    timings["total"] = time.perf_counter() - started
    return AssemblyReport(
        output=out,
        format=timeline.format,
        size=timeline.size,
        frames=timeline.total_frames,
        pieces=_report_pieces(timeline, plan),
        timings=timings,
        unjoinable={str(path): why for path, why in plan.unjoinable.items()},
        sound=(
            sound.to_json()
            if sound is not None
            else {"rebuilt": True, **({"loudness": levels} if levels else {})}
        ),
    )


def _packets(sound: SoundPlan | None, timeline: Timeline) -> int:
    """At most how many packets the film's sound (when spliced from ``sound``: a packet a
    run's frame) and subtitles give the join."""
    spliced = sum(run.count for run in sound.runs) if sound is not None else 0
    return spliced + subtitle_packets(timeline.subtitles)


def _track(sound: SoundPlan | None, runs: EncodedRuns) -> AudioPackets:
    """The spliced sound track, for :func:`join`."""
    assert sound is not None
    plan = sound

    def track(output: Any) -> Iterator[tuple[int, Any]]:
        return sound_packets(plan, runs, add_sound_stream(output))

    return track


def _encode(
    timeline: Timeline,
    plan: VideoPlan,
    indexes: dict[Path, VideoIndex],
    work: Path,
    encoder: Encoder,
    workers: int | None,
    drawn: Drawn,
    tell: Progress,
) -> dict[int, Path]:
    """Re-encode every piece of video that is not copied (several at once); their files."""
    suffix = "webm" if plan.codec == "vp9" else "mp4"
    jobs: dict[int, tuple[EncodePiece, Path]] = {
        k: (piece, work / f"piece-{k:04d}.{suffix}")
        for k, piece in enumerate(plan.pieces)
        if isinstance(piece, EncodePiece)
    }
    if not jobs:
        return {}
    count = workers or os.cpu_count() or 2
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="cut-video") as pool:
        futures: list[Future[None]] = []
        for piece, path in jobs.values():
            cmd = encode_command(piece, path, timeline, plan, indexes, encoder, drawn)
            what = f"re-encoding film frames {piece.film_start}..{piece.film_start + piece.frames}"
            futures.append(pool.submit(run_ffmpeg, cmd, what))
        tell("re-encoding", 0, len(futures))
        done: set[Future[None]] = set()
        pending = set(futures)
        while pending:  # told from this thread: an event sink need not be thread-safe
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            done |= finished
            if any(f.exception() is not None for f in finished):
                break
            tell("re-encoding", len(done), len(futures))
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            for other in futures:
                other.cancel()
            failed[0].result()  # raises its exception
        for future in futures:
            future.result()
    return {k: path for k, (_, path) in jobs.items()}


Progress = Callable[[str, int, int], None]
"""Told ``(phase, done, total)`` as a cut goes."""


def _quiet(phase: str, done: int, total: int) -> None:
    """A progress that is told nothing."""


def _encode_audio(
    timeline: Timeline, indexes: dict[Path, VideoIndex], out: Path
) -> dict[str, Any] | None:
    """Mix and encode the whole track; normalised to ``timeline.loudness`` if set (then what
    the normalisation did is returned)."""
    starts = {path: index.start_pts * index.time_base for path, index in indexes.items()}

    def mix() -> Iterator[Samples]:
        return film_audio(timeline, starts)

    levels = None
    if timeline.loudness is not None:
        decided = loudness.plan(mix, timeline.loudness)
        blocks, levels = loudness.apply(mix, decided), decided.to_json()
    else:
        blocks = mix()
    with PipeEncoder(audio_command(timeline, out), "encoding the film's audio") as pipe:
        for block in blocks:
            pipe.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
    return levels


def _parts(plan: VideoPlan, indexes: dict[Path, VideoIndex], pieces: dict[int, Path]) -> list[Part]:
    parts: list[Part] = []
    for k, piece in enumerate(plan.pieces):
        if isinstance(piece, CopyPiece):
            parts.append(Part(indexes[piece.source], piece.first, piece.last, piece.film_start))
            continue
        index = index_video(pieces[k])
        if index.frame_count != piece.frames or 0 not in index.cut_points:
            raise BuildError(
                f"re-encoding film frames {piece.film_start}..{piece.film_start + piece.frames} "
                f"gave {index.frame_count} frames, not {piece.frames}"
            )
        parts.append(Part(index, 0, index.frame_count, piece.film_start))
    return parts


def _label(clip: TimelineClip) -> str:
    """A clip in the report: its shot id, or ``title``, ``opening credits``, ``end credits``."""
    return clip.shot or (clip.card.kind if clip.card is not None else "")


def _report_pieces(timeline: Timeline, plan: VideoPlan) -> tuple[PieceReport, ...]:
    reports: list[PieceReport] = []
    for piece in plan.pieces:
        if isinstance(piece, CopyPiece):
            shot = _label(timeline.clips[piece.clip])
            reports.append(PieceReport("copy", piece.film_start, piece.frames, (shot,)))
        else:
            shots = tuple(dict.fromkeys(_label(timeline.clips[r.clip]) for r in piece.runs))
            reports.append(
                PieceReport("encode", piece.film_start, piece.frames, shots, piece.reasons)
            )
    return tuple(reports)


__all__ = ["AssemblyReport", "PieceReport", "assemble", "index_videos", "measure_videos"]
