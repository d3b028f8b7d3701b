"""Media: render animatic clips and measure video files.

This package sits below every stage that touches real video: the preview backend and the
Runware emulator render with :mod:`storyboard.media.animatic`; tests, the emulator and the cut
measure with :mod:`storyboard.media.probe`. It depends only on Pillow, PyAV, the ffmpeg binary
of ``imageio-ffmpeg`` and :mod:`storyboard.core.errors`.
"""

from storyboard.media.animatic import AnimaticSpec, Segment, render, render_animatic
from storyboard.media.probe import (
    MediaError,
    MediaInfo,
    keyframe_indices,
    probe,
    sniff_image,
    sniff_video,
)

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
