"""The film of P1-P3, cut three ways: ours, bare ffmpeg, and moviepy.

Ours is what the build's finish stage does for the cut: measure the takes' videos, lay out the
timeline (:func:`storyboard.cut.build_timeline`) and :func:`storyboard.cut.assemble` it. The
storyboard is compiled once, outside the timing: one shot per clip, each its own take, with
the clips' exact length, and a ``cut`` section for the crossfades.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bench import media
from storyboard.api import compile_storyboard
from storyboard.compiler.compile import Compiled
from storyboard.cut import (
    AssemblyReport,
    Timeline,
    assemble,
    build_timeline,
    index_videos,
    measure_videos,
)
from storyboard.cut.streams import VideoIndex

CROSSFADE = 0.5  # seconds, at every seam in P2
# What the cut's re-encoded pieces use for a storyboard's default quality (95): libx264
# veryfast, CRF crf_for(95) = 16, a GOP of 2 s, High profile; AAC at 192 kb/s.
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-g", "48", "-profile:v", "high"]
AAC = ["-c:a", "aac", "-b:a", "192k", "-ar", "48000", "-ac", "2"]


def storyboard_for(
    folder: Path, clips: Sequence[Path], seconds: float, *, crossfade: float = 0.0
) -> Compiled:
    """Compile a storyboard whose shot ``cK`` is clip ``K`` (one take each)."""
    lines = ["storyboard: 1", "title: Bench film", "defaults: {sound: true}", "shots:"]
    duration = round(seconds)
    lines += [
        f"  - {{id: c{k:03d}, duration: {duration}, prompt: clip {k}}}" for k in range(len(clips))
    ]
    if crossfade:
        lines += ["cut:", "  transition: crossfade", f"  transition_duration: {crossfade}"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "film.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return compile_storyboard(path)


def videos_of(compiled: Compiled, clips: Sequence[Path]) -> dict[str, Path]:
    """take id -> clip, in story order."""
    takes = {t.take.shots[0].id: t.id for t in compiled.takes}
    return {takes[f"c{k:03d}"]: clip for k, clip in enumerate(clips)}


def timeline_for(
    compiled: Compiled,
    clips: Sequence[Path],
    size: tuple[int, int],
    indexes: Mapping[Path, VideoIndex] | None = None,
) -> Timeline:
    videos = videos_of(compiled, clips)
    return build_timeline(compiled, videos, measure_videos(videos, indexes), size=size)


def ours(
    compiled: Compiled, clips: Sequence[Path], size: tuple[int, int], out: Path
) -> AssemblyReport:
    """Index, measure, lay out and assemble: the cut as a build runs it."""
    indexes = index_videos(clips)
    return assemble(timeline_for(compiled, clips, size, indexes), out, indexes=indexes)


def ffmpeg_concat_copy(clips: Sequence[Path], out: Path) -> None:
    """``ffmpeg -f concat -safe 0 -i LIST -c copy OUT``: the bare stream copy."""
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{c}'\n" for c in clips), encoding="utf-8")
    media.run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out)])


def xfade_graph(count: int, seconds: float, fade: float) -> str:
    """The filter graph that crossfades ``count`` clips of ``seconds`` by ``fade`` at every
    seam, video (``xfade``) and audio (``acrossfade``), chained."""
    parts = []
    video, audio = "[0:v]", "[0:a]"
    length = seconds
    for k in range(1, count):
        offset = length - fade
        v_out, a_out = f"[v{k}]", f"[a{k}]"
        parts.append(
            f"{video}[{k}:v]xfade=transition=fade:duration={fade}:offset={offset:.6f}{v_out}"
        )
        parts.append(f"{audio}[{k}:a]acrossfade=d={fade}:c1=tri:c2=tri{a_out}")
        video, audio = v_out, a_out
        length = offset + seconds
    if count == 1:
        return "[0:v]null[v0];[0:a]anull[a0]"
    return ";".join(parts)


def ffmpeg_xfade(clips: Sequence[Path], seconds: float, fade: float, out: Path) -> None:
    """The whole film through one ``xfade``/``acrossfade`` graph, re-encoded with the cut's
    encoder settings."""
    args: list[str] = []
    for clip in clips:
        args += ["-i", str(clip)]
    last = len(clips) - 1
    graph = xfade_graph(len(clips), seconds, fade)
    args += ["-filter_complex", graph, "-map", f"[v{last}]", "-map", f"[a{last}]"]
    args += [*X264, "-pix_fmt", "yuv420p", "-r", str(media.FPS), *AAC, str(out)]
    media.run_ffmpeg(args)


def moviepy_join(clips: Sequence[Path], out: Path) -> None:
    """moviepy 2: ``concatenate_videoclips`` + ``write_videofile`` with its default settings
    (only its progress bar is turned off)."""
    from moviepy import VideoFileClip, concatenate_videoclips

    sources = [VideoFileClip(str(c)) for c in clips]
    try:
        film = concatenate_videoclips(sources)
        film.write_videofile(str(out), logger=None)
        film.close()
    finally:
        for source in sources:
            source.close()
