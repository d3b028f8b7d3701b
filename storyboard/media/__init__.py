"""Media: render animatic clips and measure video files.

This package sits below every stage that touches real video: the preview backend and the
Runware emulator render with :mod:`storyboard.media.animatic`; tests, the emulator and the cut
measure with :mod:`storyboard.media.probe`; the cut finds the speech in a take's sound with
:mod:`storyboard.media.speech`. It depends only on Pillow, PyAV, the ffmpeg binary of
``imageio-ffmpeg``, WebRTC's voice activity detector (``webrtcvad-wheels``) and
:mod:`storyboard.core.errors`.

The names below load on first use (PEP 562): ``check`` imports :mod:`.limits` through this
package, and must not pay for PyAV, Pillow and numpy when the storyboard has no local media.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storyboard.core.lazy import lazy_package

if TYPE_CHECKING:
    from storyboard.media.animatic import AnimaticSpec, Segment, render, render_animatic
    from storyboard.media.probe import (
        MediaError,
        MediaInfo,
        keyframe_indices,
        probe,
        sniff_image,
        sniff_video,
    )

_EXPORTS = {
    "AnimaticSpec": "animatic",
    "Segment": "animatic",
    "render": "animatic",
    "render_animatic": "animatic",
    "MediaError": "probe",
    "MediaInfo": "probe",
    "keyframe_indices": "probe",
    "probe": "probe",
    "sniff_image": "probe",
    "sniff_video": "probe",
}

__all__ = [
    "AnimaticSpec",
    "MediaError",
    "MediaInfo",
    "Segment",
    "keyframe_indices",
    "probe",
    "render",
    "render_animatic",
    "sniff_image",
    "sniff_video",
]


lazy_package(__name__, _EXPORTS)
