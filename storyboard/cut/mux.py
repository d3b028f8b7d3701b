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
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from storyboard.core.errors import BuildError
from storyboard.cut.streams import VideoIndex, open_packets, parameter_sets
from storyboard.language.model import Format

TIME_BASE = Fraction(1, 12288)
FRAME = 512  # ticks of TIME_BASE per frame at 24 fps
CLOCK = 1_536_000
"""Ticks per second of the times packets are merged by: video (1/12288 s) and 48 kHz audio
times are whole numbers of them."""
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


AudioPackets = Callable[[Any], Iterator[tuple[int, Any]]]
"""Adds the film's audio stream to an output container; yields its packets with their decode
times in :data:`CLOCK` ticks. An item whose packet is a function is a promise, not a packet:
the next packet, at that time, is still being encoded, and the function says whether it is
ready; the join writes video packets meanwhile (see :data:`LOOKAHEAD`), then asks again."""

LOOKAHEAD = 4 * CLOCK
"""How far (4 s of film) the join writes video ahead of sound still being encoded. The
muxer puts the packets back in decode-time order (it holds them until every stream has one,
up to its 10 s ``max_interleave_delta``), so the film's bytes are the same; the join just does
not sit idle while the seams' sound is encoded (P1)."""


INDEX_ROOM = 64 << 10
"""Bytes at the start of an MP4 or MOV film kept for its index (``moov``: the tracks'
headers and tables), beyond :data:`INDEX_BYTES_PER_PACKET` for each packet."""
INDEX_BYTES_PER_PACKET = 64
"""The most one packet adds to the index: its size (``stsz``, 4 bytes), duration and
composition offset (``stts``, ``ctts``, 8 each), whether it is a keyframe and what depends on
it (``stss`` 4, ``sdtp`` 1), and, were it a chunk of its own, its offset (``co64``, 8), chunk
entry (``stsc``, 12) and sample group (``sbgp``, 8): 53 bytes. Packets share entries: P1's
film of 6,800 packets has an index of 60 kB, 9 bytes a packet."""


def join(
    out: Path,
    fmt: Format,
    parts: Sequence[Part],
    audio: Path | AudioPackets,
    subtitles: AudioPackets | None = None,
    *,
    packets: int | None = None,
) -> None:
    """Write ``parts`` (in film order, end to end) and the audio track to ``out``.

    ``audio`` is a file whose first audio stream is copied, or a function that adds the
    film's audio stream and yields its packets (see :mod:`storyboard.cut.sound`).
    ``subtitles``: likewise for a subtitle track (:func:`storyboard.cut.subtitles.track`).

    An MP4 or MOV film has its index at its start, where a player reading it over the
    network looks first. ``packets``, if given, is at most how many packets ``audio`` (when a
    function) and ``subtitles`` give: then the index is written into room kept for it at the
    start (:func:`index_room`); else it is moved there once the film is written
    (``faststart``: a second pass over the whole film, 5% of P1's join).

    Raises:
        BuildError: a file cannot be read or written, or timestamps cannot be made to work.
    """
    if not parts:
        raise BuildError("the cut has no video to join")
    try:
        with ExitStack() as stack:
            audio_in = stack.enter_context(av.open(str(audio))) if isinstance(audio, Path) else None
            if audio_in is not None and packets is not None:
                copied = audio_in.streams.audio[0].frames  # 0 where the container does not say
                packets = packets + copied if copied > 0 else None
            options = _options(fmt, parts, packets)
            output = av.open(str(out), "w", format=CONTAINERS[fmt], options=options)
            stack.callback(output.close)
            template = stack.enter_context(open_packets(parts[0].index.path))
            video = output.add_stream_from_template(template.streams.video[0])
            video.time_base = TIME_BASE
            if audio_in is not None:
                sound = output.add_stream_from_template(audio_in.streams.audio[0])
                sound_packets = _audio_packets(audio_in, sound)
            else:
                assert not isinstance(audio, Path)
                sound_packets = audio(output)
            pictures = _video_packets(parts, video, bytes(parts[0].index.extradata))
            if subtitles is not None:  # ready packets, like the picture's: merged by time
                pictures = heapq.merge(pictures, subtitles(output), key=lambda item: item[0])
            _merge(output, pictures, sound_packets)
    except av.error.FFmpegError as exc:
        raise BuildError(f"the cut could not write '{out.name}': {exc}") from exc


def index_room(packets: int) -> int:
    """Bytes to keep at an MP4 or MOV film's start for the index of ``packets`` packets."""
    return INDEX_ROOM + INDEX_BYTES_PER_PACKET * packets


def _options(fmt: Format, parts: Sequence[Part], packets: int | None) -> dict[str, str]:
    """The muxer's options: where an MP4 or MOV film's index goes (see :func:`join`)."""
    if fmt not in ("MP4", "MOV"):
        return {}
    if packets is None:
        return {"movflags": "+faststart"}
    return {"moov_size": str(index_room(packets + sum(p.frames for p in parts)))}


def _merge(output: Any, video: Iterator[tuple[int, Any]], sound: Iterator[tuple[int, Any]]) -> None:
    """Mux both streams by decode time (video first at equal times), writing video ahead
    while a promised sound packet is not ready (see :data:`AudioPackets`)."""
    pending = next(video, None)
    for time, packet in sound:
        if callable(packet):
            while pending is not None and pending[0] <= time + LOOKAHEAD and not packet():
                output.mux(pending[1])
                pending = next(video, None)
            continue
        while pending is not None and pending[0] <= time:
            output.mux(pending[1])
            pending = next(video, None)
        output.mux(packet)
    while pending is not None:
        output.mux(pending[1])
        pending = next(video, None)


def _delay(part: Part) -> int:
    """Ticks from a part's first decode time to its first frame's presentation."""
    seconds = part.index.delays.get(part.first, Fraction(0))
    return round(seconds / TIME_BASE)


def _video_packets(
    parts: Sequence[Part], stream: Any, film_extradata: bytes
) -> Iterator[tuple[int, Any]]:
    """``(decode time in CLOCK ticks, packet)`` of every video packet of the film, restamped."""
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
        _, ticks_of = _clocks(index)
        read = _read_places if index.places is not None else _demux_part
        for frame, pts_src, dts_src, packet in read(part):
            pts = (part.film_start + frame - part.first) * FRAME
            dts = pts - ticks_of(pts_src - dts_src) - shift
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
            yield dts * (CLOCK // TIME_BASE.denominator), packet
        if count != part.frames:
            raise BuildError(
                f"the cut expected frames {part.first}..{part.last} of '{index.path.name}' "
                f"and found {count}"
            )


PartPackets = Iterator[tuple[int, int, int, Any]]
"""``(frame, source pts, source dts, packet)`` of a part's packets, in decode order."""


def _read_places(part: Part) -> PartPackets:
    """A part's packets read straight from their byte ranges (MP4, MOV): a part is whole
    closed GOPs, so its packets are decode indexes ``first .. last`` (see streams)."""
    index = part.index
    assert index.places is not None
    try:
        handle = open(index.path, "rb")  # noqa: SIM115 (closed below, also when abandoned)
    except OSError as exc:
        raise BuildError(f"the cut cannot read '{index.path}': {exc}") from exc
    with handle:
        fd = handle.fileno()
        for i in range(part.first, min(part.last, len(index.places))):
            offset, size, pts, dts = index.places[i]
            packet = read_packet(fd, offset, size)
            if packet is None:
                raise BuildError(f"the cut cannot read '{index.path}': it is shorter than indexed")
            packet.is_keyframe = i in index.keyframes
            yield index.ranks[i], pts, dts, packet


def read_packet(fd: int, offset: int, size: int) -> Any:
    """A packet of the ``size`` bytes at ``offset`` of an open file, read straight into the
    packet's own buffer; None if the file ends sooner."""
    packet = av.Packet(size)
    if os.preadv(fd, [memoryview(packet)], offset) != size:
        return None
    return packet


def _demux_part(part: Part) -> PartPackets:
    """A part's packets, demuxed (any container)."""
    index = part.index
    frame_of, _ = _clocks(index)
    with open_packets(index.path) as container:
        source = container.streams.video[0]
        if part.first > 0:
            container.seek(index.pts_of(part.first), stream=source, backward=True)
        for packet in container.demux(source):
            if packet.size == 0 or packet.pts is None:
                continue
            pts_src = int(packet.pts)
            frame = frame_of(pts_src)
            if frame >= part.last:
                break
            if frame < part.first:
                continue
            dts_src = int(packet.dts) if packet.dts is not None else pts_src
            yield frame, pts_src, dts_src, packet


def _clocks(index: VideoIndex) -> tuple[Callable[[int], int], Callable[[int], int]]:
    """For a source: its timestamp -> the frame it shows, and its ticks -> film ticks (in
    whole numbers where its time base allows, the common case, else exactly)."""
    per_frame = 1 / (index.time_base * index.fps)  # source ticks per frame
    scale = index.time_base / TIME_BASE  # film ticks per source tick
    start = index.start_pts
    if per_frame.denominator == 1 and per_frame > 0:
        step = int(per_frame)

        def frame_of(pts: int) -> int:
            frame, rest = divmod(pts - start, step)
            if 2 * rest > step or (2 * rest == step and frame % 2):  # as round(): half to even
                frame += 1
            return frame

    else:
        frame_of = index.frame_of
    if scale.denominator == 1:
        factor = int(scale)

        def ticks_of(ticks: int) -> int:
            return ticks * factor

    else:

        def ticks_of(ticks: int) -> int:
            return round(ticks * scale)

    return frame_of, ticks_of


def _with_prefix(packet: Any, prefix: bytes) -> Any:
    copy = av.Packet(prefix + bytes(packet))
    copy.is_keyframe = True
    return copy


def _audio_packets(container: Any, stream: Any) -> Iterator[tuple[int, Any]]:
    """``(decode time in CLOCK ticks, packet)`` of the audio track, as encoded (priming
    included)."""
    source = container.streams.audio[0]
    for packet in container.demux(source):
        if packet.size == 0 or packet.dts is None:
            continue
        time = round(Fraction(int(packet.dts)) * packet.time_base * CLOCK)
        packet.stream = stream
        yield time, packet


__all__ = [
    "CLOCK",
    "CONTAINERS",
    "FRAME",
    "LOOKAHEAD",
    "TIME_BASE",
    "AudioPackets",
    "Part",
    "index_room",
    "join",
    "read_packet",
]
