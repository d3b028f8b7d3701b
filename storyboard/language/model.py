"""The storyboard language, version 1, as pydantic models: the source of truth for its schema.

Stage 2 (:mod:`storyboard.language.validate`) checks loaded data against :class:`Storyboard`; the
JSON Schema in ``schemas/storyboard.schema.json`` is generated from these models (``storyboard
schema``). Every model forbids unknown keys; numbers and booleans are strict (``"5"`` is not a
duration). Rules that involve one item only live here as validators; rules that span the document
(references between shots, files, templates) live in ``validate``.

This module does without ``from __future__ import annotations``: pydantic would evaluate each
field's annotation from its text when the classes are made (3 ms of a one-shot ``check``'s
start); a method's return annotation naming its own class is written as text instead.
"""

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    Tag,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

ModelT = TypeVar("ModelT", bound=BaseModel)

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


def _no_files() -> list[Any]:
    """``[]``, the default of ``include``. Not ``list`` itself: pydantic reads a default
    factory's signature, and reading ``list``'s (a text signature) makes the first use of
    ``tokenize`` compile its patterns, 2 to 3 ms of a one-shot ``check``'s 0.16 s."""
    return []


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


class Speech(_Model):
    """How fast lines are spoken, for the check that a shot's dialogue fits its duration."""

    speech_rate: float | None = Field(
        None,
        gt=0,
        le=10,
        allow_inf_nan=False,
        description="Words a second a line is spoken at (default 2.5), for the check that a "
        "shot's dialogue fits its duration.",
    )


class Defaults(ShotSettings, Speech):
    """Default values for shot settings; a shot's own value wins."""


LINE_KEYS = ("who", "says", "how", "at")
"""The keys of a line of dialogue in its long form."""


class DialogueLine(_Model):
    """One line of a shot's dialogue: who says what, how, and when (for the subtitles).

    Written ``{who: keeper, says: "Hold the light!"}`` or, short, ``{keeper: "Hold the
    light!"}`` (one speaker key, optionally with ``how`` and ``at``).
    """

    who: Text = Field(
        description="An element's name (its voice is bound) or the name of a voice that is "
        "not an element, starting with a capital letter or holding a space ('Narrator')."
    )
    says: Text = Field(description="The words spoken.")
    how: Text | None = Field(None, description="Delivery: 'whispering', 'shouting'.")
    at: Seconds | None = Field(
        None, description="Seconds from the shot's start when the line begins (subtitles)."
    )

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        """``{keeper: "Hold the light!", how: ...}`` is ``{who: keeper, says: ...}``."""
        if not isinstance(data, dict) or "who" in data or "says" in data:
            return data
        speakers = [key for key in data if key not in LINE_KEYS]
        if len(speakers) != 1:
            keys = ", ".join(f"'{key}'" for key in data) or "none"
            raise PydanticCustomError(
                "storyboard_rule",
                "a line has 'who' and 'says', or is written 'NAME: TEXT' (either with "
                "'how' and 'at' if need be); this one has the keys {keys}",
                {"keys": keys},
            )
        name = speakers[0]
        rest = {key: value for key, value in data.items() if key != name}
        return {"who": name, "says": data[name], **rest}

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        long_form = handler(core_schema)
        short_form = {
            "type": "object",
            "description": "The short form: the speaker as the key, the words as its value.",
            "properties": {
                "how": {"type": "string", "minLength": 1},
                "at": {"type": "number", "minimum": 0},
            },
            "additionalProperties": {"type": "string", "minLength": 1},
            "minProperties": 1,
            "not": {"anyOf": [{"required": ["who"]}, {"required": ["says"]}]},
        }
        return {"anyOf": [long_form, short_form]}


class Spoken(_Model):
    """What a shot's people say: its lines, written into its prompt (see
    :mod:`storyboard.language.dialogue`)."""

    dialogue: list[DialogueLine] | None = Field(
        None, description="Lines spoken in the shot, in order; the shot needs 'sound'."
    )


class Attempts(_Model):
    """Which attempt at a take's request the film uses: ``retake`` asks for a fresh one,
    ``keep`` holds on to the current result. On a standalone shot, or on a sequence (for
    each of its takes); never in ``defaults``."""

    retake: int = Field(
        0, ge=0, description="A fresh attempt at the same request (0: the first); enters the key."
    )
    keep: bool = Field(
        False, description="Keep the take's current result in the film even when it changes."
    )


class Shot(ShotSettings, Spoken, Attempts):
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
    def _edit_has_no_duration(self) -> "Shot":
        if self.edit is not None and self.duration is not None:
            raise _rule("duration", "not allowed with 'edit': an edit takes its source's duration")
        _check_pick(self.variations, self.pick)
        return self


class Sequence(Attempts):  # the language calls it a sequence; not typing.Sequence
    """Shots that must flow as one continuous take."""

    sequence: Id = Field(description="Name of the sequence.")
    continuity: Literal["auto", "multishot", "chain"] = Field(
        "auto", description="How the shots become requests."
    )
    shots: list[Shot] = Field(min_length=1)
    variations: int | None = Field(None, ge=1, le=20)
    pick: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _pick_in_range(self) -> "Sequence":
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
    def _element_rules(self) -> "Element":
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


# --- the cut's text and mix (title cards, captions, credits, music cues, loudness) ----------

Gain = Annotated[float, Field(ge=0, le=4, allow_inf_nan=False)]
Colour = Annotated[str, StringConstraints(pattern=r"^(#[0-9a-fA-F]{6}|[a-z]+)$", max_length=32)]
"""A colour: a name (``white``, ``black``, ``gold``...) or ``#rrggbb``."""
CaptionPosition = Literal[
    "bottom-left", "bottom", "bottom-right", "top-left", "top", "top-right", "center"
]


class TextStyle(_Model):
    """How a text is drawn: colour, font and size."""

    color: Colour = Field("white", description="Text colour: a name or #rrggbb.")
    font: Text = Field(
        "lato",
        description="A bundled font (lato, lato-bold, lato-italic, lato-light, lato-black) or "
        "a .ttf/.otf file relative to the storyboard.",
    )
    size: int | None = Field(
        None,
        ge=4,
        le=400,
        description="Font size in pixels at the output's height (default: a 12th of the height "
        "for a title, a 20th for a caption).",
    )


class Card(TextStyle):
    """A full-frame card: its length and what is behind the text."""

    duration: PositiveSeconds = Field(3.0, description="Seconds the card is shown.")
    background: Source = Field(
        "black", description="A colour (a name or #rrggbb) or an image file (behind the text)."
    )


class Title(Card):
    """A title card's text and look."""

    text: Text = Field(description="The text; a line break starts a new line.")


class TitleClip(_Model):
    """A clip of the cut that is a title card, not a shot."""

    title: Title
    transition: Transition | None = Field(None, description="The transition into this card.")
    transition_duration: PositiveSeconds | None = None


class Caption(TextStyle):
    """Text drawn over a clip (a lower third)."""

    text: Text
    from_: Seconds = Field(0.0, alias="from", description="Seconds from the clip's start.")
    to: PositiveSeconds | None = Field(
        None, description="Seconds from the clip's start (default: the clip's end)."
    )
    position: CaptionPosition = "bottom-left"

    @model_validator(mode="after")
    def _from_before_to(self) -> "Caption":
        if self.to is not None and self.to <= self.from_:
            raise _rule("to", f"{self.to:g} is not after 'from' ({self.from_:g})")
        return self


class CreditsCard(Card):
    """Opening or end credits: lines on a card."""

    lines: list[Text] = Field(min_length=1, description="The credits, one line each.")
    transition: Transition | None = Field(None, description="The transition into this card.")
    transition_duration: PositiveSeconds | None = None


class Credits(_Model):
    """The film's opening and end credits."""

    opening: CreditsCard | None = Field(None, description="A card before the first clip.")
    end: CreditsCard | None = Field(None, description="A card after the last clip.")


class Music(_Model):
    """A music cue: an audio file under part of the film (all of it by default)."""

    file: Source = Field(description="Audio file, relative to the storyboard.")
    volume: Gain = 1.0
    start: Seconds = Field(0.0, description="Seconds into the file where the cue starts.")
    from_: Seconds = Field(0.0, alias="from", description="Film time where the cue begins.")
    to: PositiveSeconds | None = Field(
        None, description="Film time where it ends (default: the film's end)."
    )
    fade_in: Seconds = Field(0.0, description="Seconds the cue fades in over.")
    fade_out: Seconds = Field(0.0, description="Seconds the cue fades out over, to its end.")
    loop: bool = Field(False, description="Play the file again from 'start' when it ends.")
    duck: float | None = Field(
        None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="The cue's gain under the clips' own sound (and dialogue), 0..1.",
    )

    @model_validator(mode="after")
    def _from_before_to(self) -> "Music":
        if self.to is not None and self.to <= self.from_:
            raise _rule("to", f"{self.to:g} is not after 'from' ({self.from_:g})")
        return self


class Clip(_Model):
    """One clip of the cut: a shot."""

    shot: Id
    in_: Seconds | None = Field(None, alias="in", description="Trim: seconds from shot start.")
    out: PositiveSeconds | None = Field(None, description="Trim end: seconds from shot start.")
    transition: Transition | None = Field(None, description="The transition into this clip.")
    transition_duration: PositiveSeconds | None = None
    caption: Caption | None = Field(None, description="Text drawn over the clip.")
    volume: Gain = Field(1.0, description="Gain of the shot's own sound, 0..4.")
    mute: bool = Field(False, description="Leave the shot's own sound out.")

    @model_validator(mode="after")
    def _in_before_out(self) -> "Clip":
        if self.in_ is not None and self.out is not None and self.out <= self.in_:
            raise _rule("out", f"{self.out:g} is not after 'in' ({self.in_:g})")
        return self


# Union tags hold a space so that no key of the data is ever taken for one (validate drops them
# from error locations).
def _one_or_many(value: Any) -> str:
    return "music cues" if isinstance(value, list) else "music cue"


MusicCues = Annotated[
    Annotated[Music, Tag("music cue")] | Annotated[list[Music], Tag("music cues")],
    Discriminator(_one_or_many),
]


def _shot_or_title(value: Any) -> str:
    if isinstance(value, dict) and "title" in value:
        return "title clip"
    return "title clip" if isinstance(value, TitleClip) else "shot clip"


CutClip = Annotated[
    Annotated[Clip, Tag("shot clip")] | Annotated[TitleClip, Tag("title clip")],
    Discriminator(_shot_or_title),
]


class Subtitles(_Model):
    """The film's subtitles, made from the lines of dialogue."""

    subtitles: Literal["soft", "burn", "off"] | None = Field(
        None,
        description="soft: a subtitle track in the film; burn: drawn into the picture; off: "
        "only the .srt and .vtt files (default soft when a shot has dialogue).",
    )


class Cut(Subtitles):
    """How the final cut is assembled."""

    transition: Transition = "cut"
    transition_duration: PositiveSeconds = 0.5
    fade_in: Seconds = 0.0
    fade_out: Seconds = 0.0
    audio: Literal["generated", "mute"] = "generated"
    music: MusicCues | None = Field(
        None, description="A music cue, or several (each with its own from/to)."
    )
    loudness: float | None = Field(
        None,
        ge=-40,
        le=-5,
        allow_inf_nan=False,
        description="Integrated loudness of the film's sound in LUFS (e.g. -16); true peak "
        "at most -1 dBTP.",
    )
    credits: Credits | None = None
    clips: list[CutClip] | None = Field(None, min_length=1)

    @property
    def music_cues(self) -> list[Music]:
        """``music`` as a list (one cue, several, or none)."""
        if self.music is None:
            return []
        return [self.music] if isinstance(self.music, Music) else list(self.music)


class Storyboard(_Model):
    """A storyboard file, language version 1."""

    model_config = ConfigDict(title="storyboard")

    storyboard: Literal[1] = Field(description="Format version; must be 1.")
    title: Text
    model: str = Field(DEFAULT_MODEL, description="Default model id.")
    include: list[Text] = Field(
        default_factory=_no_files, description="Files whose elements and vars merge in."
    )
    vars: dict[str, Any] = Field(default_factory=dict, description="Values for prompt templates.")
    output: Output = Field(default_factory=lambda: made_of_defaults(Output))
    delivery: Delivery = Field(default_factory=lambda: made_of_defaults(Delivery))
    defaults: Defaults = Field(default_factory=lambda: made_of_defaults(Defaults))
    elements: dict[str, Element] = Field(default_factory=dict)
    shots: list[StoryItem] = Field(min_length=1)
    cut: Cut | None = None


class IncludeFile(_Model):
    """A file named in ``include``: only elements, vars and further includes."""

    model_config = ConfigDict(title="storyboard include")

    include: list[Text] = Field(default_factory=_no_files)
    vars: dict[str, Any] = Field(default_factory=dict)
    elements: dict[str, Element] = Field(default_factory=dict)


def made_of_defaults(model: type[ModelT]) -> ModelT:
    """``model`` with every field at its default, made without validating: the same as
    ``model()``, without building ``model``'s own validator (its ``defer_build`` defers it to
    the first use), about 2 ms a model, which every check of a storyboard without ``output``,
    ``delivery``, ``defaults`` or ``cut`` paid. Only for a model whose every field has a
    default and that has no model validator."""
    return model.model_construct()


def top_level_keys(model: type[BaseModel]) -> list[str]:
    """The YAML keys a model accepts (aliases where set)."""
    return [f.alias or name for name, f in model.model_fields.items()]
