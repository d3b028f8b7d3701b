"""Animatic clips: real, playable stand-ins for generated videos, drawn locally.

The preview backend and the Runware emulator both make their videos here, so that every later
stage (hand-offs, the cut, the tests) works on files with the exact duration, frame rate, size,
codecs and audio layout the service would return. Two kinds of picture:

- with a start image: a slow move (gentle zoom and pan) over it, cross-fading toward the end
  image when there is one. The first frame is the start image and the last frame is the end
  image, both fitted to the frame, so hand-offs through decoded frames stay faithful;
- over a source video (an edit's preview): the source's frames, tinted, fitted to the frame;
- otherwise a card per segment: the segment's label (e.g. the shot id), its prompt wrapped,
  a running timecode and a progress bar. Each segment has its own colour, so boundaries show.

With ``captions`` (the preview backend's), the first two kinds carry the current segment's
label and prompt over the picture, so that every take shows its own shot and prompt (a take
that starts on another's last frame would otherwise show that take's card, and a new prompt
would draw the same bytes). The caption fades in over the first frames and out over the last:
the first frame is the start image and the last the end image (or the move's end) as they
are, so hand-offs stay faithful and no caption is carried into the next take. Text is sized
from the frame's shorter side and shrunk or wrapped to fit its width: a portrait frame's
text fits as a landscape one's does.

Either way, a segment's lines of dialogue are drawn as subtitles at their times, so a writer
can judge the timing before paying; never on a clip's first and last frame, which other
shots may start or end on.

Frames are drawn with Pillow (its embedded scalable font, no system fonts) and piped raw into
the ffmpeg binary that ``imageio-ffmpeg`` ships. Encoding is bit-exact and single-threaded per
stream, so the same spec always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageFont

from storyboard.media.probe import MediaError

VideoFormat = Literal["MP4", "WEBM", "MOV"]
ImageSource = bytes | str | Path | Image.Image

EXTENSIONS: dict[str, str] = {"MP4": "mp4", "WEBM": "webm", "MOV": "mov"}
AUDIO_RATE = 48_000
_ZOOM = 1.10  # how far the slow move pushes in over a whole clip


Spoken = tuple[float, float, str]
"""A line of dialogue on a segment: ``(start, end, words)``, seconds from the segment's start."""


@dataclass(frozen=True)
class Segment:
    """One stretch of an animatic: what its card says, how long it lasts, what is said."""

    label: str
    text: str
    seconds: float
    lines: tuple[Spoken, ...] = ()


@dataclass(frozen=True)
class AnimaticSpec:
    """Everything that decides an animatic's bytes.

    ``width`` x ``height`` is the nominal size; the file is ``scale`` times that, rounded to
    even numbers (H.264 and VP9 need even sizes). Segments are laid out in order; the last one
    runs to the end of the clip.
    """

    width: int
    height: int
    duration_s: float
    fps: int = 24
    segments: tuple[Segment, ...] = ()
    start_image: ImageSource | None = None
    end_image: ImageSource | None = None
    sound: bool = False
    fmt: VideoFormat = "MP4"
    quality: int = 95
    scale: float = 1.0
    captions: bool = False
    source_video: Path | None = None

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"size must be positive, got {self.width}x{self.height}")
        if self.duration_s <= 0 or self.fps <= 0 or self.scale <= 0:
            raise ValueError("duration, fps and scale must be positive")
        if self.fmt not in EXTENSIONS:
            raise ValueError(f"format must be one of {sorted(EXTENSIONS)}, got {self.fmt!r}")
        if self.end_image is not None and self.start_image is None:
            raise ValueError("an end image needs a start image")
        if self.source_video is not None and self.start_image is not None:
            raise ValueError("a source video takes no start image")

    @property
    def size(self) -> tuple[int, int]:
        """The pixel size of the file: the nominal size scaled, rounded to even numbers."""
        return (_even(self.width * self.scale), _even(self.height * self.scale))

    @property
    def frame_count(self) -> int:
        return max(1, round(self.duration_s * self.fps))

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.fmt]


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def render_animatic(
    out_path: str | Path,
    *,
    width: int,
    height: int,
    duration_s: float,
    fps: int = 24,
    segments: Sequence[Segment | tuple[str, str, float]] = (),
    start_image: ImageSource | None = None,
    end_image: ImageSource | None = None,
    sound: bool = False,
    fmt: VideoFormat = "MP4",
    quality: int = 95,
    scale: float = 1.0,
    captions: bool = False,
    source_video: Path | None = None,
) -> Path:
    """Render an animatic to ``out_path`` (written atomically); see :class:`AnimaticSpec`.

    Args:
        segments: ``Segment`` or ``(label, text, seconds)`` tuples; empty means one card.
            A segment's ``lines`` are drawn as subtitles.
        start_image, end_image: encoded image bytes, a path, or a Pillow image.
        fmt: ``MP4``/``MOV`` give H.264 + AAC, ``WEBM`` gives VP9 + Opus.
        quality: 20-99 like the service's ``outputQuality``; mapped to a CRF.
        captions: draw each segment's label and prompt over a start image or source video.
        source_video: a video to show instead of a card (an edit's source).

    Returns:
        ``out_path`` as a Path.

    Raises:
        MediaError: ffmpeg failed or an image could not be read.
    """
    spec = AnimaticSpec(
        width=width,
        height=height,
        duration_s=duration_s,
        fps=fps,
        segments=tuple(s if isinstance(s, Segment) else Segment(*s) for s in segments),
        start_image=start_image,
        end_image=end_image,
        sound=sound,
        fmt=fmt,
        quality=quality,
        scale=scale,
        captions=captions,
        source_video=source_video,
    )
    return render(spec, out_path)


def render(spec: AnimaticSpec, out_path: str | Path) -> Path:
    """Render ``spec`` to ``out_path`` atomically (temp file + rename). See render_animatic."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _encode(spec, _frames(spec), tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# --- encoding ---------------------------------------------------------------------------


def _ffmpeg() -> str:
    import imageio_ffmpeg

    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


def ffmpeg_command(spec: AnimaticSpec, out: Path) -> list[str]:
    """The ffmpeg command line that encodes raw RGB frames from stdin for ``spec``."""
    width, height = spec.size
    seconds = spec.frame_count / spec.fps
    cmd = [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y"]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}"]
    cmd += ["-framerate", str(spec.fps), "-i", "pipe:0"]
    if spec.sound:
        # A quiet, steady tone of exactly the video's length: deterministic by construction.
        tone = f"sine=frequency=220:sample_rate={AUDIO_RATE}:duration={seconds:.6f}"
        cmd += ["-f", "lavfi", "-i", tone, "-map", "0:v", "-map", "1:a"]
        cmd += ["-filter:a", "volume=0.05", "-ac", "1"]
    else:
        cmd += ["-map", "0:v"]
    quality = min(max(spec.quality, 1), 100)
    if spec.fmt == "WEBM":
        crf = min(max(round(56 - 0.36 * quality), 4), 63)
        cmd += ["-c:v", "libvpx-vp9", "-crf", str(crf), "-b:v", "0", "-deadline", "realtime"]
        cmd += ["-cpu-used", "8", "-row-mt", "0", "-threads", "1"]
        cmd += ["-g", str(spec.fps), "-keyint_min", str(spec.fps), "-auto-alt-ref", "0"]
        if spec.sound:
            cmd += ["-c:a", "libopus", "-b:a", "48k"]
        cmd += ["-f", "webm"]
    else:
        crf = min(max(round(45 - 0.3 * quality), 0), 51)
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-threads", "1"]
        cmd += ["-g", str(spec.fps), "-keyint_min", str(spec.fps), "-sc_threshold", "0"]
        if spec.sound:
            cmd += ["-c:a", "aac", "-b:a", "64k"]
        cmd += ["-movflags", "+faststart", "-f", "mov" if spec.fmt == "MOV" else "mp4"]
    cmd += ["-pix_fmt", "yuv420p", "-r", str(spec.fps)]
    cmd += ["-fflags", "+bitexact", "-flags:v", "+bitexact"]
    if spec.sound:
        cmd += ["-flags:a", "+bitexact"]
    cmd += ["-map_metadata", "-1", "-map_chapters", "-1", str(out)]
    return cmd


def _encode(spec: AnimaticSpec, frames: Iterator[Image.Image], out: Path) -> None:
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            ffmpeg_command(spec, out), stdin=subprocess.PIPE, stderr=errors, stdout=errors
        )
        assert proc.stdin is not None
        try:
            for frame in frames:
                proc.stdin.write(frame.tobytes())
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg died; its message is in `errors`
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        status = proc.wait()
        if status != 0:
            errors.seek(0)
            tail = errors.read()[-2000:].decode("utf-8", "replace").strip()
            raise MediaError(f"ffmpeg failed (status {status}) writing {out.name}: {tail}")


# --- pictures ---------------------------------------------------------------------------


def _frames(spec: AnimaticSpec) -> Iterator[Image.Image]:
    if spec.source_video is not None:
        return _spoken(spec, _captioned(spec, _source_frames(spec)))
    if spec.start_image is None:
        return _card_frames(spec)
    return _spoken(spec, _captioned(spec, _image_frames(spec)))


def _spoken(spec: AnimaticSpec, frames: Iterator[Image.Image]) -> Iterator[Image.Image]:
    """``frames`` with each segment's lines drawn over them at their times, after the
    caption, so that a caption never hides a line."""
    layout = _layout(spec)
    for index, frame in enumerate(frames):
        _say(frame, spec, layout, index)
        yield frame


def _layout(spec: AnimaticSpec) -> list[tuple[int, Segment]]:
    """``(first frame, segment)`` for each segment, in order; boundaries rounded to frames."""
    segments = spec.segments or (Segment("", "", spec.duration_s),)
    starts: list[tuple[int, Segment]] = []
    elapsed = 0.0
    for segment in segments:
        first = min(round(elapsed * spec.fps), spec.frame_count - 1)
        if not starts or first > starts[-1][0]:
            starts.append((first, segment))
        elapsed += max(segment.seconds, 0.0)
    return starts


def _segment_at(layout: list[tuple[int, Segment]], index: int) -> tuple[int, Segment]:
    position = 0
    for k, (first, _) in enumerate(layout):
        if first <= index:
            position = k
    return position, layout[position][1]


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(size, 6))


def _colour(label: str, position: int) -> tuple[int, int, int]:
    """A dark, saturated background that differs from segment to segment."""
    # Neighbouring segments sit ~0.38 of the colour wheel apart (the golden ratio); the label
    # only nudges the hue, so two clips with other labels still look different.
    digest = hashlib.sha256(label.encode()).digest()
    hue = (digest[0] / 255 * 0.15 + position * 0.382) % 1.0 * 6
    sector, frac = int(hue) % 6, hue - int(hue)
    lo, hi = 40, 150
    mid_up, mid_down = lo + round((hi - lo) * frac), hi - round((hi - lo) * frac)
    rgb = [
        (hi, mid_up, lo),
        (mid_down, hi, lo),
        (lo, hi, mid_up),
        (lo, mid_down, hi),
        (mid_up, lo, hi),
        (hi, lo, mid_down),
    ][sector]
    return (rgb[0], rgb[1], rgb[2])


Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _fitted(text: str, size: int, width: int) -> tuple[Font, str]:
    """The font, at most ``size``, that fits ``text`` in ``width`` pixels, and the text (cut
    short with ``...`` when even the smallest font does not fit it)."""
    font = _font(size)
    while font.getlength(text) > width and size > 6:
        size = max(6, size * 9 // 10)
        font = _font(size)
    if font.getlength(text) <= width:
        return font, text
    while text and font.getlength(text + "...") > width:
        text = text[:-1]
    return font, text + "..." if text else ""


def _wrap(text: str, font: Font, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in _words(text, font, width):
        candidate = f"{current} {word}".strip()
        if current and font.getlength(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _words(text: str, font: Font, width: int) -> Iterator[str]:
    """The words of ``text``, each longer than ``width`` broken into pieces that fit."""
    for word in text.split():
        while font.getlength(word) > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and font.getlength(word[:cut]) > width:
                cut -= 1
            yield word[:cut]
            word = word[cut:]
        yield word


def _clipped(lines: list[str], room: int, font: Font, width: int) -> list[str]:
    """The first ``room`` of ``lines``; when some are left out, the last one kept ends with
    ``...``, shortened so that it still fits ``width`` (a full line plus ``...`` would not)."""
    if len(lines) <= room:
        return lines
    lines = lines[:room]
    if lines:
        last = lines[-1].rstrip(".")
        while last and font.getlength(last + "...") > width:
            last = last[:-1].rstrip(".")
        lines[-1] = last + "..."
    return lines


def timecode(index: int, fps: int) -> str:
    """``HH:MM:SS:FF`` for frame ``index`` at ``fps``."""
    seconds, frames = divmod(index, fps)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def _card(spec: AnimaticSpec, segment: Segment, position: int, count: int) -> Image.Image:
    """The still part of a segment's card: colour, label and wrapped prompt."""
    width, height = spec.size
    card = Image.new("RGB", (width, height), _colour(segment.label, position))
    draw = ImageDraw.Draw(card)
    margin = max(2, width // 40)
    short = min(width, height)  # a portrait frame's text is sized as a landscape one's
    body = _font(max(short // 16, 6))
    label = segment.label or "animatic"
    if count > 1:
        label = f"{label}  ({position + 1}/{count})"
    title, label = _fitted(label, max(short // 9, 8), width - 2 * margin)
    draw.text((margin, margin), label, font=title, fill=(255, 255, 255))
    top = margin + int(title.getbbox("Ag")[3]) + margin
    line_height = int(body.getbbox("Ag")[3]) + max(1, height // 90)
    bottom = height - 2 * line_height - margin
    room = max(0, (bottom - top) // max(line_height, 1))
    lines = _clipped(_wrap(segment.text, body, width - 2 * margin), room, body, width - 2 * margin)
    for k, line in enumerate(lines):
        draw.text((margin, top + k * line_height), line, font=body, fill=(235, 235, 235))
    return card


def _card_frames(spec: AnimaticSpec) -> Iterator[Image.Image]:
    width, height = spec.size
    layout = _layout(spec)
    cards = [_card(spec, seg, k, len(layout)) for k, (_, seg) in enumerate(layout)]
    font = _font(max(min(width, height) // 12, 7))
    margin = max(2, width // 40)
    bar = max(2, height // 45)
    text_y = height - margin - bar - int(font.getbbox("0")[3]) - max(1, height // 60)
    total = spec.frame_count
    for index in range(total):
        position, _ = _segment_at(layout, index)
        frame = cards[position].copy()
        draw = ImageDraw.Draw(frame)
        draw.text((margin, text_y), timecode(index, spec.fps), font=font, fill=(255, 255, 170))
        done = round((width - 2 * margin) * (index + 1) / total)
        y0 = height - margin - bar
        if width > 2 * margin and y0 >= 0:  # a frame too small for a progress bar has none
            draw.rectangle((margin, y0, width - margin - 1, y0 + bar - 1), fill=(20, 20, 20))
        if done > 0 and y0 >= 0:  # at small sizes the first frames have no progress yet
            draw.rectangle((margin, y0, margin + done - 1, y0 + bar - 1), fill=(255, 255, 170))
        _say(frame, spec, layout, index)
        yield frame


def _load(source: ImageSource, what: str) -> Image.Image:
    try:
        if isinstance(source, Image.Image):
            image = source
        elif isinstance(source, bytes):
            image = Image.open(BytesIO(source))
        else:
            image = Image.open(source)
        image.load()
    except (OSError, ValueError) as exc:
        raise MediaError(f"the {what} image cannot be read: {exc}") from exc
    return image.convert("RGB")


def _prepared(source: ImageSource, what: str, size: tuple[int, int]) -> Image.Image:
    """The image cropped to the frame's aspect (centred) at no more than twice the frame size."""
    image = _load(source, what)
    width, height = size
    scale = max(width / image.width, height / image.height)
    crop_w, crop_h = min(width / scale, image.width), min(height / scale, image.height)
    left, top = (image.width - crop_w) / 2, (image.height - crop_h) / 2
    target = (
        min(2 * width, max(width, round(crop_w))),
        min(2 * height, max(height, round(crop_h))),
    )
    return image.resize(
        target, Image.Resampling.BILINEAR, box=(left, top, left + crop_w, top + crop_h)
    )


def _view(image: Image.Image, size: tuple[int, int], zoom: float, drift: float) -> Image.Image:
    """``image`` seen at ``zoom`` (1 = whole), centre drifted right and up by ``drift``."""
    zoom = max(zoom, 1.0)  # 1.1 - 0.1 may come out a hair below 1
    box_w, box_h = image.width / zoom, image.height / zoom
    room_x, room_y = (image.width - box_w) / 2, (image.height - box_h) / 2
    left = min(max(room_x + room_x * 0.5 * drift, 0.0), image.width - box_w)
    top = min(max(room_y - room_y * 0.3 * drift, 0.0), image.height - box_h)
    return image.resize(size, Image.Resampling.BILINEAR, box=(left, top, left + box_w, top + box_h))


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)


def _image_frames(spec: AnimaticSpec) -> Iterator[Image.Image]:
    size = spec.size
    assert spec.start_image is not None
    start = _prepared(spec.start_image, "start", size)
    end = None if spec.end_image is None else _prepared(spec.end_image, "end", size)
    layout = _layout(spec)
    tags = len(layout) > 1 and not spec.captions  # captions name the segment themselves
    font = _font(max(min(size) // 12, 7))
    total = spec.frame_count
    for index in range(total):
        t = index / (total - 1) if total > 1 else 1.0
        if end is None:
            frame = _view(start, size, 1 + (_ZOOM - 1) * t, t)
        else:
            # The start image pushes in while the end image settles from the same push to rest.
            a = _view(start, size, 1 + (_ZOOM - 1) * t, t)
            b = _view(end, size, _ZOOM - (_ZOOM - 1) * t, -(1 - t))
            frame = Image.blend(a, b, _ease(t))
        if tags:
            position, segment = _segment_at(layout, index)
            draw = ImageDraw.Draw(frame)
            text = f"{segment.label or 'segment'} {position + 1}/{len(layout)}"
            pad = max(1, size[1] // 60)
            box = draw.textbbox((pad * 2, pad * 2), text, font=font)
            draw.rectangle(
                (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad),
                fill=_colour(segment.label, position),
            )
            draw.text((pad * 2, pad * 2), text, font=font, fill=(255, 255, 255))
        yield frame


def said_at(layout: list[tuple[int, Segment]], index: int, fps: int) -> str | None:
    """The words of the line spoken at frame ``index`` (its segment's), if any."""
    position, segment = _segment_at(layout, index)
    seconds = (index - layout[position][0]) / fps
    for start, end, words in segment.lines:
        if start <= seconds < end:
            return words
    return None


def _say(
    frame: Image.Image, spec: AnimaticSpec, layout: list[tuple[int, Segment]], index: int
) -> None:
    """Draw the line spoken at frame ``index`` as a subtitle: white on a dark band, centred
    above the timecode (not on the first or the last frame: hand-offs start on those)."""
    if index in (0, spec.frame_count - 1):
        return
    words = said_at(layout, index, spec.fps)
    if not words:
        return
    width, height = spec.size
    font = _font(max(height // 14, 6))
    margin = max(2, width // 40)
    lines = _wrap(words, font, width - 4 * margin)[:2]
    step = int(font.getbbox("Ag")[3]) + max(1, height // 90)
    bottom = height - max(2, height // 5)
    top = bottom - step * len(lines)
    draw = ImageDraw.Draw(frame)
    pad = max(1, height // 90)
    widest = max(font.getlength(line) for line in lines)
    left = (width - widest) / 2
    draw.rectangle(
        (left - 2 * pad, top - pad, left + widest + 2 * pad, bottom + pad), fill=(0, 0, 0)
    )
    for k, line in enumerate(lines):
        x = (width - font.getlength(line)) / 2
        draw.text((x, top + k * step), line, font=font, fill=(255, 255, 255))


def _source_frames(spec: AnimaticSpec) -> Iterator[Image.Image]:
    """The source video's frames, fitted to the frame and tinted with the first segment's
    colour (an edit restyles its source), one per output frame: the last one repeated if
    the source is shorter."""
    import av

    assert spec.source_video is not None
    size = spec.size
    label = spec.segments[0].label if spec.segments else ""
    tint = Image.new("RGB", size, _colour(label, 0))
    last: Image.Image | None = None
    total = spec.frame_count
    try:
        with av.open(str(spec.source_video)) as container:
            decoded = container.decode(video=0)
            for _ in range(total):
                frame: Any = next(decoded, None)
                if frame is not None:
                    picture = _prepared(frame.to_image(), "source", size).resize(size)
                    last = Image.blend(picture, tint, 0.25)
                if last is None:
                    raise MediaError("the source video has no frame")
                yield last
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"the source video cannot be read: {exc}") from exc


def _captioned(spec: AnimaticSpec, frames: Iterator[Image.Image]) -> Iterator[Image.Image]:
    """``frames`` with the current segment's label and prompt over them (when
    ``spec.captions``), fading in from the first frame and out to the last, which stay as
    they were (hand-offs take them)."""
    if not spec.captions:
        yield from frames
        return
    layout = _layout(spec)
    total = spec.frame_count
    ramp = max(1, min(spec.fps // 2, (total - 1) // 4))
    bands: dict[int, tuple[Image.Image, Image.Image]] = {}
    for index, frame in enumerate(frames):
        strength = min(1.0, index / ramp, (total - 1 - index) / ramp)
        if strength <= 0:
            yield frame
            continue
        position, segment = _segment_at(layout, index)
        if position not in bands:
            bands[position] = _band(spec, segment, position, len(layout))
        band, mask = bands[position]
        top = frame.height - band.height
        region = frame.crop((0, top, frame.width, frame.height))
        shaded = Image.composite(band, region, mask)
        frame = frame.copy()
        frame.paste(Image.blend(region, shaded, strength), (0, top))
        yield frame


def _band(
    spec: AnimaticSpec, segment: Segment, position: int, count: int
) -> tuple[Image.Image, Image.Image]:
    """The caption at the foot of a frame: a dark band with the segment's label and its
    prompt wrapped (at most half the frame's height), and the mask that lays it over."""
    width, height = spec.size
    short = min(width, height)
    margin = max(2, width // 40)
    label = segment.label or "animatic"
    if count > 1:
        label = f"{label}  ({position + 1}/{count})"
    title, label = _fitted(label, max(short // 12, 7), width - 2 * margin)
    body = _font(max(short // 18, 6))
    title_h = int(title.getbbox("Ag")[3])
    line_h = int(body.getbbox("Ag")[3]) + max(1, height // 120)
    room = max(0, (height // 2 - title_h - 3 * margin) // max(line_h, 1))
    lines = _clipped(_wrap(segment.text, body, width - 2 * margin), room, body, width - 2 * margin)
    band_h = min(height, 2 * margin + title_h + (margin + len(lines) * line_h if lines else 0))
    band = Image.new("RGB", (width, band_h), (16, 16, 20))
    draw = ImageDraw.Draw(band)
    draw.rectangle((0, 0, max(0, margin // 2 - 1), band_h), fill=_colour(segment.label, position))
    draw.text((margin, margin), label, font=title, fill=(255, 255, 255))
    top = margin + title_h + margin
    for k, line in enumerate(lines):
        draw.text((margin, top + k * line_h), line, font=body, fill=(235, 235, 235))
    mask = Image.new("L", (width, band_h), 200)
    return band, mask


__all__ = [
    "EXTENSIONS",
    "AnimaticSpec",
    "ImageSource",
    "Segment",
    "VideoFormat",
    "ffmpeg_command",
    "render",
    "render_animatic",
    "timecode",
]
