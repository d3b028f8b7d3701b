"""Stage 5, compile: each take -> the exact ``videoInference`` request the model will get.

Pure and deterministic: the same storyboard gives byte-identical requests. No task UUID is
assigned here (the executor mints one and journals it before sending), and transport fields
the client always sets (``deliveryMethod``, ``includeCost``) are left to it. Inputs that do
not exist yet are explicit placeholders:

- ``file:PATH``: a local file, PATH relative to the project folder (uploaded at build time);
- ``take:ID/last``, ``take:ID/first``, ``take:ID/frame/N``: a frame of take ID's video
  (N counted from 0 at the profile's fps);
- ``take:ID/video`` (or ``take:ID/video/A-B``, frames A..B-1): take ID's video.

Every rule of the model profile that the resolve stage did not already check is checked
here and reported at the position of the value that breaks it, and so is everything the cut
and the hand-offs need of the takes' lengths (:mod:`storyboard.compiler.fit`): a storyboard that
compiles is one whose film can be cut once its takes are made. The warnings a writer needs
before paying (:mod:`storyboard.compiler.advice`) come with the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace

from storyboard.compiler.resolve import (
    Handoff,
    Input,
    Resolved,
    Take,
    resolve_takes,
)
from storyboard.core.diagnostics import DataPath, Diagnostic
from storyboard.core.errors import InputError
from storyboard.core.lazy import compiled_when_used
from storyboard.language.checked import CheckedStoryboard
from storyboard.language.model import Element
from storyboard.language.sources import MediaRef, Source
from storyboard.media import limits

ELEMENT_REF = re.compile(r"<<<(.*?)>>>")
FileHasher = Callable[[Path], str]

#: The keys of ``providerSettings.klingai`` the service accepts (reference §3.4; any other is
#: refused as ``unknownParameter``, §9 item 7).
PROVIDER_KEYS = ("sound", "multiPrompt", "keepOriginalSound", "characterOrientation")
#: Kling caps an element's description (reference §3.3).
MAX_ELEMENT_DESCRIPTION = 100


def _provider_problem(key: str, value: Any, take: Take) -> str | None:
    """What the service refuses in ``providerSettings.klingai.KEY = value`` of ``take`` (the
    keys are copied as they are, over what the named keys send: reference §3.4, §3.5), or
    None. Only a take without ``edit`` sends them."""
    shot = take.shots[0].id
    if key == "multiPrompt":
        return (
            "the compiler writes multiPrompt from the shots of a sequence (continuity: "
            "multishot); here it would clash with the shot's own prompt or replace the shots' "
            "prompts and durations: remove it"
        )
    if key == "characterOrientation" and value not in ("image", "video"):
        return f"{_shown(value)} is not one of 'image', 'video'"
    if key in ("sound", "keepOriginalSound") and not isinstance(value, bool):
        return f"expected true or false, got {_shown(value)}"
    if key == "sound" and value and take.reference_videos:
        return f"sound cannot be on when a video is an input (shot '{shot}' has 'reference_videos')"
    if key != "sound" and not take.reference_videos:
        hint = ""
        if key == "keepOriginalSound" and value is False:
            hint = " ('keep_original_sound: false' is left out where it means nothing)"
        return (
            f"the model takes {key} only with a video input, and shot '{shot}' has no "
            f"'reference_videos'{hint}"
        )
    return None


def _shown(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str) if value is not None else "null"


class CompiledTake(Struct, frozen=True):
    """A take and its request.

    Attributes:
        take: the take.
        request: the request body, without ``taskUUID``.
        inputs: every placeholder in the request and what it stands for.
    """

    take: Take
    request: dict[str, Any]
    inputs: dict[str, Input]

    @property
    def id(self) -> str:
        return self.take.id

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.take.id,
            "shots": [s.id for s in self.take.shots],
            "depends_on": list(self.take.depends_on),
            "request": self.request,
        }


class Compiled(Struct, frozen=True):
    """Every take of a storyboard compiled, in dependency order.

    Attributes:
        resolved: the takes and their graph.
        takes: each take's request.
        lengths: each take's length in frames at 24 fps, ``None`` where it is known only once
            the take is made (an edit of a remote video: see :mod:`storyboard.compiler.fit`).
        warnings: what a writer should know before paying (:mod:`storyboard.compiler.advice`).
    """

    resolved: Resolved
    takes: tuple[CompiledTake, ...]
    lengths: Mapping[str, int | None] = field(default_factory=dict)
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def checked(self) -> CheckedStoryboard:
        return self.resolved.checked

    def take(self, take_id: str) -> CompiledTake:
        for compiled in self.takes:
            if compiled.id == take_id:
                return compiled
        raise KeyError(take_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "storyboard": str(self.checked.document.path.name),
            "takes": [t.to_json() for t in self.takes],
        }


#: Characters JSON may hold raw that a terminal would act on: C1 controls, line and paragraph
#: separators, bidirectional embeddings, overrides and isolates (JSON escapes C0 itself).
_RAW_CONTROLS = compiled_when_used("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def dumps(value: Any) -> str:
    """JSON as storyboard writes it: two-space indent, UTF-8 kept, a final newline.

    Characters that reorder or control a terminal are written as ``\\uXXXX`` escapes: the
    same JSON value, safe to print (``compile --json``, ``plan --json``, ``graph``).
    """
    import json  # json and hashlib where used: a check without elements or local files
    # needs neither (3 ms of its start)

    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return _RAW_CONTROLS().sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FileHashes:
    """sha256 of local files, each read once per instance."""

    def __init__(self) -> None:
        self._memo: dict[Path, str] = {}

    def __call__(self, path: Path) -> str:
        key = path.resolve()
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = sha256_file(key)
        return found


def compile_storyboard(
    checked: CheckedStoryboard, *, file_hash: FileHasher | None = None
) -> Compiled:
    """Resolve and compile every take.

    Args:
        checked: a storyboard that passed ``check``.
        file_hash: sha256 of a local file (for derived element ids); reads the file if omitted.

    Raises:
        InputError: every rule broken, at the offending values; every clip, transition or
            hand-off that would not fit the takes' videos.
    """
    from storyboard.compiler.advice import warnings_of
    from storyboard.compiler.fit import fit_problems, take_lengths

    resolved = resolve_takes(checked)
    compiler = _Compiler(checked, file_hash or FileHashes(), resolved)
    takes = tuple(compiler.compile(take) for take in resolved.takes)
    lengths = take_lengths(resolved)
    compiled = Compiled(resolved, takes, lengths)
    problems = compiler.diagnostics + fit_problems(compiled, lengths)
    if problems:
        raise InputError(problems)
    return replace(compiled, warnings=tuple(warnings_of(compiled)))


class _Compiler:
    def __init__(
        self, checked: CheckedStoryboard, file_hash: FileHasher, resolved: Resolved | None = None
    ) -> None:
        self.checked = checked
        self.file_hash = file_hash
        self.resolved = resolved
        self.root = checked.document.project_root
        self.diagnostics: list[Diagnostic] = []
        self.inputs: dict[str, Input] = {}
        self.media_checked: set[DataPath] = set()

    def error(self, path: DataPath, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.checked.position(path), message))

    def ref(self, value: Input | Source) -> str:
        """The request string for an input, recording its placeholder."""
        if isinstance(value, Handoff):
            text = value.placeholder()
        elif isinstance(value, MediaRef):
            if value.kind == "file" and value.path is not None:
                text = "file:" + value.path.resolve().relative_to(self.root.resolve()).as_posix()
            elif value.kind == "data":
                # base64 as the service decodes it: a data: URI written over several YAML
                # lines holds spaces, which it refuses (the same bytes, without them)
                text = "".join(value.value.split())
            elif value.kind == "url":
                # the scheme in lower case (RFC 3986 §3.1: the same URL); the service takes
                # media by "http(s)://" URLs, and may not read "HTTPS://"
                scheme, sep, rest = value.value.partition("://")
                text = scheme.lower() + sep + rest
            else:
                text = value.value
        else:  # pragma: no cover - resolve turns shot references into hand-offs
            raise TypeError(f"unresolved source {value!r}")
        if isinstance(value, Handoff) or (isinstance(value, MediaRef) and value.kind == "file"):
            self.inputs[text] = value
        return text

    def compile(self, take: Take) -> CompiledTake:
        self.inputs = {}
        self._check(take)
        profile, settings = take.profile, take.settings
        names = take.elements
        numbering = {name: i + 1 for i, name in enumerate(names)}

        def renumber(text: str) -> str:
            return ELEMENT_REF.sub(lambda m: f"<<<element_{numbering[m.group(1)]}>>>", text)

        request: dict[str, Any] = {"taskType": "videoInference", "model": settings.model}
        multishot = len(take.shots) > 1
        if not multishot:
            request["positivePrompt"] = renumber(take.shots[0].prompt)
        frames: list[dict[str, Any]] = []
        if take.start is not None:
            frames.append({"image": self.ref(take.start), "frame": "first"})
        if take.end is not None:
            frames.append({"image": self.ref(take.end), "frame": "last"})
        if not frames and take.edit is None:
            output = self.checked.storyboard.output
            request["width"], request["height"] = output.width, output.height
        if take.edit is None:
            request["duration"] = take.duration
        if take.variations > 1:
            request["numberResults"] = take.variations
        if take.edit is None:
            klingai: dict[str, Any] = {}
            if settings.sound:
                klingai["sound"] = True
            # keepOriginalSound needs a video input (§3.5 rule 8): `false` without one means
            # nothing and is left out; `true` without one is an error (`_check`).
            if settings.keep_original_sound is not None and (
                settings.keep_original_sound or take.reference_videos
            ):
                klingai["keepOriginalSound"] = settings.keep_original_sound
            if settings.character_orientation is not None:
                klingai["characterOrientation"] = settings.character_orientation
            if multishot:
                klingai["multiPrompt"] = [
                    {"prompt": renumber(s.prompt), "duration": s.duration} for s in take.shots
                ]
            klingai.update(dict(settings.provider))
            if klingai:
                request["providerSettings"] = {"klingai": klingai}
        inputs: dict[str, Any] = {}
        if frames:
            inputs["frameImages"] = frames
        if settings.references:
            inputs["referenceImages"] = [self.ref(r) for r in settings.references]
        if take.reference_videos:
            inputs["referenceVideos"] = [self.ref(r) for r in take.reference_videos]
        if take.edit is not None:
            inputs["video"] = self.ref(take.edit)
        if names and take.edit is None:
            inputs["elements"] = [self.element(name) for name in names]
        if inputs:
            request["inputs"] = inputs
        request.update(self.delivery())
        del profile
        return CompiledTake(take, request, dict(sorted(self.inputs.items())))

    def delivery(self) -> dict[str, Any]:
        delivery = self.checked.storyboard.delivery
        out: dict[str, Any] = {}
        if delivery.webhook_url:
            out["webhookURL"] = delivery.webhook_url
        if delivery.upload_endpoint:
            out["uploadEndpoint"] = delivery.upload_endpoint
        if delivery.ttl is not None:
            out["ttl"] = delivery.ttl
        if delivery.safety is not None:
            safety: dict[str, Any] = {"checkContent": delivery.safety.check_content}
            if delivery.safety.mode is not None:
                safety["mode"] = delivery.safety.mode
            out["safety"] = safety
        return out

    def element(self, name: str) -> dict[str, Any]:
        element = self.checked.storyboard.elements[name]
        sources = self.checked.element_sources.get(name, {})
        body: dict[str, Any] = {"id": element.id or self.element_id(name, element)}
        if element.description is not None:
            body["description"] = element.description
        if sources.get("frontal_image"):
            body["frontalImage"] = self.ref(sources["frontal_image"][0])
        for key, wire in (("images", "images"), ("videos", "videos"), ("voices", "voices")):
            if sources.get(key):
                body[wire] = [self.ref(s) for s in sources[key]]
        if element.tags:
            body["tags"] = list(element.tags)
        return body

    def element_id(self, name: str, element: Element) -> str:
        """A stable id (≤20 characters) from the element's name and content.

        The storyboard's file name is left out on purpose: renaming or moving the file must
        not make new elements (and so new keys, and new payments for every take using them).
        """
        sources = self.checked.element_sources.get(name, {})
        content: dict[str, Any] = {
            "name": name,
            "description": element.description,
            "tags": element.tags,
        }
        for key, values in sorted(sources.items()):
            content[key] = [self._content_of(v) for v in values]
        import hashlib
        import json

        digest = hashlib.sha256(
            json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        return f"{name[:7].rstrip('-_')}-{digest[:12]}"

    def _content_of(self, source: Source) -> str:
        if isinstance(source, MediaRef) and source.kind == "file" and source.path is not None:
            return "sha256:" + self.file_hash(source.path)
        if isinstance(source, MediaRef):
            return source.value
        return str(source)

    # -- rules of the profile that span a whole request --------------------------------------

    def _check_media(self, take: Take) -> None:
        """Local files sent as input images or videos meet the model's limits (each place
        in the storyboard is reported once, however many requests use it)."""
        first, last = take.shots[0], take.shots[-1]
        wanted: list[tuple[DataPath, Input | Source, str]] = []
        if take.start is not None:
            wanted.append(((*first.path, "start"), take.start, "image"))
        if take.end is not None:
            wanted.append(((*last.path, "end"), take.end, "image"))
        refs: DataPath = (
            (*first.path, "references")
            if first.shot.references is not None
            else ("defaults", "references")
        )
        wanted += [((*refs, i), s, "image") for i, s in enumerate(take.settings.references)]
        if take.edit is not None:
            wanted.append(((*first.path, "edit"), take.edit, "video"))
        wanted += [
            ((*first.path, "reference_videos", i), s, "video")
            for i, s in enumerate(take.reference_videos)
        ]
        for name in take.elements:
            sources = self.checked.element_sources.get(name, {})
            for s in sources.get("frontal_image", ()):
                wanted.append((("elements", name, "frontal_image"), s, "image"))
            for i, s in enumerate(sources.get("images", ())):
                wanted.append((("elements", name, "images", i), s, "image"))
            for i, s in enumerate(sources.get("videos", ())):  # no limits, but a video
                wanted.append((("elements", name, "videos", i), s, "element video"))
        for path, source, kind in wanted:
            if isinstance(source, Handoff):
                problem = self._frame_problem(source, take) if kind == "image" else None
                if problem is not None:
                    shot = first if path[-1] == "start" else last
                    written = getattr(shot.shot, str(path[-1])) is not None
                    self.error_once(path if written else shot.path, problem)  # else: chained
                continue
            if not isinstance(source, MediaRef) or path in self.media_checked:
                continue
            if source.kind == "data" and kind != "image":
                # §3.3: inputs.video and referenceVideos take a UUID or a URL (no data: URI)
                self.error_once(
                    path,
                    "a video is sent to the model as a URL or an uploaded media UUID, not as "
                    "a data: URI: name the video file instead",
                )
                continue
            if source.kind == "file" and source.path is not None and kind == "element video":
                problem = limits.element_video_problem(source.path)
            elif source.kind == "file" and source.path is not None:
                check = limits.image_problem if kind == "image" else limits.video_problem
                problem = check(source.path, take.profile)
            elif source.kind == "data" and kind == "image":
                problem = limits.data_image_problem(source.value, take.profile)
            else:
                continue
            self.media_checked.add(path)
            if problem is not None:
                self.error(path, problem)

    def _frame_problem(self, handoff: Handoff, take: Take) -> str | None:
        """What makes a frame of another take unfit as an input image, or None. A take makes
        frames of a size the model takes, except an edit: it is as large as its source, and a
        video the model edits may be narrower than an image it takes (720x1920)."""
        found = self._edit_source(handoff.take)
        if found is None:
            return None
        (width, height), name = found
        return limits.picture_problem(
            f"shot '{handoff.shot}' is an edit as large as '{name}', so its frames are",
            "PNG",
            width,
            height,
            take.profile,
        )

    def _edit_source(self, take_id: str) -> tuple[tuple[int, int], str] | None:
        """The size of a take's video when it is an edit of a local file (directly or through
        edits of edits), and the file's name; None otherwise."""
        if self.resolved is None:
            return None
        take = self.resolved.take(take_id)
        if isinstance(take.edit, Handoff):
            return self._edit_source(take.edit.take)
        if isinstance(take.edit, MediaRef) and take.edit.kind == "file" and take.edit.path:
            size = limits.video_size(take.edit.path, take.profile)
            return None if size is None else (size, take.edit.path.name)
        return None

    def error_once(self, path: DataPath, message: str) -> None:
        """Report ``path`` once, however many requests share the value there."""
        if path not in self.media_checked:
            self.media_checked.add(path)
            self.error(path, message)

    def _check_provider(self, take: Take) -> None:
        """Every key of ``provider`` is one the service accepts (§3.4, §9 item 7)."""
        first = take.shots[0]
        where: DataPath = (
            (*first.path, "provider")
            if first.shot.provider is not None
            else ("defaults", "provider")
        )
        accepted = ", ".join(PROVIDER_KEYS)
        for key, value in take.settings.provider:
            if key not in PROVIDER_KEYS:
                self.error_once(
                    (*where, key),
                    f"'provider' key '{key}' is not a provider setting the model takes "
                    f"(it takes {accepted})",
                )
                continue
            problem = _provider_problem(key, value, take)
            if problem is not None:
                self.error_once((*where, key), f"'provider' key '{key}': {problem}")

    def _check_elements(self, take: Take) -> None:
        """The elements of one request: descriptions within Kling's cap, ids distinct."""
        owners: dict[str, str] = {}
        for name in take.elements:
            element = self.checked.storyboard.elements[name]
            description = element.description
            if description is not None and len(description) > MAX_ELEMENT_DESCRIPTION:
                self.error_once(
                    ("elements", name, "description"),
                    f"element '{name}': the description is {len(description)} characters; "
                    f"the model takes at most {MAX_ELEMENT_DESCRIPTION}",
                )
            element_id = element.id or self.element_id(name, element)
            other = owners.setdefault(element_id, name)
            if other != name:
                self.error_once(
                    ("elements", name, "id"),
                    f"elements '{other}' and '{name}' have the same id '{element_id}' and "
                    f"take '{take.id}' uses both; a request cannot send two elements with "
                    "one id",
                )

    def _check_source_length(self, take: Take, path: DataPath, source: Input, what: str) -> None:
        """A hand-off video (``edit``, ``reference_videos``) is as long as the model takes
        (§3.5, §6: 3..10 s)."""
        if not isinstance(source, Handoff):
            return
        seconds = self.checked.shot(source.shot).duration
        low, high = take.profile.min_edit_source, take.profile.max_edit_source
        if seconds is not None and not low <= seconds <= high:
            self.error(
                path, f"shot '{source.shot}' is {seconds} s; the model {what} of {low}..{high} s"
            )

    def _check(self, take: Take) -> None:
        self._check_media(take)
        if take.edit is None:  # an edit takes neither: reported below
            self._check_provider(take)
            self._check_elements(take)
        profile, settings = take.profile, take.settings
        first = take.shots[0]
        video_input = take.edit is not None or bool(take.reference_videos)
        refs = settings.references
        limit = (
            profile.max_reference_images_with_video if video_input else profile.max_reference_images
        )
        if len(refs) > limit:
            where = "references" if first.shot.references is not None else None
            path: DataPath = (
                (*first.path, "references", limit) if where else ("defaults", "references", limit)
            )
            extra = " when a video is an input" if video_input else ""
            self.error(
                path, f"{len(refs)} reference images; the model takes at most {limit}{extra}"
            )
        if take.end is not None and take.start is None:
            self.error(
                (*take.shots[-1].path, "end"),
                "the model cannot take a last frame without a first frame: add 'start'",
            )
        rv = first.sources.get("reference_videos", ())
        if len(rv) > profile.max_reference_videos:
            self.error(
                (*first.path, "reference_videos", profile.max_reference_videos),
                f"the model takes at most {profile.max_reference_videos} reference video",
            )
        if take.edit is not None:
            if rv:
                self.error(
                    (*first.path, "reference_videos"),
                    "'reference_videos' cannot be combined with 'edit'",
                )
            for key in ("sound", "keep_original_sound", "character_orientation", "provider"):
                if getattr(first.shot, key) not in (None, False):
                    self.error(
                        (*first.path, key),
                        f"'{key}' is not allowed with 'edit': an edit request takes no "
                        "providerSettings",
                    )
            if take.elements:
                self.error(
                    (*first.path, "prompt"),
                    "an edit cannot use elements: remove the <<<name>>> references",
                )
            self._check_source_length(take, (*first.path, "edit"), take.edit, "edits videos")
            # inputs.video excludes inputs.frameImages (§3.5 rule 1)
            for key, shot, value in (
                ("start", first, take.start),
                ("end", take.shots[-1], take.end),
            ):
                if value is not None:
                    written = getattr(shot.shot, key) is not None
                    self.error(
                        (*shot.path, key if written else "edit"),
                        f"'{key}' cannot be combined with 'edit': an edit takes its frames "
                        "from the video it edits",
                    )
        for i, source in enumerate(take.reference_videos):
            self._check_source_length(
                take, (*first.path, "reference_videos", i), source, "takes reference videos"
            )
        if take.reference_videos and take.edit is None and settings.sound and first.shot.sound:
            self.error(
                (*first.path, "sound"),
                "'sound' cannot be on when a video is an input ('reference_videos')",
            )
        if settings.keep_original_sound and not take.reference_videos:
            path = (*first.path, "keep_original_sound")
            if first.shot.keep_original_sound is None:
                path = ("defaults", "keep_original_sound")
            if take.edit is None:
                self.error(path, "'keep_original_sound' needs a video input ('reference_videos')")
        if settings.character_orientation is not None and take.edit is None:
            # the service requires inputs.video or inputs.referenceVideos (§3.5 rule 8)
            if not take.reference_videos:
                path = (*first.path, "character_orientation")
                if first.shot.character_orientation is None:
                    path = ("defaults", "character_orientation")
                self.error(path, "'character_orientation' needs a video input ('reference_videos')")
