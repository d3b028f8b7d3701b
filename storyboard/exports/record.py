"""The film record: what a build made, written as ``build/NAME/build.json`` beside the film.

Place in the pipeline: the last thing a build writes (after execute and the cut), and the one
thing everything downstream of a build reads instead of re-running it: ``storyboard report``,
the timeline exports (:mod:`storyboard.exports.otio`) and the contact sheet
(:mod:`storyboard.exports.contact_sheet`). It holds no absolute path: media paths are
relative to the build folder, so the folder can be moved or archived whole.

The JSON (``"version": 1``)::

    {"version": 1, "name": "film", "storyboard": "film.yaml", "title": "...",
     "backend": "preview", "film": "film.mp4" | null,
     "output": {"width": 1920, "height": 1080, "fps": 24, "format": "MP4"},
     "clips": [{"shot", "take", "source", "source_in", "source_out", "start",
                "transition", "transition_duration", "position",
                "volume"?, "card"?, "caption"?}, ...],                      # cut order
     "fade_in"?, "fade_out"?, "loudness"?, "music"?: [{...}], "subtitles"?: [{...}],
     "takes": [{"id", "shots", "status", "cost", "generation_cost", "estimate", "key",
                "depends_on", "prompts", "video", "variations", "duration", "message",
                "position", "dialogue": {SHOT: [{"who", "says", "how", "at"}]}}, ...],
                                                                            # dependency order
     "totals": {"spent", "estimate", "estimate_all_takes", "unknown"},
     "graph": {... storyboard.compiler.draw.describe() ...},
     "subtitles": [{"start", "end", "text", "who", "shot", "line", "clip", "timing"}, ...]}

``dialogue`` (each shot's lines, as written) and ``subtitles`` (the film's cues, in film time:
:class:`storyboard.cut.cues.Cue`) are read as empty from a record written before them.

Times are seconds (floats); a clip's frames at the film's rate are ``round(seconds * fps)``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from storyboard.core.errors import InputError
from storyboard.core.files import MAX_STATE_BYTES, PLAIN_FILES, Writer
from storyboard.core.inputs import read_capped
from storyboard.cut.cues import Cue

if TYPE_CHECKING:
    from storyboard.build.pipeline import BuildResult

RECORD_VERSION = 1
RECORD_NAME = "build.json"
FILM_FPS = 24
TRANSITIONS = ("cut", "crossfade", "fade")
STATUSES = ("cached", "remote", "locked", "generated", "failed", "skipped", "unselected")


def frame_count(seconds: float, fps: int = FILM_FPS) -> int:
    """Whole frames in ``seconds`` at ``fps``, to the nearest frame (halves round up)."""
    return math.floor(seconds * fps + 0.5)


@dataclass(frozen=True)
class ClipPlacement:
    """One clip of the film: which part of which take's video, and where it sits in the film.

    Attributes:
        shot: the shot id.
        take: the id of the take whose video holds the shot.
        source: that video, relative to the build folder (``takes/TAKE.mp4``).
        source_in, source_out: the part of the video used, in seconds from its start
            (a shot of a multi-shot take starts at its segment's offset).
        start: when the clip starts in the film, in seconds. A transition that overlaps
            the previous clip starts it before the previous clip's end.
        transition: the transition into this clip: ``cut``, ``crossfade`` or ``fade``.
        transition_duration: its length in seconds (0 for a cut).
        position: ``FILE:LINE:COL`` of the shot in the storyboard.
        volume: the gain of the clip's own sound (0: muted).
        card: for a title card or credits (``shot``, ``take`` and ``source`` are empty: the
            cut rendered it into the film), ``{"kind", "text", "background", "color",
            "font", "size"}``.
        caption: text over the clip, ``{"text", "from", "to", "position"}`` (seconds from
            the clip's start).
    """

    shot: str
    take: str
    source: str
    source_in: float
    source_out: float
    start: float
    transition: str = "cut"
    transition_duration: float = 0.0
    position: str = ""
    volume: float = 1.0
    card: Mapping[str, Any] | None = None
    caption: Mapping[str, Any] | None = None

    @property
    def label(self) -> str:
        """How the clip is named to a person: its shot, or the card's kind and first line."""
        if self.card is None:
            return self.shot
        first = str(self.card.get("text", "")).splitlines()[0:1]
        return f"{self.card.get('kind', 'title')}: {first[0] if first else ''}"

    @property
    def duration(self) -> float:
        """Seconds of the source used."""
        return self.source_out - self.source_in

    @property
    def end(self) -> float:
        """When the clip ends in the film, in seconds."""
        return self.start + self.duration

    def frames(self, fps: int = FILM_FPS) -> tuple[int, int]:
        """The first and the last frame index (0-based, inclusive) used from the source."""
        first = frame_count(self.source_in, fps)
        return first, max(first, frame_count(self.source_out, fps) - 1)


@dataclass(frozen=True)
class SpokenLine:
    """A line of a shot's dialogue, as the storyboard writes it."""

    who: str
    says: str
    how: str | None = None
    at: float | None = None


@dataclass(frozen=True)
class TakeRecord:
    """One take of the build: what it holds, what became of it, what it cost.

    Attributes:
        id: the take id.
        shots: its shots, in story order.
        status: ``cached``, ``locked``, ``generated``, ``failed``, ``skipped`` or
            ``unselected`` (left out by ``--select`` and not built yet).
        cost: USD spent on it by this build (0 when it came from the cache or the lock).
        generation_cost: USD its result cost when it was generated, where known.
        estimate: the plan's price for generating it (``None`` when unknown in advance).
        key: its cache key.
        depends_on: the takes it needs, in story order.
        prompts: each shot's rendered prompt, by shot id, in story order.
        video: the picked variation, relative to the build folder; ``None`` if not built.
        variations: every variation's video (the pick included), in order.
        duration: seconds of the picked video, ``None`` if not built.
        message: why it failed or was skipped.
        position: ``FILE:LINE:COL`` of its first shot (or its sequence).
        dialogue: the lines of its shots that have any, by shot id.
    """

    id: str
    shots: tuple[str, ...]
    status: str
    cost: float
    generation_cost: float | None
    estimate: float | None
    key: str
    depends_on: tuple[str, ...]
    prompts: Mapping[str, str]
    video: str | None
    variations: tuple[str, ...] = ()
    duration: float | None = None
    message: str = ""
    position: str = ""
    dialogue: Mapping[str, tuple[SpokenLine, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputInfo:
    """The film's picture: size, frame rate and container."""

    width: int
    height: int
    fps: int = FILM_FPS
    format: str = "MP4"


@dataclass(frozen=True)
class Totals:
    """Money: spent by this build, its estimate, and the price of every take."""

    spent: float
    estimate: float
    estimate_all_takes: float
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True)
class FilmRecord:
    """Everything a build made, in the order a reader wants it. See the module docstring.

    ``root`` is the build folder the relative paths start from: set by
    :func:`record_from_build` and :func:`read_record`, never written to the JSON.
    """

    name: str
    storyboard: str
    title: str
    backend: str
    film: str | None
    output: OutputInfo
    clips: tuple[ClipPlacement, ...]
    takes: tuple[TakeRecord, ...]
    totals: Totals
    graph: Mapping[str, Any]
    subtitles: tuple[Cue, ...] = ()
    root: Path = field(default=Path("."), compare=False)
    fade_in: float = 0.0
    fade_out: float = 0.0
    loudness: float | None = None
    music: tuple[Mapping[str, Any], ...] = ()
    """The music cues: ``{"file"`` (relative to the build folder), ``"file_seconds"``,
    ``"volume"``, ``"start"`` (seconds into the file), ``"from"``, ``"to"`` (film seconds),
    ``"fade_in"``, ``"fade_out"``, ``"loop"``, ``"duck"}``."""

    def take(self, take_id: str) -> TakeRecord:
        """The take called ``take_id``."""
        for take in self.takes:
            if take.id == take_id:
                return take
        raise KeyError(take_id)

    def prompt(self, shot_id: str) -> str:
        """The rendered prompt of a shot ('' if the record does not know the shot)."""
        for take in self.takes:
            if shot_id in take.prompts:
                return take.prompts[shot_id]
        return ""

    def lines(self, shot_id: str) -> tuple[SpokenLine, ...]:
        """The lines of dialogue of a shot (none if the record does not know the shot)."""
        for take in self.takes:
            if shot_id in take.dialogue:
                return take.dialogue[shot_id]
        return ()

    def path(self, relative: str) -> Path:
        """A path of the record (relative to the build folder) on disk."""
        return self.root / relative

    @property
    def duration(self) -> float:
        """The film's length in seconds: where its last clip ends."""
        return max((c.end for c in self.clips), default=0.0)

    def status_counts(self) -> dict[str, int]:
        """How many takes ended in each status, statuses in pipeline order, zeros left out."""
        counts = {s: sum(1 for t in self.takes if t.status == s) for s in STATUSES}
        return {s: n for s, n in counts.items() if n}

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data, ``"version"`` first."""
        return {
            "version": RECORD_VERSION,
            "name": self.name,
            "storyboard": self.storyboard,
            "title": self.title,
            "backend": self.backend,
            "film": self.film,
            "output": {
                "width": self.output.width,
                "height": self.output.height,
                "fps": self.output.fps,
                "format": self.output.format,
            },
            "clips": [
                {
                    "shot": c.shot,
                    "take": c.take,
                    "source": c.source,
                    "source_in": _seconds(c.source_in),
                    "source_out": _seconds(c.source_out),
                    "start": _seconds(c.start),
                    "transition": c.transition,
                    "transition_duration": _seconds(c.transition_duration),
                    "position": c.position,
                    **({"volume": c.volume} if c.volume != 1 else {}),
                    **({"card": dict(c.card)} if c.card is not None else {}),
                    **({"caption": dict(c.caption)} if c.caption is not None else {}),
                }
                for c in self.clips
            ],
            **({"fade_in": _seconds(self.fade_in)} if self.fade_in else {}),
            **({"fade_out": _seconds(self.fade_out)} if self.fade_out else {}),
            **({"loudness": self.loudness} if self.loudness is not None else {}),
            **({"music": [dict(m) for m in self.music]} if self.music else {}),
            "takes": [
                {
                    "id": t.id,
                    "shots": list(t.shots),
                    "status": t.status,
                    "cost": _money(t.cost),
                    "generation_cost": _money(t.generation_cost),
                    "estimate": _money(t.estimate),
                    "key": t.key,
                    "depends_on": list(t.depends_on),
                    "prompts": dict(t.prompts),
                    "video": t.video,
                    "variations": list(t.variations),
                    "duration": None if t.duration is None else _seconds(t.duration),
                    "message": t.message,
                    "position": t.position,
                    "dialogue": {
                        shot: [
                            {"who": x.who, "says": x.says, "how": x.how, "at": x.at} for x in lines
                        ]
                        for shot, lines in t.dialogue.items()
                    },
                }
                for t in self.takes
            ],
            "totals": {
                "spent": _money(self.totals.spent),
                "estimate": _money(self.totals.estimate),
                "estimate_all_takes": _money(self.totals.estimate_all_takes),
                "unknown": list(self.totals.unknown),
            },
            "graph": dict(self.graph),
            "subtitles": [
                {
                    "start": c.start,
                    "end": c.end,
                    "text": c.text,
                    "who": c.who,
                    "shot": c.shot,
                    "line": c.line,
                    "clip": c.clip,
                    "timing": c.timing,
                }
                for c in self.subtitles
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], root: Path = Path(".")) -> FilmRecord:
        """Read a record written by :meth:`to_json`.

        Raises:
            KeyError, TypeError, ValueError: the data is not a version 1 record.
        """
        version = data.get("version")
        if version != RECORD_VERSION:
            raise ValueError(
                f"version {version!r} is not one this storyboard reads (it reads "
                f"{RECORD_VERSION}); build again to rewrite it"
            )
        output = data["output"]
        totals = data["totals"]
        return cls(
            name=str(data["name"]),
            storyboard=str(data["storyboard"]),
            title=str(data["title"]),
            backend=str(data["backend"]),
            film=None if data.get("film") is None else str(data["film"]),
            output=OutputInfo(
                int(output["width"]),
                int(output["height"]),
                int(output["fps"]),
                str(output["format"]),
            ),
            clips=tuple(
                ClipPlacement(
                    shot=str(c["shot"]),
                    take=str(c["take"]),
                    source=str(c["source"]),
                    source_in=float(c["source_in"]),
                    source_out=float(c["source_out"]),
                    start=float(c["start"]),
                    transition=str(c.get("transition", "cut")),
                    transition_duration=float(c.get("transition_duration", 0.0)),
                    position=str(c.get("position", "")),
                    volume=float(c.get("volume", 1.0)),
                    card=dict(c["card"]) if isinstance(c.get("card"), dict) else None,
                    caption=dict(c["caption"]) if isinstance(c.get("caption"), dict) else None,
                )
                for c in data["clips"]
            ),
            fade_in=float(data.get("fade_in", 0.0)),
            fade_out=float(data.get("fade_out", 0.0)),
            loudness=_float_or_none(data.get("loudness")),
            music=tuple(dict(m) for m in data.get("music", ()) if isinstance(m, dict)),
            takes=tuple(
                TakeRecord(
                    id=str(t["id"]),
                    shots=tuple(str(s) for s in t["shots"]),
                    status=str(t["status"]),
                    cost=float(t["cost"]),
                    generation_cost=_float_or_none(t.get("generation_cost")),
                    estimate=_float_or_none(t.get("estimate")),
                    key=str(t["key"]),
                    depends_on=tuple(str(d) for d in t["depends_on"]),
                    prompts={str(k): str(v) for k, v in t["prompts"].items()},
                    video=None if t.get("video") is None else str(t["video"]),
                    variations=tuple(str(v) for v in t.get("variations", ())),
                    duration=_float_or_none(t.get("duration")),
                    message=str(t.get("message", "")),
                    position=str(t.get("position", "")),
                    dialogue={
                        str(shot): tuple(
                            SpokenLine(
                                str(x["who"]),
                                str(x["says"]),
                                None if x.get("how") is None else str(x["how"]),
                                _float_or_none(x.get("at")),
                            )
                            for x in lines
                        )
                        for shot, lines in (t.get("dialogue") or {}).items()
                    },
                )
                for t in data["takes"]
            ),
            totals=Totals(
                spent=float(totals["spent"]),
                estimate=float(totals["estimate"]),
                estimate_all_takes=float(totals["estimate_all_takes"]),
                unknown=tuple(str(u) for u in totals.get("unknown", ())),
            ),
            graph=dict(data.get("graph") or {}),
            subtitles=tuple(
                Cue(
                    start=float(c["start"]),
                    end=float(c["end"]),
                    text=str(c["text"]),
                    who=str(c["who"]),
                    shot=str(c["shot"]),
                    line=int(c["line"]),
                    clip=int(c["clip"]),
                    timing=c["timing"] if c["timing"] in ("at", "speech", "spread") else "spread",
                )
                for c in data.get("subtitles") or ()
            ),
            root=root,
        )


def _seconds(value: float) -> float:
    """Seconds as written: microsecond precision, no float noise (0.1 + 0.2 -> 0.3)."""
    return round(value, 6) + 0.0


@overload
def _money(value: float) -> float: ...
@overload
def _money(value: float | None) -> float | None: ...
def _money(value: float | None) -> float | None:
    """USD as written: a float, to 1/100 of a cent."""
    return None if value is None else round(float(value), 4) + 0.0


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _no_number(name: str) -> float:
    """JSON's ``NaN``, ``Infinity``: never a time or a price storyboard writes (a frame count of
    one is a traceback downstream), so the record holding one is damaged."""
    raise ValueError(f"it holds {name}, which is not a number")


def _finite(text: str) -> float:
    """A JSON number with a fraction or exponent, refused when no float holds it (``1e999``)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"it holds {text}, which reads as infinity: no number storyboard writes")
    return value


# -- writing and reading ------------------------------------------------------------------------


def record_path(build_dir: Path) -> Path:
    """Where a build folder's record lives."""
    return build_dir / RECORD_NAME


def write_record(
    record: FilmRecord, path: Path | None = None, *, writer: Writer = PLAIN_FILES
) -> Path:
    """Write ``record`` as JSON (atomically) to ``path``, default ``ROOT/build.json``, with
    ``writer`` (the build folder's, for a build)."""
    from storyboard.compiler.compile import dumps

    target = path if path is not None else record_path(record.root)
    return writer.write_file(target, dumps(record.to_json()).encode("utf-8"))


def read_record(path: Path, read: Callable[[Path, int], bytes | None] | None = None) -> FilmRecord:
    """Read a record; ``path`` is the ``build.json`` file or the build folder holding it.

    ``read(file, limit)`` reads the file (``None``: it is missing), refusing it with an
    ``OSError`` past ``limit`` bytes (:data:`~storyboard.core.files.MAX_STATE_BYTES`) without
    reading it whole. A command reading a build folder of a project passes the project's
    ``Tree.read_bytes``, which follows no link on the way or at the end (a ``build.json`` that
    is a symlink out of the project is refused, not read); the default
    (:func:`~storyboard.core.inputs.read_capped`) reads the path as given, a regular file
    only, for a record a caller names itself.

    Raises:
        InputError: there is no record there (nothing was built yet), or it is too large, damaged
            or of another version.
    """
    file = record_path(path) if path.is_dir() else path
    try:
        data = (read or read_capped)(file, MAX_STATE_BYTES)  # larger: never read whole
    except FileNotFoundError:
        data = None
    except OSError as exc:
        raise InputError.at(None, f"cannot read the build record {file}: {exc}") from exc
    if data is None:
        raise InputError.at(
            None, f"no build record at {file}: build the storyboard first (storyboard build)"
        )
    try:
        try:
            parsed = json.loads(
                data.decode("utf-8"), parse_constant=_no_number, parse_float=_finite
            )
        except RecursionError:  # thousands of "[": nothing storyboard writes, never a crash
            raise ValueError("its JSON is nested too deeply to be read") from None
        if not isinstance(parsed, dict):
            raise TypeError("not a JSON object")
        return FilmRecord.from_json(parsed, root=file.parent)
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
        # OverflowError: an integer too large for a float (a time of 400 digits)
        detail = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        raise InputError.at(None, f"the build record {file} is damaged: {detail}") from exc


# -- from a build --------------------------------------------------------------------------------


def record_from_build(
    result: BuildResult,
    clips: Sequence[ClipPlacement] | None = None,
    *,
    film: str | os.PathLike[str] | None = None,
    subtitles: Sequence[Cue] = (),
    extras: Mapping[str, Any] | None = None,
) -> FilmRecord:
    """The record of a finished build.

    Args:
        result: what ``storyboard.build.pipeline.build()`` returned.
        clips: the cut's clips in film order; when ``None`` (no cut yet), every shot in
            story order, hard cuts, each its segment of its take's picked video. A clip's
            ``source`` may be absolute (it is made relative to the build folder) and a blank
            ``position`` is filled in from the storyboard.
        film: the film file, if the cut wrote one (default: ``output.file`` or
            ``NAME.mp4`` in the build folder, when that file exists).
        subtitles: the film's subtitle cues (:func:`storyboard.cut.cues.film_cues`).
        extras: what the cut adds to the record: ``fade_in``, ``fade_out``, ``loudness``,
            ``music`` (files absolute or relative to the build folder).
    """
    from storyboard.compiler.draw import describe
    from storyboard.media.probe import MediaError, probe

    prepared = result.prepared
    compiled, workspace = prepared.compiled, prepared.workspace
    checked = compiled.checked
    root = workspace.output_dir
    estimates = {item.take.id: item.cost.amount for item in prepared.plan.items}

    takes: list[TakeRecord] = []
    for compiled_take in compiled.takes:
        take = compiled_take.take
        outcome = result.outcomes.get(take.id)
        entry = outcome.entry if outcome is not None else None
        variations: list[str] = []
        video: str | None = None
        duration: float | None = None
        if entry is not None:
            for index in range(len(entry.results)):
                suffix = "" if index == take.pick - 1 else f".v{index + 1}"
                name = f"takes/{take.id}{suffix}.mp4"
                if (root / name).exists():
                    variations.append(name)
                    if not suffix:
                        video = name
        if video is not None:
            try:
                duration = probe(root / video).duration_s
            except MediaError:
                duration = None
        takes.append(
            TakeRecord(
                id=take.id,
                shots=tuple(s.id for s in take.shots),
                status=outcome.status if outcome is not None else "skipped",
                cost=round(outcome.cost, 4) if outcome is not None else 0.0,
                generation_cost=entry.cost if entry is not None else None,
                estimate=estimates.get(take.id),
                key=prepared.keys[take.id],
                depends_on=tuple(take.depends_on),
                prompts={s.id: s.prompt for s in take.shots},
                video=video,
                variations=tuple(variations),
                duration=duration,
                message=outcome.message if outcome is not None else "not run",
                position=str(checked.position(take.path or take.shots[0].path)),
                dialogue={
                    s.id: tuple(SpokenLine(x.who, x.says, x.how, x.at) for x in s.dialogue)
                    for s in take.shots
                    if s.dialogue
                },
            )
        )
    by_id = {t.id: t for t in takes}
    positions = {info.id: str(checked.position(info.path)) for info in checked.shots}

    if clips is None:
        placed = default_clips(result, by_id)
    else:
        placed = [
            replace(
                clip,
                source=_relative(clip.source, root) if clip.source else "",
                position=clip.position or positions.get(clip.shot, ""),
            )
            for clip in clips
        ]

    output = checked.storyboard.output
    film_name = os.fspath(film) if film is not None else output.file or f"{checked.name}.mp4"
    film_path = Path(film_name) if Path(film_name).is_absolute() else root / film_name
    all_takes = [t.estimate for t in takes]
    return FilmRecord(
        name=checked.name,
        storyboard=checked.document.path.name,
        title=checked.storyboard.title,
        backend=result.backend,
        film=_relative(film_name, root) if film_path.exists() else None,
        output=OutputInfo(output.width, output.height, FILM_FPS, output.format),
        clips=tuple(placed),
        takes=tuple(takes),
        totals=Totals(
            spent=result.spent,
            estimate=prepared.plan.total,
            estimate_all_takes=round(sum(e for e in all_takes if e is not None), 4),
            unknown=tuple(t.id for t in takes if t.estimate is None),
        ),
        graph=describe(compiled),
        subtitles=tuple(subtitles),
        root=root,
        fade_in=float((extras or {}).get("fade_in", 0.0)),
        fade_out=float((extras or {}).get("fade_out", 0.0)),
        loudness=_float_or_none((extras or {}).get("loudness")),
        music=tuple(
            {**m, "file": _relative(m["file"], root)} for m in (extras or {}).get("music", ())
        ),
    )


def default_clips(
    result: BuildResult, takes: Mapping[str, TakeRecord] | None = None
) -> list[ClipPlacement]:
    """The film without a ``cut``: every shot in story order, hard cuts.

    Each clip is the shot's segment of its take's picked video. A shot whose length the
    storyboard does not say (an edit) runs to the end of its take's video when that exists.
    """
    compiled = result.prepared.compiled
    checked, resolved = compiled.checked, compiled.resolved
    clips: list[ClipPlacement] = []
    start = 0.0
    for info in checked.shots:
        take = resolved.take(resolved.take_of_shot[info.id])
        record = takes.get(take.id) if takes is not None else None
        source_in = float(take.segment_start(info.id))
        if info.duration is not None:
            length = float(info.duration)
        elif record is not None and record.duration is not None:
            length = max(0.0, record.duration - source_in)
        else:
            length = 0.0
        clips.append(
            ClipPlacement(
                shot=info.id,
                take=take.id,
                source=f"takes/{take.id}.mp4",
                source_in=source_in,
                source_out=source_in + length,
                start=start,
                position=str(checked.position(info.path)),
            )
        )
        start += length
    return clips


def _relative(path: str | os.PathLike[str], root: Path) -> str:
    """``path`` relative to ``root``, with forward slashes (absolute paths are made relative)."""
    value = Path(path)
    if value.is_absolute():
        value = Path(os.path.relpath(value, root))
    return value.as_posix()
