"""Joining the film: video packets from copied GOPs and re-encoded pieces, plus the audio.

This is the stream-copy half of the cut. It reads packets with PyAV and writes them into the
output container without decoding, so it is as fast as the disk and its memory stays flat
(packets are streamed; video and audio are merged by time as they are read).

Why not ffmpeg's concat demuxer: with stream copy its ``outpoint`` drops packets by decode
time, so B-frames past the cut leak into the film (two extra frames per cut with x264's
defaults) and timestamps collide at the seam. Here each part is exactly the packets of the
frames ``[first, last)`` (whole closed GOPs, from :mod:`storyboard.cut.streams`), restamped:

- ``pts`` from the frame's place in the film, one frame = ``FRAME`` ticks of ``TIME_BASE``;
- ``dts = pts - (pts_src - dts_src) - (D_max - D_part)``, where ``D`` is how long before its
  first frame a part starts decoding (B-frame delay): all parts get the film's largest delay,
  so decode times keep increasing across seams even when encoders used different delays.

Where the parts' H.264 parameter sets (SPS/PPS, in their ``avcC``) differ from the film's (the
first part's), each part's are repeated in-band in front of each of its keyframes, as ffmpeg's
own concat (through ``h264_mp4toannexb``) does.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from storyboard.cut.streams import VideoIndex, parameter_sets
from storyboard.errors import BuildError
from storyboard.model import Format

TIME_BASE = Fraction(1, 12288)
FRAME = 512  # ticks of TIME_BASE per frame at 24 fps
CONTAINERS: dict[str, str] = {"MP4": "mp4", "MOV": "mov", "WEBM": "webm"}


@dataclass(frozen=True)
class Part:
    """Frames ``[first, last)`` of a file (cut points), shown from film frame ``film_start``."""

    index: VideoIndex
    first: int
    last: int
    film_start: int

    @property
    def frames(self) -> int:
        return self.last - self.first


def join(out: Path, fmt: Format, parts: Sequence[Part], audio: Path) -> None:
    """Write ``parts`` (in film order, end to end) and the audio track of ``audio`` to ``out``.

    Raises:
        BuildError: a file cannot be read or written, or timestamps cannot be made to work.
    """
    if not parts:
        raise BuildError("the cut has no video to join")
    options = {"movflags": "+faststart"} if fmt in ("MP4", "MOV") else {}
    try:
        with ExitStack() as stack:
            output = av.open(str(out), "w", format=CONTAINERS[fmt], options=options)
            stack.callback(output.close)
            template = stack.enter_context(av.open(str(parts[0].index.path)))
            video = output.add_stream_from_template(template.streams.video[0])
            video.time_base = TIME_BASE
            audio_in = stack.enter_context(av.open(str(audio)))
            sound = output.add_stream_from_template(audio_in.streams.audio[0])
            packets = heapq.merge(
                _video_packets(parts, video, bytes(parts[0].index.extradata)),
                _audio_packets(audio_in, sound),
                key=lambda item: item[0],
            )
            for _, packet in packets:
                output.mux(packet)
    except av.error.FFmpegError as exc:
        raise BuildError(f"the cut could not write '{out.name}': {exc}") from exc


def _delay(part: Part) -> int:
    """Ticks from a part's first decode time to its first frame's presentation."""
    seconds = part.index.delays.get(part.first, Fraction(0))
    return round(seconds / TIME_BASE)


def _video_packets(
    parts: Sequence[Part], stream: Any, film_extradata: bytes
) -> Iterator[tuple[Fraction, Any]]:
    """``(decode time, packet)`` of every video packet of the film, restamped."""
    delay = max(_delay(p) for p in parts)
    # Where parameter sets differ anywhere, every keyframe carries its own: a player that
    # seeks into any GOP then decodes it with the right ones.
    inband = any(p.index.codec == "h264" and p.index.extradata != film_extradata for p in parts)
    last_dts: int | None = None
    for part in parts:
        index = part.index
        shift = delay - _delay(part)
        prefix = parameter_sets(index.extradata) if inband and index.codec == "h264" else b""
        count = 0
        with av.open(str(index.path)) as container:
            source = container.streams.video[0]
            if part.first > 0:
                container.seek(index.pts_of(part.first), stream=source, backward=True)
            for packet in container.demux(source):
                if packet.size == 0 or packet.pts is None:
                    continue
                frame = index.frame_of(int(packet.pts))
                if frame >= part.last:
                    break
                if frame < part.first:
                    continue
                pts = (part.film_start + frame - part.first) * FRAME
                dts_src = packet.dts if packet.dts is not None else packet.pts
                offset = round((int(packet.pts) - int(dts_src)) * index.time_base / TIME_BASE)
                dts = pts - offset - shift
                if last_dts is not None and dts <= last_dts:
                    raise BuildError(
                        f"the cut cannot join '{index.path.name}' at film frame "
                        f"{part.film_start}: its decode timestamps would go backwards"
                    )
                last_dts = dts
                if prefix and packet.is_keyframe:
                    packet = _with_prefix(packet, prefix)
                packet.pts, packet.dts, packet.duration = pts, dts, FRAME
                packet.time_base = TIME_BASE
                packet.stream = stream
                count += 1
                yield Fraction(dts) * TIME_BASE, packet
        if count != part.frames:
            raise BuildError(
                f"the cut expected frames {part.first}..{part.last} of '{index.path.name}' "
                f"and found {count}"
            )


def _with_prefix(packet: Any, prefix: bytes) -> Any:
    copy = av.Packet(prefix + bytes(packet))
    copy.is_keyframe = True
    return copy


def _audio_packets(container: Any, stream: Any) -> Iterator[tuple[Fraction, Any]]:
    """``(decode time, packet)`` of the audio track, as encoded (priming included)."""
    source = container.streams.audio[0]
    for packet in container.demux(source):
        if packet.size == 0 or packet.dts is None:
            continue
        time = Fraction(int(packet.dts)) * packet.time_base
        packet.stream = stream
        yield time, packet


__all__ = ["CONTAINERS", "FRAME", "TIME_BASE", "Part", "join"]
