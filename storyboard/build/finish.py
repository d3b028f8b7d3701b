"""Stage 7, finish: the cut, the build record and the hand-off files, after the takes.

``finish(result)`` lays out the timeline from the picked take videos, assembles the film into
the backend's folder ``build/NAME/BACKEND/`` (only when the cut or its sources changed: a
no-op build writes nothing), and writes the build record (``build.json``, read by
``storyboard report``), the OpenTimelineIO, EDL and FCPXML exports and the contact sheet.
A film with lines of dialogue gets its subtitles, ``NAME.srt`` and ``NAME.vtt``, from the cues
of :func:`storyboard.cut.cues.film_cues` (timed by the speech found in the takes' sound, which
is remembered by each video's sha256).
When a take the cut needs did not finish, the film is not cut and the reason is said. When
the cut does not fit the takes' videos (checked before anything was sent, against the lengths
known then: what fails here depends on a length known only once a take was made), or a file
it reads (a music bed, a font, a card's background) is gone or no longer one it can use
(checked before anything was sent too: it changed during the build), the
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
from typing import TYPE_CHECKING, Any, Literal

from storyboard.build.state.safe import MAX_STATE_BYTES, TooLarge, load_json
from storyboard.core.diagnostics import Diagnostic
from storyboard.core.errors import InputError, LateInputError
from storyboard.core.events import CutProgress, EventSink, Note
from storyboard.cut.text import Look
from storyboard.cut.timeline import Timeline, TimelineClip

if TYPE_CHECKING:
    from collections.abc import Callable

    from storyboard.build.pipeline import BuildResult
    from storyboard.build.state.outputs import BackendOutputs
    from storyboard.compiler.compile import Compiled
    from storyboard.cut.cues import Cue, Region
    from storyboard.cut.streams import VideoIndex
    from storyboard.cut.subtitles import SubtitleMode
    from storyboard.exports.record import ClipPlacement
    from storyboard.language.checked import CheckedStoryboard

CUT_KEY_VERSION = 3  # 2: the sound reuses the takes' AAC frames; 3: titles, captions, mix
STATE_VERSION = 2
EXPORTS_VERSION = 2  # 2: audio tracks, cards, captions, subtitles; media paths relative


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
    from storyboard.cut.cues import film_cues
    from storyboard.cut.subtitles import Subtitle, shown, subtitle_mode, with_subtitles
    from storyboard.cut.timeline import build_timeline
    from storyboard.exports.contact_sheet import contact_sheet
    from storyboard.exports.otio import export_all
    from storyboard.exports.record import record_from_build, write_record

    prepared = result.prepared
    compiled, workspace = prepared.compiled, prepared.workspace
    folder = workspace.out
    output = compiled.checked.storyboard.output
    # every name this finish may write, listed as storyboard's before any is written
    names = written_names(compiled, workspace.name)
    film = workspace.output_dir / names[0]
    folder.own(names)
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
    try:  # what the last finish remembered: a file too large to be its own is forgotten
        remembered = folder.read_bytes(stamp, MAX_STATE_BYTES)
    except TooLarge:
        remembered = None
    state = _read_state(remembered)
    before = json.dumps(state, sort_keys=True)
    timeline: Timeline | None = None
    misfit: InputError | None = None
    changed: list[Diagnostic] = []
    cues: tuple[Cue, ...] = ()
    mode: SubtitleMode = "off"
    if not missing:
        size = (_even(output.width * scale), _even(output.height * scale))
        digests = {take: _source_sha(result, take) for take in videos}
        sizes, indexes = _measure(videos, digests, state)
        # Read before anything was sent: what the cut cannot use now changed since.
        changed = _changed_sources(compiled.checked)
        try:
            if not changed:
                timeline = build_timeline(compiled, videos, sizes, size=size)
        except InputError as exc:
            # Checked before anything was sent against the lengths known then: what does not
            # fit now depends on a length known only once its take was made.
            misfit = exc
        if timeline is not None and compiled.checked.has_dialogue:
            cues = film_cues(compiled, timeline, _speech(result, timeline, digests, state, emit))
        if timeline is not None:
            shows = shown(timeline, [Subtitle(c.start, c.end, c.text) for c in cues])
            cut = compiled.checked.storyboard.cut
            mode = subtitle_mode(cut.subtitles if cut is not None else None, shows)
            timeline = with_subtitles(timeline, shows, mode)
    if timeline is None:
        if changed:
            reason = "the film was not cut: a file it reads changed after the build checked it"
        elif misfit is not None:
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

            def progress(phase: str, done: int, total: int) -> None:
                emit(CutProgress("", film.name, phase, done, total))

            try:
                report = assemble(timeline, work / film.name, indexes=indexes, progress=progress)
                folder.put(work / film.name, film.name)
            finally:
                folder.tree.rmtree(work)
                progress("done", 1, 1)
            state["key"] = key
            recut = True
            copied = sum(p.frames for p in report.pieces if p.kind == "copy")
            levels = report.sound.get("loudness")
            reached = levels.get("reached_lufs") if isinstance(levels, dict) else None
            if isinstance(levels, dict) and (
                reached is None or abs(reached - levels["target_lufs"]) > 0.5
            ):
                emit(
                    Note(
                        "",
                        f"cut {film.name}: the sound could not be brought to "
                        f"{levels['target_lufs']:g} LUFS (it is "
                        + ("silent" if reached is None else f"at {reached:g} LUFS")
                        + "): its loudness is in its peaks, which the limiter keeps under "
                        "-1 dBTP",
                    )
                )
            emit(
                Note(
                    "",
                    f"cut {film.name}: {timeline.total_frames} frames, {copied} of them copied "
                    f"without re-encoding, in {report.timings.get('total', 0):.1f} s",
                )
            )
        film_path = film
        clips = _placements(timeline, compiled.checked)
        _subtitles(folder, workspace.name, cues if compiled.checked.has_dialogue else None, emit)
    if not missing:  # the takes' indexes (every packet of every take) are done with
        del indexes
        give_back_memory()
    extras = _extras(timeline) if timeline is not None else None
    record = record_from_build(result, clips, film=film_path, subtitles=cues, extras=extras)
    record_file = write_record(record, writer=folder)
    exports: dict[str, Path | str] = {}
    if clips is not None:
        data = record.to_json()
        exports = _exports(
            state, _digest([EXPORTS_VERSION, data]), lambda: export_all(record, writer=folder)
        )
        sheet = workspace.output_dir / f"{workspace.name}.contact.png"
        # a card's frames are the film's (the cut drew them): the film's key stands for them
        sources = [_source_sha(result, c.take) if c.card is None else state.get("key")
                 for c in record.clips]  # fmt: skip
        sheet_key = _digest([data["title"], data["clips"], record.duration, *sources])
        if not folder.exists(sheet.name) or state.get("sheet") != sheet_key:
            state.pop("sheet", None)
            layout = contact_sheet(record, sheet, writer=folder)
            _remove_sheet_pages(folder, workspace.name, after=layout.pages)
            state["sheet"] = sheet_key
        exports[".contact.png"] = sheet
    if timeline is not None and json.dumps(state, sort_keys=True) != before:
        folder.write_text(stamp, json.dumps(state, sort_keys=True) + "\n")
    if changed:
        raise LateInputError(
            changed,
            "the film was not cut: a file it reads (above) changed after the build checked it, "
            "which it did before sending anything; the takes are cached: put the file back or "
            "fix the storyboard, and build again, which pays for nothing twice",
        )
    if misfit is not None:
        raise LateInputError(
            misfit.diagnostics,
            "the film was not cut: the storyboard's cut does not fit the takes' videos (a "
            "length known only once its take was made); the takes are cached: fix the cut and "
            "build again, which pays for nothing twice",
        )
    return Finished(film_path, recut, record_file, exports, reason)


def written_names(compiled: Compiled, name: str) -> list[str]:
    """The names in the backend's folder a finish may write (the film first, then its record
    and :data:`CUT_FILES`), for the storyboard called ``name``."""
    from storyboard.exports.record import RECORD_NAME

    output = compiled.checked.storyboard.output
    ext = {"MP4": ".mp4", "WEBM": ".webm", "MOV": ".mov"}[output.format]
    return [output.file or f"{name}{ext}", RECORD_NAME, *(f.format(name=name) for f in CUT_FILES)]


def _changed_sources(checked: CheckedStoryboard) -> list[Diagnostic]:
    """The files the cut reads (music beds, fonts, cards' backgrounds) that it can no longer
    use, at the values naming them: the build read each before anything was sent, so these
    changed (or went) since. Each is read again only if its size or time changed."""
    from storyboard.compiler.fit import cut_file_problems
    from storyboard.cut.decode import decode_problem
    from storyboard.cut.text import background_problem, font_file_problem
    from storyboard.media.limits import audio_problem

    return cut_file_problems(
        checked,
        {
            "file": lambda path: audio_problem(path) or decode_problem(path),
            "font": font_file_problem,
            "background": background_problem,
        },
    )


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
CUT_FILES = (
    ".cut.json", "{name}.otio", "{name}.edl", "{name}.fcpxml", "{name}.contact.png",
    "{name}.srt", "{name}.vtt",
)  # fmt: skip


def _speech(
    result: BuildResult,
    timeline: Timeline,
    digests: dict[str, str],
    state: dict[str, Any],
    emit: EventSink,
) -> dict[str, list[Region] | None]:
    """The speech found in the sound of each take whose shots in the film speak (and which
    generated sound): remembered by the video's sha256, else detected. A sound that cannot be
    decoded has no speech to go by (its lines are spread, and a note says why): the take is
    paid for, and its subtitles are not worth losing the film over."""
    from storyboard.media.probe import MediaError
    from storyboard.media.speech import detect_speech

    compiled = result.prepared.compiled
    known = state.get("speech")
    if not isinstance(known, dict):  # (a cache: what it cannot read is found again)
        known = state["speech"] = {}
    found: dict[str, list[Region] | None] = {}
    for clip in timeline.clips:
        if clip.card is not None:
            continue  # a title card or credits: no take, no sound of its own
        take = compiled.resolved.take(clip.take)
        if take.id in found or not take.settings.sound:
            continue
        if not compiled.checked.shot(clip.shot).dialogue:
            continue
        digest = digests[take.id]
        kept = _regions(known.get(digest), missing=digest not in known)
        if kept is False:
            try:
                kept = detect_speech(clip.source)
            except MediaError as exc:
                emit(Note("", f"take {take.id}: no speech to time its lines by: {exc}"))
                kept = None
            known[digest] = None if kept is None else [list(r) for r in kept]
        found[take.id] = kept
    for digest in set(known) - {digests[t] for t in found}:  # only this cut's takes are kept
        del known[digest]
    return found


def _regions(value: Any, *, missing: bool) -> list[Region] | Literal[False] | None:
    """Remembered speech: its regions, ``None`` (the video has no sound), or ``False`` when
    there is nothing usable remembered (so it is detected again)."""
    if missing:
        return False
    if value is None:
        return None
    if isinstance(value, list) and all(
        isinstance(r, list)
        and len(r) == 2
        and all(isinstance(t, int | float) and not isinstance(t, bool) for t in r)
        for r in value
    ):
        return [(float(a), float(b)) for a, b in value]
    return False


def _subtitles(
    folder: BackendOutputs, name: str, cues: tuple[Cue, ...] | None, emit: EventSink
) -> None:
    """Write the film's subtitle files when they changed; ``None``: the film has no dialogue
    (files an earlier build wrote are removed: they would belong to another film)."""
    from storyboard.exports.subtitles import SUBTITLE_FORMATS, subtitle_text

    files = [f"{name}.{fmt}" for fmt in SUBTITLE_FORMATS]
    if cues is None:
        for file in files:
            folder.remove(file)
        return
    changed = False
    for file, fmt in zip(files, SUBTITLE_FORMATS, strict=True):
        data = subtitle_text(cues, fmt).encode("utf-8")
        if folder.read_bytes(file) != data:
            folder.write_bytes(file, data)
            changed = True
    if changed:
        emit(Note("", f"subtitles {files[0]} and {files[1]}: {len(cues)} cues"))


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
    from storyboard.language.model import Clip

    compiled = result.prepared.compiled
    cut = compiled.checked.storyboard.cut
    shots = (
        [c.shot for c in cut.clips if isinstance(c, Clip)]
        if cut and cut.clips
        else [s.id for s in compiled.checked.shots]
    )
    return {compiled.resolved.take_of_shot[s] for s in shots if s in compiled.resolved.take_of_shot}


def _cut_key(timeline: Timeline, result: BuildResult) -> str:
    """What decides the film's bytes: the layout, the settings and the sources' content (the
    takes', the music's, the fonts' and the cards' images)."""
    from storyboard.compiler.compile import sha256_file

    def look(found: Look) -> list[Any]:
        return [list(found.color), sha256_file(found.font), found.size]

    def card(clip: TimelineClip) -> list[Any] | None:
        if clip.card is None:
            return None
        back = clip.card.background
        return [clip.card.kind, clip.card.text, look(clip.card.look),
                sha256_file(back) if isinstance(back, Path) else list(back)]  # fmt: skip

    sources = {c.take: _source_sha(result, c.take) for c in timeline.clips if c.card is None}
    if _plain(timeline):
        # A film of the language before titles, captions and the mix: the key it had then
        # (version 2), so that a build after the upgrade does not cut it again. The film's
        # bytes are the same (tests/build/test_finish_words.py builds one both ways).
        cue = timeline.music[0] if timeline.music else None
        old = {
            "version": 2,
            "clips": [
                [c.shot, c.take, sources[c.take], c.source_in, c.source_out, c.start,
                 c.transition, c.transition_frames, repr(c.head), repr(c.tail)]
                for c in timeline.clips
            ],
            "settings": [timeline.width, timeline.height, timeline.format, timeline.quality,
                         timeline.audio, cue.volume if cue else 1.0, timeline.fade_in,
                         timeline.fade_out, timeline.total_frames,
                         sha256_file(cue.file) if cue else None],
        }  # fmt: skip
        return hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()
    body = {
        "version": CUT_KEY_VERSION,
        "clips": [
            [c.shot, c.take, sources.get(c.take), c.source_in, c.source_out, c.start,
             c.transition, c.transition_frames, repr(c.head), repr(c.tail), card(c), c.volume,
             c.sounding]
            for c in timeline.clips
        ],
        "settings": [timeline.width, timeline.height, timeline.format, timeline.quality,
                     timeline.audio, timeline.fade_in, timeline.fade_out,
                     timeline.total_frames, timeline.loudness, list(timeline.speech)],
        "music": [[sha256_file(m.file), m.volume, m.offset, m.first, m.last, m.fade_in,
                   m.fade_out, m.loop, m.duck] for m in timeline.music],
        "overlays": [[o.kind, o.first, o.last, o.text, look(o.look), o.position]
                     for o in timeline.overlays],
        "subtitles": [[c.start, c.end, c.text] for c in timeline.subtitles],
    }  # fmt: skip
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _plain(timeline: Timeline) -> bool:
    """Whether the film uses nothing the language gained with titles, captions and the mix:
    no card, no caption, no subtitle, no loudness, no clip's own gain, and at most one
    music cue under the whole film from the file's start, unfaded, unlooped, not ducked."""
    from storyboard.cut.timeline import SAMPLES_PER_FRAME

    heard = 0.0 if timeline.audio == "mute" else 1.0
    music = timeline.music
    return (
        all(c.card is None and c.volume == heard for c in timeline.clips)
        and not timeline.overlays
        and not timeline.subtitles
        and not timeline.speech
        and timeline.loudness is None
        and (
            not music
            or (
                len(music) == 1
                and (music[0].offset, music[0].first, music[0].fade_in, music[0].fade_out)
                == (0, 0, 0, 0)
                and music[0].last == timeline.total_frames * SAMPLES_PER_FRAME
                and not music[0].loop
                and music[0].duck is None
            )
        )
    )


def _read_state(stamp: bytes | None) -> dict[str, Any]:
    """What the last finish remembered (nothing, if unreadable or of another version)."""
    try:
        data = load_json(stamp) if stamp is not None else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return {"version": STATE_VERSION}
    return data


def _placements(timeline: Timeline, checked: CheckedStoryboard) -> list[ClipPlacement]:
    from storyboard.cut.text import TITLE_SIZE
    from storyboard.exports.record import ClipPlacement
    from storyboard.language.model import Clip, CreditsCard, Title

    fps = timeline.fps
    cut = checked.storyboard.cut
    written = list(cut.clips or []) if cut is not None else []
    out = []
    for clip in timeline.clips:
        card: dict[str, Any] | None = None
        caption: dict[str, Any] | None = None
        if clip.card is not None:
            style = _card_model(checked, clip.path)
            assert isinstance(style, Title | CreditsCard)
            back = clip.card.background
            card = {
                "kind": clip.card.kind,
                "text": clip.card.text,
                "background": str(back) if isinstance(back, Path) else _hex(back),
                "color": _hex(clip.card.look.color),
                "font": style.font,
                # at the output's size (the cut drew it at the build's scale)
                "size": style.size
                if style.size is not None
                else round(checked.storyboard.output.height * TITLE_SIZE),
            }
        elif clip.path[:2] == ("cut", "clips") and isinstance(clip.path[2], int):
            model = written[clip.path[2]]
            if isinstance(model, Clip) and model.caption is not None:
                shown = model.caption
                end = shown.to if shown.to is not None else clip.frames / fps
                caption = {"text": shown.text, "from": shown.from_, "to": end,
                           "position": shown.position}  # fmt: skip
        out.append(
            ClipPlacement(
                shot=clip.shot,
                take=clip.take,
                source=str(clip.source) if clip.card is None else "",
                source_in=float(Fraction(clip.source_in, fps)),
                source_out=float(Fraction(clip.source_out, fps)),
                start=float(Fraction(clip.start, fps)),
                transition=clip.transition,
                transition_duration=float(Fraction(clip.transition_frames, fps)),
                position=str(checked.position(clip.path)) if clip.card is not None else "",
                volume=clip.volume,
                card=card,
                caption=caption,
            )
        )
    return out


def _card_model(checked: CheckedStoryboard, path: tuple[str | int, ...]) -> Any:
    """The title or credits model a card clip was laid out from."""
    from storyboard.language.model import TitleClip

    cut = checked.storyboard.cut
    assert cut is not None
    if path[:2] == ("cut", "credits"):
        return getattr(cut.credits, str(path[2]))
    found = (cut.clips or [])[int(path[2])]
    return found.title if isinstance(found, TitleClip) else None


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _extras(timeline: Timeline) -> dict[str, Any]:
    """What the record holds of the cut besides its clips and cues: fades, loudness, music."""
    from storyboard.cut.timeline import SAMPLE_RATE
    from storyboard.media.limits import audio_seconds

    fps = timeline.fps
    return {
        "fade_in": timeline.fade_in / fps,
        "fade_out": timeline.fade_out / fps,
        "loudness": timeline.loudness,
        "music": [
            {
                "file": str(m.file),
                "file_seconds": audio_seconds(m.file),
                "volume": m.volume,
                "start": m.offset / SAMPLE_RATE,
                "from": m.first / SAMPLE_RATE,
                "to": m.last / SAMPLE_RATE,
                "fade_in": m.fade_in / SAMPLE_RATE,
                "fade_out": m.fade_out / SAMPLE_RATE,
                "loop": m.loop,
                "duck": m.duck,
            }
            for m in timeline.music
        ],
    }


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))
