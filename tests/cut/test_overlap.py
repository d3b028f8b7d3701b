"""The join does not sit idle while the seams' sound is encoded: it writes the picture ahead
(up to LOOKAHEAD of film), and the muxer puts the packets back in order, so the film's bytes
are those of a join that never waited. Encoding threads take the runs in film order."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from storyboard.cut import sound
from storyboard.cut.mux import CLOCK, LOOKAHEAD, _merge
from tests.cut.conftest import StoryboardFactory, render_source
from tests.cut.test_assemble import cut_film


class Recorder:
    """A stand-in output: the packets muxed, in order."""

    def __init__(self) -> None:
        self.muxed: list[str] = []

    def mux(self, packet: str) -> None:
        self.muxed.append(packet)


def test_video_is_written_ahead_of_sound_not_ready_and_no_further() -> None:
    video = [(k * CLOCK // 24, f"v{k}") for k in range(24 * 20)]  # 20 s of frames
    ready = threading.Event()
    output = Recorder()

    def promise() -> bool:
        # ready once the writer has written 4 s of picture (2 s past the promised packet)
        if sum(p.startswith("v") for p in output.muxed) >= 24 * 4:
            ready.set()
        return ready.is_set()

    def sound_items() -> Any:
        yield 0, "a0"
        yield 2 * CLOCK, promise  # the sound at 2 s is still being encoded
        yield 2 * CLOCK, "a1"
        yield 3 * CLOCK, "a2"

    _merge(output, iter(video), sound_items())
    at = output.muxed.index("a1")
    ahead = [p for p in output.muxed[:at] if p.startswith("v")]
    # everything up to 2 s, then ahead while not ready, never past 2 s + LOOKAHEAD
    assert len(ahead) == 24 * 4 < 24 * 2 + 24 * LOOKAHEAD // CLOCK
    assert output.muxed.index("a0") == 1  # v0 first at equal times, as before
    assert output.muxed[at + 1] == "a2"  # then the sound, in order
    assert len(output.muxed) == len(video) + 3


def test_ahead_never_past_the_lookahead() -> None:
    video = [(k * CLOCK // 24, f"v{k}") for k in range(24 * 20)]
    output = Recorder()

    def sound_items() -> Any:
        yield 1 * CLOCK, lambda: False  # never ready while the writer asks
        yield 1 * CLOCK, "a1"

    _merge(output, iter(video), sound_items())
    at = output.muxed.index("a1")
    assert at == 24 * (1 + LOOKAHEAD // CLOCK) + 1  # frames 0 .. 1 s + LOOKAHEAD, inclusive


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("overlap")
    return {
        name: render_source(root / f"{name}.mp4", 3, stereo=True, pattern=pattern)
        for name, pattern in (("a", "testsrc2"), ("b", "testsrc"), ("c", "smptebars"))
    }


def test_a_slow_sound_encoder_changes_nothing_in_the_film(
    storyboard: StoryboardFactory,
    clips: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shots = {"one": clips["a"], "two": clips["b"], "three": clips["c"], "four": clips["a"]}
    cut_film(storyboard, tmp_path / "quick.mp4", shots)
    encode_run = sound._encode_run
    order: list[int] = []

    def slow(run: sound.Run, *args: Any) -> Any:
        order.append(run.first)
        time.sleep(0.05)
        return encode_run(run, *args)

    monkeypatch.setattr(sound, "_encode_run", slow)
    cut_film(storyboard, tmp_path / "slow.mp4", shots)
    assert (tmp_path / "slow.mp4").read_bytes() == (tmp_path / "quick.mp4").read_bytes()
    assert len(order) >= 4 and order[:2] == sorted(order)[:2]  # the first seams first
