"""The film's audio track, mixed sample-exactly in small blocks.

Audio is always rebuilt (it is cheap next to video): every clip's sound is decoded with PyAV,
resampled to 48 kHz stereo float, cut at exactly ``frame * 2000`` samples (48000 / 24: a
video frame is a whole number of samples), shaped and summed, then piped to one encoder
process. So the track is exactly as long as the video, each clip's sound sits under its own
frames (no drift however many clips; the encoders' priming and padding of the takes play no
part, since we decode them away), and there is one encoder delay for the whole film, which
the container's edit list / codec delay hides.

Per clip (sample ``i`` of ``n``):

- a hard cut: a 5 ms linear fade in and out at the clip's ends, so seams never click;
- a crossfade of ``D`` samples: the outgoing tail and the incoming head are mixed with weights
  ``1 - i/D`` and ``i/D`` (the picture's weights, sample by sample);
- a dip to black, the film's fade in / out: linear ramps to and from silence over the same
  frames as the picture's (the music, if any, fades with the film's fades only).

Each clip's sound is then multiplied by its ``volume`` (0 when muted). A mono clip is played
at the same level on both channels (not 3 dB down, as a resampler's centre pan would). A clip
with no audio stream (``sound: false``), or with a shorter one, contributes silence;
``audio: mute`` uses silence for every clip. The music cues are decoded alongside and mixed
under (:mod:`storyboard.cut.mix`: their placement, fades, loops and ducking), and the film's
own fades apply to them too.

Memory is a few blocks plus the held tail of a crossfade, whatever the film's length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from storyboard.core.errors import BuildError
from storyboard.cut.decode import PREROLL, Reader, Samples, decode_audio, silence
from storyboard.cut.mix import MusicMix
from storyboard.cut.timeline import (
    FPS,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    Edge,
    Timeline,
    TimelineClip,
)

MICRO_FADE = SAMPLE_RATE * 5 // 1000  # 5 ms at each hard cut
BLOCK = 24_000  # samples per block written to the encoder (0.5 s)


def _ramp_gains(i0: int, n: int, total: int, head: int, tail: int) -> Samples:
    """Gains (n, 1) for clip samples ``i0..i0+n`` of ``total``: ramps of ``head`` samples at
    the start and ``tail`` samples at the end (linear, silent on the clip's edge samples)."""
    i = np.arange(i0, i0 + n, dtype=np.float64)
    gain = np.ones(n, dtype=np.float64)
    if head:
        gain = np.minimum(gain, i / head)
    if tail:
        gain = np.minimum(gain, (total - 1 - i) / tail)
    return np.clip(gain, 0.0, 1.0).astype(np.float32)[:, None]


def _edge_samples(edge: Edge, frames: int) -> int:
    """Ramp length in samples at one end of a clip (0 for a crossfade)."""
    if edge.kind == "crossfade":
        return 0
    if edge.kind == "cut":
        return min(MICRO_FADE, frames * SAMPLES_PER_FRAME // 4)
    return edge.frames * SAMPLES_PER_FRAME


def clip_audio(clip: TimelineClip, offset: Fraction, mute: bool) -> Reader:
    """A reader of the clip's own sound from its first frame (``offset``: see film_audio)."""
    if mute or clip.volume == 0:
        return Reader(iter(()))
    start = offset + Fraction(clip.source_in, FPS)
    return Reader(decode_audio(clip.source, start))


def film_audio(timeline: Timeline, offsets: dict[Path, Fraction]) -> Iterator[Samples]:
    """The film's audio as blocks, ``timeline.total_frames * 2000`` samples in all.

    Args:
        timeline: the film.
        offsets: per source, the timestamp in seconds of its first video frame (the sound
            under frame 0 is the sound at that time, on the file's own clock).
    """
    total = timeline.total_frames * SAMPLES_PER_FRAME
    music = MusicMix(timeline) if timeline.music else None
    fade_in = timeline.fade_in * SAMPLES_PER_FRAME
    fade_out = timeline.fade_out * SAMPLES_PER_FRAME
    position = 0

    def finish(block: Samples) -> Samples:
        """Mix the music under ``block`` and apply the film's fades."""
        nonlocal position
        n = len(block)
        if music is not None:
            block = block + music.read(position, n)
        if fade_in and position < fade_in:
            i = np.arange(position, position + n, dtype=np.float64)
            block = block * np.clip(i / fade_in, 0, 1).astype(np.float32)[:, None]
        if fade_out and position + n > total - fade_out:
            i = np.arange(position, position + n, dtype=np.float64)
            gain = np.clip((total - 1 - i) / fade_out, 0, 1).astype(np.float32)[:, None]
            block = block * gain
        position += n
        return block

    held: Samples | None = None  # the previous clip's crossfade tail, not yet written
    try:
        for clip in timeline.clips:
            n = clip.frames * SAMPLES_PER_FRAME
            overlap_in = clip.head.overlap * SAMPLES_PER_FRAME
            overlap_out = clip.tail.overlap * SAMPLES_PER_FRAME
            head = _edge_samples(clip.head, clip.frames) if clip.head.kind != "fade" else 0
            tail = _edge_samples(clip.tail, clip.frames) if clip.tail.kind != "fade" else 0
            reader = clip_audio(
                clip, offsets.get(clip.source, Fraction(0)), timeline.audio == "mute"
            )
            gain = np.float32(clip.volume)
            try:
                i = 0
                if overlap_in:
                    assert held is not None and len(held) == overlap_in
                    w = (np.arange(overlap_in, dtype=np.float64) / overlap_in).astype(np.float32)
                    own = reader.read(overlap_in) * _ramp_gains(0, overlap_in, n, head, tail)
                    own *= gain
                    yield finish(held * (1 - w)[:, None] + own * w[:, None])
                    i = overlap_in
                body_end = n - overlap_out
                while i < body_end:
                    m = min(BLOCK, body_end - i)
                    yield finish(reader.read(m) * (_ramp_gains(i, m, n, head, tail) * gain))
                    i += m
                held = None
                if overlap_out:
                    held = reader.read(overlap_out) * (
                        _ramp_gains(i, overlap_out, n, head, tail) * gain
                    )
            finally:
                reader.close()
        if position != total:
            raise BuildError(f"the cut's audio came out {position} samples long, not {total}")
    finally:
        if music is not None:
            music.close()


def film_window(
    timeline: Timeline,
    offsets: dict[Path, Fraction],
    start: int,
    stop: int,
    *,
    shifts: Mapping[int, int] | None = None,
    opener: Callable[[Path, bool], tuple[Any, bool] | None] | None = None,
) -> Samples:
    """Film samples ``start .. stop`` (silence outside the film), mixed as :func:`film_audio`
    mixes them, for any part of the film without decoding the rest.

    Args:
        timeline: the film.
        offsets: as for :func:`film_audio`.
        start, stop: sample indexes of the film (48 kHz).
        shifts: per clip index, samples its sound is played late by (negative: early), to
            line it up with frames copied from its take (see :mod:`storyboard.cut.sound`).
        opener: ``(source, near its start) -> (open container, fresh) or None``: where to
            read a source from (see :func:`decode_audio`); None, or no opener, opens it.
    """
    total = timeline.total_frames * SAMPLES_PER_FRAME
    out = silence(max(stop - start, 0))
    if stop <= start:
        return out
    for clip in timeline.clips:
        first = clip.start * SAMPLES_PER_FRAME
        n = clip.frames * SAMPLES_PER_FRAME
        low, high = max(start, first), min(stop, first + n)
        if low >= high or timeline.audio == "mute" or clip.volume == 0:
            continue
        i0, m = low - first, high - low
        shift = (shifts or {}).get(clip.index, 0)
        begin = (
            offsets.get(clip.source, Fraction(0))
            + Fraction(clip.source_in, FPS)
            + Fraction(i0 - shift, SAMPLE_RATE)
        )
        opened = opener(clip.source, begin <= PREROLL) if opener is not None else None
        container, fresh = opened if opened is not None else (None, False)
        reader = Reader(decode_audio(clip.source, begin, container=container, fresh=fresh))
        try:
            sound = reader.read(m)
        finally:
            reader.close()
        head = _edge_samples(clip.head, clip.frames) if clip.head.kind != "fade" else 0
        tail = _edge_samples(clip.tail, clip.frames) if clip.tail.kind != "fade" else 0
        block = sound * (_ramp_gains(i0, m, n, head, tail) * np.float32(clip.volume))
        block = block * _crossfade_weights(i0, m, n, clip)
        out[low - start : high - start] += block
    if timeline.music:
        low, high = max(start, 0), min(stop, total)
        if low < high:
            with MusicMix(timeline) as music:
                out[low - start : high - start] += music.read(low, high - low)
    out[: max(0, -start)] = 0
    out[max(0, total - start) :] = 0
    i = np.arange(start, stop, dtype=np.float64)
    fade_in = timeline.fade_in * SAMPLES_PER_FRAME
    fade_out = timeline.fade_out * SAMPLES_PER_FRAME
    if fade_in and start < fade_in:
        out = out * np.clip(i / fade_in, 0, 1).astype(np.float32)[:, None]
    if fade_out and stop > total - fade_out:
        out = out * np.clip((total - 1 - i) / fade_out, 0, 1).astype(np.float32)[:, None]
    return out


def _crossfade_weights(i0: int, n: int, total: int, clip: TimelineClip) -> Samples:
    """The crossfade weights (n, 1) of clip samples ``i0..i0+n`` (1 outside crossfades), as
    :func:`film_audio` applies them: ``j/D`` coming in, ``1 - j/D`` going out."""
    weights = np.ones(n, dtype=np.float32)
    i = np.arange(i0, i0 + n)
    overlap_in = clip.head.overlap * SAMPLES_PER_FRAME
    overlap_out = clip.tail.overlap * SAMPLES_PER_FRAME
    if overlap_in:
        inside = i < overlap_in
        ramp = (np.arange(overlap_in, dtype=np.float64) / overlap_in).astype(np.float32)
        weights[inside] = ramp[i[inside]]
    if overlap_out:
        j = i - (total - overlap_out)
        inside = j >= 0
        ramp = (np.arange(overlap_out, dtype=np.float64) / overlap_out).astype(np.float32)
        weights[inside] = 1 - ramp[j[inside]]
    return weights[:, None]


__all__ = [
    "BLOCK",
    "MICRO_FADE",
    "SAMPLES_PER_FRAME",
    "Reader",
    "clip_audio",
    "decode_audio",
    "film_audio",
    "film_window",
    "silence",
]
