"""Stage 2, validate: loaded data -> :class:`~storyboard.language.checked.CheckedStoryboard`, or
every error.

Three passes, all of which always run so the writer sees every mistake at once:

1. the pydantic models (:mod:`storyboard.language.model`): keys, types, ranges, per-item rules; each
   error's ``loc`` is walked through the data to its exact ``FILE:LINE:COL``;
2. the document rules the models cannot see: unique ids, references between shots, known
   models and sizes, sequences, files and URLs, the cut. These read the raw data
   defensively, so a wrong type somewhere does not hide a problem elsewhere;
3. prompt rendering (:mod:`storyboard.language.prompts`): template errors, lengths, element
   names; each shot's lines of dialogue are written into its prompt here, in the form its
   model's profile owns (:mod:`storyboard.language.dialogue`), so that every later stage counts
   them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct
from pydantic import BaseModel, ValidationError

from storyboard.core.diagnostics import (
    DataPath,
    Diagnostic,
    Position,
    closest,
    did_you_mean,
    display_path,
    format_path,
    position_in_value,
    unprintable,
)
from storyboard.core.errors import InputError
from storyboard.core.inputs import NAME_MAX, read_capped
from storyboard.language.checked import CheckedStoryboard, ShotInfo
from storyboard.language.dialogue import (
    DIALOGUE,
    Line,
    RawLine,
    names_element,
    one_line,
    raw_lines,
    written,
)
from storyboard.language.load import MAX_FILE_BYTES, Document
from storyboard.language.model import (
    DEFAULT_MODEL,
    ID_PATTERN,
    Caption,
    Clip,
    Credits,
    CreditsCard,
    Cut,
    Defaults,
    Delivery,
    DialogueLine,
    Element,
    Music,
    Output,
    Safety,
    Sequence,
    Shot,
    Storyboard,
    Title,
    TitleClip,
    top_level_keys,
)
from storyboard.language.sources import (
    FrameRef,
    MediaKind,
    MediaRef,
    Source,
    SourceProblem,
    check_url,
    classify,
)
from storyboard.media import limits
from storyboard.profiles import PROFILES, DialogueForm, Size, get_profile

if TYPE_CHECKING:
    from storyboard.language.prompts import PromptRenderer, TemplateProblem

ELEMENT_REF = re.compile(r"<<<(.*?)>>>")
RESERVED_ELEMENT = re.compile(r"^element_\d+$")

SUPPORTED_VERSIONS = (1,)
FORMAT_EXTENSIONS = {"MP4": ".mp4", "WEBM": ".webm", "MOV": ".mov"}
MAX_FILM_NAME_BYTES = NAME_MAX - len(".") - len(".XXXXXXXX") - len(".cut")
"""The longest ``output.file``: the cut works in ``.NAME.XXXXXXXX.cut`` next to the film
(:func:`storyboard.cut.assemble.assemble`), as atomic writes do in ``.NAME.XXXXXXXX.tmp``."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_MARKUP = re.compile(r"[{}<>\\]")
"""What SubRip and WebVTT files read as markup (tags, override blocks, escapes): a line's
words cannot hold it (nobody says a brace), so its subtitle shows what it says."""


def validate_document(doc: Document) -> CheckedStoryboard:
    """Check a loaded storyboard completely.

    Raises:
        InputError: with every problem found, in file order.
    """
    checker = _Checker(doc)
    storyboard = checker.run_models()
    shots = checker.run_rules()
    prompts = checker.run_prompts(shots)
    if checker.diagnostics or storyboard is None:
        raise InputError(checker.diagnostics)
    return checker.result(storyboard, shots, prompts)


def _least_length(text: str, element_names: set[str]) -> int:
    """The length of ``text`` once the compiler numbers its elements, at the least: each
    ``<<<name>>>`` of an element is sent as ``<<<element_N>>>``, which is shorter for a long
    name. The compiler knows N and checks the exact length (``resolve.group_limits``)."""
    return len(text) + sum(
        len("element_1") - len(name) for name in ELEMENT_REF.findall(text) if name in element_names
    )


class _RawShot(Struct):
    """A shot as found in the raw data (types not yet trusted)."""

    data: dict[str, Any]
    path: DataPath
    index: int
    sequence: str | None
    first_in_sequence: bool
    last_in_sequence: bool

    @property
    def id(self) -> str | None:
        value = self.data.get("id")
        return value if isinstance(value, str) else None


class _Checker:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.data = doc.data
        self.smap = doc.source_map
        self.diagnostics: list[Diagnostic] = []
        self.sources: dict[DataPath, tuple[Source, ...]] = {}
        self.cut_sources: dict[DataPath, Source] = {}
        self.assets: set[Path] = set()
        self.shot_ids: dict[str, DataPath] = {}
        self.templates: frozenset[Path] = frozenset()
        self.templates_named: tuple[Path, ...] = ()
        self._template_errors: set[tuple[Position, str]] = set()
        self._lines: dict[Path, list[str]] = {}
        self.dialogue: dict[DataPath, tuple[Line, ...]] = {}
        """Each shot's lines of dialogue, by the shot's data path (only lines that passed)."""

    def error(self, where: Position, message: str) -> None:
        self.diagnostics.append(Diagnostic(where, message))

    def at(self, *path: str | int) -> Position:
        return self.smap.value(path)

    # -- pass 1: the models -----------------------------------------------------------------

    def run_models(self) -> Storyboard | None:
        try:
            return Storyboard.model_validate(self.data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        # A misspelt required key is reported once, as the unknown key with its suggestion.
        misspelt: set[DataPath] = set()
        for err in errors:
            if err["type"] == "extra_forbidden":
                path = _data_path(self.data, tuple(err["loc"]))
                allowed = _allowed_keys(self.data, path[:-1])
                suggestion = closest(str(path[-1]), allowed)
                if suggestion is not None:
                    misspelt.add((*path[:-1], suggestion))
        for err in errors:
            path = _data_path(self.data, tuple(err["loc"]))
            if err["type"] == "missing" and path in misspelt:
                continue
            self.diagnostics.append(self._from_pydantic(err))
        return None

    def _from_pydantic(self, err: Any) -> Diagnostic:
        path = _data_path(self.data, tuple(err["loc"]))
        kind: str = err["type"]
        ctx = err.get("ctx") or {}
        if kind == "extra_forbidden":
            key = str(path[-1])
            allowed = _allowed_keys(self.data, path[:-1])
            inside = f" in {self._container(path[:-1])}" if path[:-1] else ""
            return Diagnostic(
                self.smap.key(path), f"unknown key '{key}'{inside}{did_you_mean(key, allowed)}"
            )
        if kind == "missing":
            if path == ("storyboard",):
                inside = " (the format version: write 'storyboard: 1')"
            else:
                inside = f" in {self._container(path[:-1])}" if path[:-1] else ""
            return Diagnostic(
                self.smap.value(path[:-1]), f"missing required key '{path[-1]}'{inside}"
            )
        if path == ("storyboard",) and kind == "literal_error":
            supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
            return Diagnostic(
                self.smap.value(path),
                f"storyboard: expected the number 1, got the text {err['input']!r} "
                "(remove the quotes)"
                if isinstance(err["input"], str) and err["input"].strip() in ("1", "1.0")
                else f"unsupported storyboard version {err['input']!r}; supported versions: "
                f"{supported}",
            )
        field = ctx.get("field") if isinstance(ctx, dict) else None
        if field and isinstance(_get(self.data, path), dict) and field in _get(self.data, path):
            path = (*path, field)  # a rule about a field that is there: point at it
        message = _friendly(kind, err, path)
        return Diagnostic(self.smap.value(path), f"{_field_name(path)}: {message}")

    def _container(self, path: DataPath) -> str:
        """How to name the mapping at ``path``: ``shot 'wide'``, ``element 'drummer'``, ..."""
        item = _get(self.data, path)
        if len(path) in (4, 6) and path[-2] == "dialogue" and isinstance(path[-1], int):
            return f"dialogue[{path[-1]}] of {self._container(path[:-2])}"
        if path[:1] == ("shots",) and len(path) in (2, 4) and isinstance(item, dict):
            if "sequence" in item and len(path) == 2:
                name = item.get("sequence")
                return f"sequence '{name}'" if isinstance(name, str) else format_path(path)
            return f"shot '{item['id']}'" if isinstance(item.get("id"), str) else "a shot"
        if path[:1] == ("elements",) and len(path) == 2:
            return f"element '{path[1]}'"
        return format_path(path)

    # -- pass 2: document rules --------------------------------------------------------------

    def run_rules(self) -> list[_RawShot]:
        shots = list(self._walk_shots())
        self._check_ids(shots)
        self._check_models(shots)
        self._check_title()
        self._check_output()
        self._check_delivery()
        self._check_sequences(shots)
        for shot in shots:
            self._check_shot_sources(shot, shots)
        self._check_elements()
        self._check_dialogue(shots)
        self._check_cut(shots)
        return shots

    def _walk_shots(self) -> Iterator[_RawShot]:
        items = self.data.get("shots")
        if not isinstance(items, list):
            return
        index = 0
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            if "sequence" in item:
                name = item.get("sequence") if isinstance(item.get("sequence"), str) else None
                inner = item.get("shots")
                if not isinstance(inner, list):
                    continue
                dicts = [(j, s) for j, s in enumerate(inner) if isinstance(s, dict)]
                for n, (j, shot) in enumerate(dicts):
                    index += 1
                    yield _RawShot(
                        shot,
                        ("shots", i, "shots", j),
                        index,
                        name,
                        first_in_sequence=n == 0,
                        last_in_sequence=n == len(dicts) - 1,
                    )
            else:
                index += 1
                yield _RawShot(item, ("shots", i), index, None, False, False)

    def _check_ids(self, shots: list[_RawShot]) -> None:
        seen: dict[str, Position] = {}
        names: list[tuple[str, DataPath]] = []
        items = self.data.get("shots")
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and isinstance(item.get("sequence"), str):
                names.append((item["sequence"], ("shots", i, "sequence")))
        for shot in shots:
            if shot.id is not None:
                names.append((shot.id, (*shot.path, "id")))
                self.shot_ids.setdefault(shot.id, shot.path)
        if len({name for name, _ in names}) == len(names):
            return  # every id once: nothing to report, no positions to look up
        for name, path in sorted(names, key=lambda n: self.smap.value(n[1])):
            where = self.smap.value(path)
            if name in seen:
                self.error(where, f"duplicate id '{name}' (first used at {seen[name]})")
            else:
                seen[name] = where

    def _check_models(self, shots: list[_RawShot]) -> None:
        candidates: list[DataPath] = [("model",), ("defaults", "model")]
        candidates += [(*s.path, "model") for s in shots]
        for path in candidates:
            value = _get(self.data, path)
            if isinstance(value, str) and get_profile(value) is None:
                known = ", ".join(sorted(PROFILES))
                hint = did_you_mean(value, PROFILES)
                self.error(
                    self.smap.value(path), f"unknown model '{value}'{hint}; known models: {known}"
                )

    def _profile_sizes(self) -> tuple[Size, ...]:
        model = self.data.get("model", DEFAULT_MODEL)
        profile = get_profile(model) if isinstance(model, str) else None
        return profile.sizes if profile else ()

    def _check_output(self) -> None:
        output = self.data.get("output")
        if not isinstance(output, dict):
            return
        width, height = output.get("width", 1920), output.get("height", 1080)
        sizes = self._profile_sizes()
        if _is_int(width) and _is_int(height) and sizes:
            if Size(width, height) not in sizes:
                path: DataPath = ("output", "width") if "width" in output else ("output", "height")
                if "width" not in output and "height" not in output:
                    path = ("output",)
                allowed = ", ".join(str(s) for s in sizes)
                self.error(
                    self.smap.value(path),
                    f"output size {width}x{height} is not one the model makes ({allowed})",
                )
        file, fmt = output.get("file"), output.get("format", "MP4")
        if isinstance(file, str):
            self._check_film_name(file)
        if isinstance(file, str) and isinstance(fmt, str) and fmt in FORMAT_EXTENSIONS:
            ext = Path(file).suffix.lower()
            if ext != FORMAT_EXTENSIONS[fmt]:
                self.error(
                    self.smap.value(("output", "file")),
                    f"output.file '{file}' does not end in {FORMAT_EXTENSIONS[fmt]} "
                    f"(the format is {fmt})",
                )

    def _check_film_name(self, file: str) -> None:
        """``output.file`` names a file the cut writes, first under a longer temporary name:
        what the file system refuses would fail the build after every take was paid for."""
        where = self.smap.value(("output", "file"))
        bad = unprintable(file)
        if bad is not None:
            self.error(where, f"output.file: the name holds {bad}")
            return
        size = len(file.encode("utf-8"))
        if size > MAX_FILM_NAME_BYTES:
            self.error(
                where,
                f"output.file: the name is {size} bytes long in UTF-8; it may have at most "
                f"{MAX_FILM_NAME_BYTES} (file systems allow {NAME_MAX}, and the cut first writes "
                f"it under a temporary name {NAME_MAX - MAX_FILM_NAME_BYTES} bytes longer)",
            )

    def _check_title(self) -> None:
        """The title goes into the exports (XML for Final Cut Pro) and the report."""
        title = self.data.get("title")
        bad = unprintable(title) if isinstance(title, str) else None
        if bad is not None:
            self.error(self.at("title"), f"title holds {bad}; a title is one line of plain text")

    def _check_delivery(self) -> None:
        delivery = self.data.get("delivery")
        if not isinstance(delivery, dict):
            return
        for key in ("webhook_url", "upload_endpoint"):
            value = delivery.get(key)
            if isinstance(value, str):
                try:
                    check_url(value)
                except SourceProblem as exc:
                    self.error(self.smap.value(("delivery", key)), f"delivery.{key}: {exc}")

    def _check_sequences(self, shots: list[_RawShot]) -> None:
        for shot in shots:
            if shot.sequence is None:
                continue
            if "start" in shot.data and not shot.first_in_sequence:
                self.error(
                    self.smap.key((*shot.path, "start")),
                    f"only the first shot of sequence '{shot.sequence}' may have 'start'",
                )
            if "end" in shot.data and not shot.last_in_sequence:
                self.error(
                    self.smap.key((*shot.path, "end")),
                    f"only the last shot of sequence '{shot.sequence}' may have 'end'",
                )
            for key in ("variations", "pick", "retake", "keep"):
                if key in shot.data:
                    self.error(
                        self.smap.key((*shot.path, key)),
                        f"'{key}' belongs on the sequence '{shot.sequence}', "
                        "not on a shot inside it",
                    )

    def _source(
        self,
        path: DataPath,
        media: MediaKind,
        *,
        frames: bool = False,
        shot_refs: bool = False,
        self_id: str | None = None,
    ) -> Source | None:
        value = _get(self.data, path)
        if not isinstance(value, str) or not value:
            return None  # a type error, reported by the models
        where = self.smap.value(path)
        try:
            source = classify(
                value,
                media=media,
                base=self.doc.file_of(path).parent,
                project_root=self.doc.project_root,
                shots=self.shot_ids,
                frames=frames,
                shot_refs=shot_refs,
            )
        except SourceProblem as exc:
            self.error(where, f"{_field_name(path)}: {exc}")
            return None
        if isinstance(source, MediaRef) and source.path is not None:
            self.assets.add(source.path)
        target = getattr(source, "shot", None)
        if target is not None and target == self_id:
            self.error(where, f"{_field_name(path)}: shot '{self_id}' cannot refer to itself")
            return None
        return source

    def _source_list(self, path: DataPath, media: MediaKind, **kw: Any) -> tuple[Source, ...]:
        value = _get(self.data, path)
        if not isinstance(value, list):
            return ()
        found = (self._source((*path, i), media, **kw) for i in range(len(value)))
        return tuple(s for s in found if s is not None)

    def _check_shot_sources(self, shot: _RawShot, shots: list[_RawShot]) -> None:
        # a field the shot does not write has no source to find (``shot.data`` is the
        # mapping at ``shot.path``): most shots write none, and each look-up walks the data
        sid, written = shot.id, shot.data
        for key in ("start", "end"):
            if key not in written:
                continue
            source = self._source((*shot.path, key), "image", frames=True, self_id=sid)
            if source is not None:
                self.sources[(*shot.path, key)] = (source,)
                if isinstance(source, FrameRef) and source.which == "time":
                    self._check_frame_time(source, (*shot.path, key), shots)
        if "edit" in written:
            edit = self._source((*shot.path, "edit"), "video", shot_refs=True, self_id=sid)
            if edit is not None:
                self.sources[(*shot.path, "edit")] = (edit,)
        self.sources[(*shot.path, "reference_videos")] = (
            self._source_list(
                (*shot.path, "reference_videos"), "video", shot_refs=True, self_id=sid
            )
            if "reference_videos" in written
            else ()
        )
        refs_path = (*shot.path, "references")
        if "references" not in written:
            refs_path = ("defaults", "references")
        self.sources[(*shot.path, "references")] = self._source_list(refs_path, "image")

    def _check_frame_time(self, ref: FrameRef, path: DataPath, shots: list[_RawShot]) -> None:
        target = next((s for s in shots if s.id == ref.shot), None)
        if target is None or ref.time is None:
            return
        duration = self._duration(target)
        if duration is not None and ref.time >= duration:
            written = _get(self.data, path)
            self.error(
                self.smap.value(path),
                f"{_field_name(path)}: {written} is past the end of shot '{ref.shot}' "
                f"({duration} s long; its last frame is at {duration - 1 / 24:.3f} s)",
            )

    def _duration(self, shot: _RawShot) -> int | None:
        """The effective duration of a raw shot; ``None`` for an edit or when not an int."""
        if "edit" in shot.data:
            return None
        value = shot.data.get("duration")
        if value is None:
            defaults = self.data.get("defaults")
            value = defaults.get("duration") if isinstance(defaults, dict) else None
        if value is None:
            model = shot.data.get("model") or self.data.get("model", DEFAULT_MODEL)
            profile = get_profile(model) if isinstance(model, str) else None
            value = profile.default_duration if profile else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _check_elements(self) -> None:
        elements = self.data.get("elements")
        if not isinstance(elements, dict):
            return
        for name, element in elements.items():
            where = self.smap.key(("elements", name))
            if not re.match(ID_PATTERN, name):
                self.error(
                    where,
                    f"element name '{name}' is not valid: use lowercase letters, digits, '-' "
                    "and '_', starting with a letter or digit (prompts name it <<<name>>>)",
                )
            elif RESERVED_ELEMENT.match(name):
                self.error(
                    where,
                    f"element name '{name}' is reserved: the compiler numbers elements "
                    "<<<element_N>>> itself",
                )
            if not isinstance(element, dict):
                continue
            base: DataPath = ("elements", name)
            self.sources[(*base, "frontal_image")] = tuple(
                s for s in [self._source((*base, "frontal_image"), "image")] if s is not None
            )
            self.sources[(*base, "images")] = self._source_list((*base, "images"), "image")
            self.sources[(*base, "videos")] = self._source_list((*base, "videos"), "video")
            self.sources[(*base, "voices")] = self._source_list((*base, "voices"), "audio")

    # -- dialogue ------------------------------------------------------------------------------

    def _check_dialogue(self, shots: list[_RawShot]) -> None:
        """Who speaks, what, when, and whether the shot makes sound at all."""
        elements = self.data.get("elements")
        names = {str(n) for n in elements} if isinstance(elements, dict) else set()
        for shot in shots:
            value = shot.data.get("dialogue")
            if not isinstance(value, list) or not value:
                continue
            base = (*shot.path, "dialogue")
            if not self._speaks(shot):
                self.error(self.smap.key(base), self._no_sound(shot))
            duration = self._duration(shot)
            lines: list[Line] = []
            ok = True
            before: tuple[float, DataPath] | None = None
            for raw in raw_lines(value, base):
                line = self._dialogue_line(raw, names)
                ok = ok and line is not None
                if line is not None:
                    lines.append(line)
                at = raw.data.get("at")
                if not isinstance(at, int | float) or isinstance(at, bool):
                    continue
                if not (math.isfinite(at) and at >= 0):
                    continue  # reported by the models
                where = self.smap.value((*raw.path, "at"))
                name = _field_name((*raw.path, "at"))
                if duration is not None and at >= duration:
                    self.error(
                        where,
                        f"{name}: {at:g} s is at or past the end of shot '{shot.id}' "
                        f"({duration} s long)",
                    )
                elif before is not None and at < before[0]:
                    self.error(
                        where,
                        f"{name}: {at:g} s is before the line above it starts "
                        f"({_field_name((*before[1], 'at'))}: {before[0]:g} s): lines are "
                        "spoken in the order they are written",
                    )
                before = (at, raw.path)
            if ok and len(lines) == len(value):
                self.dialogue[shot.path] = tuple(lines)

    def _dialogue_line(self, raw: RawLine, elements: set[str]) -> Line | None:
        """The checked line, or ``None`` when something in it is wrong (reported here, or by
        the models when a type is)."""
        who, says, how, at = raw.who, raw.says, raw.data.get("how"), raw.data.get("at")
        if not isinstance(who, str) or not who or not isinstance(says, str) or not says:
            return None
        if how is not None and (not isinstance(how, str) or not how):
            return None
        if at is not None and (not isinstance(at, int | float) or isinstance(at, bool)):
            return None
        long_form = raw.who_key == "who"
        where = (
            self.smap.value((*raw.path, "who")) if long_form else self.smap.key((*raw.path, who))
        )
        name = _field_name((*raw.path, "who")) if long_form else _field_name(raw.path)
        problem = None
        if "<<<" in who or ">>>" in who:
            inner = who.replace("<", "").replace(">", "").strip()
            problem = f"write the element's name ('{inner}') without <<< >>>"
        elif names_element(who):
            if RESERVED_ELEMENT.match(who):
                problem = (
                    f"'{who}' is not an element's name: write the element's own name; the "
                    "compiler numbers elements itself"
                )
            elif who not in elements:
                problem = (
                    f"unknown element '{who}'{did_you_mean(who, elements)}; a voice that is "
                    "not an element is written with a capital letter or a space ('Narrator')"
                )
        elif (bad := unprintable(who)) is not None:
            problem = f"the name holds {bad}"
        if problem is not None:
            self.error(where, f"{name}: {problem}")
        for key, text in ((raw.says_key, says), ("how", how)):
            if not isinstance(text, str):
                continue
            field = _field_name((*raw.path, "says" if key == raw.says_key else key))
            here = self.smap.value((*raw.path, key))
            if "<<<" in text or ">>>" in text:
                problem = problem or "element"
                self.error(
                    here,
                    f"{field}: a line cannot name an element with <<< >>>; its speaker is "
                    "'who', and the words are said as written",
                )
            elif (bad := unprintable(one_line(text))) is not None:
                problem = problem or "unprintable"
                self.error(here, f"{field}: the text holds {bad}")
            elif key == raw.says_key and (mark := _MARKUP.search(text)) is not None:
                problem = problem or "markup"
                self.error(
                    here,
                    f"{field}: the words hold '{mark.group()}', which subtitle files read as "
                    "markup; write what is said",
                )
        if problem is not None:
            return None
        return Line(
            who=who,
            says=one_line(says),
            how=one_line(how) if isinstance(how, str) else None,
            at=float(at) if at is not None else None,
            element=names_element(who),
            path=raw.path,
            says_key=str(raw.says_key),
        )

    def _speaks(self, shot: _RawShot) -> bool:
        """Whether a shot's request generates sound (``sound``, else ``defaults.sound``, which
        a shot with a video input does not take)."""
        own = shot.data.get("sound")
        if own is not None:
            return own is True
        if "edit" in shot.data or shot.data.get("reference_videos"):
            return False
        defaults = self.data.get("defaults")
        return isinstance(defaults, dict) and defaults.get("sound") is True

    def _no_sound(self, shot: _RawShot) -> str:
        name = f"shot '{shot.id}'" if shot.id else "the shot"
        if "edit" in shot.data or shot.data.get("reference_videos"):
            key = "edit" if "edit" in shot.data else "reference_videos"
            return (
                f"dialogue: {name} takes a video input ('{key}'), and a request with one makes "
                "no sound: the model would not speak its lines"
            )
        return (
            f"dialogue: {name} has no sound, so the model would not speak its lines: set "
            "'sound: true' on the shot (or in defaults)"
        )

    def _check_cut(self, shots: list[_RawShot]) -> None:
        cut = self.data.get("cut")
        if not isinstance(cut, dict):
            return
        music = cut.get("music")
        if isinstance(music, dict):
            self._check_music(("cut", "music"), music)
        for i, cue in enumerate(music if isinstance(music, list) else []):
            if isinstance(cue, dict):
                self._check_music(("cut", "music", i), cue)
        credits = cut.get("credits")
        for key in ("opening", "end"):
            card = credits.get(key) if isinstance(credits, dict) else None
            if isinstance(card, dict):
                self._check_text_media(("cut", "credits", key), card, card=True)
        clips = cut.get("clips")
        by_id = {s.id: s for s in shots if s.id is not None}
        for i, clip in enumerate(clips if isinstance(clips, list) else []):
            if isinstance(clip, dict) and isinstance(clip.get("title"), dict):
                self._check_text_media(("cut", "clips", i, "title"), clip["title"], card=True)
                continue
            if isinstance(clip, dict) and isinstance(clip.get("caption"), dict):
                self._check_text_media(("cut", "clips", i, "caption"), clip["caption"])
            if not isinstance(clip, dict) or not isinstance(clip.get("shot"), str):
                continue
            shot_id = clip["shot"]
            target = by_id.get(shot_id)
            if target is None:
                self.error(
                    self.at("cut", "clips", i, "shot"),
                    f"cut.clips[{i}].shot: unknown shot '{shot_id}'{did_you_mean(shot_id, by_id)}",
                )
                continue
            self._check_trim(i, clip, target)
        # Transitions and fades, the trims of an edit (whose length is its source's), captions
        # against their clip and texts against the frame are checked once the takes are known,
        # by the code that cuts the film (storyboard.compiler.fit).

    def _check_music(self, base: DataPath, cue: dict[str, Any]) -> None:
        """A music cue's file: local, decodable, and longer than its ``start``."""
        at = (*base, "file")
        music = self._source(at, "audio")
        name = format_path(base)
        if isinstance(music, MediaRef) and music.kind == "file":
            self.cut_sources[at] = music
            problem = limits.audio_problem(music.path) if music.path else None
            if problem is not None:  # the cut would fail on it, after the takes are paid
                self.error(self.at(*at), f"{name}.file: {problem}")
                return
            start = cue.get("start")
            seconds = limits.audio_seconds(music.path) if music.path else None
            if (
                isinstance(start, int | float)
                and not isinstance(start, bool)
                and seconds is not None
                and start >= seconds
            ):
                self.error(
                    self.at(*base, "start"),
                    f"{name}.start: {start:g} s is at or past the end of "
                    f"'{music.path.name if music.path else music.value}' (it is {seconds:.3g} s "
                    "long)",
                )
        elif music is not None:  # the cut mixes it on this machine: nothing fetches it
            self.error(
                self.at(*at),
                f"{name}.file: the music bed must be a local audio file, named relative "
                "to the storyboard (not a URL, an uploaded media UUID or a data: URI)",
            )

    def _check_text_media(
        self, base: DataPath, text: dict[str, Any], *, card: bool = False
    ) -> None:
        """A title's, a caption's or a credits card's font, colour and background: a bundled
        font or a local font file; a colour name or ``#rrggbb``; a colour or a local image."""
        from storyboard.media.fonts import (
            BUNDLED_FONTS,
            colour_names,
            font_problem,
            is_colour,
            looks_like_file,
        )

        name = format_path(base)
        font = text.get("font")
        if isinstance(font, str) and font and font not in BUNDLED_FONTS:
            if not looks_like_file(font):
                self.error(
                    self.at(*base, "font"),
                    f"{name}.font: unknown font '{font}': use one of "
                    f"{', '.join(BUNDLED_FONTS)}, or a .ttf or .otf file"
                    f"{did_you_mean(font, BUNDLED_FONTS)}",
                )
            else:
                found = self._source((*base, "font"), "font")
                if isinstance(found, MediaRef) and found.kind == "file" and found.path:
                    problem = font_problem(found.path)
                    if problem is not None:
                        self.error(self.at(*base, "font"), f"{name}.font: {problem}")
                    else:
                        self.cut_sources[(*base, "font")] = found
                elif found is not None:
                    self.error(
                        self.at(*base, "font"),
                        f"{name}.font: a font must be a local file, named relative to the "
                        "storyboard",
                    )
        color = text.get("color")
        if isinstance(color, str) and not is_colour(color) and not color.startswith("#"):
            self.error(
                self.at(*base, "color"),
                f"{name}.color: unknown colour '{color}': use a name (white, black, gold...) "
                f"or #rrggbb{did_you_mean(color, colour_names())}",
            )
        background = text.get("background")
        if card and isinstance(background, str) and background and not is_colour(background):
            if not looks_like_file(background):
                self.error(
                    self.at(*base, "background"),
                    f"{name}.background: '{background}' is neither a colour (a name or "
                    f"#rrggbb) nor an image file{did_you_mean(background, colour_names())}",
                )
                return
            found = self._source((*base, "background"), "image")
            if isinstance(found, MediaRef) and found.kind == "file":
                self.cut_sources[(*base, "background")] = found
            elif found is not None:
                self.error(
                    self.at(*base, "background"),
                    f"{name}.background: the image must be a local file, named relative to "
                    "the storyboard",
                )

    def _check_trim(self, i: int, clip: dict[str, Any], shot: _RawShot) -> None:
        """``in`` and ``out`` against the shot's duration, by the cut's own rule."""
        from storyboard.language.timing import to_frames, trim_problem

        duration = self._duration(shot)
        if duration is None or duration < 1 or shot.id is None:
            return  # an edit (its source decides, checked at compile), or reported already
        trims: dict[str, float | None] = {}
        for key in ("in", "out"):
            value = clip.get(key)
            if value is None:
                trims[key] = None
            elif isinstance(value, int | float) and not isinstance(value, bool):
                if not (math.isfinite(value) and value >= 0):
                    return  # reported by the models
                trims[key] = float(value)
            else:
                return  # reported by the models
        first, last = trims["in"], trims["out"]
        if first is not None and last is not None and last <= first:
            return  # reported by the models
        problem = trim_problem(f"cut.clips[{i}]", shot.id, first, last, to_frames(duration))
        if problem is not None:
            self.error(self.at("cut", "clips", i, problem[0]), problem[1])

    # -- pass 3: prompts ---------------------------------------------------------------------

    def run_prompts(self, shots: list[_RawShot]) -> dict[DataPath, str]:
        title = self.data.get("title")
        variables = self.data.get("vars")
        if not isinstance(variables, dict):
            variables = {}
        for reserved in ("shot", "storyboard", "vars"):
            if reserved in variables:
                self.error(
                    self.smap.key(("vars", reserved)),
                    f"'{reserved}' is a reserved template name; choose another variable name",
                )
        renderer: PromptRenderer | None = None  # made for the first prompt with Jinja syntax
        elements = self.data.get("elements")
        element_names = set(elements) if isinstance(elements, dict) else set()
        speaking = [s for s in shots if s.data.get("dialogue")]
        if DIALOGUE in variables and speaking:
            self.error(
                self.smap.key(("vars", DIALOGUE)),
                f"'{DIALOGUE}' is the name templates see a shot's lines under (shot "
                f"'{speaking[0].id}' has dialogue); choose another variable name",
            )
        rendered: dict[DataPath, str] = {}
        for shot in shots:
            source = shot.data.get("prompt")
            if not isinstance(source, str) or not source:
                continue  # reported by the models
            path = (*shot.path, "prompt")
            lines = self.dialogue.get(shot.path, ())
            if "{" not in source:  # no Jinja syntax: the text as it is, Jinja not even imported
                text = source.strip()
                if lines:
                    form = self._dialogue_form(shot)
                    text = form.attach(text, written(lines, form))
                rendered[path] = text
                self._check_prompt(text, path, source, element_names, with_lines=bool(lines))
                continue
            from storyboard.language.prompts import PromptRenderer, ShotContext, TemplateProblem

            if renderer is None:
                renderer = PromptRenderer(
                    self.doc.path.parent,
                    self.doc.project_root,
                    title if isinstance(title, str) else "",
                    variables,
                )
            context = ShotContext(
                id=shot.id or "",
                duration=self._duration(shot),
                index=shot.index,
                sequence=shot.sequence,
            )
            form = self._dialogue_form(shot)
            spoken = written(lines, form)
            # A var of that name keeps its meaning in a storyboard without dialogue.
            seen = None if DIALOGUE in variables and not lines else spoken
            try:
                text = renderer.render(source, context, seen)
            except TemplateProblem as exc:
                self._template_error(exc, path, source, shot)
                if renderer.out_of_time:
                    break  # the storyboard's prompts used up their time; the error says so
                continue
            if lines and not renderer.dialogue_used:
                text = form.attach(text, spoken)
            rendered[path] = text
            self._check_prompt(text, path, source, element_names, with_lines=bool(lines))
        self.templates = renderer.templates_read if renderer is not None else frozenset()
        self.templates_named = renderer.templates_named if renderer is not None else ()
        return rendered

    def _template_error(
        self, exc: TemplateProblem, path: DataPath, source: str, shot: _RawShot
    ) -> None:
        """Report a template problem where it is: in the prompt, or in an included template."""
        if exc.file is None:
            where = self._in_prompt(path, source, line=exc.line, near=exc.near)
            unplaced = where == self.smap.value(path) and exc.line and exc.line > 1
            self.error(
                where, f"{exc.message} (template line {exc.line})" if unplaced else exc.message
            )
            return
        lines = _read_lines(exc.file, self._lines)
        number = min(max(exc.line or 1, 1), max(len(lines), 1))
        text = lines[number - 1] if lines else ""
        found = text.find(exc.near) if exc.near else -1
        col = found + 1 if found >= 0 else len(text) - len(text.lstrip()) + 1
        where = Position(display_path(exc.file), number, col)
        if (where, exc.message) in self._template_errors:
            return  # the same template, included by several prompts: reported once
        self._template_errors.add((where, exc.message))
        name = f"shot '{shot.id}'" if shot.id else "a shot"
        self.error(
            where, f"{exc.message} (in a template included by {name} at {self.smap.value(path)})"
        )

    def _in_prompt(
        self, path: DataPath, source: str, *, line: int | None = None, near: str | None = None
    ) -> Position:
        """The position of a problem inside the prompt at ``path``."""
        start = self.smap.value(path)
        file = self.doc.file_of(path)
        return position_in_value(
            _read_lines(file, self._lines),
            start,
            self.smap.key(path).col,
            source,
            line=line,
            near=near,
        )

    def _dialogue_form(self, shot: _RawShot) -> DialogueForm:
        """The form the shot's model writes lines in (the default model's, if unknown)."""
        defaults = self.data.get("defaults")
        model = shot.data.get("model")
        if model is None and isinstance(defaults, dict):
            model = defaults.get("model")
        if model is None:
            model = self.data.get("model", DEFAULT_MODEL)
        profile = get_profile(model) if isinstance(model, str) else None
        fallback = get_profile(DEFAULT_MODEL)
        assert fallback is not None
        return (profile or fallback).dialogue

    def _check_prompt(
        self,
        text: str,
        path: DataPath,
        source: str,
        element_names: set[str],
        *,
        with_lines: bool = False,
    ) -> None:
        # text of ASCII only holds no surrogate (nor most prompts anything else): a flag read
        half = None if text.isascii() else _SURROGATE.search(text)
        if half is not None:  # made by a template ('\\ud800'): it could not be sent
            self.error(
                self.smap.value(path),
                f"prompt holds a lone surrogate (U+{ord(half.group()):04X}) once rendered, half "
                "of a character that cannot be sent",
            )
        if not text:
            self.error(
                self.smap.value(path),
                "prompt is empty once rendered; it needs at least 2 characters",
            )
        elif len(text) < 2:
            self.error(
                self.smap.value(path), "prompt is 1 character once rendered; it needs at least 2"
            )
        elif len(text) > 2500 and (length := _least_length(text, element_names)) > 2500:
            self.error(
                self.smap.value(path),
                f"prompt is {length:,} characters once rendered"
                + (" with its dialogue written in" if with_lines else "")
                + (" and its elements numbered" if length != len(text) else "")
                + "; it may have at most 2,500",
            )
        for name in dict.fromkeys(ELEMENT_REF.findall(text)):
            if name not in element_names:
                hint = did_you_mean(name, element_names)
                where = self._in_prompt(path, source, near=f"<<<{name}>>>")
                if RESERVED_ELEMENT.match(name):
                    self.error(
                        where,
                        f"prompt names <<<{name}>>>: write the element's own name "
                        f"(<<<name>>>); the compiler numbers elements itself{hint}",
                    )
                else:
                    self.error(where, f"prompt names unknown element <<<{name}>>>{hint}")

    # -- result ------------------------------------------------------------------------------

    def result(
        self, storyboard: Storyboard, raw: list[_RawShot], prompts: dict[DataPath, str]
    ) -> CheckedStoryboard:
        shots = []
        models = _validated_shots(storyboard)
        found = self.sources.get
        for item, shot in zip(raw, models, strict=True):
            sources = {}
            for key in ("start", "end", "edit", "references", "reference_videos"):
                if value := found((*item.path, key)):
                    sources[key] = value
            shots.append(
                ShotInfo(
                    shot=shot,
                    path=item.path,
                    index=item.index,
                    sequence=item.sequence,
                    prompt=prompts[(*item.path, "prompt")],
                    duration=self._duration(item),
                    sources=sources,
                    dialogue=self.dialogue.get(item.path, ()),
                )
            )
        element_sources = {
            name: {
                key: self.sources.get(("elements", name, key), ())
                for key in ("frontal_image", "images", "videos", "voices")
            }
            for name in storyboard.elements
        }
        music = next((v for k, v in self.cut_sources.items() if k[:2] == ("cut", "music")), None)
        return CheckedStoryboard(
            document=self.doc,
            storyboard=storyboard,
            shots=tuple(shots),
            element_sources=element_sources,
            music=music,
            templates=tuple(sorted(self.templates)),
            assets=tuple(sorted(self.assets)),
            cut_sources=dict(self.cut_sources),
            templates_named=self.templates_named,
        )


def _validated_shots(storyboard: Storyboard) -> list[Shot]:
    out: list[Shot] = []
    for item in storyboard.shots:
        if isinstance(item, Sequence):
            out.extend(item.shots)
        else:
            out.append(item)
    return out


# -- helpers ---------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _get(data: Any, path: DataPath) -> Any:
    for part in path:
        if isinstance(part, int) and isinstance(data, list) and 0 <= part < len(data):
            data = data[part]
        elif isinstance(part, str) and isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


def _data_path(data: Any, loc: tuple[Any, ...]) -> DataPath:
    """Follow a pydantic ``loc`` through the data, dropping union tags and type names."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if len(path) == 2 and path[0] == "shots" and i == 2 and part in ("shot", "sequence"):
            continue  # the tag pydantic puts after every item of the story-item union
        if isinstance(node, list) and isinstance(part, int):
            path.append(part)
            node = node[part] if 0 <= part < len(node) else None
        elif isinstance(node, dict) and isinstance(part, str):
            if part in node:
                path.append(part)
                node = node[part]
            elif last and " " not in part:  # a union tag holds a space (see model)
                path.append(part)  # a missing or an extra key
                node = None
        # anything else is a union member or type name: skip it
    return tuple(path)


def _model_at(data: Any, path: DataPath) -> type[BaseModel] | None:
    """The model that validates the mapping at ``path`` (for "did you mean" hints)."""
    match path:
        case ():
            return Storyboard
        case ("output",):
            return Output
        case ("delivery",):
            return Delivery
        case ("delivery", "safety"):
            return Safety
        case ("defaults",):
            return Defaults
        case ("elements", str()):
            return Element
        case ("shots", int()):
            item = _get(data, path)
            return Sequence if isinstance(item, dict) and "sequence" in item else Shot
        case ("shots", int(), "shots", int()):
            return Shot
        case ("shots", int(), "dialogue", int()) | (
            "shots",
            int(),
            "shots",
            int(),
            "dialogue",
            int(),
        ):
            return DialogueLine
        case ("cut",):
            return Cut
        case ("cut", "music") | ("cut", "music", int()):
            return Music
        case ("cut", "credits"):
            return Credits
        case ("cut", "credits", str()):
            return CreditsCard
        case ("cut", "clips", int()):
            item = _get(data, path)
            return TitleClip if isinstance(item, dict) and "title" in item else Clip
        case ("cut", "clips", int(), "title"):
            return Title
        case ("cut", "clips", int(), "caption"):
            return Caption
    return None


def _allowed_keys(data: Any, path: DataPath) -> list[str]:
    model = _model_at(data, path)
    return top_level_keys(model) if model else []


def _field_name(path: DataPath) -> str:
    """``start``, ``references[1]`` or ``cut.music.file``: how to name a field in a message."""
    if path and path[0] == "shots":
        rest = path[4:] if len(path) > 3 and path[2] == "shots" else path[2:]
        if rest:  # a shot's own field; the position names the shot
            return format_path(rest)
    return format_path(path)


def _read_lines(path: Path, cache: dict[Path, list[str]]) -> list[str]:
    """The lines of a file already read by the loader or the template loader."""
    if path not in cache:
        try:
            cache[path] = read_capped(path, MAX_FILE_BYTES).decode("utf-8-sig").splitlines()
        except (OSError, UnicodeError):
            cache[path] = []
    return cache[path]


_MESSAGES = {
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "finite_number": "expected a finite number",
}


def _friendly(kind: str, err: Any, path: DataPath) -> str:
    ctx = err.get("ctx") or {}
    got = err.get("input")
    shown = _show(got)
    if kind == "string_type" and isinstance(got, int | float):  # bools too
        return f"expected text, got {shown} (put it in quotes to make it text)"
    if kind in _MESSAGES:
        return f"{_MESSAGES[kind]}, got {shown}"
    if kind == "literal_error":
        return f"{shown} is not one of: {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        if path and path[-1] in ("id", "sequence", "shot"):
            return (
                f"{shown} is not a valid id: use lowercase letters, digits, '-' and '_', "
                "starting with a letter or digit"
            )
        if path and path[-1] == "file":
            return f"{shown} must be a plain file name, without folders"
        return f"{shown} is not allowed here (it must match {ctx.get('pattern')})"
    if kind == "greater_than_equal":
        return f"must be at least {_number(ctx.get('ge'))}, got {shown}"
    if kind == "greater_than":
        return f"must be more than {_number(ctx.get('gt'))}, got {shown}"
    if kind == "less_than_equal":
        return f"must be at most {_number(ctx.get('le'))}, got {shown}"
    if kind == "less_than":
        return f"must be less than {_number(ctx.get('lt'))}, got {shown}"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else str(err["msg"])
    if kind == "string_too_long":
        return f"too long: {len(got)} characters, at most {ctx.get('max_length')}"
    if kind == "too_short":
        n = ctx.get("min_length")
        return f"needs at least {n} item{'s' if n != 1 else ''}"
    if kind == "too_long":
        n = ctx.get("max_length")
        return f"takes at most {n} item{'s' if n != 1 else ''}, got {ctx.get('actual_length')}"
    if kind == "storyboard_rule":
        return str(err["msg"])
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def _number(value: Any) -> str:
    """``4`` for ``4.0``: limits read as the writer would write them."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
