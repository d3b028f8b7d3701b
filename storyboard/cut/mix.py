"""The music of the film's mix: cues placed in film time, faded, looped and ducked.

Place in the pipeline: the cut's sound (:mod:`storyboard.cut.audio` mixes the clips' own
sound and adds :class:`MusicMix` under it). Everything is in film samples at 48 kHz.

A cue (:class:`~storyboard.cut.timeline.MusicCue`) plays its file from ``offset`` samples in,
over film samples ``[first, last)``; when ``loop`` is set and the file ends, it plays again
from ``offset``, else silence follows. Its gain at cue sample ``j`` of ``n`` is::

    volume · fade_in(j) · fade_out(j) · duck(film sample)

with linear fades (``j / fade_in``, ``(n - 1 - j) / fade_out``) and the duck envelope below.

**Ducking.** A cue with ``duck: d`` plays at gain ``d`` (times its volume) under every clip
whose own sound is heard (a shot with generated sound, not muted) and under every span of
dialogue the timeline lists (``Timeline.speech``), and at full gain elsewhere. The gain moves
between the two along a raised-cosine ramp (no corner, so no click or pump): it starts going
down :data:`ATTACK` seconds *before* the sound begins (the cut knows what comes, so the first
syllable is already clear) and comes back up over :data:`RELEASE` seconds after it ends. Two
spans closer than the ramps stay ducked between them.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from storyboard.cut.decode import Reader, Samples, decode_audio, silence
from storyboard.cut.timeline import SAMPLE_RATE, SAMPLES_PER_FRAME, MusicCue, Timeline

ATTACK = 0.3
"""Seconds a ducked cue takes to go down, ending where the sound it ducks under starts."""
RELEASE = 0.6
"""Seconds it takes to come back up, from where that sound ends."""


def duck_spans(timeline: Timeline) -> list[tuple[int, int]]:
    """The film samples ``[start, end)`` the music ducks under, merged where their ramps
    would meet (sorted)."""
    spans = [
        (clip.start * SAMPLES_PER_FRAME, clip.end * SAMPLES_PER_FRAME)
        for clip in timeline.clips
        if clip.sounding and timeline.audio != "mute"
    ]
    spans += [(a * SAMPLES_PER_FRAME, b * SAMPLES_PER_FRAME) for a, b in timeline.speech]
    gap = round((ATTACK + RELEASE) * SAMPLE_RATE)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def duck_weight(spans: list[tuple[int, int]], start: int, n: int) -> np.ndarray:
    """How ducked film samples ``start .. start + n`` are: 1 under a span, 0 far from all,
    raised-cosine ramps between (float64, shape ``(n,)``)."""
    weight = np.zeros(n, dtype=np.float64)
    attack, release = ATTACK * SAMPLE_RATE, RELEASE * SAMPLE_RATE
    position = np.arange(start, start + n, dtype=np.float64)
    for first, last in spans:
        if last + release <= start or first - attack >= start + n:
            continue
        up = np.clip((position - (first - attack)) / attack, 0.0, 1.0)
        down = np.clip(((last + release) - position) / release, 0.0, 1.0)
        shape = np.minimum(up, down)
        weight = np.maximum(weight, 0.5 - 0.5 * np.cos(np.pi * shape))
    return weight


class _Player:
    """One cue's samples, read in film order (seeking again if asked out of order)."""

    def __init__(self, cue: MusicCue, spans: list[tuple[int, int]]) -> None:
        self.cue = cue
        self.spans = spans
        self.reader: Reader | None = None
        self.next = -1  # the cue sample the reader yields next
        self.loop_length: int | None = None

    def read(self, start: int, n: int) -> Samples | None:
        """The cue's contribution to film samples ``start .. start + n`` (None: silent)."""
        cue = self.cue
        low, high = max(start, cue.first), min(start + n, cue.last)
        if low >= high:
            return None
        j = low - cue.first  # the cue's own sample index
        if self.reader is None or self.next != j:
            self._open(j)
        assert self.reader is not None
        sound = self.reader.read(high - low)
        self.next = j + (high - low)
        index = np.arange(j, j + high - low, dtype=np.float64)
        gain = np.full(high - low, cue.volume, dtype=np.float64)
        length = cue.last - cue.first
        if cue.fade_in:
            gain *= np.clip(index / cue.fade_in, 0.0, 1.0)
        if cue.fade_out:
            gain *= np.clip((length - 1 - index) / cue.fade_out, 0.0, 1.0)
        if cue.duck is not None and self.spans:
            gain *= 1.0 - (1.0 - cue.duck) * duck_weight(self.spans, low, high - low)
        out = silence(n)
        out[low - start : high - start] = sound * gain.astype(np.float32)[:, None]
        return out

    def _open(self, j: int) -> None:
        """Read the cue from its sample ``j`` on."""
        self.close()
        cue = self.cue
        if cue.loop and j > 0:
            if self.loop_length is None:
                self.loop_length = _samples_after(cue, cue.offset)
            if self.loop_length > 0:
                j %= self.loop_length
        self.reader = Reader(_looped(cue, cue.offset + j) if cue.loop else _once(cue, j))

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None


def _once(cue: MusicCue, j: int) -> Iterator[Samples]:
    return decode_audio(cue.file, Fraction(cue.offset + j, SAMPLE_RATE))


def _looped(cue: MusicCue, at: int) -> Iterator[Samples]:
    """The file from sample ``at``, then again and again from ``cue.offset``."""
    while True:
        count = 0
        for block in decode_audio(cue.file, Fraction(at, SAMPLE_RATE)):
            count += len(block)
            yield block
        if count == 0 and at == cue.offset:
            return  # nothing after the offset: silence (the check refuses such a cue)
        at = cue.offset


def _samples_after(cue: MusicCue, at: int) -> int:
    """How many samples the file has from sample ``at`` to its end."""
    return sum(len(block) for block in decode_audio(cue.file, Fraction(at, SAMPLE_RATE)))


class MusicMix:
    """All the timeline's music cues, mixed: ``read(start, n)`` gives film samples
    ``start .. start + n`` of music (reading in film order costs one decoder per cue)."""

    def __init__(self, timeline: Timeline) -> None:
        spans = duck_spans(timeline) if any(c.duck is not None for c in timeline.music) else []
        self.players = [_Player(cue, spans) for cue in timeline.music]

    def read(self, start: int, n: int) -> Samples:
        out = silence(n)
        for player in self.players:
            found = player.read(start, n)
            if found is not None:
                out += found
        return out

    def close(self) -> None:
        for player in self.players:
            player.close()

    def __enter__(self) -> MusicMix:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ATTACK", "RELEASE", "MusicMix", "duck_spans", "duck_weight"]
