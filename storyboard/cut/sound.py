"""The film's AAC track, reusing the takes' own frames: copy what plays unchanged, encode the rest.

Rebuilding the whole track (:func:`storyboard.cut.audio.film_audio` through one encoder) costs
about a second of AAC encoding per half minute of film, many times the stream copy of the
picture. Most of a film's sound is a take's sound played as it is, so :func:`plan_sound` splits
the track into runs of AAC frames (1024 samples each, on one grid from the film's start):

- **copy**: the take's own packets, where the film plays one clip at full level (no ramp,
  crossfade, dip, film fade, music, clip volume or loudness normalisation) over the span the
  frame's transform covers and one frame more on either side;
- **silence**: one pre-encoded silent frame, repeated, where no clip has sound;
- **encode**: everything else (the 5 ms ramps of every hard cut, crossfades, dips, fades, the
  film's first and last frames), mixed exactly as the rebuilt track and encoded run by run.

Why a spliced track decodes cleanly: an AAC frame at ``t`` transforms the samples
``t .. t + 2048`` and overlaps its neighbours by half; decoding adds the halves, and their
aliasing cancels when both neighbours saw the same samples there. A copied frame is only used
where the film's samples *are* the take's samples over its whole transform, and each encoded
run is fed the film's samples from two frames before it to two frames after it, keeping only
its own frames. So at every splice both sides encode the same sound. They must also agree on
window shapes (a transient makes an encoder switch to short windows, announced in the frame
before): the encoded frames next to copied ones see only the take's steady sound, which is why
a copied frame needs one more frame of it on either side.

A take's frames sit on its own grid: copied, its sound can only move by whole frames. Where
its grid is off the film's by ``d`` samples, the clip's sound is moved by ``d`` (never more
than half a frame, 512 samples or 10.7 ms, a quarter of a picture frame), and its encoded
runs are mixed with the same shift, so the track stays continuous. The shift does not grow
along the film; each clip's is reported. Takes are copied only if their AAC is what the film's
encoder writes (AAC-LC, 48 kHz, stereo, the same AudioSpecificConfig), in MP4 or MOV films.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from storyboard.core.errors import BuildError
from storyboard.core.memory import give_back_memory
from storyboard.cut.audio import SAMPLES_PER_FRAME, _edge_samples, film_window
from storyboard.cut.decode import CHANNELS
from storyboard.cut.ffmpeg import AUDIO_BITRATE, SAMPLE_RATE
from storyboard.cut.mux import CLOCK, read_packet
from storyboard.cut.streams import AudioTrack, VideoIndex, open_packets, open_sound
from storyboard.cut.timeline import FPS, Timeline, TimelineClip

FRAME = 1024
"""Samples per AAC frame."""
MAX_SHIFT = FRAME // 2
"""Samples a copied clip's sound may be moved by to sit on the film's frame grid."""
ROLL = 2 * FRAME
"""Samples of real film sound fed to an encoded run's encoder before and after it."""
TIME_BASE = Fraction(1, SAMPLE_RATE)


@dataclass(frozen=True)
class Run:
    """Film frames ``first .. first + count`` (frame ``n`` starts at sample ``(n - 1) * 1024``:
    frame 0 is the encoder's priming, before the film's first sample).

    ``kind``: ``copy`` (the packets of clip ``clip``'s take from the one at ``source_pts``, in
    samples), ``silence`` or ``encode``.
    """

    kind: str
    first: int
    count: int
    clip: int = -1
    source: Path | None = None
    source_pts: int = 0
    track: AudioTrack | None = None


@dataclass(frozen=True)
class SoundPlan:
    """The film's AAC frames as runs, in order, and the shift of every copied clip."""

    samples: int
    runs: tuple[Run, ...]
    shifts: dict[int, int] = field(default_factory=dict)

    def frames(self, kind: str) -> int:
        return sum(r.count for r in self.runs if r.kind == kind)

    @property
    def reuses(self) -> bool:
        """True when any frame is copied or silent (else rebuild the track as one encode)."""
        return any(r.kind != "encode" for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        return {
            "copied_frames": self.frames("copy"),
            "silent_frames": self.frames("silence"),
            "encoded_frames": self.frames("encode"),
            "shifts": {str(k): v for k, v in sorted(self.shifts.items()) if v},
        }


@functools.cache
def film_config() -> bytes:
    """The AudioSpecificConfig the film's AAC encoder writes."""
    return bytes(_encoder().extradata or b"")


def _encoder() -> Any:
    encoder = av.CodecContext.create("aac", "w")
    encoder.sample_rate = SAMPLE_RATE
    encoder.layout = "stereo"
    encoder.format = "fltp"
    encoder.bit_rate = int(AUDIO_BITRATE["aac"].removesuffix("k")) * 1000
    encoder.time_base = TIME_BASE
    encoder.flags |= int(av.codec.context.Flags.bitexact)
    encoder.open()
    return encoder


def reusable(index: VideoIndex) -> bool:
    """Whether a take's audio frames can go into the film as they are."""
    audio = index.audio
    return (
        audio is not None
        and audio.codec == "aac"
        and audio.profile == "LC"
        and audio.sample_rate == SAMPLE_RATE
        and audio.channels == CHANNELS
        and audio.frame_size == FRAME
        and audio.frames > 1
        and audio.extradata == film_config()
    )


def plan_sound(
    timeline: Timeline,
    indexes: Mapping[Path, VideoIndex],
    offsets: Mapping[Path, Fraction],
    *,
    max_shift: int = MAX_SHIFT,
) -> SoundPlan:
    """Decide, frame by frame, what the film's AAC track is made of (see the module)."""
    total = timeline.total_frames * SAMPLES_PER_FRAME
    count = -(-total // FRAME) + 1  # the priming frame, then frames until the end
    kinds: list[str] = ["encode"] * count
    copies: dict[int, tuple[int, int]] = {}  # film frame -> (clip, source packet pts)
    shifts: dict[int, int] = {}
    mute = timeline.audio == "mute"
    sounding = (
        []
        if mute
        else [c for c in timeline.clips if indexes[c.source].audio is not None and c.volume > 0]
    )
    # silence: no clip with sound under the frame's transform (t .. t + 2048)
    if not timeline.music:
        heard = np.zeros(count, dtype=bool)
        for clip in sounding:
            low, high = clip.start * SAMPLES_PER_FRAME, clip.end * SAMPLES_PER_FRAME
            heard[max(-(-(low - 2 * FRAME + 1) // FRAME) + 1, 0) : (high - 1) // FRAME + 2] = True
        kinds = ["encode" if h else "silence" for h in heard]
    copyable = (
        timeline.format in ("MP4", "MOV")
        and not timeline.music
        and timeline.loudness is None
        and not mute
        and sounding
    )
    for clip in sounding if copyable else []:
        index = indexes[clip.source]
        if clip.volume != 1 or not reusable(index):
            continue
        placed = _copy_frames(clip, index, offsets, timeline, total, count, max_shift)
        if placed is None:
            continue
        shift, first, last, pts = placed
        shifts[clip.index] = shift
        for n in range(first, last + 1):
            kinds[n] = "copy"
            copies[n] = (clip.index, pts + (n - first) * FRAME)
    kinds[0] = "encode"  # the film's own priming frame
    return SoundPlan(total, _runs(kinds, copies, timeline, indexes), shifts)


def _copy_frames(
    clip: TimelineClip,
    index: VideoIndex,
    offsets: Mapping[Path, Fraction],
    timeline: Timeline,
    total: int,
    count: int,
    max_shift: int,
) -> tuple[int, int, int, int] | None:
    """``(shift, first film frame, last film frame, its source pts)`` to copy, if any."""
    audio = index.audio
    assert audio is not None
    first_sample = clip.start * SAMPLES_PER_FRAME
    n = clip.frames * SAMPLES_PER_FRAME
    # the source sample under the clip's first film sample (as film_audio reads it)
    source_start = round(
        (offsets.get(clip.source, Fraction(0)) + Fraction(clip.source_in, FPS)) * SAMPLE_RATE
    )
    base = first_sample - source_start + audio.first_pts  # film sample of source packet 0
    phase = base % FRAME
    shift = -phase if phase <= FRAME // 2 else FRAME - phase
    if abs(shift) > max_shift:
        return None
    base += shift
    # where the clip plays alone at full level
    head = max(
        clip.head.overlap * SAMPLES_PER_FRAME,
        _edge_samples(clip.head, clip.frames) if clip.head.kind != "fade" else 0,
    )
    tail = max(
        clip.tail.overlap * SAMPLES_PER_FRAME,
        _edge_samples(clip.tail, clip.frames) if clip.tail.kind != "fade" else 0,
    )
    low = max(first_sample + head, timeline.fade_in * SAMPLES_PER_FRAME, base)
    high = min(
        first_sample + n - tail,
        total - timeline.fade_out * SAMPLES_PER_FRAME,
        base + audio.frames * FRAME,  # the end of the take's last whole frame
    )
    # The frame at t transforms t .. t + 2048; it and the encoded frames beside it (which
    # must use long windows as it does, so nothing near them may be a transient) stay
    # inside low .. high.
    first_t = -(-(low + FRAME) // FRAME) * FRAME
    last_t = (high - 3 * FRAME) // FRAME * FRAME
    if last_t < first_t:
        return None
    pts = audio.first_pts + (first_t - base)
    return shift, first_t // FRAME + 1, min(last_t // FRAME + 1, count - 1), pts


def _runs(
    kinds: list[str],
    copies: dict[int, tuple[int, int]],
    timeline: Timeline,
    indexes: Mapping[Path, VideoIndex],
) -> tuple[Run, ...]:
    runs: list[Run] = []
    n = 0
    while n < len(kinds):
        kind, start = kinds[n], n
        if kind == "copy":
            clip, packet = copies[n]
            while n + 1 < len(kinds) and kinds[n + 1] == "copy" and copies[n + 1][0] == clip:
                n += 1
            source = timeline.clips[clip].source
            track = indexes[source].audio
            runs.append(Run("copy", start, n - start + 1, clip, source, packet, track))
        else:
            while n + 1 < len(kinds) and kinds[n + 1] == kind:
                n += 1
            runs.append(Run(kind, start, n - start + 1))
        n += 1
    return tuple(runs)


# --- writing ------------------------------------------------------------------------------


class EncodedRuns:
    """The packets of the encoded runs, handed from the threads that encode them to the one
    that writes the film, in film order. An encoder may run at most ``ahead`` runs ahead of
    the writer (so memory stays bounded whatever the film's length)."""

    def __init__(self, firsts: Sequence[int], ahead: int = 8) -> None:
        self._order = {first: k for k, first in enumerate(firsts)}
        self._runs: dict[int, list[tuple[bytes, int]]] = {}
        self._taken = 0
        self._ahead = ahead
        self._error: BaseException | None = None
        self._closed = False
        self._lock = threading.Condition()

    def put(self, first: int, packets: list[tuple[bytes, int]]) -> bool:
        """Hand over run ``first``'s packets; False once the writer has gone."""
        with self._lock:
            self._lock.wait_for(
                lambda: self._closed or self._order[first] < self._taken + self._ahead
            )
            if self._closed:
                return False
            self._runs[first] = packets
            self._lock.notify_all()
            return True

    def wait_turn(self, first: int) -> bool:
        """Wait until run ``first`` is within ``ahead`` runs of the writer; False once the
        writer has gone."""
        with self._lock:
            self._lock.wait_for(
                lambda: self._closed or self._order[first] < self._taken + self._ahead
            )
            return not self._closed

    def ready(self, first: int) -> bool:
        """Whether run ``first``'s packets (or the error that stops the encoding) are in."""
        with self._lock:
            return first in self._runs or self._error is not None

    def fail(self, error: BaseException) -> None:
        with self._lock:
            self._error = error
            self._lock.notify_all()

    def take(self, first: int) -> list[tuple[bytes, int]]:
        """Run ``first``'s packets ``(bytes, duration)``, waiting for them."""
        with self._lock:
            self._lock.wait_for(lambda: first in self._runs or self._error is not None)
            if first not in self._runs:
                assert self._error is not None
                raise BuildError(f"the cut could not encode its sound: {self._error}")
            packets = self._runs.pop(first)
            self._taken += 1
            self._lock.notify_all()
            return packets

    def close(self) -> None:
        """The writer is done (or gave up): the encoding threads stop."""
        with self._lock:
            self._closed = True
            self._runs.clear()
            self._lock.notify_all()


def encode_runs(
    plan: SoundPlan,
    timeline: Timeline,
    offsets: dict[Path, Fraction],
    out: EncodedRuns,
    *,
    workers: int = 1,
) -> None:
    """Mix and encode every ``encode`` run of ``plan``, handing each to ``out``.

    ``workers`` threads take the runs in film order, each the next one not taken (the encoder
    and the decoders let go of the interpreter lock while they work): the writer needs them
    in that order, so the first seams are ready first (a thread given four consecutive runs
    at a time made the writer wait for each of them in turn, P1). Each run opens its own
    sources: a source read before and seeked decodes its first samples differently from one
    opened afresh, and which thread takes which run depends on timing, so sharing them would
    make the film's bytes depend on it.
    """
    runs = [run for run in plan.runs if run.kind == "encode"]
    taken = itertools.count()
    lock = threading.Lock()

    def next_run() -> int | None:
        with lock:
            k = next(taken)
        return k if k < len(runs) else None

    count = max(1, min(workers, len(runs)))
    if count == 1:
        _encode_in_order(runs, next_run, plan, timeline, offsets, out)
        return
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="cut-sound") as pool:
        futures = [
            pool.submit(_encode_in_order, runs, next_run, plan, timeline, offsets, out)
            for _ in range(count)
        ]
        for future in futures:
            future.result()


def _encode_in_order(
    runs: list[Run],
    next_run: Callable[[], int | None],
    plan: SoundPlan,
    timeline: Timeline,
    offsets: dict[Path, Fraction],
    out: EncodedRuns,
) -> None:
    try:
        while (k := next_run()) is not None:
            run = runs[k]
            if not out.wait_turn(run.first):
                return
            with _Sources() as sources:
                packets = _encode_run(run, plan, timeline, offsets, sources)
            if not out.put(run.first, packets):
                return
            if k % 64 == 63:  # opening sources leaves holes in the C heap
                give_back_memory()
    except BaseException as exc:
        out.fail(exc)
        raise


class _Sources:
    """The sources a run reads, each opened once: used first from its start if that is what
    is read first (a fresh container drops the priming), seeked after."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._opened: dict[Path, Any] = {}

    def __call__(self, path: Path, near_start: bool) -> tuple[Any, bool] | None:
        if path not in self._opened:
            self._opened[path] = self._stack.enter_context(open_sound(path))
            return self._opened[path], True
        if near_start:
            return None  # read already: a fresh opening for the start
        return self._opened[path], False

    def __enter__(self) -> _Sources:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _encode_run(
    run: Run,
    plan: SoundPlan,
    timeline: Timeline,
    offsets: dict[Path, Fraction],
    opener: Callable[[Path, bool], tuple[Any, bool] | None],
) -> list[tuple[bytes, int]]:
    """One run's packets ``(bytes, duration)``, in order."""
    start = (run.first - 1) * FRAME  # film sample of the run's first frame
    stop = start + run.count * FRAME
    lead = min(ROLL, max(start, 0))  # the film's first run starts at its priming frame
    begin = max(start, 0) - lead
    sound = film_window(timeline, offsets, begin, stop + ROLL, shifts=plan.shifts, opener=opener)
    kept: dict[int, tuple[bytes, int]] = {}
    for pts, data, duration in _encode(sound):
        frame = (begin + pts) // FRAME + 1  # pts counts from the encoder's first input sample
        if run.first <= frame < run.first + run.count:
            kept[frame] = (data, duration)
    if len(kept) != run.count:
        raise BuildError(f"the cut's audio encoder gave {len(kept)} frames, not {run.count}")
    return [kept[n] for n in range(run.first, run.first + run.count)]


def _encode(sound: np.ndarray[Any, Any]) -> Iterator[tuple[int, bytes, int]]:
    """AAC packets ``(pts, bytes, duration)`` of ``sound`` (n x 2 float32, n whole frames)."""
    encoder = _encoder()
    packets: list[Any] = []
    for i in range(0, len(sound), FRAME):
        block = np.ascontiguousarray(sound[i : i + FRAME].T, dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = TIME_BASE
        frame.pts = i
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    for packet in packets:
        yield int(packet.pts), bytes(packet), int(packet.duration or FRAME)


@functools.cache
def silent_frame() -> bytes:
    """One AAC frame of digital silence, as the film's encoder writes it mid-stream."""
    packets = list(_encode(np.zeros((6 * FRAME, CHANNELS), dtype=np.float32)))
    return packets[3][1]


def add_stream(output: Any) -> Any:
    """The film's audio stream: AAC as :func:`_encoder` writes it."""
    stream = output.add_stream("aac", rate=SAMPLE_RATE)
    ctx = stream.codec_context
    ctx.layout = "stereo"
    ctx.format = "fltp"
    ctx.bit_rate = int(AUDIO_BITRATE["aac"].removesuffix("k")) * 1000
    ctx.flags |= int(av.codec.context.Flags.bitexact)
    stream.time_base = TIME_BASE
    return stream


def packets(plan: SoundPlan, encoded: EncodedRuns, stream: Any) -> Iterator[tuple[int, Any]]:
    """``(decode time in mux.CLOCK ticks, packet)`` of the film's audio track, in order."""
    last = plan.runs[-1].first + plan.runs[-1].count - 1
    end = plan.samples - (last - 1) * FRAME  # samples of the last frame inside the film
    silent = silent_frame()
    for run in plan.runs:
        if run.kind == "copy":
            source: Generator[Any, None, None] = _copied(run)
        elif run.kind == "silence":
            source = (av.Packet(silent) for _ in range(run.count))
        else:
            if not encoded.ready(run.first):  # promised: the writer writes video meanwhile
                time = (run.first - 1) * FRAME * (CLOCK // SAMPLE_RATE)
                yield time, functools.partial(encoded.ready, run.first)
            source = (av.Packet(data) for data, _ in encoded.take(run.first))
        try:
            for n, packet in zip(range(run.first, run.first + run.count), source, strict=False):
                pts = (n - 1) * FRAME
                packet.pts = packet.dts = pts
                packet.duration = end if n == last else FRAME
                packet.time_base = TIME_BASE
                packet.stream = stream
                yield pts * (CLOCK // SAMPLE_RATE), packet
        finally:
            source.close()


def _copied(run: Run) -> Generator[Any, None, None]:
    """The take's ``run.count`` packets from the one at ``run.source_pts``, in order: read
    from their byte ranges where the index has them (MP4, MOV), else demuxed."""
    assert run.source is not None
    track = run.track
    if track is not None and track.places is not None:
        first = (run.source_pts - track.first_pts) // FRAME
        try:
            handle = open(run.source, "rb")  # noqa: SIM115 (closed below, also when abandoned)
        except OSError as exc:
            raise BuildError(f"the cut cannot read the sound of '{run.source}': {exc}") from exc
        with handle:
            for offset, size in track.places[first : first + run.count]:
                packet = read_packet(handle.fileno(), offset, size)
                if packet is None:
                    break
                yield packet
            else:
                if first + run.count <= len(track.places):
                    return
        raise BuildError(f"the cut could not copy the sound of '{run.source}': frames are missing")
    wanted = run.source_pts
    with open_packets(run.source) as container:
        stream = container.streams.audio[0]
        if wanted > 8 * FRAME:
            container.seek(wanted - FRAME, stream=stream, backward=True)
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None or int(packet.pts) < wanted:
                continue
            if int(packet.pts) != wanted:
                break
            yield packet
            wanted += FRAME
            if wanted == run.source_pts + run.count * FRAME:
                return
    raise BuildError(f"the cut could not copy the sound of '{run.source}': frames are missing")


__all__ = [
    "FRAME",
    "MAX_SHIFT",
    "EncodedRuns",
    "Run",
    "SoundPlan",
    "add_stream",
    "encode_runs",
    "film_config",
    "packets",
    "plan_sound",
    "reusable",
    "silent_frame",
]
