"""Stage 7, finish: the cut, the build record and the hand-off files, after the takes.

``finish(result)`` lays out the timeline from the picked take videos, assembles the film into
``build/NAME/`` (only when the cut or its sources changed: a no-op build writes nothing), and
writes the build record (``build.json``, read by ``storyboard report``), the OpenTimelineIO,
EDL and FCPXML exports and the contact sheet. When a take the cut needs did not finish, the
film is not cut and the reason is said.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from storyboard.cut.timeline import Timeline
from storyboard.events import EventSink, Note
from storyboard.state.files import atomic_write_text

if TYPE_CHECKING:
    from storyboard.build import BuildResult
    from storyboard.exports.record import ClipPlacement

CUT_KEY_VERSION = 1


@dataclass(frozen=True)
class Finished:
    """What ``finish`` wrote."""

    film: Path | None
    recut: bool
    record: Path
    exports: dict[str, Path | str]
    reason: str = ""


def finish(result: BuildResult, *, scale: float = 1.0, emit: EventSink) -> Finished:
    """Cut the film (if every take it needs is ready) and write the record and exports."""
    from storyboard.cut.assemble import assemble, measure_videos
    from storyboard.cut.timeline import build_timeline
    from storyboard.exports.contact_sheet import contact_sheet
    from storyboard.exports.otio import export_all
    from storyboard.exports.record import record_from_build, write_record

    prepared = result.prepared
    compiled, workspace = prepared.compiled, prepared.workspace
    output = compiled.checked.storyboard.output
    ext = {"MP4": ".mp4", "WEBM": ".webm", "MOV": ".mov"}[output.format]
    film = workspace.build_dir / (output.file or f"{workspace.name}{ext}")
    videos = {
        take.id: workspace.takes_dir / f"{take.id}.mp4"
        for take in compiled.takes
        if (o := result.outcomes.get(take.id)) is not None and o.entry is not None
    }
    needed = _takes_in_cut(result)
    missing = sorted(needed - set(videos))
    film_path: Path | None = None
    recut = False
    clips: list[ClipPlacement] | None = None
    reason = ""
    if missing:
        left_out = [t for t in missing if _status(result, t) == "unselected"]
        why = [f"{', '.join(left_out)} not selected"] if left_out else []
        if len(left_out) < len(missing):
            why.append(f"{', '.join(t for t in missing if t not in left_out)} did not finish")
        reason = f"the film was not cut: {'; '.join(why)}"
        stale = _remove_stale_cut(workspace.build_dir, film, workspace.name)
        if stale:
            reason += f" (removed the out-of-date {', '.join(stale)})"
        emit(Note("", reason))
    else:
        size = (_even(output.width * scale), _even(output.height * scale))
        timeline = build_timeline(compiled, videos, measure_videos(videos), size=size)
        key = _cut_key(timeline, result)
        stamp = workspace.build_dir / ".cut.json"
        if not film.exists() or _read_key(stamp) != key:
            report = assemble(timeline, film)
            atomic_write_text(stamp, json.dumps({"key": key}) + "\n")
            recut = True
            copied = sum(p.frames for p in report.pieces if p.kind == "copy")
            emit(
                Note(
                    "",
                    f"cut {film.name}: {timeline.total_frames} frames, {copied} of them copied "
                    f"without re-encoding, in {report.timings.get('total', 0):.1f} s",
                )
            )
        film_path = film
        clips = _placements(timeline, workspace.build_dir)
    record = record_from_build(result, clips, film=film_path)
    record_file = write_record(record)
    exports: dict[str, Path | str] = {}
    if clips is not None:
        exports = export_all(record)
        sheet = workspace.build_dir / f"{workspace.name}.contact.png"
        contact_sheet(record, sheet)
        exports[".contact.png"] = sheet
    return Finished(film_path, recut, record_file, exports, reason)


def _status(result: BuildResult, take: str) -> str:
    outcome = result.outcomes.get(take)
    return outcome.status if outcome is not None else "skipped"


#: What a cut writes besides the film: removed with it when the film is out of date.
CUT_FILES = (".cut.json", "{name}.otio", "{name}.edl", "{name}.fcpxml", "{name}.contact.png")


def _remove_stale_cut(build_dir: Path, film: Path, name: str) -> list[str]:
    """Remove a film (and its exports) cut from takes that are no longer current.

    A film in the build folder always matches its storyboard: when this build cannot cut a
    new one, the old one would be a lie about the storyboard, and ``build.json`` would point
    at it. Everything removed is rebuilt from the cache by the next complete build.
    """
    removed = []
    for path in [film, *(build_dir / f.format(name=name) for f in CUT_FILES)]:
        if path.exists():
            path.unlink()
            if path.name != ".cut.json":
                removed.append(path.name)
    return removed


def _takes_in_cut(result: BuildResult) -> set[str]:
    compiled = result.prepared.compiled
    cut = compiled.checked.storyboard.cut
    shots = (
        [c.shot for c in cut.clips] if cut and cut.clips else [s.id for s in compiled.checked.shots]
    )
    return {compiled.resolved.take_of_shot[s] for s in shots if s in compiled.resolved.take_of_shot}


def _cut_key(timeline: Timeline, result: BuildResult) -> str:
    """What decides the film's bytes: the layout, the settings and the sources' content."""
    from storyboard.compile import sha256_file

    resolved = result.prepared.compiled.resolved
    sources = {}
    for clip in timeline.clips:
        entry = result.outcomes[clip.take].entry
        assert entry is not None
        pick = min(resolved.take(clip.take).pick, len(entry.results)) - 1
        sources[clip.take] = entry.results[pick].sha256
    music = sha256_file(timeline.music) if timeline.music is not None else None
    body = {
        "version": CUT_KEY_VERSION,
        "clips": [
            [c.shot, c.take, sources[c.take], c.source_in, c.source_out, c.start,
             c.transition, c.transition_frames, repr(c.head), repr(c.tail)]
            for c in timeline.clips
        ],
        "settings": [timeline.width, timeline.height, timeline.format, timeline.quality,
                     timeline.audio, timeline.music_volume, timeline.fade_in, timeline.fade_out,
                     timeline.total_frames, music],
    }  # fmt: skip
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _read_key(stamp: Path) -> str | None:
    try:
        value = json.loads(stamp.read_text(encoding="utf-8")).get("key")
        return value if isinstance(value, str) else None
    except (OSError, ValueError, AttributeError):
        return None


def _placements(timeline: Timeline, build_dir: Path) -> list[ClipPlacement]:
    from storyboard.exports.record import ClipPlacement

    fps = timeline.fps
    out = []
    for clip in timeline.clips:
        out.append(
            ClipPlacement(
                shot=clip.shot,
                take=clip.take,
                source=str(clip.source),
                source_in=float(Fraction(clip.source_in, fps)),
                source_out=float(Fraction(clip.source_out, fps)),
                start=float(Fraction(clip.start, fps)),
                transition=clip.transition,
                transition_duration=float(Fraction(clip.transition_frames, fps)),
            )
        )
    return out


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))
