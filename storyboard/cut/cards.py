"""Rendering the film's text: title cards and credits as video, captions and subtitles as
pictures the re-encoder draws over the frames.

Place in the pipeline: the cut, between indexing the takes and planning what to copy
(:func:`storyboard.cut.assemble.assemble`). A card is drawn once with moviepy
(:func:`storyboard.cut.text.card_frame`) and encoded by ffmpeg at the film's codec
parameters: the codec, profile, level and colour tags of the film's reference take, its
quality and keyframe interval (:func:`storyboard.cut.ffmpeg.video_codec_args`). Its packets
then join the copied takes' as they are, so a title card costs its own frames and nothing
around it is re-encoded. An overlay is an RGBA picture (:func:`storyboard.cut.text.
overlay_image`) that the re-encoder of the pieces under it draws (see
:func:`storyboard.cut.ffmpeg.encode_command`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from msgspec.structs import replace
from PIL import Image

from storyboard.core.errors import BuildError
from storyboard.cut.ffmpeg import Drawn, Encoder, PipeEncoder, ffmpeg_exe, video_codec_args
from storyboard.cut.plan import choose_reference, film_codec
from storyboard.cut.streams import VideoIndex, index_video
from storyboard.cut.text import CAPTION_BOX, CARD_BOX, box, card_frame, overlay_image
from storyboard.cut.timeline import FPS, CardSpec, Timeline


def render_cards(
    timeline: Timeline,
    indexes: dict[Path, VideoIndex],
    work: Path,
    encoder: Encoder,
) -> Timeline:
    """Render every card of ``timeline`` into ``work`` and index it (into ``indexes``).

    Returns:
        The timeline with each card clip's ``source`` the file rendered for it.
    """
    cards = [clip for clip in timeline.clips if clip.card is not None]
    if not cards:
        return timeline
    takes = replace(timeline, clips=tuple(c for c in timeline.clips if c.card is None))
    reference, _ = choose_reference(takes, indexes)
    codec = film_codec(timeline)
    clips = list(timeline.clips)
    for clip in cards:
        assert clip.card is not None
        out = work / f"card-{clip.index:04d}.{'webm' if codec == 'vp9' else 'mp4'}"
        render_card(clip.card, clip.source_frames, out, timeline, reference, encoder)
        index = index_video(out)
        if index.frame_count != clip.source_frames:
            raise BuildError(
                f"rendering {clip.name} gave {index.frame_count} frames, not {clip.source_frames}"
            )
        indexes[out] = index
        clips[clip.index] = replace(clip, source=out)
    return replace(timeline, clips=tuple(clips))


def render_card(
    card: CardSpec,
    frames: int,
    out: Path,
    timeline: Timeline,
    reference: VideoIndex | None,
    encoder: Encoder,
) -> None:
    """Encode ``frames`` frames of ``card`` into ``out`` at the film's codec parameters."""
    size = timeline.size
    picture = card_frame(card.text, card.look, size, card.background, box(size, CARD_BOX)[0])
    codec = film_codec(timeline)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}"]
    cmd += ["-framerate", str(FPS), "-i", "pipe:0", "-vf", _to_yuv(reference)]
    cmd += ["-frames:v", str(frames), "-an", "-fps_mode:v", "passthrough"]
    cmd += ["-enc_time_base:v", f"1/{FPS}"]
    cmd += video_codec_args(timeline, codec, reference, encoder)
    cmd += ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]
    cmd += ["-f", "webm" if codec == "vp9" else "mp4", str(out)]
    data = np.ascontiguousarray(picture, dtype=np.uint8).tobytes()
    with PipeEncoder(cmd, f"rendering {card.name}") as pipe:
        for _ in range(frames):
            pipe.write(data)


def _to_yuv(reference: VideoIndex | None) -> str:
    """The RGB -> YUV conversion matching the colours the film is tagged with."""
    color_range, space = reference.color[:2] if reference is not None else (0, 2)
    matrix = {1: "bt709", 5: "bt601", 6: "bt601", 9: "bt2020"}.get(space, "bt601")
    full = "pc" if color_range == 2 else "tv"
    return f"scale=out_color_matrix={matrix}:out_range={full},format=yuv420p"


def render_overlays(timeline: Timeline, work: Path) -> Drawn:
    """Draw every overlay of ``timeline`` as an RGBA PNG in ``work``; by overlay index, the
    picture and where it goes."""
    drawn: dict[int, tuple[Path, tuple[int, int]]] = {}
    width = box(timeline.size, CAPTION_BOX)[0]
    for k, overlay in enumerate(timeline.overlays):
        rgba, corner = overlay_image(
            overlay.text, overlay.look, timeline.size, overlay.position, width
        )
        path = work / f"overlay-{k:04d}.png"
        Image.fromarray(rgba).save(path)  # (h, w, 4) uint8: RGBA
        drawn[k] = (path, corner)
    return drawn


__all__ = ["render_card", "render_cards", "render_overlays"]
