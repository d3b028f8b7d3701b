"""What the cut needs to know about a video before it decides what to copy: its packets.

:func:`index_video` reads a file's packets once (no decoding) and records, per video packet
in decode order, the frame it shows (its rank in presentation order), plus the codec
parameters that decide whether its packets can be copied into the film as they are
(:meth:`VideoIndex.copy_key`). It also finds the *cut points*: frames where a copy may start
or stop because a closed GOP starts there (an IDR frame for H.264, a keyframe for VP9, with
no packet on either side referring across it).

An MP4 or MOV file's packets are read from its sample tables (:mod:`storyboard.cut.tables`),
so only the keyframes' bytes and the first few packets (to check the tables) are read; any
other file, or one whose tables do not agree with the demuxer, is demuxed with PyAV.

The same pass records the first audio stream's packets (:class:`AudioTrack`), so the film's
sound can reuse the takes' own AAC frames (see :mod:`storyboard.cut.sound`).

The same module reads an encoded H.264 ``avcC`` record (:func:`parameter_sets`), so the joiner
can repeat a piece's SPS/PPS in-band where they differ from the film's.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

import storyboard.cut.tables as tables
from storyboard.core.errors import BuildError
from storyboard.media.containers import (
    QUICK_OPEN,
    aac_config,
    aac_described,
    byte_ranges,
    open_packets,
    open_sound,
)

COPYABLE_CODECS = frozenset({"h264", "vp9"})


@dataclass(frozen=True)
class AudioTrack:
    """A file's first audio stream, as much as copying its packets needs.

    Attributes:
        codec, profile: ``aac`` and ``LC`` for the streams the film can reuse.
        sample_rate, channels: its format.
        extradata: the codec's global header (the AAC AudioSpecificConfig).
        frame_size: samples per packet (1024 for AAC).
        first_pts: the first packet's timestamp, in samples (negative: the encoder's priming).
        frames: how many packets from the first one are whole ``frame_size`` frames, each
            starting where the one before it ends, with timestamps in samples (0 when the
            stream cannot be copied by frames at all).
        places: where those frames' bytes are in the file, ``(offset, size)`` each (MP4 and
            MOV files, whose packets are plain byte ranges), else None.
    """

    codec: str
    profile: str | None
    sample_rate: int
    channels: int
    extradata: bytes
    frame_size: int
    first_pts: int
    frames: int
    places: tuple[tuple[int, int], ...] | None = None


@dataclass(frozen=True)
class VideoIndex:
    """A video file's first video stream, packet by packet.

    Attributes:
        path: the file.
        codec: the codec name (``h264``, ``vp9``, ...).
        width, height: the coded picture size.
        pix_fmt: the pixel format (``yuv420p``, ...), if known.
        profile, level: the codec's profile name and level number, if known.
        sar: the sample aspect ratio (``1`` for square pixels).
        fps: the nominal frame rate.
        constant_rate: every frame lasts exactly ``1/fps`` and no timestamp is missing.
        frame_count: video frames in the file.
        offset: seconds from the file's start time to the first video frame.
        extradata: the codec's global header (``avcC`` for H.264 in MP4), may be empty.
        ranks: per packet in decode order, the 0-based index of the frame it shows.
        cut_points: frames where a copied run may start or end (``frame_count`` included).
        delays: per cut point (but the end), the seconds its keyframe is decoded before it is
            shown (``pts - dts``; B-frames make it positive).
        color: ``(range, space, primaries, transfer)`` as FFmpeg numbers.
        time_base: the stream's time base.
        start_pts: the timestamp of frame 0, in ``time_base``.
        audio: the file's first audio stream, if it has one.
        places: per packet in decode order, ``(offset, size, pts, dts)``: where its bytes are in
            the file (MP4 and MOV files, whose packets are plain byte ranges, so the joiner
            reads them without demuxing again), else None.
        keyframes: the decode indexes of the packets flagged as keyframes.
    """

    path: Path
    codec: str
    width: int
    height: int
    pix_fmt: str | None
    profile: str | None
    level: int | None
    sar: Fraction
    fps: Fraction
    constant_rate: bool
    frame_count: int
    offset: Fraction
    extradata: bytes
    ranks: tuple[int, ...]
    cut_points: frozenset[int]
    delays: dict[int, Fraction]
    color: tuple[int, int, int, int]
    time_base: Fraction = Fraction(1, 1)
    start_pts: int = 0
    audio: AudioTrack | None = None
    places: tuple[tuple[int, int, int, int], ...] | None = None
    keyframes: frozenset[int] = frozenset()

    def frame_of(self, pts: int) -> int:
        """The frame a timestamp shows (constant-rate streams)."""
        return round((pts - self.start_pts) * self.time_base * self.fps)

    def pts_of(self, frame: int) -> int:
        """The timestamp of a frame (constant-rate streams)."""
        return self.start_pts + round(frame / (self.fps * self.time_base))

    def copy_key(self) -> tuple[object, ...]:
        """What two videos must share for their packets to be joined into one stream."""
        return (self.codec, self.width, self.height, self.pix_fmt, self.profile, self.level)

    def nal_length_size(self) -> int | None:
        """Bytes of each NAL unit's length prefix (H.264 in MP4), if this is one."""
        if self.codec != "h264" or len(self.extradata) < 7 or self.extradata[0] != 1:
            return None
        return (self.extradata[4] & 0x03) + 1

    def first_cut_at_or_after(self, frame: int) -> int | None:
        after = [c for c in self.cut_points if c >= frame]
        return min(after) if after else None

    def last_cut_at_or_before(self, frame: int) -> int | None:
        before = [c for c in self.cut_points if c <= frame]
        return max(before) if before else None


def index_video(path: Path) -> VideoIndex:
    """Demux ``path`` and index its first video stream (see :class:`VideoIndex`).

    Raises:
        BuildError: the file cannot be read or has no video stream.
    """
    try:
        container = _open_for_index(path)
    except (av.error.FFmpegError, OSError) as exc:
        raise BuildError(f"the cut cannot read '{path}': {exc}") from exc
    try:
        if not container.streams.video:
            raise BuildError(f"the cut cannot use '{path}': it has no video stream")
        stream = container.streams.video[0]
        sound = container.streams.audio[0] if container.streams.audio else None
        try:
            return _index(path, container, stream, sound)
        except av.error.FFmpegError as exc:
            raise BuildError(f"the cut cannot read '{path}': {exc}") from exc
    finally:
        container.close()


def _open_for_index(path: Path) -> Any:
    """Open ``path`` for :func:`index_video`, probing no packets where the headers tell all.

    Probing (``avformat_find_stream_info``) reads and decodes the first packets of every
    stream: about 8 ms for a 1080p take, most of indexing it. An MP4 or MOV file's headers
    hold everything the index needs but the AAC frame size and profile, which its
    AudioSpecificConfig holds (:func:`aac_config`), and the picture's pixel format, which
    its parameter sets decide: it is learnt by probing one file with the same ones
    (:func:`_pixel_format`). Any other file is probed as usual.
    """
    container = av.open(str(path), options=QUICK_OPEN)
    if _described(container):
        return container
    container.close()
    return av.open(str(path))


def _described(container: Any) -> bool:
    if not byte_ranges(container) or not container.streams.video:
        return False
    video = container.streams.video[0].codec_context
    if not (video.width and video.height and video.extradata):
        return False
    return not container.streams.audio or aac_described(container.streams.audio[0])


_PIXEL_FORMATS: dict[tuple[str, bytes], str | None] = {}
"""Pixel format by codec and parameter sets (``avcC``), learnt by probing a file."""


def _pixel_format(path: Path, ctx: Any) -> str | None:
    """The pixel format of a stream opened without probing: a stream's parameter sets (the
    SPS: chroma format, bit depth, full range) decide it, so one probe per set is enough."""
    if ctx.pix_fmt is not None:
        return str(ctx.pix_fmt)
    key = (str(ctx.name), bytes(ctx.extradata or b""))
    if key not in _PIXEL_FORMATS:
        with av.open(str(path)) as probed:
            found = probed.streams.video[0].codec_context.pix_fmt
        if len(_PIXEL_FORMATS) > 256:
            _PIXEL_FORMATS.clear()
        _PIXEL_FORMATS[key] = None if found is None else str(found)
    return _PIXEL_FORMATS[key]


def _index(path: Path, container: Any, stream: Any, sound: Any) -> VideoIndex:
    ctx = stream.codec_context
    codec = str(ctx.name)
    time_base: Fraction = stream.time_base
    nal_size = _nal_size(bytes(ctx.extradata or b""), codec)
    pts_list: list[int] = []
    dts_missing = False
    key_packets: list[tuple[int, bool]] = []  # (decode index, usable as a cut) per keyframe
    delays: dict[int, Fraction] = {}
    ranges = byte_ranges(container)
    audio = _AudioScan(sound, ranges)
    places: list[tuple[int, int, int, int]] | None = [] if ranges else None
    packets: Iterable[Packet] | None = None
    if ranges:
        packets = _from_tables(path, container, stream, sound)
    if packets is None:
        packets = _demuxed(container, stream, sound) if not ranges else _demux_again(path)
    for kind, pos, size, pts, dts, duration, keyframe, data in packets:
        if kind == "audio":
            audio.add(pts, duration, pos, size)
            continue
        if places is not None:
            if pos is None or pos < 0 or pts is None:
                places = None
            else:
                dts_src = dts if dts is not None else pts
                places.append((pos, size, pts, dts_src))
        if pts is None:
            dts_missing = True
            pts_list.append(pts_list[-1] + 1 if pts_list else 0)
            continue
        if keyframe:
            usable = codec != "h264" or _is_idr(data(), nal_size)
            key_packets.append((len(pts_list), usable))
            delays[len(pts_list)] = (pts - (dts if dts is not None else pts)) * time_base
        pts_list.append(pts)
    count = len(pts_list)
    order = sorted(range(count), key=lambda i: pts_list[i])
    ranks = [0] * count
    for rank, index in enumerate(order):
        ranks[index] = rank
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(24)
    fps = Fraction(rate)
    sorted_pts = [pts_list[i] for i in order]
    constant = not dts_missing and count > 0 and _constant(sorted_pts, time_base, fps)
    cuts = _cut_points(ranks, key_packets) if constant else set()
    cuts.add(count)
    start = container.start_time  # microseconds, or None
    first = Fraction(sorted_pts[0]) * time_base if count else Fraction(0)
    offset = first - (Fraction(start, 1_000_000) if start is not None else first)
    sar = stream.sample_aspect_ratio or ctx.sample_aspect_ratio
    profile = ctx.profile
    return VideoIndex(
        path=path,
        codec=codec,
        width=int(ctx.width),
        height=int(ctx.height),
        pix_fmt=_pixel_format(path, ctx),
        profile=None if profile is None else str(profile),
        level=_int_or_none(getattr(ctx, "level", None)),
        sar=Fraction(sar) if sar else Fraction(1),
        fps=fps,
        constant_rate=constant,
        frame_count=count,
        offset=max(offset, Fraction(0)),
        extradata=bytes(ctx.extradata or b""),
        ranks=tuple(ranks),
        cut_points=frozenset(cuts),
        delays={cut: delays[cut] for cut in cuts if cut in delays},
        color=(
            _int_or_none(getattr(ctx, "color_range", None)) or 0,
            _int_or_none(getattr(ctx, "colorspace", None)) or 2,
            _int_or_none(getattr(ctx, "color_primaries", None)) or 2,
            _int_or_none(getattr(ctx, "color_trc", None)) or 2,
        ),
        time_base=time_base,
        start_pts=sorted_pts[0] if count else 0,
        audio=audio.track(),
        places=None if places is None else tuple(places),
        keyframes=frozenset(i for i, _ in key_packets),
    )


Packet = tuple[str, Any, int, Any, Any, int, bool, Callable[[], bytes]]
"""``(kind, pos, size, pts, dts, duration, keyframe, data)`` of a packet in file order:
``kind`` is ``video`` or ``audio``; ``pos``, ``pts`` and ``dts`` may be None; ``data()`` reads
its bytes."""


def _demuxed(container: Any, stream: Any, sound: Any) -> Iterator[Packet]:
    """The packets of ``stream`` and ``sound``, demuxed (any container; reads every byte)."""
    for packet in container.demux(stream if sound is None else [stream, sound]):
        if packet.size == 0:
            continue  # the flush packet at the end
        kind = "audio" if sound is not None and packet.stream_index == sound.index else "video"
        yield (
            kind,
            None if packet.pos is None else int(packet.pos),
            int(packet.size),
            None if packet.pts is None else int(packet.pts),
            None if packet.dts is None else int(packet.dts),
            int(packet.duration or 0),
            bool(packet.is_keyframe),
            functools.partial(bytes, packet),
        )


def _demux_again(path: Path) -> Iterator[Packet]:
    """:func:`_demuxed` from a fresh opening (checking the tables read the first packets)."""
    with av.open(str(path)) as container:
        sound = container.streams.audio[0] if container.streams.audio else None
        yield from _demuxed(container, container.streams.video[0], sound)


def _from_tables(path: Path, container: Any, stream: Any, sound: Any) -> list[Packet] | None:
    """The same packets from the file's sample tables (:mod:`storyboard.cut.tables`), reading
    only the keyframes' bytes; None where the tables cannot be trusted."""
    streams = [stream] if sound is None else [stream, sound]
    found = tables.samples(str(path), container, streams)
    if found is None or not tables.agrees(container, streams, found):
        return None
    out: list[Packet] = [
        ("video", v.pos, v.size, v.pts, v.dts, v.duration, v.keyframe,
         functools.partial(_read_range, path, v.pos, v.size))
        for v in found[0]
    ]  # fmt: skip
    if sound is not None:
        out += [("audio", a.pos, a.size, a.pts, a.dts, a.duration, False, bytes) for a in found[1]]
    return out


def _read_range(path: Path, pos: int, size: int) -> bytes:
    """``size`` bytes of ``path`` from ``pos`` (read only when asked: a keyframe's, to tell
    an IDR)."""
    with open(path, "rb") as handle:
        return os.pread(handle.fileno(), size, pos)


class _AudioScan:
    """Follows an audio stream's packets during the index's single demuxing pass."""

    def __init__(self, stream: Any, byte_ranges: bool) -> None:
        self.stream = stream
        self.first: int | None = None
        self.frames = 0
        self.places: list[tuple[int, int]] | None = [] if byte_ranges else None
        self.broken = stream is None
        self.profile: str | None = None
        if stream is not None:
            ctx = stream.codec_context
            self.size = int(ctx.frame_size or 0)
            self.profile = None if ctx.profile is None else str(ctx.profile)
            config = aac_config(bytes(ctx.extradata or b"")) if ctx.name == "aac" else None
            if config is not None and (not self.size or self.profile is None):
                self.profile, self.size = config  # not probed: from the stream's header
            rate = int(ctx.sample_rate or 0)
            self.broken = self.size <= 0 or stream.time_base != Fraction(1, rate or 1)

    def add(self, pts: int | None, duration: int, pos: int | None, size: int) -> None:
        if self.broken:
            return
        if pts is None or duration != self.size:
            self.broken = True  # a short (last) or unstamped packet: nothing after it is used
            return
        if self.first is None:
            self.first = pts
        if pts != self.first + self.frames * self.size:
            self.broken = True
            return
        self.frames += 1
        if self.places is not None:
            if pos is None or pos < 0:
                self.places = None
            else:
                self.places.append((pos, size))

    def track(self) -> AudioTrack | None:
        if self.stream is None:
            return None
        ctx = self.stream.codec_context
        layout = getattr(ctx, "layout", None)
        return AudioTrack(
            codec=str(ctx.name),
            profile=self.profile,
            sample_rate=int(ctx.sample_rate or 0),
            channels=int(getattr(layout, "nb_channels", 0) or 0),
            extradata=bytes(ctx.extradata or b""),
            frame_size=self.size,
            first_pts=self.first or 0,
            frames=self.frames if self.first is not None else 0,
            places=None if self.places is None else tuple(self.places),
        )


def _int_or_none(value: object) -> int | None:
    try:
        return None if value is None else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _constant(sorted_pts: list[int], time_base: Fraction, fps: Fraction) -> bool:
    """Every frame lasts exactly ``1/fps`` (up to the time base's rounding)."""
    if fps <= 0:
        return False
    step = 1 / (fps * time_base)
    if step.denominator == 1:  # whole ticks per frame (the usual case): exact integers
        whole = int(step)
        return all(pts - sorted_pts[0] == k * whole for k, pts in enumerate(sorted_pts))
    for k, pts in enumerate(sorted_pts):
        if abs(pts - sorted_pts[0] - k * step) >= Fraction(1, 2):
            return False
    return True


def _cut_points(ranks: list[int], key_packets: list[tuple[int, bool]]) -> set[int]:
    """Frames where a closed GOP starts: decode index ``i`` of a usable keyframe such that the
    packets before it show exactly frames ``0..i-1`` and the keyframe shows frame ``i``."""
    prefix_max = -1
    keys = dict(key_packets)
    cuts: set[int] = set()
    for i, rank in enumerate(ranks):
        if keys.get(i) and rank == i and prefix_max == i - 1:
            cuts.add(i)
        prefix_max = max(prefix_max, rank)
    return cuts


def _nal_size(extradata: bytes, codec: str) -> int | None:
    if codec != "h264" or len(extradata) < 7 or extradata[0] != 1:
        return None
    return (extradata[4] & 0x03) + 1


def nal_types(data: bytes, nal_size: int | None) -> list[int]:
    """The NAL unit types in one H.264 packet (length-prefixed, else Annex B)."""
    types: list[int] = []
    if nal_size is not None:
        pos = 0
        while pos + nal_size < len(data):
            length = int.from_bytes(data[pos : pos + nal_size], "big")
            pos += nal_size
            if length <= 0 or pos + length > len(data):
                break
            types.append(data[pos] & 0x1F)
            pos += length
        return types
    pos = data.find(b"\x00\x00\x01")
    while pos != -1 and pos + 3 < len(data):
        types.append(data[pos + 3] & 0x1F)
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return types


def _is_idr(data: bytes, nal_size: int | None) -> bool:
    """An H.264 packet whose picture is an IDR (decoding may start there, nothing before it
    is referred to after it)."""
    return 5 in nal_types(data, nal_size)


def parameter_sets(extradata: bytes, nal_size: int = 4) -> bytes:
    """The SPS and PPS of an ``avcC`` record as length-prefixed NAL units, ready to put in
    front of a keyframe packet. Empty if ``extradata`` is not an ``avcC`` record."""
    if len(extradata) < 7 or extradata[0] != 1:
        return b""
    out = bytearray()
    pos = 5
    for mask in (0x1F, 0xFF):  # the SPS count has 3 reserved bits, the PPS count none
        if pos >= len(extradata):
            break
        count = extradata[pos] & mask
        pos += 1
        for _ in range(count):
            length = int.from_bytes(extradata[pos : pos + 2], "big")
            unit = extradata[pos + 2 : pos + 2 + length]
            out += length.to_bytes(nal_size, "big") + unit
            pos += 2 + length
    return bytes(out)


__all__ = [
    "COPYABLE_CODECS",
    "AudioTrack",
    "VideoIndex",
    "index_video",
    "nal_types",
    "open_packets",
    "open_sound",
    "parameter_sets",
]
