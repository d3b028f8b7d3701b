"""The shape of a model profile: limits, input rules and pricing, as frozen data."""

from __future__ import annotations

from collections.abc import Sequence

from msgspec import Struct, field


class Size(Struct, frozen=True, order=True):
    """A frame size in pixels."""

    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


class DialogueForm(Struct, frozen=True):
    """How a model is asked to speak lines: the one place the words of the form live.

    Each line is written with :attr:`line` (or :attr:`line_how`, when it says how it is
    delivered), where ``{who}`` is the speaker (``<<<name>>>`` for an element, so its voice is
    bound, else the name as written), ``{says}`` the words and ``{how}`` the delivery. The
    lines, joined by :attr:`joiner`, follow the shot's prompt after :attr:`after_prompt`, or
    stand where the prompt template writes ``{{ dialogue }}``.
    """

    line: str = '{who} says: "{says}"'
    line_how: str = '{who} says, {how}: "{says}"'
    joiner: str = " "
    after_prompt: str = " "

    def written(self, lines: Sequence[tuple[str, str, str | None]]) -> str:
        """The lines ``(who, says, how)`` as the prompt carries them; ``''`` for none."""
        return self.joiner.join(
            (self.line_how if how else self.line).format(who=who, says=says, how=how)
            for who, says, how in lines
        )

    def attach(self, prompt: str, written: str) -> str:
        """A prompt followed by its written lines (the prompt as it is, without lines)."""
        return f"{prompt}{self.after_prompt}{written}" if written else prompt


class ModelProfile(Struct, frozen=True):
    """What one video model accepts and what it costs.

    Each field is a rule the compiler checks (and reports at the offending value) or a
    number the cost estimate uses. Choices made where the provider's documentation is
    silent are recorded beside the values in the concrete profile module.
    """

    model_id: str
    name: str
    sizes: tuple[Size, ...]
    fps: int
    min_duration: int
    max_duration: int
    default_duration: int
    min_prompt: int
    max_prompt: int
    max_segments: int
    min_segment_duration: int
    max_segment_prompt: int
    max_frame_images: int
    max_reference_images: int
    max_reference_images_with_video: int
    max_elements: int
    max_reference_videos: int
    max_element_id: int
    max_variations: int
    min_edit_source: int
    max_edit_source: int
    price_silent: float
    price_sound: float
    price_video_input: float
    min_image_side: int = 300
    max_image_bytes: int = 10 * 1024 * 1024
    image_formats: tuple[str, ...] = ("JPEG", "PNG")
    min_image_aspect: float = 1 / 2.5
    max_image_aspect: float = 2.5
    max_video_bytes: int = 200 * 1024 * 1024
    video_formats: tuple[str, ...] = ("mp4", "mov")
    min_video_side: int = 720
    max_video_side: int = 2160
    min_video_fps: int = 24
    max_video_fps: int = 60
    dialogue: DialogueForm = field(default_factory=DialogueForm)

    @property
    def default_size(self) -> Size:
        return self.sizes[0]
