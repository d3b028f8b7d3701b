"""An MP4 or MOV file's packets from its sample tables, without reading its media.

Indexing a take by demuxing it reads every byte of it (the packets come with their data),
which is most of what indexing costs. An MP4 file's header (``moov``) already says where
every packet is and when it is decoded; libavformat reads that into each stream's index
(PyAV's ``index_entries``: offset, size, decode time, keyframe flag), but not when each
packet is *shown* nor how long it lasts. Those are two tables of the same header, ``ctts``
(presentation minus decode time, per sample) and ``stts`` (durations), read here.

:func:`samples` answers only where it can be sure of agreeing with the demuxer: one edit at
most, no fragments, as many index entries as samples, none discarded, and the first packets
of each stream exactly as the demuxer gives them (:func:`agrees`). Otherwise it answers
None and the caller demuxes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_MOOV = 64 << 20
"""A header larger than this is not read (the caller demuxes instead)."""
CHECKED = 4
"""Packets of each stream compared with the demuxer's before the tables are trusted."""
_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"})


@dataclass(frozen=True)
class Sample:
    """One packet, as the demuxer would give it (times in the stream's time base)."""

    pos: int
    size: int
    pts: int
    dts: int
    duration: int
    keyframe: bool


@dataclass(frozen=True)
class _Track:
    ctts: list[tuple[int, int]]  # (count, offset) runs
    stts: list[tuple[int, int]]  # (count, duration) runs
    edits: int
    samples: int  # from stsz


def samples(path: str, container: Any, streams: list[Any]) -> list[list[Sample]] | None:
    """Every packet of each of ``streams`` (streams of ``container``, an MP4 or MOV file at
    ``path`` opened by PyAV), in decode order; None where the tables cannot be trusted."""
    try:
        moov = _read_moov(path)
        if moov is None or any(kind == b"mvex" for kind, _, _ in _boxes(moov, 8, len(moov))):
            return None  # no header, or a fragmented file: its packets are not all in it
        tracks = dict(_tracks(moov))
        found = [_stream_samples(stream, tracks.get(int(stream.id))) for stream in streams]
    except (ValueError, struct.error, OSError):
        return None
    if any(f is None for f in found):
        return None
    return [f for f in found if f is not None]


def agrees(container: Any, streams: list[Any], found: list[list[Sample]]) -> bool:
    """Whether the first :data:`CHECKED` packets of each stream, demuxed, are the samples
    ``found`` for it (the demuxer applies an edit list's shift and a ``ctts`` box's own
    shift: this is where a file that does it otherwise is caught)."""
    want = {int(s.index): iter(f[:CHECKED]) for s, f in zip(streams, found, strict=True)}
    left = {int(s.index): min(CHECKED, len(f)) for s, f in zip(streams, found, strict=True)}
    for packet in container.demux(streams):
        index = int(packet.stream_index)
        if packet.size == 0 or not left.get(index):
            if not any(left.values()):
                break
            continue
        sample = next(want[index])
        dts = packet.dts if packet.dts is not None else packet.pts
        if (
            packet.pos != sample.pos
            or packet.size != sample.size
            or packet.pts != sample.pts
            or dts != sample.dts
            or int(packet.duration or 0) != sample.duration
            or bool(packet.is_keyframe) != sample.keyframe
        ):
            return False
        left[index] -= 1
        if not any(left.values()):
            break
    return not any(left.values())


def _stream_samples(stream: Any, track: _Track | None) -> list[Sample] | None:
    if track is None or track.edits > 1:
        return None
    entries = stream.index_entries
    count = len(entries)
    if count != track.samples:
        return None
    offsets = _expand(track.ctts, count, 0)
    durations = _expand(track.stts, count, None)
    if offsets is None or durations is None:
        return None
    out = []
    for k in range(count):
        entry = entries[k]
        if entry.size <= 0:
            return None
        dts = int(entry.timestamp)
        out.append(
            Sample(
                int(entry.pos), int(entry.size), dts + offsets[k], dts, durations[k],
                bool(entry.is_keyframe),
            )
        )  # fmt: skip
    return out


def _expand(runs: list[tuple[int, int]], count: int, default: int | None) -> list[int] | None:
    """Per-sample values of ``(count, value)`` runs; ``default`` for every sample when the
    table is absent (None: it must be there), None when the runs do not cover ``count``."""
    if not runs:
        return None if default is None else [default] * count
    values: list[int] = []
    for n, value in runs:
        values.extend([value] * n)
        if len(values) > count:
            return None
    return values if len(values) == count else None


def _read_moov(path: str) -> bytes | None:
    """The ``moov`` box of the file (its header), wherever it is; None if it has none."""
    with open(path, "rb") as handle:
        fd = handle.fileno()
        end = os.fstat(fd).st_size
        pos = 0
        while pos + 8 <= end:
            try:
                kind, _, size = _box_at(os.pread(fd, 16, pos), 0, end - pos)
            except (ValueError, struct.error):
                return None
            if kind == b"moov":
                if size > MAX_MOOV:
                    return None
                data = os.pread(fd, size, pos)
                return data if len(data) == size else None
            pos += size
    return None


def _box_at(data: bytes, pos: int, room: int) -> tuple[bytes, int, int]:
    """``(type, header size, box size)`` of the box at ``data[pos]``, which has ``room``
    bytes to its parent's end (a size of 0 means all of them)."""
    size, kind = struct.unpack_from(">I4s", data, pos)
    header = 8
    if size == 1:
        size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
    elif size == 0:
        size = room
    if size < header or size > room:
        raise ValueError("a box runs past its parent")
    return kind, header, size


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """``(type, body start, box end)`` of the boxes in ``data[start:end]``."""
    pos = start
    while pos + 8 <= end:
        kind, header, size = _box_at(data, pos, end - pos)
        yield kind, pos + header, pos + size
        pos += size


def _tracks(moov: bytes) -> Iterator[tuple[int, _Track]]:
    """``(track id, tables)`` of every track of a ``moov`` box."""
    for kind, start, end in _boxes(moov, 8, len(moov)):
        if kind != b"trak":
            continue
        found: dict[bytes, tuple[int, int]] = {}
        _collect(moov, start, end, found)
        if b"tkhd" not in found or b"stsz" not in found:
            continue
        tkhd = found[b"tkhd"][0]
        track_id = struct.unpack_from(">I", moov, tkhd + (20 if moov[tkhd] == 1 else 12))[0]
        stsz = found[b"stsz"][0]
        count = struct.unpack_from(">I", moov, stsz + 8)[0]
        edits = 0
        if b"elst" in found:
            edits = struct.unpack_from(">I", moov, found[b"elst"][0] + 4)[0]
        yield (
            track_id,
            _Track(
                ctts=_runs(moov, found.get(b"ctts")),
                stts=_runs(moov, found.get(b"stts")),
                edits=edits,
                samples=count,
            ),
        )


def _collect(data: bytes, start: int, end: int, found: dict[bytes, tuple[int, int]]) -> None:
    for kind, body, box_end in _boxes(data, start, end):
        if kind in _CONTAINERS:
            _collect(data, body, box_end, found)
        else:
            found.setdefault(kind, (body, box_end))


def _runs(data: bytes, box: tuple[int, int] | None) -> list[tuple[int, int]]:
    """The ``(count, value)`` entries of a ``stts`` or ``ctts`` box (values read as signed,
    as libavformat reads them)."""
    if box is None:
        return []
    body, end = box
    count = struct.unpack_from(">I", data, body + 4)[0]
    if body + 8 + 8 * count > end:
        raise ValueError("a table runs past its box")
    return list(struct.iter_unpack(">Ii", data[body + 8 : body + 8 + 8 * count]))


__all__ = ["Sample", "agrees", "samples"]
