"""The storyboard language, version 1, as pydantic models: the source of truth for its schema.

Stage 2 (:mod:`storyboard.language.validate`) checks loaded data against :class:`Storyboard`; the
JSON Schema in ``schemas/storyboard.schema.json`` is generated from these models (``storyboard
schema``). Every model forbids unknown keys; numbers and booleans are strict (``"5"`` is not a
duration). Rules that involve one item only live here as validators; rules that span the document
(references between shots, files, templates) live in ``validate``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

DEFAULT_MODEL = "klingai:kling-video@o3-pro"
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Source = Annotated[str, StringConstraints(min_length=1)]
"""A media source: a path relative to the file naming it, an https URL, a provider UUID or a
data: URI; for ``start``/``end``/``edit``/``reference_videos`` also a shot reference."""

Format = Literal["MP4", "WEBM", "MOV"]
Orientation = Literal["image", "video"]
Transition = Literal["cut", "crossfade", "fade"]


def _rule(field: str, message: str) -> PydanticCustomError:
    """A rule broken by one item, reported at its ``field``."""
    return PydanticCustomError("storyboard_rule", message, {"field": field})


class _Model(BaseModel):
    # defer_build: each model's validator is made when first used, not at import; a check
    # validates one Storyboard (whose schema holds the others) and never pays for fourteen.
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=True, defer_build=True
    )


class Output(_Model):
    """The final cut's size and format; the size is also sent on text-to-video requests."""

    width: int = Field(1920, description="Width in pixels; a size the model makes.")
    height: int = Field(1080, description="Height in pixels; a size the model makes.")
    format: Format = Field("MP4", description="Container of the final cut.")
    quality: int = Field(95, ge=20, le=99, description="Compression quality, 20..99.")
    file: str | None = Field(
        None,
        pattern=r"^[^/\\]+$",
        description="File name of the final cut inside the build folder (default NAME.mp4).",
    )


class Safety(_Model):
    """Provider content checking."""

    check_content: bool = False
    mode: Literal["none", "fast", "full"] | None = None


class Delivery(_Model):
    """Request options that are not about the picture."""

    webhook_url: str | None = Field(None, description="https URL the provider POSTs results to.")
    upload_endpoint: str | None = Field(None, description="URL the provider PUTs results to.")
    ttl: int | None = Field(None, ge=60, description="Seconds the result URL stays available.")
    safety: Safety | None = None
    include_cost: bool = Field(True, description="Ask the provider to report each cost.")


class ShotSettings(_Model):
    """Settings a shot may take from ``defaults``."""

    duration: int | None = Field(None, ge=1, description="Whole seconds.")
    sound: bool | None = Field(None, description="Generate native audio.")
    keep_original_sound: bool | None = Field(None, description="Keep the source video's sound.")
    character_orientation: Orientation | None = None
    references: list[Source] | None = Field(None, description="Reference images.")
    model: str | None = Field(None, description="Model id for this shot.")
    provider: dict[str, Any] | None = Field(
        None, description="Extra fields merged into providerSettings.klingai."
    )


class Defaults(ShotSettings):
    """Default values for shot settings; a shot's own value wins."""


class Shot(ShotSettings):
    """One unit of the story and of the cut."""

    id: Id = Field(description="Unique id: [a-z0-9][a-z0-9_-]*.")
    prompt: Text = Field(description="A Jinja2 template; 2..2500 characters once rendered.")
    start: Source | None = Field(None, description="First frame: SHOT.last, SHOT@2s or media.")
    end: Source | None = Field(None, description="Last frame: a frame reference or media.")
    reference_videos: list[Source] | None = Field(None, description="Media or shot ids.")
    edit: Source | None = Field(None, description="Shot id or video to edit by prompt.")
    variations: int | None = Field(None, ge=1, le=20, description="Results to generate.")
    pick: int | None = Field(None, ge=1, description="Which variation the cut uses (1-based).")

    @model_validator(mode="after")
    def _edit_has_no_duration(self) -> Shot:
        if self.edit is not None and self.duration is not None:
            raise _rule("duration", "not allowed with 'edit': an edit takes its source's duration")
        _check_pick(self.variations, self.pick)
        return self


class Sequence(_Model):  # the language calls it a sequence; not typing.Sequence
    """Shots that must flow as one continuous take."""

    sequence: Id = Field(description="Name of the sequence.")
    continuity: Literal["auto", "multishot", "chain"] = Field(
        "auto", description="How the shots become requests."
    )
    shots: list[Shot] = Field(min_length=1)
    variations: int | None = Field(None, ge=1, le=20)
    pick: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _pick_in_range(self) -> Sequence:
        _check_pick(self.variations, self.pick)
        return self


def _check_pick(variations: int | None, pick: int | None) -> None:
    if pick is None or pick <= (variations or 1):
        return
    if variations is None:
        raise _rule("pick", f"{pick}, but there is only 1 variation ('variations' is not set)")
    raise _rule("pick", f"{pick}, but there are only {variations} variations")


def _shot_or_sequence(value: Any) -> str:
    if isinstance(value, dict) and "sequence" in value:
        return "sequence"
    if isinstance(value, Sequence):
        return "sequence"
    return "shot"


StoryItem = Annotated[
    Annotated[Shot, Tag("shot")] | Annotated[Sequence, Tag("sequence")],
    Discriminator(_shot_or_sequence),
]


class Element(_Model):
    """A reusable character, prop, place or voice, referenced in prompts as ``<<<name>>>``."""

    id: str | None = Field(
        None, min_length=1, max_length=20, description="Provider element id (≤20 characters)."
    )
    description: str | None = None
    frontal_image: Source | None = Field(None, description="Required for image elements.")
    images: list[Source] | None = Field(None, min_length=1, max_length=3)
    videos: list[Source] | None = Field(None, min_length=1, max_length=1)
    voices: list[Source] | None = Field(None, min_length=1, max_length=1)
    tags: list[Text] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _element_rules(self) -> Element:
        if self.images and not self.frontal_image:
            raise _rule("images", "needs 'frontal_image'")
        if self.videos and (self.frontal_image or self.images or self.voices):
            raise _rule("videos", "cannot be combined with images or voices")
        if self.voices and not self.frontal_image:
            raise _rule(
                "voices", "needs 'frontal_image': a voice belongs to an element with images"
            )
        content = (self.description, self.images, self.tags, self.voices)
        if self.id is None and not (self.frontal_image or self.videos):
            if any(v is not None for v in content):
                raise _rule("frontal_image", "a new element needs 'frontal_image' or 'videos'")
            raise ValueError("an element needs an 'id' (to re-use one) or its content")
        return self


class Music(_Model):
    """A music bed under the whole cut."""

    file: Source = Field(description="Audio file, relative to the storyboard.")
    volume: float = Field(1.0, ge=0, le=4, allow_inf_nan=False)


class Clip(_Model):
    """One clip of the cut."""

    shot: Id
    in_: Seconds | None = Field(None, alias="in", description="Trim: seconds from shot start.")
    out: PositiveSeconds | None = Field(None, description="Trim end: seconds from shot start.")
    transition: Transition | None = Field(None, description="The transition into this clip.")
    transition_duration: PositiveSeconds | None = None

    @model_validator(mode="after")
    def _in_before_out(self) -> Clip:
        if self.in_ is not None and self.out is not None and self.out <= self.in_:
            raise _rule("out", f"{self.out:g} is not after 'in' ({self.in_:g})")
        return self


class Cut(_Model):
    """How the final cut is assembled."""

    transition: Transition = "cut"
    transition_duration: PositiveSeconds = 0.5
    fade_in: Seconds = 0.0
    fade_out: Seconds = 0.0
    audio: Literal["generated", "mute"] = "generated"
    music: Music | None = None
    clips: list[Clip] | None = Field(None, min_length=1)


class Storyboard(_Model):
    """A storyboard file, language version 1."""

    model_config = ConfigDict(title="storyboard")

    storyboard: Literal[1] = Field(description="Format version; must be 1.")
    title: Text
    model: str = Field(DEFAULT_MODEL, description="Default model id.")
    include: list[Text] = Field(
        default_factory=list, description="Files whose elements and vars merge in."
    )
    vars: dict[str, Any] = Field(default_factory=dict, description="Values for prompt templates.")
    output: Output = Field(default_factory=Output)
    delivery: Delivery = Field(default_factory=Delivery)
    defaults: Defaults = Field(default_factory=Defaults)
    elements: dict[str, Element] = Field(default_factory=dict)
    shots: list[StoryItem] = Field(min_length=1)
    cut: Cut | None = None


class IncludeFile(_Model):
    """A file named in ``include``: only elements, vars and further includes."""

    model_config = ConfigDict(title="storyboard include")

    include: list[Text] = Field(default_factory=list)
    vars: dict[str, Any] = Field(default_factory=dict)
    elements: dict[str, Element] = Field(default_factory=dict)


def top_level_keys(model: type[BaseModel]) -> list[str]:
    """The YAML keys a model accepts (aliases where set)."""
    return [f.alias or name for name, f in model.model_fields.items()]
