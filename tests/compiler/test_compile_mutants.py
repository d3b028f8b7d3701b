"""Mutation audit of ``storyboard/compiler/compile.py``: the rules checked before a request
is sent.

48 changes were made, one at a time, to the compiler's decisions that stand between a writer
and a paid request the service refuses (provider keys and values, element descriptions and
ids, reference-image and reference-video limits, the 3..10 s of a video input, edits that
take no frames, elements or providerSettings, the media limits of local files and data: URIs,
the fit of the cut, the request's shape) and the compiler's tests were run. Seven survived;
the tests here kill them. Each asserts that ``check`` exits 2 (nothing sent) with the error
at the offending value's FILE:LINE:COL:

- an edit of a shot over 10 s (the upper bound of ``_check_source_length``, and the call for
  ``edit`` at all: only reference videos were tested);
- two reference videos (``max_reference_videos``);
- ``provider`` and ``character_orientation`` written on an edit (dropped from the request
  unless refused: the writer would pay for a take without them);
- ``sound: true`` on a shot with a reference video;
- a bad image in ``defaults.references`` reported once (the memo of checked
  places in ``_check_media``).

The length rules that compile reports from ``storyboard/compiler/resolve.py`` had six
changes more (each bound moved by one); three survived, killed here at the bound: a prompt of
2501 characters once its elements are numbered, a multi-shot segment's prompt of 513, a shot
of 16 s (each refused, and the value one less taken).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.compiler.test_parity_audit import accepted, refused
from tests.conftest import CliResult, tiny_jpeg

Project = Callable[[dict[str, str | bytes]], Path]
Cli = Callable[..., CliResult]

HEAD = "storyboard: 1\ntitle: T\n"


# the 3..10 s of a video input: the upper bound (compile.py `_check_source_length`) ----------


def test_edit_of_a_shot_longer_than_10_s_is_refused(project: Project, run_cli: Cli) -> None:
    """An 11 s shot edited: Kling refuses input videos over 10 s, after the wait (and after
    the 11 s shot was paid for)."""
    text = HEAD + (
        "shots:\n"
        "  - {id: a, duration: 11, prompt: A harbour at dawn.}\n"
        "  - {id: b, edit: a, prompt: Restyle it as a painting.}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:5:19: error: shot 'a' is 11 s; the model edits videos of 3..10 s"
    ]


def test_edit_of_a_10_s_shot_is_taken(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "shots:\n"
        "  - {id: a, duration: 10, prompt: A harbour at dawn.}\n"
        "  - {id: b, edit: a, prompt: Restyle it as a painting.}\n"
    )
    accepted(project, run_cli, text)


# at most one reference video (compile.py `_check`, max_reference_videos) ------------------


def test_two_reference_videos_are_refused(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "shots:\n"
        "  - {id: a, duration: 5, prompt: A harbour at dawn.}\n"
        "  - {id: c, duration: 5, prompt: A harbour at noon.}\n"
        "  - {id: b, duration: 5, reference_videos: [a, c], prompt: The same camera move.}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:6:48: error: the model takes at most 1 reference video"
    ]


# an edit takes no providerSettings (compile.py `_check`, the keys refused with `edit`) ------


def test_provider_on_an_edit_is_refused(project: Project, run_cli: Cli) -> None:
    """An edit request sends no providerSettings: a `provider` written on it would be dropped
    silently (the writer pays for a take without the setting) unless it is refused."""
    text = HEAD + (
        "shots:\n"
        "  - {id: a, duration: 5, prompt: A harbour at dawn.}\n"
        "  - {id: b, edit: a, provider: {sound: true}, prompt: Restyle it.}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:5:32: error: 'provider' is not allowed with 'edit': an edit request takes "
        "no providerSettings"
    ]


# sound with a reference video (compile.py `_check`, `sound` written on the shot) -----------


def test_sound_on_a_shot_with_a_reference_video_is_refused(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "shots:\n"
        "  - {id: a, duration: 5, prompt: A harbour at dawn.}\n"
        "  - {id: b, duration: 5, sound: true, reference_videos: [a], prompt: The same move.}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:5:33: error: 'sound' cannot be on when a video is an input ('reference_videos')"
    ]


# a local file shared by several takes is checked and reported once (compile.py `_check_media`)


def test_a_bad_reference_in_defaults_is_reported_once(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "defaults: {references: [small.jpg]}\n"
        "shots:\n"
        "  - {id: a, duration: 5, prompt: A harbour at dawn.}\n"
        "  - {id: b, duration: 5, prompt: A harbour at dusk.}\n"
        "  - {id: c, duration: 5, prompt: A harbour at night.}\n"
    )
    (line,) = refused(project, run_cli, text, **{"small.jpg": tiny_jpeg(200, 200)})
    assert line == (
        "film.yaml:3:25: error: 'small.jpg' is 200x200; the model needs at least 300 px on "
        "each side"
    )


def test_character_orientation_on_an_edit_is_refused(project: Project, run_cli: Cli) -> None:
    """`character_orientation: image` on an edit would be dropped from the request (an edit
    takes no providerSettings): refused, at the value."""
    text = HEAD + (
        "shots:\n"
        "  - {id: a, duration: 5, prompt: A harbour at dawn.}\n"
        "  - {id: b, edit: a, character_orientation: image, prompt: Restyle it.}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:5:45: error: 'character_orientation' is not allowed with 'edit': an edit "
        "request takes no providerSettings"
    ]


# prompt lengths at their bounds (storyboard/compiler/resolve.py, reported by compile) -------


def test_a_prompt_of_2501_characters_once_numbered_is_refused_and_2500_taken(
    project: Project, run_cli: Cli
) -> None:
    """<<<k>>> is sent as <<<element_1>>> (8 characters more): 2493 written, 2501 sent."""
    over = HEAD + (
        "elements:\n  k: {id: k-1}\n"
        f"shots:\n  - {{id: a, duration: 5, prompt: '<<<k>>> {'x' * 2485}'}}\n"
    )
    (line,) = refused(project, run_cli, over)
    assert line.startswith("film.yaml:6:34: error: prompt of shot 'a' is 2501 characters")
    assert line.endswith("the model takes at most 2500")
    accepted(project, run_cli, over.replace("x" * 2485, "x" * 2484))


def test_a_segment_prompt_of_513_characters_is_refused_and_512_taken(
    project: Project, run_cli: Cli
) -> None:
    over = HEAD + (
        "shots:\n"
        "  - sequence: open\n"
        "    continuity: multishot\n"
        "    shots:\n"
        "      - {id: wide, duration: 3, prompt: A wide harbour.}\n"
        f"      - {{id: close, duration: 3, prompt: {'x' * 513}}}\n"
    )
    (line,) = refused(project, run_cli, over)
    assert line == (
        "film.yaml:8:42: error: sequence 'open' (multishot): prompt of shot 'close' is 513 "
        "characters; a segment of a multi-shot request takes at most 512"
    )
    accepted(project, run_cli, over.replace("x" * 513, "x" * 512))


def test_a_shot_of_16_s_is_refused_and_15_s_taken(project: Project, run_cli: Cli) -> None:
    over = HEAD + "shots:\n  - {id: a, duration: 16, prompt: A harbour at dawn.}\n"
    assert refused(project, run_cli, over) == [
        "film.yaml:4:23: error: shot 'a' is 16 s; a request must be 3..15 s"
    ]
    accepted(project, run_cli, over.replace("16", "15"))
