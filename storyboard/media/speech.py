"""Speech in a take's sound: where someone talks, found by voice activity detection.

Place in the pipeline: the cut (stage 7) times the subtitle cues of lines that have no ``at``
by the speech found in the sound the model generated for their take
(:mod:`storyboard.cut.cues`). The detector is WebRTC's (the ``webrtcvad-wheels`` package: a
small C library in the wheel, no model to download, deterministic), run on the first audio
stream decoded with PyAV and resampled to 16 kHz mono, in 30 ms frames, in its most
selective mode (3), which flags least of the wind, sea and music a generated take also holds.

What it flags is then made into regions a line can be laid over:

- flagged frames less than :data:`JOIN_GAP` apart join (the pauses between words);
- a region shorter than :data:`MIN_SPEECH` is dropped (the detector flags the first frames of
  any sound while it learns the noise floor, and clicks);
- a region whose loudness hardly varies (its 10 ms levels spread less than
  :data:`STEADY_DB`) is a steady tone or hum, not speech: WebRTC's detector flags a quiet
  steady tone as speech (measured: a 220 Hz sine at -26 dBFS, the preview's and the
  emulator's sound, is flagged in every frame of every mode), and speech rises and falls
  with its syllables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import webrtcvad

from storyboard.media.probe import MediaError

RATE = 16_000
"""The sample rate the detector is run at (it takes 8, 16, 32 or 48 kHz)."""
FRAME_SECONDS = 0.03
"""The detector's frame: 10, 20 or 30 ms."""
MODE = 3
"""0 (least selective) .. 3 (most): how sure the detector must be that a frame is speech."""
JOIN_GAP = 0.3
"""Flagged frames closer than this, in seconds, are one region (a pause between words)."""
MIN_SPEECH = 0.25
"""Regions shorter than this, in seconds, are dropped."""
STEADY_DB = 1.0
"""A region whose 10 ms levels (in dB) have a standard deviation below this is not speech."""

Region = tuple[float, float]
"""A stretch of speech: seconds from the start of the file, ``(start, end)``."""


def detect_speech(path: Path) -> list[Region] | None:
    """The stretches of speech in a media file's first audio stream, in order.

    Returns:
        The regions (empty: no speech found), or ``None`` when the file has no audio stream.

    Raises:
        MediaError: the file cannot be read or decoded.
    """
    samples = _mono_16k(path)
    if samples is None:
        return None
    return speech_regions(samples)


def speech_regions(samples: np.ndarray) -> list[Region]:
    """The stretches of speech in 16 kHz mono signed 16-bit ``samples`` (see the module)."""
    step = int(RATE * FRAME_SECONDS)
    vad = webrtcvad.Vad(MODE)
    pcm = samples.astype("<i2", copy=False)
    flags = [
        vad.is_speech(pcm[i : i + step].tobytes(), RATE)
        for i in range(0, len(pcm) - step + 1, step)
    ]
    regions: list[list[float]] = []
    for index, voiced in enumerate(flags):
        if not voiced:
            continue
        start, end = index * FRAME_SECONDS, (index + 1) * FRAME_SECONDS
        if regions and start - regions[-1][1] < JOIN_GAP:
            regions[-1][1] = end
        else:
            regions.append([start, end])
    return [
        (round(start, 3), round(end, 3))
        for start, end in regions
        if end - start >= MIN_SPEECH and not _steady(pcm, start, end)
    ]


def _steady(pcm: np.ndarray, start: float, end: float) -> bool:
    """Whether the loudness of ``pcm`` between ``start`` and ``end`` hardly varies."""
    hop = RATE // 100  # 10 ms
    part = pcm[int(start * RATE) : int(end * RATE)].astype(np.float64)
    count = len(part) // hop
    if count < 2:
        return False
    power = np.mean(part[: count * hop].reshape(count, hop) ** 2, axis=1)
    levels = 10 * np.log10(power + 1e-9)
    return float(np.std(levels)) < STEADY_DB


def _mono_16k(path: Path) -> np.ndarray | None:
    """The first audio stream of ``path`` as 16 kHz mono 16-bit samples; ``None``: no audio."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            chunks = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(f"cannot read the sound of {path.name}: {exc}") from exc
    if not chunks:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate(chunks).astype(np.int16, copy=False)


__all__ = ["FRAME_SECONDS", "MODE", "RATE", "Region", "detect_speech", "speech_regions"]
