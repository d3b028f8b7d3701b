"""The offline ``preview`` backend: free, deterministic animatics instead of generated video.

For each take it renders a real video at the requested size (scaled down by
``--preview-scale``), of the exact duration, at 24 fps, with a 1 s keyframe interval: a slow
move from the ``start`` image toward the ``end`` image where the take has them (hand-offs
really flow: a ``start`` taken from another take is that take's decoded last frame), otherwise
a card per shot with its id, prompt and a timecode, so segment boundaries show; each shot's
lines of dialogue are drawn as subtitles at the times the film's subtitles give them. A quiet
audio track is there exactly when ``sound`` is on. An edit takes its source's size and length,
and shows the source's footage. Every take shows its own shots' ids and prompts: on its cards,
or as a caption over its start image or its source footage (see
:mod:`storyboard.media.animatic`); a retake and a variation say which they are.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from storyboard.backends.base import Job, Output, Ticket
from storyboard.profiles import Size, get_profile

DEFAULT_SIZES = (Size(1920, 1080), Size(1440, 1440), Size(1080, 1920))


def snap_size(width: int, height: int, sizes: tuple[Size, ...] = DEFAULT_SIZES) -> Size:
    """The allowed size whose aspect ratio is nearest to ``width`` x ``height``."""
    aspect = math.log(width / height)
    return min(sizes, key=lambda s: (abs(math.log(s.width / s.height) - aspect), s.width))


class PreviewBackend:
    """Renders animatics locally; see the module docstring."""

    name = "preview"
    endpoint = ""
    paid = False

    def __init__(self, *, scale: float = 1.0) -> None:
        from storyboard.backends.namespaces import namespace

        self.scale = scale
        self.namespace = namespace("preview", preview_scale=scale)

    async def submit(self, job: Job) -> Ticket:
        return Ticket(job)

    async def collect(self, ticket: Ticket, folder: Path) -> list[Output]:
        job = ticket.job
        count = int(job.request.get("numberResults", 1))
        outputs = []
        for index in range(count):
            out = folder / f"{job.take}-{index}.mp4"
            import asyncio  # here: a build with nothing to do never renders (its start-up)

            await asyncio.to_thread(self._render, job, index, count, out)
            outputs.append(Output(out, cost=0.0))
        return outputs

    async def fetch(self, url: str, dest: Path) -> None:
        raise NotImplementedError("the preview backend has nothing to download")

    async def aclose(self) -> None:
        return None

    def _render(self, job: Job, index: int, count: int, out: Path) -> None:
        from storyboard.media.animatic import Segment, render_animatic
        from storyboard.media.probe import probe

        request = job.request
        inputs: dict[str, Any] = request.get("inputs", {})
        frames = {f.get("frame", "first"): f["image"] for f in inputs.get("frameImages", [])}
        start = job.files.get(frames.get("first", ""))
        end = job.files.get(frames.get("last", ""))
        settings = request.get("providerSettings", {}).get("klingai", {})
        profile = get_profile(str(request.get("model")))
        sizes = profile.sizes if profile else DEFAULT_SIZES
        duration = float(request.get("duration") or 0)
        if "width" in request:
            size = Size(int(request["width"]), int(request["height"]))
        elif "video" in inputs and inputs["video"] in job.files:
            info = probe(job.files[inputs["video"]])
            size, duration = snap_size(info.width, info.height, sizes), round(info.duration_s)
        elif start is not None:
            from PIL import Image

            with Image.open(start) as image:
                size = snap_size(image.width, image.height, sizes)
        else:
            size = sizes[0]
        if not duration:
            duration = job.source_seconds or 5.0
        label = f" (variation {index + 1} of {count})" if count > 1 else ""
        if job.retake:  # the same request, another attempt: the card says which
            label += f" (retake {job.retake})"
        segments = [
            Segment(s.shot + label, s.prompt, float(s.seconds), s.lines) for s in job.segments
        ]
        source = None
        if "video" in inputs and segments:
            segments = [Segment(segments[0].label + " (edit)", segments[0].text, duration)]
            source = job.files.get(inputs["video"])
        render_animatic(
            out,
            width=size.width,
            height=size.height,
            duration_s=duration,
            segments=segments,
            start_image=start,
            end_image=end if start is not None else None,
            sound=bool(settings.get("sound")),
            scale=self.scale,
            captions=True,
            source_video=source if start is None else None,
        )
