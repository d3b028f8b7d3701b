"""Stage 4, resolve: a checked storyboard -> takes and the dependency graph between them.

A *take* is one generation request. A standalone shot is one take; a sequence becomes takes
by its ``continuity``:

- ``multishot``: one take (``multiPrompt``), or an error naming the limit it breaks;
- ``chain``: one take per shot, each after the first starting on the previous one's last
  frame;
- ``auto``: the fewest takes that satisfy every limit of the model profile, in story order,
  chained by last-frame hand-off (:func:`pack`).

Hand-offs (``start``/``end`` frame references, ``edit``, ``reference_videos``, chaining)
become edges of the take graph (:class:`~storyboard.compiler.graph.TakeGraph`); a cycle is
an error that prints the whole cycle with the position of each reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

from msgspec import Struct
from msgspec.structs import replace

from storyboard.compiler.graph import Edges, TakeGraph
from storyboard.core.diagnostics import DataPath, Diagnostic, Position
from storyboard.core.errors import InputError
from storyboard.language.checked import CheckedStoryboard, ShotInfo, element_refs
from storyboard.language.model import Sequence as SequenceModel
from storyboard.language.sources import FrameRef, MediaRef, ShotRef, Source
from storyboard.profiles import ModelProfile, get_profile


class Settings(Struct, frozen=True):
    """What a shot sets per request: shots share a take only when these agree."""

    model: str
    sound: bool
    keep_original_sound: bool | None
    character_orientation: str | None
    references: tuple[Source, ...]
    provider: tuple[tuple[str, Any], ...]

    def differs(self, other: Settings) -> str | None:
        """The first setting that differs from ``other``, as its storyboard key."""
        for name in ("model", "sound", "keep_original_sound", "character_orientation"):
            if getattr(self, name) != getattr(other, name):
                return name
        if self.references != other.references:
            return "references"
        if self.provider != other.provider:
            return "provider"
        return None


class Handoff(Struct, frozen=True):
    """An input produced by another take: a frame of it, or its video (or a part of it).

    ``frame`` is ``"first"``, ``"last"``, a 0-based frame index (at the profile's fps) or
    ``None`` for the video. ``span`` is the frame range ``[start, end)`` of the video used
    when only one segment of a multi-shot take is meant.
    """

    take: str
    shot: str
    frame: str | int | None
    span: tuple[int, int] | None = None

    def placeholder(self) -> str:
        """How the compiled request names this input until the upstream take exists."""
        if self.frame is None:
            suffix = "video" if self.span is None else f"video/{self.span[0]}-{self.span[1]}"
        elif isinstance(self.frame, int):
            suffix = f"frame/{self.frame}"
        else:
            suffix = self.frame
        return f"take:{self.take}/{suffix}"


Input = MediaRef | Handoff


class Take(Struct, frozen=True, dict=True):
    """One generation request and the shots it yields.

    Attributes:
        id: the take's name: the shot id for a one-shot take, else the sequence name
            (``SEQ.k`` when the sequence needs several takes).
        shots: the shots, in story order (several: a ``multiPrompt`` take).
        settings: the per-request settings all its shots share.
        profile: the model's profile.
        start, end: the first and last frame inputs, if any.
        edit: the video to edit, if any.
        reference_videos: reference video inputs.
        variations: results to generate; ``pick`` chooses the one the cut uses.
        retake: which attempt at the request (0: the first); it enters the take's key only.
        keep: the film keeps the take's current result even when its request changes.
        path: where to report take-level problems (the shot, or the sequence).
        sequence: the sequence's name, if any.
    """

    id: str
    shots: tuple[ShotInfo, ...]
    settings: Settings
    profile: ModelProfile
    start: Input | None = None
    end: Input | None = None
    edit: Input | None = None
    reference_videos: tuple[Input, ...] = ()
    variations: int = 1
    pick: int = 1
    path: DataPath = ()
    sequence: str | None = None
    depends_on: tuple[str, ...] = ()
    retake: int = 0
    keep: bool = False

    @cached_property
    def elements(self) -> tuple[str, ...]:
        """Element names of its request, in order of first appearance across its shots
        (:func:`request_elements`); found once: the compiler asks about five times."""
        return tuple(request_elements(self.shots))

    @property
    def duration(self) -> int | None:
        """Output seconds, ``None`` for an edit (its source decides)."""
        if self.edit is not None:
            return None
        return sum(s.duration or 0 for s in self.shots)

    def segment_start(self, shot_id: str) -> int:
        """Seconds from the take's start to the start of ``shot_id``'s segment."""
        offset = 0
        for shot in self.shots:
            if shot.id == shot_id:
                return offset
            offset += shot.duration or 0
        raise KeyError(shot_id)


class Resolved(Struct, frozen=True):
    """The result of resolve: takes in dependency order and the graph between them."""

    checked: CheckedStoryboard
    takes: tuple[Take, ...]
    graph: TakeGraph
    take_of_shot: dict[str, str]

    def take(self, take_id: str) -> Take:
        return self.graph.take(take_id)


# -- settings and limits -------------------------------------------------------------------


def shot_settings(checked: CheckedStoryboard, info: ShotInfo) -> Settings:
    """A shot's per-request settings, ``defaults`` applied."""
    shot, defaults = info.shot, checked.storyboard.defaults
    # A request with a video input takes no `sound` (reference §3.5 rule 5, read as its
    # sub-fields): a default `sound: true` does not apply to it, an explicit one is an error.
    video_input = "edit" in info.sources or bool(info.sources.get("reference_videos"))

    def pick(name: str) -> Any:
        own = getattr(shot, name)
        return own if own is not None else getattr(defaults, name)

    provider = pick("provider") or {}
    return Settings(
        model=pick("model") or checked.storyboard.model,
        sound=bool(shot.sound if video_input else pick("sound")),
        keep_original_sound=pick("keep_original_sound"),
        character_orientation=pick("character_orientation"),
        references=info.sources.get("references", ()),
        provider=tuple(sorted(provider.items())),
    )


class Limit(Struct, frozen=True):
    """A broken limit: the message and the data path of the value that breaks it."""

    message: str
    path: DataPath


def _elements(info: ShotInfo) -> list[str]:
    """Element names in a prompt, in order of first appearance."""
    return list(dict.fromkeys(info.element_refs))


def renumbered_length(text: str, numbering: dict[str, int]) -> int:
    """Length of ``text`` once each ``<<<name>>>`` becomes ``<<<element_N>>>``."""
    extra = 0
    for name in element_refs(text):
        if name in numbering:
            extra += len(f"element_{numbering[name]}") - len(name)
    return len(text) + extra


def request_elements(shots: Sequence[ShotInfo]) -> list[str]:
    """Element names of a request, in order of first appearance across its segments."""
    return list(dict.fromkeys(name for info in shots for name in info.element_refs))


def stands_alone(info: ShotInfo) -> str | None:
    """Why a shot cannot share a multi-shot request, if it cannot."""
    if "edit" in info.sources:
        return "an edit ('edit') cannot be part of a multi-shot request"
    if info.sources.get("reference_videos"):
        return "'reference_videos' cannot be combined with a multi-shot request"
    return None


def group_limits(
    shots: Sequence[ShotInfo], settings: Sequence[Settings], profile: ModelProfile
) -> list[Limit]:
    """Every limit a group of consecutive shots breaks as one request (empty: it fits)."""
    broken: list[Limit] = []
    names = request_elements(shots)
    numbering = {name: i + 1 for i, name in enumerate(names)}
    if len(shots) == 1:
        info = shots[0]
        if info.duration is not None and not (
            profile.min_duration <= info.duration <= profile.max_duration
        ):
            broken.append(
                Limit(
                    f"shot '{info.id}' is {info.duration} s; a request must be "
                    f"{profile.min_duration}..{profile.max_duration} s",
                    (*info.path, "duration"),
                )
            )
    else:
        if len(shots) > profile.max_segments:
            broken.append(
                Limit(
                    f"{len(shots)} shots in one request; the model takes at most "
                    f"{profile.max_segments} segments",
                    (*shots[profile.max_segments].path, "id"),
                )
            )
        total = sum(s.duration or 0 for s in shots)
        if not profile.min_duration <= total <= profile.max_duration:
            broken.append(
                Limit(
                    f"the shots add up to {total} s; a request must be "
                    f"{profile.min_duration}..{profile.max_duration} s",
                    (*shots[-1].path, "duration"),
                )
            )
        for info in shots:
            reason = stands_alone(info)
            if reason:
                broken.append(Limit(reason, info.path))
            length = renumbered_length(info.prompt, numbering)
            if length > profile.max_segment_prompt:
                broken.append(
                    Limit(
                        f"prompt of shot '{info.id}' is {length} characters"
                        f"{_with_lines(info)}; a segment of a multi-shot request takes at "
                        f"most {profile.max_segment_prompt}",
                        (*info.path, "prompt"),
                    )
                )
        for info, own in zip(shots[1:], settings[1:], strict=True):
            name = own.differs(settings[0])
            if name:
                broken.append(
                    Limit(
                        f"shot '{info.id}' sets '{name}' differently from shot "
                        f"'{shots[0].id}'; shots of one request must agree",
                        (*info.path, name) if name != "model" else info.path,
                    )
                )
    if len(shots) == 1:
        length = renumbered_length(shots[0].prompt, numbering)
        if length > profile.max_prompt:
            broken.append(
                Limit(
                    f"prompt of shot '{shots[0].id}' is {length} characters"
                    f"{_with_lines(shots[0])} once elements are numbered (<<<element_N>>>); "
                    f"the model takes at most {profile.max_prompt}",
                    (*shots[0].path, "prompt"),
                )
            )
    if len(names) > profile.max_elements:
        extra = names[profile.max_elements]
        culprit = next(s for s in shots if extra in _elements(s))
        # A line's speaker: point at the line (its prompt may not name the element at all).
        speaker = next((li for li in culprit.dialogue if li.element and li.who == extra), None)
        broken.append(
            Limit(
                f"{len(names)} elements in one request ({', '.join(names)}); the model takes "
                f"at most {profile.max_elements}"
                + (" (speakers of lines count too)" if culprit.dialogue else ""),
                speaker.path if speaker is not None else (*culprit.path, "prompt"),
            )
        )
    return broken


def _with_lines(info: ShotInfo) -> str:
    return " with its dialogue written in" if info.dialogue else ""


# -- packing -------------------------------------------------------------------------------


def pack(n: int, fits: Callable[[int, int], bool]) -> list[tuple[int, int]] | None:
    """Split items ``0..n-1`` into the fewest consecutive groups ``[i, j)`` that fit.

    ``fits(i, j)`` says whether items ``i..j-1`` can form one group. Among the minimal
    splits, the one whose earlier groups are longest is returned, so the result is
    deterministic. ``None`` when no split exists. O(n²) calls to ``fits``.
    """
    inf = n + 1
    best = [inf] * (n + 1)  # best[i]: fewest groups covering items i..n-1
    best[n] = 0
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n + 1):
            if best[j] + 1 < best[i] and fits(i, j):
                best[i] = best[j] + 1
    if best[0] >= inf:
        return None
    groups: list[tuple[int, int]] = []
    i = 0
    while i < n:
        j = max(j for j in range(i + 1, n + 1) if best[j] == best[i] - 1 and fits(i, j))
        groups.append((i, j))
        i = j
    return groups


# -- resolve ---------------------------------------------------------------------------------


def resolve_takes(checked: CheckedStoryboard) -> Resolved:
    """Turn shots into takes and hand-offs into a dependency graph.

    Raises:
        InputError: a limit no packing can meet, a hand-off the model cannot take, or a
            dependency cycle, each at the position of the value that causes it.
    """
    builder = _Builder(checked)
    builder.build()
    if builder.diagnostics:
        raise InputError(builder.diagnostics)
    return builder.finish()


class _Builder:
    def __init__(self, checked: CheckedStoryboard) -> None:
        self.checked = checked
        self.diagnostics: list[Diagnostic] = []
        self.groups: list[tuple[str, list[ShotInfo], DataPath, str | None, int, int, bool]] = []
        self.members: dict[str, list[ShotInfo]] = {}
        """Each take's shots, by the take's id (a hand-off looks its take up here)."""
        self.take_of_shot: dict[str, str] = {}
        self._settings: dict[DataPath, Settings] = {}

    def settings(self, info: ShotInfo) -> Settings:
        """:func:`shot_settings` of ``info``, made once (each shot's are asked twice)."""
        found = self._settings.get(info.path)
        if found is None:
            found = self._settings[info.path] = shot_settings(self.checked, info)
        return found

    def error(self, path: DataPath, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.checked.position(path), message))

    def at(self, path: DataPath) -> Position:
        return self.checked.position(path)

    def build(self) -> None:
        shots = {info.path: info for info in self.checked.shots}
        for index, item in enumerate(self.checked.storyboard.shots):
            if isinstance(item, SequenceModel):
                members = [shots[("shots", index, "shots", j)] for j in range(len(item.shots))]
                self._sequence(item, members, ("shots", index))
            else:
                info = shots[("shots", index)]
                settings = self.settings(info)
                profile = get_profile(settings.model)
                for limit in group_limits([info], [settings], profile) if profile else []:
                    self.error(limit.path, limit.message)
                self._group(info.id, [info], info.path, None, info.shot.variations, info.shot.pick)

    def _group(
        self,
        take_id: str,
        members: list[ShotInfo],
        path: DataPath,
        sequence: str | None,
        variations: int | None,
        pick: int | None,
        chained: bool = False,
    ) -> None:
        self.groups.append((take_id, members, path, sequence, variations or 1, pick or 1, chained))
        self.members[take_id] = members
        for info in members:
            self.take_of_shot[info.id] = take_id

    def _sequence(self, seq: SequenceModel, members: list[ShotInfo], path: DataPath) -> None:
        settings = [self.settings(m) for m in members]
        profile = get_profile(settings[0].model)
        if profile is None:
            return  # reported by validate
        if seq.continuity == "multishot":
            for limit in group_limits(members, settings, profile):
                self.error(limit.path, f"sequence '{seq.sequence}' (multishot): {limit.message}")
            spans = [(0, len(members))]
        elif seq.continuity == "chain":
            spans = [(i, i + 1) for i in range(len(members))]
            for info, own in zip(members, settings, strict=True):
                for limit in group_limits([info], [own], profile):
                    self.error(limit.path, f"sequence '{seq.sequence}' (chain): {limit.message}")
        else:
            found = pack(
                len(members),
                lambda i, j: not group_limits(members[i:j], settings[i:j], profile),
            )
            if found is None:
                self._unpackable(seq, members, settings, profile)
                return
            spans = found
        for k, (i, j) in enumerate(spans):
            group = members[i:j]
            if len(spans) == 1:
                take_id = group[0].id if len(group) == 1 and len(members) == 1 else seq.sequence
            elif len(group) == 1:
                take_id = group[0].id
            else:
                take_id = f"{seq.sequence}.{k + 1}"
            self._group(take_id, group, path, seq.sequence, seq.variations, seq.pick, k > 0)

    def _unpackable(
        self,
        seq: SequenceModel,
        members: list[ShotInfo],
        settings: list[Settings],
        profile: ModelProfile,
    ) -> None:
        """Say which shots cannot be packed into requests, and which limit stops them."""
        n = len(members)
        for i, info in enumerate(members):
            spans = [(a, b) for a in range(0, i + 1) for b in range(i + 1, n + 1)]
            if any(not group_limits(members[a:b], settings[a:b], profile) for a, b in spans):
                continue
            alone = group_limits([info], [settings[i]], profile)
            reasons = [limit.message for limit in alone]
            for a, b in ((i - 1, i + 1), (i, i + 2)):
                if a >= 0 and b <= n:
                    reasons += [
                        limit.message
                        for limit in group_limits(members[a:b], settings[a:b], profile)
                        if limit.message not in reasons
                    ]
            self.error(
                (*info.path, "duration") if info.shot.duration is not None else info.path,
                f"sequence '{seq.sequence}': shot '{info.id}' fits in no request the model "
                f"accepts: {'; '.join(reasons)}",
            )
            return
        self.error(
            (*seq_path(members[0]), "sequence"),
            f"sequence '{seq.sequence}' cannot be split into requests the model accepts",
        )

    # -- inputs and edges ------------------------------------------------------------------

    def finish(self) -> Resolved:
        takes: list[Take] = []
        graph = Edges()
        ref_positions: dict[tuple[str, str], tuple[str, Position]] = {}
        previous: Take | None = None
        for take_id, members, path, sequence, variations, pick, chained in self.groups:
            settings = self.settings(members[0])
            profile = get_profile(settings.model)
            assert profile is not None  # validate reported unknown models
            first, last = members[0], members[-1]
            start: Input | None = self._input(first, "start", profile)
            if chained and previous is not None:
                start = Handoff(previous.id, previous.shots[-1].id, "last")
            end = self._input(last, "end", profile)
            edit = self._input(first, "edit", profile) if len(members) == 1 else None
            refs = tuple(
                x
                for x in (
                    self._one(first, "reference_videos", i, src, profile)
                    for i, src in enumerate(first.sources.get("reference_videos", ()))
                )
                if x is not None
            )
            take = Take(
                id=take_id,
                shots=tuple(members),
                settings=settings,
                profile=profile,
                start=start,
                end=end,
                edit=edit,
                reference_videos=refs,
                variations=variations,
                pick=pick,
                path=path,
                sequence=sequence,
                **_attempts(self.checked, members[0]),
            )
            takes.append(take)
            graph.add_node(take_id)
            for key, value in (("start", start), ("end", end), ("edit", edit)):
                if isinstance(value, Handoff):
                    where = last if key == "end" else first
                    self._edge(graph, value, take_id, where, key, ref_positions, chained)
            for i, ref in enumerate(refs):
                if isinstance(ref, Handoff):
                    self._edge(graph, ref, take_id, first, "reference_videos", ref_positions)
                    del i
            previous = take
        by_id = {t.id: t for t in takes}
        cycle = graph.find_cycle()
        if cycle:
            steps = []
            for upstream, downstream in cycle:
                label, pos = ref_positions[(upstream, downstream)]
                steps.append(f"{downstream} needs {upstream} ({label} at {pos})")
            first_pos = ref_positions[cycle[0]][1]
            raise InputError.at(first_pos, "dependency cycle: " + "; ".join(steps))
        final = []
        order = _story_order(takes)
        for take_id in graph.topological_order(order):
            take = by_id[take_id]
            deps = tuple(sorted(graph.pred[take_id], key=order))
            final.append(replace(take, depends_on=deps))
        return Resolved(
            checked=self.checked,
            takes=tuple(final),
            graph=TakeGraph(graph, {t.id: t for t in final}),
            take_of_shot=self.take_of_shot,
        )

    def _edge(
        self,
        graph: Edges,
        handoff: Handoff,
        take_id: str,
        info: ShotInfo,
        key: str,
        positions: dict[tuple[str, str], tuple[str, Position]],
        chained: bool = False,
    ) -> None:
        path = info.path if (chained and key == "start") else (*info.path, key)
        label = f"{info.id}.{key}" if not (chained and key == "start") else f"chain of {info.id}"
        if handoff.take == take_id:
            raise InputError.at(
                self.at(path),
                f"{key}: shot '{info.id}' refers to shot '{handoff.shot}', which is generated "
                f"in the same request ('{take_id}')",
            )
        graph.add_edge(handoff.take, take_id)
        positions.setdefault((handoff.take, take_id), (label, self.at(path)))

    def _input(self, info: ShotInfo, key: str, profile: ModelProfile) -> Input | None:
        sources = info.sources.get(key, ())
        return self._one(info, key, None, sources[0], profile) if sources else None

    def _one(
        self, info: ShotInfo, key: str, index: int | None, source: Source, profile: ModelProfile
    ) -> Input | None:
        if isinstance(source, MediaRef):
            return source
        target_take = self.take_of_shot.get(source.shot)
        if target_take is None:
            return None
        members = self.members[target_take]
        fps = profile.fps
        offset = 0
        for m in members:
            if m.id == source.shot:
                break
            offset += m.duration or 0
        target = next(m for m in members if m.id == source.shot)
        whole = len(members) == 1
        length = target.duration
        if isinstance(source, ShotRef):
            if whole or length is None:
                return Handoff(target_take, source.shot, None)
            return Handoff(target_take, source.shot, None, (offset * fps, (offset + length) * fps))
        assert isinstance(source, FrameRef)
        if source.which == "first":
            frame: str | int = "first" if offset == 0 else offset * fps
        elif source.which == "last":
            is_last = target is members[-1]
            frame = "last" if is_last or length is None else (offset + length) * fps - 1
        else:
            frame = round((offset + (source.time or 0.0)) * fps)
            if length is not None:
                # a time after the shot's last frame starts (validate takes any time before
                # its end) shows that frame, not the one after it: past the video's end, or
                # the next shot's first frame
                frame = min(frame, (offset + length) * fps - 1)
        return Handoff(target_take, source.shot, frame)


def _attempts(checked: CheckedStoryboard, info: ShotInfo) -> dict[str, Any]:
    """``retake`` and ``keep`` of the take that makes ``info``: the shot's own, or its
    sequence's (validate refuses them on a shot inside a sequence)."""
    owner: Any = info.shot
    if info.sequence is not None:
        owner = checked.storyboard.shots[int(info.path[1])]
    return {"retake": owner.retake, "keep": owner.keep}


def seq_path(info: ShotInfo) -> DataPath:
    return info.path[:2]


def _story_order(takes: list[Take]) -> Callable[[str], str]:
    order = {t.id: f"{i:06d}" for i, t in enumerate(takes)}
    return lambda take_id: order[take_id]
