"""Stage 7, finish: the cut, the build record and the hand-off files, after the takes.

``finish(result)`` lays out the timeline from the picked take videos, assembles the film into
the backend's folder ``build/NAME/BACKEND/`` (only when the cut or its sources changed: a
no-op build writes nothing), and writes the build record (``build.json``, read by
``storyboard report``), the OpenTimelineIO, EDL and FCPXML exports and the contact sheet.
When a take the cut needs did not finish, the film is not cut and the reason is said. When
the cut does not fit the takes' videos (checked before anything was sent, against the lengths
known then: what fails here depends on a length known only once a take was made), the
out-of-date film is removed too, the record written, and
:class:`~storyboard.core.errors.LateInputError` says where (exit status 1: takes were paid for).

What is costly is done again only when its inputs changed, as remembered in
``build/NAME/BACKEND/.cut.json``: the film (its key: the layout, the settings, the sources'
content), each take video's length (by the video's sha256, known from the cache: an
unchanged take is not read again), the exports (by the record's content) and the contact
sheet (by the clips and their videos).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storyboard.core.errors import InputError, LateInputError
from storyboard.core.events import EventSink, Note
from storyboard.cut.timeline import Timeline

if TYPE_CHECKING:
    from collections.abc import Callable

    from storyboard.build.pipeline import BuildResult
    from storyboard.build.state.outputs import BackendOutputs
    from storyboard.cut.streams import VideoIndex
    from storyboard.exports.record import ClipPlacement

CUT_KEY_VERSION = 2  # 2: the sound reuses the takes' AAC frames
STATE_VERSION = 2


@dataclass(frozen=True)
class Finished:
    """What ``finish`` wrote."""

    film: Path | None
    recut: bool
    record: Path
    exports: dict[str, Path | str]
    reason: str = ""


def finish(result: BuildResult, *, scale: float = 1.0, emit: EventSink) -> Finished:
    """Cut the film (if every take it needs is ready) and write the record and exports.

    Raises:
        LateInputError: the cut does not fit the takes' videos as made.
    """
    from storyboard.core.memory import give_back_memory
    from storyboard.cut.assemble import assemble
    from storyboard.cut.timeline import build_timeline
    from storyboard.exports.contact_sheet import contact_sheet
    from storyboard.exports.otio import export_all
    from storyboard.exports.record import RECORD_NAME, record_from_build, write_record

    prepared = result.prepared
    compiled, workspace = prepared.compiled, prepared.workspace
    folder = workspace.out
    output = compiled.checked.storyboard.output
    ext = {"MP4": ".mp4", "WEBM": ".webm", "MOV": ".mov"}[output.format]
    film = workspace.output_dir / (output.file or f"{workspace.name}{ext}")
    # every name this finish may write, listed as storyboard's before any is written
    folder.own([film.name, RECORD_NAME, *(f.format(name=workspace.name) for f in CUT_FILES)])
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
    stamp = ".cut.json"
    state = _read_state(folder.read_bytes(stamp))
    before = json.dumps(state, sort_keys=True)
    timeline: Timeline | None = None
    misfit: InputError | None = None
    if not missing:
        size = (_even(output.width * scale), _even(output.height * scale))
        digests = {take: _source_sha(result, take) for take in videos}
        sizes, indexes = _measure(videos, digests, state)
        try:
            timeline = build_timeline(compiled, videos, sizes, size=size)
        except InputError as exc:
            # Checked before anything was sent against the lengths known then: what does not
            # fit now depends on a length known only once its take was made.
            misfit = exc
    if timeline is None:
        if misfit is not None:
            reason = "the film was not cut: the cut does not fit the takes' videos"
        else:
            left_out = [t for t in missing if _status(result, t) == "unselected"]
            why = [f"{', '.join(left_out)} not selected"] if left_out else []
            if len(left_out) < len(missing):
                why.append(f"{', '.join(t for t in missing if t not in left_out)} did not finish")
            reason = f"the film was not cut: {'; '.join(why)}"
        stale = _remove_stale_cut(folder, film, workspace.name)
        if stale:
            reason += f" (removed the out-of-date {', '.join(stale)})"
        emit(Note("", reason))
    else:
        key = _cut_key(timeline, result)
        if not folder.exists(film.name) or state.get("key") != key:
            if state.pop("key", None) is not None:  # forgotten until the new film is in place
                folder.write_text(stamp, json.dumps(state, sort_keys=True) + "\n")
            # cut in the build folder's staging folder, then moved into place
            work = folder.temp_dir("cut-")
            try:
                report = assemble(timeline, work / film.name, indexes=indexes)
                folder.put(work / film.name, film.name)
            finally:
                folder.tree.rmtree(work)
            state["key"] = key
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
        clips = _placements(timeline, workspace.output_dir)
    if not missing:  # the takes' indexes (every packet of every take) are done with
        del indexes
        give_back_memory()
    record = record_from_build(result, clips, film=film_path)
    record_file = write_record(record, writer=folder)
    exports: dict[str, Path | str] = {}
    if clips is not None:
        data = record.to_json()
        exports = _exports(state, _digest(data), lambda: export_all(record, writer=folder))
        sheet = workspace.output_dir / f"{workspace.name}.contact.png"
        sheet_key = _digest(
            [data["title"], data["clips"], record.duration]
            + [_source_sha(result, c.take) for c in record.clips]
        )
        if not folder.exists(sheet.name) or state.get("sheet") != sheet_key:
            state.pop("sheet", None)
            layout = contact_sheet(record, sheet, writer=folder)
            _remove_sheet_pages(folder, workspace.name, after=layout.pages)
            state["sheet"] = sheet_key
        exports[".contact.png"] = sheet
    if timeline is not None and json.dumps(state, sort_keys=True) != before:
        folder.write_text(stamp, json.dumps(state, sort_keys=True) + "\n")
    if misfit is not None:
        raise LateInputError(
            misfit.diagnostics,
            "the film was not cut: the storyboard's cut does not fit the takes' videos (a "
            "length known only once its take was made); the takes are cached: fix the cut and "
            "build again, which pays for nothing twice",
        )
    return Finished(film_path, recut, record_file, exports, reason)


def _measure(
    videos: dict[str, Path], digests: dict[str, str], state: dict[str, Any]
) -> tuple[dict[str, tuple[int, int]], dict[Path, VideoIndex]]:
    """Each take video's ``(frames, fps)``: remembered by its sha256, else indexed (and the
    indexes kept for the cut)."""
    from storyboard.cut.assemble import index_videos, measure_videos

    known: dict[str, list[int]] = state.setdefault("sizes", {})
    unknown = {take: path for take, path in videos.items() if digests[take] not in known}
    indexes = index_videos(unknown.values())
    for take, (frames, fps) in measure_videos(unknown, indexes).items():
        known[digests[take]] = [frames, fps]
    for digest in set(known) - set(digests.values()):  # only this cut's takes are kept
        del known[digest]
    sizes = {take: (known[digests[take]][0], known[digests[take]][1]) for take in videos}
    return sizes, indexes


def _exports(
    state: dict[str, Any], key: str, write: Callable[[], dict[str, Path | str]]
) -> dict[str, Path | str]:
    """The exports: written again only when the record changed or a file is missing."""
    kept = state.get("exports")
    if isinstance(kept, dict) and kept.get("key") == key and isinstance(kept.get("files"), dict):
        files: dict[str, Path | str] = {
            suffix: Path(value[1]) if value[0] == "file" else str(value[1])
            for suffix, value in kept["files"].items()
        }
        if all(not isinstance(f, Path) or f.exists() for f in files.values()):
            return files
    state.pop("exports", None)
    files = write()
    state["exports"] = {
        "key": key,
        "files": {
            suffix: ["file", str(f)] if isinstance(f, Path) else ["skipped", f]
            for suffix, f in files.items()
        },
    }
    return files


def _source_sha(result: BuildResult, take_id: str) -> str:
    """The sha256 of the video a take's picked result is (as the cache recorded it)."""
    entry = result.outcomes[take_id].entry
    assert entry is not None
    pick = min(result.prepared.compiled.resolved.take(take_id).pick, len(entry.results)) - 1
    return entry.results[pick].sha256


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _status(result: BuildResult, take: str) -> str:
    outcome = result.outcomes.get(take)
    return outcome.status if outcome is not None else "skipped"


#: What a cut writes besides the film: removed with it when the film is out of date.
CUT_FILES = (".cut.json", "{name}.otio", "{name}.edl", "{name}.fcpxml", "{name}.contact.png")


def _remove_stale_cut(folder: BackendOutputs, film: Path, name: str) -> list[str]:
    """Remove a film (and its exports) cut from takes that are no longer current.

    A film in the build folder always matches its storyboard: when this build cannot cut a
    new one, the old one would be a lie about the storyboard, and ``build.json`` would point
    at it. Everything removed is rebuilt from the cache by the next complete build. Only
    files storyboard wrote are removed.
    """
    removed = []
    for file in [film.name, *(f.format(name=name) for f in CUT_FILES)]:
        if folder.remove(file) and file != ".cut.json":
            removed.append(file)
    return removed + _remove_sheet_pages(folder, name, after=1)


def _remove_sheet_pages(folder: BackendOutputs, name: str, *, after: int) -> list[str]:
    """Remove the contact sheet's pages past page ``after`` (``NAME.contact-N.png``), left
    by a longer cut; only those storyboard wrote."""
    prefix = f"{name}.contact-"
    removed = []
    for file in folder.owned(prefix):
        number = file[len(prefix) :].removesuffix(".png")
        if file.endswith(".png") and number.isdigit() and int(number) > after:
            if folder.remove(file):
                removed.append(file)
    return sorted(removed)


def _takes_in_cut(result: BuildResult) -> set[str]:
    compiled = result.prepared.compiled
    cut = compiled.checked.storyboard.cut
    shots = (
        [c.shot for c in cut.clips] if cut and cut.clips else [s.id for s in compiled.checked.shots]
    )
    return {compiled.resolved.take_of_shot[s] for s in shots if s in compiled.resolved.take_of_shot}


def _cut_key(timeline: Timeline, result: BuildResult) -> str:
    """What decides the film's bytes: the layout, the settings and the sources' content."""
    from storyboard.compiler.compile import sha256_file

    sources = {clip.take: _source_sha(result, clip.take) for clip in timeline.clips}
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


def _read_state(stamp: bytes | None) -> dict[str, Any]:
    """What the last finish remembered (nothing, if unreadable or of another version)."""
    try:
        data = json.loads(stamp) if stamp is not None else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return {"version": STATE_VERSION}
    return data


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
