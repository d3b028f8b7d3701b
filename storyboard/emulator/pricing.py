"""What a videoInference job costs on the emulator, per §3.7 of the protocol reference.

USD per output second at 1080p: 0.112 silent, 0.14 with native sound, 0.168 with a video
input (an edit's ``inputs.video`` or ``inputs.referenceVideos``; sound is not allowed then).
An edit is billed on its source's length, rounded to the nearest second (a reseller documents
this, and the seed's edit costs exactly 6 x 0.168). One result costs ``rate x seconds``
rounded to 4 decimals; a job of ``numberResults = n`` costs ``n`` times that. Checked against
the seed: 8 s + sound = 1.12, a 6 s edit = 1.008, 3+3+3 s multi-prompt + sound = 1.26.
"""

from __future__ import annotations

from dataclasses import dataclass

RATE_SILENT = 0.112
RATE_SOUND = 0.14
RATE_VIDEO_INPUT = 0.168


@dataclass(frozen=True)
class Price:
    """The price of one job: its rate, billed seconds and costs."""

    rate: float
    seconds: int
    number_results: int

    @property
    def per_result(self) -> float:
        """USD for one result, rounded to 4 decimals (the ``cost`` of each result item)."""
        return round(self.rate * self.seconds, 4)

    @property
    def total(self) -> float:
        """USD for the whole job: ``numberResults`` results."""
        return round(self.per_result * self.number_results, 4)


def rate_for(*, sound: bool, video_input: bool) -> float:
    """The USD rate per output second."""
    if video_input:
        return RATE_VIDEO_INPUT
    return RATE_SOUND if sound else RATE_SILENT


def billed_seconds(seconds: float) -> int:
    """Seconds billed for an output of ``seconds`` (nearest second, halves up, at least 1)."""
    return max(1, int(seconds + 0.5))


def price(*, seconds: float, sound: bool, video_input: bool, number_results: int) -> Price:
    """The :class:`Price` of a job."""
    rate = rate_for(sound=sound, video_input=video_input)
    return Price(rate, billed_seconds(seconds), number_results)
