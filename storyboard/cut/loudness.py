"""Loudness normalisation of the film's mix: ``cut.loudness`` LUFS, true peak <= -1 dBTP.

Place in the pipeline: the cut's sound, between the mix (:func:`storyboard.cut.audio.
film_audio`, which can be run again and gives the same samples) and the encoder.

The algorithm (documented in docs/cut.md):

1. **Measure** the mix with ffmpeg's ``ebur128`` filter (ITU-R BS.1770-4: K-weighting,
   400 ms blocks overlapping by 75 %, the absolute gate at -70 LUFS and the relative gate
   10 LU below; true peak on the signal oversampled 4 times, to 192 kHz), streamed to it.
   Not ``loudnorm``: its dynamic normalisation missed a -16 target by 1.6 LU on a 3 s peaky
   signal, and even its analysis read 1.1 LU low (-25.9 LUFS) on 9 s of quiet noise with a
   3 s tone in it, which ``ebur128`` and a reference implementation of BS.1770-4 both read
   as -24.8 LUFS (tests/cut/test_mix.py holds that reference).
2. **Gain**: ``target - measured`` dB, applied to every sample alike (a linear gain: the
   mix's dynamics are kept).
3. **True peak**: if the gained mix would peak above :data:`CEILING` (-1.5 dBTP, leaving
   0.5 dB for the lossy encoder, so the film stays at or under -1 dBTP), a look-ahead
   limiter (:func:`limit`) lowers only the peaks, and the mix is measured again and its gain
   corrected until it is within :data:`TOLERANCE` of the target (at most :data:`PASSES`
   passes; the limiter moves the loudness by a fraction of a LU, so one correction usually
   does).

Each pass runs the mix again (decoding the takes and the music), streaming: memory stays a
few blocks. A silent film (below the absolute gate) is left as it is.
"""

from __future__ import annotations

import itertools
import math
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from storyboard.core.errors import BuildError
from storyboard.cut.decode import CHANNELS, Samples, silence
from storyboard.cut.ffmpeg import ffmpeg_exe
from storyboard.cut.timeline import SAMPLE_RATE

CEILING = -1.5
"""dBTP the normalised mix may reach (the film's own true peak stays at or under -1 dBTP)."""
TOLERANCE = 0.1
"""LU from the target a limited mix is corrected within."""
PASSES = 4
"""At most this many measurements of a limited mix."""
LOOKAHEAD = 480
"""Samples (10 ms) the limiter sees ahead: its gain ramps down over them before a peak."""
HOLD = 2400
"""Samples (50 ms) the limiter holds its gain after a peak before ramping back up."""
SILENT = -70.0
"""LUFS under which a mix is taken as silence (the absolute gate)."""


@dataclass(frozen=True)
class Measure:
    """Integrated loudness (LUFS) and true peak (dBTP) of a mix."""

    integrated: float
    true_peak: float


def measure(blocks: Iterable[Samples]) -> Measure:
    """The integrated loudness and true peak of 48 kHz stereo float blocks, by ffmpeg's
    ``ebur128`` filter (BS.1770-4; it reports both to 0.1)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostats", "-nostdin"]
    cmd += ["-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", str(CHANNELS), "-i", "pipe:0"]
    cmd += ["-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"]
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=errors, stderr=errors)
        except OSError as exc:
            raise BuildError(f"the cut could not start ffmpeg to measure loudness: {exc}") from exc
        assert proc.stdin is not None
        try:
            for block in blocks:
                proc.stdin.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        finally:
            status = proc.wait()
        errors.seek(0)
        text = errors.read().decode("utf-8", "replace")
    found = _summary(text)
    if status != 0 or found is None:
        tail = text[-2000:].strip() or "no message"
        raise BuildError(f"ffmpeg failed (status {status}) while measuring loudness: {tail}")
    return found


def _summary(text: str) -> Measure | None:
    """The integrated loudness and true peak of ``ebur128``'s summary (silence: -70 LUFS,
    ``-inf`` dBFS)."""
    at = text.rfind("Summary:")
    if at < 0:
        return None
    found = re.search(r"\bI:\s+(-?[\d.]+) LUFS", text[at:])
    peak = re.search(r"\bPeak:\s+(-?[\d.]+|-inf) dBFS", text[at:])
    if found is None or peak is None:
        return None
    return Measure(_number(found.group(1)), _number(peak.group(1)))


def _number(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return -math.inf


@dataclass(frozen=True)
class Normalised:
    """What the normalisation did: the target, the mix's loudness and true peak as mixed,
    the gain applied, whether the limiter was needed, and how many times the mix was run."""

    target: float
    measured: Measure
    gain_db: float
    limited: bool
    passes: int
    reached: float
    """The normalised mix's loudness: measured after the limiter, else the gain's sum."""

    @property
    def missed(self) -> bool:
        """The target was not reached within 0.5 LU (a mix whose loudness is in its peaks:
        the limiter takes back what the gain adds), or the film is silent."""
        return not math.isfinite(self.reached) or abs(self.reached - self.target) > 0.5

    def to_json(self) -> dict[str, Any]:
        return {
            "target_lufs": self.target,
            "measured_lufs": _finite(self.measured.integrated),
            "measured_true_peak_dbtp": _finite(self.measured.true_peak),
            "gain_db": round(self.gain_db, 3),
            "limited": self.limited,
            "passes": self.passes,
            "reached_lufs": _finite(self.reached),
        }


def _finite(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


Mix = Callable[[], Iterator[Samples]]
"""Runs the film's mix from its start (each call gives the same samples)."""


def plan(mix: Mix, target: float) -> Normalised:
    """Measure ``mix`` (as many times as the limiter needs) and decide its gain."""
    measured = measure(mix())
    passes = 1
    if not math.isfinite(measured.integrated) or measured.integrated <= SILENT:
        return Normalised(target, measured, 0.0, False, passes, measured.integrated)
    gain = target - measured.integrated
    if measured.true_peak + gain <= CEILING:
        return Normalised(target, measured, gain, False, passes, target)
    best = (math.inf, gain, -math.inf)  # (distance to the target, gain, loudness reached)
    for _ in range(PASSES):
        result = measure(limit(scaled(mix(), gain), CEILING))
        passes += 1
        error = target - result.integrated
        best = min(best, (abs(error), gain, result.integrated))
        if abs(error) <= TOLERANCE or not math.isfinite(error):
            break
        gain += error
    return Normalised(target, measured, best[1], True, passes, best[2])


def apply(mix: Mix, decided: Normalised) -> Iterator[Samples]:
    """The mix, normalised as ``decided``."""
    blocks = scaled(mix(), decided.gain_db)
    return limit(blocks, CEILING) if decided.limited else blocks


def scaled(blocks: Iterable[Samples], gain_db: float) -> Iterator[Samples]:
    factor = np.float32(10 ** (gain_db / 20))
    for block in blocks:
        yield block * factor


# --- the limiter -------------------------------------------------------------------------------

_TAPS = 6
"""Samples on either side of an interpolated point the true-peak estimate uses."""


def _interpolators() -> list[np.ndarray]:
    """Windowed-sinc filters giving the signal at ``n + p/4`` (p = 1, 2, 3) from samples
    ``n - 5 .. n + 6``: a 4x oversampling as BS.1770 Annex 2 asks for true peaks."""
    filters = []
    k = np.arange(-_TAPS + 1, _TAPS + 1, dtype=np.float64)
    for p in (1, 2, 3):
        t = k - p / 4
        window = 0.5 + 0.5 * np.cos(np.pi * t / (_TAPS + 0.5))
        taps = np.sinc(t) * window
        filters.append(taps / taps.sum())
    return filters


_FILTERS = _interpolators()


def true_peaks(x: np.ndarray) -> np.ndarray:
    """Per sample ``n`` of ``x`` (n x channels), the largest magnitude of the signal between
    ``n`` and ``n + 1`` (oversampled 4x), over the channels. The first ``_TAPS - 1`` and the
    last ``_TAPS`` samples see only what ``x`` holds."""
    peak: np.ndarray = np.abs(x).max(axis=1)
    n = len(x)
    if n < 2 * _TAPS:
        return peak
    inner = np.zeros(n, dtype=np.float64)
    for taps in _FILTERS:
        for channel in range(x.shape[1]):
            # value at i + p/4 for i in [_TAPS - 1, n - _TAPS)
            value = np.convolve(x[:, channel], taps[::-1], mode="valid")
            inner[_TAPS - 1 : n - _TAPS] = np.maximum(inner[_TAPS - 1 : n - _TAPS], np.abs(value))
    peak = np.maximum(peak, inner)
    peak[1:] = np.maximum(peak[1:], inner[:-1])  # the points just before sample n too
    return peak


def _sliding_min(a: np.ndarray, width: int) -> np.ndarray:
    """``out[i] = min(a[i : i + width])`` for every full window (van Herk / Gil-Werman)."""
    n = len(a)
    pad = (-n) % width
    b = np.concatenate([a, np.full(pad, np.inf)]).reshape(-1, width)
    prefix = np.minimum.accumulate(b, axis=1).ravel()
    suffix = np.minimum.accumulate(b[:, ::-1], axis=1)[:, ::-1].ravel()
    i = np.arange(n - width + 1)
    result: np.ndarray = np.minimum(suffix[i], prefix[i + width - 1])
    return result


def _gains(window: np.ndarray, start: int, count: int, ceiling: float) -> np.ndarray:
    """The limiter's gains for samples ``start .. start + count`` of ``window``, which holds
    ``HOLD + LOOKAHEAD + _TAPS`` samples before them and ``LOOKAHEAD + _TAPS`` after.

    ``r[n] = min(1, ceiling / peak[n])`` is the gain each sample needs; ``h[k]`` is the least
    of ``r`` over ``k - HOLD .. k + LOOKAHEAD``; the gain is the mean of ``h`` over
    ``n - LOOKAHEAD .. n``. Every ``h`` averaged holds sample ``n`` in its window, so the gain
    never exceeds ``r[n]`` (no peak passes the ceiling), and it moves smoothly: down over the
    look-ahead before a peak, back up over as long after the hold.
    """
    limit_ = 10 ** (ceiling / 20)
    low = start - LOOKAHEAD - HOLD
    high = start + count + LOOKAHEAD
    peaks = true_peaks(window[low - _TAPS : high + _TAPS])[_TAPS:-_TAPS]
    needed = np.minimum(1.0, limit_ / np.maximum(peaks, 1e-12))
    held = _sliding_min(needed, HOLD + LOOKAHEAD + 1)  # held[j] ↔ k = low + HOLD + j
    sums = np.concatenate([[0.0], np.cumsum(held)])
    m = LOOKAHEAD + 1
    gains: np.ndarray = (sums[m : m + count] - sums[:count]) / m
    return gains


def limit(blocks: Iterable[Samples], ceiling: float) -> Iterator[Samples]:
    """``blocks`` with their true peaks kept at or under ``ceiling`` dBTP (see
    :func:`_gains`), as many samples out as in; silence is taken before and after."""
    before = HOLD + LOOKAHEAD + _TAPS
    after = LOOKAHEAD + _TAPS
    history = silence(before)
    pending = silence(0)
    for block in itertools.chain(blocks, [silence(after)]):
        pending = np.concatenate([pending, block]) if len(pending) else block
        ready = len(pending) - after
        if ready <= 0:
            continue
        window = np.concatenate([history, pending]).astype(np.float64)
        gains = _gains(window, before, ready, ceiling)
        yield (pending[:ready] * gains[:, None]).astype(np.float32)
        history = window[ready : ready + before].astype(np.float32)
        pending = pending[ready:]


__all__ = [
    "CEILING",
    "Measure",
    "Normalised",
    "apply",
    "limit",
    "measure",
    "plan",
    "scaled",
    "true_peaks",
]
