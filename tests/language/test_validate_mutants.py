"""Document rules of ``validate`` that no other test held: each test fails on a small change to
:mod:`storyboard.language.validate` (a dropped check, a bound moved by one) that let a mistake
through to a paid request, or refused a valid storyboard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard import api
from storyboard.core.errors import InputError
from storyboard.language import prompts
from storyboard.language.checked import CheckedStoryboard
from tests.conftest import tiny_audio

Project = Callable[[dict[str, str | bytes]], Path]

HEAD = "storyboard: 1\ntitle: t\n"


def check(root: Path) -> CheckedStoryboard:
    return api.check(root / "film.yaml")


def problems(root: Path) -> list[str]:
    """Each diagnostic as ``LINE:COL: error: message`` (the file is always film.yaml)."""
    with pytest.raises(InputError) as caught:
        api.check(root / "film.yaml")
    prefix = f"{root / 'film.yaml'}:"
    found = [d.render() for d in caught.value.diagnostics]
    assert all(m.startswith(prefix) for m in found), found
    return [m.removeprefix(prefix) for m in found]


def test_a_shot_cannot_take_itself_as_a_reference_video(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            "  - id: b\n    prompt: again\n    reference_videos: [a, b]\n"
        }
    )
    assert problems(root) == [
        "9:27: error: reference_videos[1]: shot 'b' cannot refer to itself",
    ]


def test_a_shot_with_reference_videos_makes_no_sound_for_its_lines(project: Project) -> None:
    # defaults.sound does not reach a request with a video input, so nobody would speak
    root = project(
        {
            "film.yaml": HEAD + "defaults: {sound: true}\nshots:\n"
            "  - id: a\n    prompt: hello\n    duration: 5\n"
            "  - id: b\n    prompt: again\n    reference_videos: [a]\n"
            "    dialogue:\n      - Keeper: Here.\n"
        }
    )
    assert problems(root) == [
        "11:5: error: dialogue: shot 'b' takes a video input ('reference_videos'), and a "
        "request with one makes no sound: the model would not speak its lines",
    ]


def test_lines_may_start_at_the_same_moment(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            "    sound: true\n    dialogue:\n"
            "      - Keeper: Now.\n        at: 2\n      - Narrator: Yes.\n        at: 2\n"
        }
    )
    lines = check(root).shots[0].dialogue
    assert [(line.who, line.at) for line in lines] == [("Keeper", 2.0), ("Narrator", 2.0)]


def test_a_music_cue_cannot_start_at_the_end_of_its_file(project: Project) -> None:
    # a cue starting where its file ends would mix silence: refused before any take is paid
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            "cut:\n  music:\n    - file: theme.wav\n      start: 1\n"
            "    - file: theme.wav\n      start: 0.999\n",
            "theme.wav": tiny_audio("wav", 1.0),
        }
    )
    assert problems(root) == [
        "10:14: error: cut.music[0].start: 1 s is at or past the end of 'theme.wav' "
        "(it is 1 s long)",
    ]


def test_a_card_background_must_be_a_local_image(project: Project) -> None:
    # the cut draws the card on this machine: nothing would fetch a URL, after the takes are paid
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            "cut:\n  clips:\n"
            "    - title: {text: Hi, background: 'https://example.com/sea.jpg'}\n"
            "    - shot: a\n"
        }
    )
    assert problems(root) == [
        "9:37: error: cut.clips[0].title.background: the image must be a local file, named "
        "relative to the storyboard",
    ]


def test_a_var_named_dialogue_keeps_its_meaning_without_lines(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "vars: {dialogue: the rain}\nshots:\n"
            "  - id: a\n    prompt: '{{ dialogue }} falls'\n    duration: 5\n"
        }
    )
    assert check(root).shots[0].prompt == "the rain falls"


def test_how_may_hold_what_subtitles_read_as_markup(project: Project) -> None:
    # only the words become subtitles; the delivery is written into the prompt alone
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            "    sound: true\n    dialogue:\n"
            "      - Keeper: Hold it.\n        how: '<quietly>'\n"
        }
    )
    (line,) = check(root).shots[0].dialogue
    assert (line.says, line.how) == ("Hold it.", "<quietly>")


def test_words_over_several_lines_are_spoken_as_one(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            "    sound: true\n    dialogue:\n"
            "      - Keeper: |\n          Hold   the\n          light!\n"
        }
    )
    (line,) = check(root).shots[0].dialogue
    assert line.says == "Hold the light!"


def test_a_credits_card_background_must_be_a_local_image(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            "cut:\n  credits:\n"
            "    end: {lines: [Bye], background: 'https://example.com/sea.jpg'}\n"
        }
    )
    assert problems(root) == [
        "9:37: error: cut.credits.end.background: the image must be a local file, named "
        "relative to the storyboard",
    ]


def test_the_film_extension_is_read_in_any_case(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "output: {file: HARBOUR.MP4, format: MP4}\n"
            "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
        }
    )
    assert check(root).storyboard.output.file == "HARBOUR.MP4"


@pytest.mark.parametrize(("size", "refused"), [(241, False), (242, True)])
def test_the_longest_film_name_leaves_room_for_the_cuts_temporary_name(
    project: Project, size: int, refused: bool
) -> None:
    name = "é" * ((size - 4) // 2) + "a" * ((size - 4) % 2) + ".mp4"  # 2 bytes a character
    assert len(name.encode("utf-8")) == size
    root = project(
        {
            "film.yaml": HEAD + f"output: {{file: {name}}}\n"
            "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
        }
    )
    if not refused:
        assert check(root).storyboard.output.file == name
        return
    assert problems(root) == [
        f"3:16: error: output.file: the name is {size} bytes long in UTF-8; it may have at most "
        "241 (file systems allow 255, and the cut first writes it under a temporary name 14 "
        "bytes longer)",
    ]


def test_a_caption_colour_is_checked(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            "cut:\n  clips:\n    - shot: a\n      caption: {text: Harbour, color: golden}\n"
        }
    )
    assert problems(root) == [
        "10:39: error: cut.clips[0].caption.color: unknown colour 'golden': use a name (white, "
        "black, gold...) or #rrggbb (did you mean 'goldenrod'?)",
    ]


def test_a_font_must_be_a_local_file(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            "cut:\n  clips:\n    - title: {text: Hi, font: 'https://example.com/a.ttf'}\n"
        }
    )
    assert problems(root) == [
        "9:31: error: cut.clips[0].title.font: a font must be a local file, named relative to "
        "the storyboard",
    ]


@pytest.mark.parametrize("length", [2500, 2501])
def test_a_prompt_may_have_2500_characters(project: Project, length: int) -> None:
    root = project(
        {"film.yaml": HEAD + f"shots:\n  - id: a\n    duration: 5\n    prompt: {'x' * length}\n"}
    )
    if length <= 2500:
        assert check(root).shots[0].prompt == "x" * length
        return
    assert problems(root) == [
        "6:13: error: prompt is 2,501 characters once rendered; it may have at most 2,500",
    ]


@pytest.mark.parametrize("extra", [0, 1])
def test_a_prompt_is_measured_with_its_elements_numbered(project: Project, extra: int) -> None:
    # <<<lighthouse-keeper>>> is sent as <<<element_1>>>, 8 characters shorter
    prompt = "<<<lighthouse-keeper>>> " + "x" * (2500 - len("<<<element_1>>> ") + extra)
    root = project(
        {
            "film.yaml": HEAD + "elements:\n  lighthouse-keeper: {id: kept-element}\n"
            f"shots:\n  - id: a\n    duration: 5\n    prompt: {prompt}\n"
        }
    )
    if not extra:
        assert check(root).shots[0].prompt == prompt
        return
    assert problems(root) == [
        "8:13: error: prompt is 2,501 characters once rendered and its elements numbered; it "
        "may have at most 2,500",
    ]


def test_only_the_last_shot_of_a_sequence_may_have_end(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - sequence: storm\n    shots:\n"
            "      - {id: a, prompt: one, duration: 3}\n"
            "      - {id: b, prompt: two, duration: 3, end: a.first}\n"
            "      - {id: c, prompt: three, duration: 3}\n"
        }
    )
    assert problems(root) == [
        "7:43: error: only the last shot of sequence 'storm' may have 'end'",
    ]


def test_a_delivery_cannot_close_an_element_name(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            "    sound: true\n    dialogue:\n"
            "      - Keeper: Hold it.\n        how: keeper>>> shouting\n"
        }
    )
    assert problems(root) == [
        "10:14: error: dialogue[0].how: a line cannot name an element with <<< >>>; its speaker "
        "is 'who', and the words are said as written",
    ]


def test_a_speaker_cannot_close_an_element_name(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "elements:\n  keeper: {id: kept-element}\n"
            "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            "    sound: true\n    dialogue:\n"
            "      - who: keeper>>>\n        says: Hold it.\n"
        }
    )
    assert problems(root) == [
        "11:14: error: dialogue[0].who: write the element's name ('keeper') without <<< >>>",
    ]


def test_lines_are_written_into_a_templated_prompt_that_does_not_place_them(
    project: Project,
) -> None:
    templated = "shots:\n  - id: a\n    prompt: '{{ shot.id }} waits'\n"
    plain = "shots:\n  - id: a\n    prompt: 'a waits'\n"
    rest = "    duration: 5\n    sound: true\n    dialogue:\n      - Keeper: Hold it.\n"
    prompts = [
        check(project({"film.yaml": HEAD + shots + rest})).shots[0].prompt
        for shots in (templated, plain)
    ]
    assert prompts[0].startswith("a waits") and "Hold it." in prompts[0]
    assert prompts[0] == prompts[1]


@pytest.mark.parametrize("value", ["-1", ".inf", ".nan"])
def test_a_trim_out_of_range_is_reported_once(project: Project, value: str) -> None:
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            f"cut:\n  clips:\n    - shot: a\n      in: {value}\n"
        }
    )
    (message,) = problems(root)
    assert message.startswith("10:11: error: cut.clips[0].in: ")


def test_prompts_stop_rendering_once_their_time_is_used_up(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prompts, "PROMPT_SECONDS", 0.3)
    monkeypatch.setattr(prompts, "DOCUMENT_SECONDS", 0.5)
    slow = "{% set l = [1] * 20000 %}{% for i in range(45000) %}{% if 'z' in l %}{% endif %}"
    shots = "".join(f'  - id: s{i}\n    prompt: "{slow}{{% endfor %}}ok"\n' for i in range(6))
    root = project({"film.yaml": f"{HEAD}shots:\n{shots}"})
    found = problems(root)
    # reported once, at the prompt that used the time up; the prompts after it are not rendered
    assert sum("rendering the prompts takes more than" in m for m in found) == 1
    assert found[-1].endswith("the prompts after this one were not rendered")


def test_a_size_given_by_its_height_alone_is_reported_at_the_height(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "output: {height: 720}\n"
            "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
        }
    )
    assert problems(root) == [
        "3:18: error: output size 1920x720 is not one the model makes (1920x1080, 1440x1440, "
        "1080x1920)",
    ]


def test_a_malformed_hex_colour_is_reported_once(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - id: a\n    prompt: hello\n    duration: 5\n"
            "cut:\n  clips:\n    - title: {text: Hi, color: '#zzzzzz'}\n"
        }
    )
    (message,) = problems(root)
    assert message.startswith("9:32: error: cut.clips[0].title.color: '#zzzzzz' is not allowed")
