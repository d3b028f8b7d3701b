"""Opening media files with PyAV, quickly: headers only where they tell all.

Place in the pipeline: under everything that reads media (the music check of ``check``, the
cut's index of the takes, its sound). An MP4 or MOV file's headers hold its whole index, and
its AAC sound is described by its AudioSpecificConfig, so such a file is opened without
probing its packets (probing decodes the first packets of every stream: milliseconds a file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av

QUICK_OPEN = {"skip_frame": "all", "probesize": "32", "analyzeduration": "0"}
"""Open options that read only the headers: an MP4 or MOV file's are the whole index."""


def open_packets(path: Path) -> Any:
    """Open a media file to read its packets (or decode its audio) with PyAV.

    Opening probes the streams, which by default decodes a frame of each (about 2 ms for a
    1080p picture); nothing read through this handle needs what that finds out (the picture's
    pixel format), so the probe's decoders are told to skip frames. Raises PyAV's errors.
    """
    return av.open(str(path), options={"skip_frame": "all"})


def open_sound(path: Path) -> Any:
    """Open a media file to decode its audio with PyAV: an MP4 or MOV file whose headers
    describe its sound (AAC-LC with its AudioSpecificConfig) without probing its packets, as
    :func:`storyboard.cut.streams.index_video` does (the probe reads and decodes the first
    packets of every stream, a few milliseconds a file); any other file as
    :func:`open_packets` does. Raises PyAV's errors."""
    container = av.open(str(path), options=QUICK_OPEN)
    if byte_ranges(container) and sound_described(container):
        return container
    container.close()
    return open_packets(path)


def sound_described(container: Any) -> bool:
    """No sound, or AAC whose rate and channels the header gives as well (decoding needs
    them)."""
    if not container.streams.audio:
        return True
    stream = container.streams.audio[0]
    audio = stream.codec_context
    layout = getattr(audio, "layout", None)
    return (
        aac_described(stream)
        and bool(audio.sample_rate)
        and bool(getattr(layout, "nb_channels", 0))
    )


def aac_described(stream: Any) -> bool:
    """An AAC-LC stream whose AudioSpecificConfig the header holds."""
    audio = stream.codec_context
    return audio.name == "aac" and aac_config(bytes(audio.extradata or b"")) is not None


def aac_config(extradata: bytes) -> tuple[str, int] | None:
    """``(profile, samples per frame)`` of an AAC-LC AudioSpecificConfig, else None.

    Its first bits: 5 of object type (2: LC), 4 of sampling rate index (15: an explicit
    rate follows), 4 of channel configuration, then the frame length flag (960, else 1024).
    """
    if len(extradata) < 2:
        return None
    object_type, rate_index = extradata[0] >> 3, ((extradata[0] & 7) << 1) | (extradata[1] >> 7)
    if object_type != 2 or rate_index == 15:
        return None
    return "LC", 960 if (extradata[1] >> 2) & 1 else 1024


def byte_ranges(container: Any) -> bool:
    """Whether the container's packets are plain byte ranges of the file (MP4, MOV)."""
    name = str(container.format.name)
    return "mp4" in name.split(",") or "mov" in name.split(",")
