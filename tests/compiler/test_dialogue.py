"""Dialogue (issue 16, section 1): the lines written into the prompt in the profile's form,
the prompt and element limits counting them, the checks and the speech-rate warning."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard import api
from storyboard.core.errors import InputError
from storyboard.profiles import DialogueForm, get_profile

Project = Callable[[dict[str, str | bytes]], Path]

HEAD = """\
storyboard: 1
title: T
elements:
  keeper:
    description: an old lighthouse keeper
    frontal_image: https://example.com/keeper.png
    voices: [https://example.com/keeper.mp3]
  skipper: {frontal_image: https://example.com/skipper.png}
  lantern: {frontal_image: https://example.com/lantern.png}
  trawler: {frontal_image: https://example.com/trawler.png}
defaults:
  sound: true
"""


def requests(root: Path) -> dict[str, dict[str, Any]]:
    return {t.id: t.request for t in api.compile_storyboard(root / "film.yaml").takes}


def errors(root: Path) -> list[str]:
    with contextlib.chdir(root), pytest.raises(InputError) as exc:
        api.compile_storyboard("film.yaml")
    return [d.render() for d in exc.value.diagnostics]


def test_lines_follow_the_prompt_in_the_profiles_form(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + """\
shots:
  - id: gallery
    duration: 5
    prompt: The keeper lifts the lantern high.
    dialogue:
      - keeper: "Hold the light!"
        how: shouting over the wind
      - {who: Narrator, says: "And so  she
          did.", at: 3}
"""
        }
    )
    request = requests(root)["gallery"]
    assert request["positivePrompt"] == (
        "The keeper lifts the lantern high. <<<element_1>>> says, shouting over the wind: "
        '"Hold the light!" Narrator says: "And so she did."'
    )
    # the speaker's element is sent, with its voice: the line binds it
    (element,) = request["inputs"]["elements"]
    assert element["voices"] == ["https://example.com/keeper.mp3"]
    assert request["providerSettings"]["klingai"]["sound"] is True


def test_an_element_made_from_a_video_speaks_without_a_voice(project: Project) -> None:
    root = project(
        {
            "film.yaml": """\
storyboard: 1
title: T
elements:
  buoy: {videos: [https://example.com/buoy.mp4]}
defaults:
  sound: true
shots:
  - id: bell
    duration: 4
    prompt: The bell buoy rocks in the swell.
    dialogue:
      - buoy: "Clang. Clang."
"""
        }
    )
    request = requests(root)["bell"]
    assert request["positivePrompt"].endswith('<<<element_1>>> says: "Clang. Clang."')
    (element,) = request["inputs"]["elements"]
    assert element["videos"] == ["https://example.com/buoy.mp4"]
    assert "voices" not in element


def test_the_form_is_the_profiles() -> None:
    profile = get_profile("klingai:kling-video@o3-pro")
    assert profile is not None
    form = profile.dialogue
    lines = [("<<<keeper>>>", "Hold!", "whispering"), ("Narrator", "Then.", None)]
    assert form.written(lines) == '<<<keeper>>> says, whispering: "Hold!" Narrator says: "Then."'
    assert form.attach("Sea.", "X") == "Sea. X"
    assert form.attach("Sea.", "") == "Sea."
    other = DialogueForm(line="[{who}] {says}", line_how="[{who}, {how}] {says}", joiner="\n")
    assert other.written(lines) == "[<<<keeper>>>, whispering] Hold!\n[Narrator] Then."


def test_a_template_places_the_lines_where_it_writes_dialogue(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + """\
shots:
  - id: quay
    duration: 4
    prompt: "Dawn. {{ dialogue }} Gulls cry. {% include 'look.j2' %}"
    dialogue: [{skipper: "Home!"}]
  - id: dock
    duration: 4
    prompt: "The boat is moored. {% include 'look.j2' %}"
  - id: wave
    duration: 4
    prompt: "A wave. {% include 'said.j2' %}"
    dialogue: [{Keeper: "There."}]
""",
            "look.j2": "Film grain.",
            "said.j2": "Then {{ dialogue | lower }}",
        }
    )
    found = requests(root)
    assert found["quay"]["positivePrompt"] == (
        'Dawn. <<<element_1>>> says: "Home!" Gulls cry. Film grain.'
    )
    # a shot without lines sees an empty `dialogue`, and its prompt is as it was
    assert found["dock"]["positivePrompt"] == "The boat is moored. Film grain."
    # named in an included template: written there (through its filter), and only there
    assert found["wave"]["positivePrompt"] == 'A wave. Then keeper says: "there."'


def test_a_var_named_dialogue_keeps_its_meaning_without_lines(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + """\
vars: {dialogue: none spoken}
shots:
  - {id: quay, duration: 4, prompt: "Dawn, {{ dialogue }}."}
"""
        }
    )
    assert requests(root)["quay"]["positivePrompt"] == "Dawn, none spoken."


def test_a_var_named_dialogue_is_an_error_once_a_shot_speaks(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + """\
vars: {dialogue: none spoken}
shots:
  - {id: quay, duration: 4, prompt: "Dawn.", dialogue: [{Keeper: Hello.}]}
"""
        }
    )
    assert errors(root) == [
        "film.yaml:13:8: error: 'dialogue' is the name templates see a shot's lines under "
        "(shot 'quay' has dialogue); choose another variable name"
    ]


def test_a_segment_carries_its_lines_and_its_limit_counts_them(project: Project) -> None:
    words = ("Hold it high " * 36).strip()  # 467 characters: alone, it fits a segment's 512
    film = (
        HEAD
        + f"""\
shots:
  - sequence: storm
    continuity: multishot
    shots:
      - id: gallery
        duration: 3
        prompt: The keeper lifts the lantern.
        dialogue: [{{keeper: "Hold the light!"}}]
      - id: signal
        duration: 3
        prompt: {words}
"""
    )
    root = project({"film.yaml": film})
    segments = requests(root)["storm"]["providerSettings"]["klingai"]["multiPrompt"]
    assert segments[0] == {
        "prompt": 'The keeper lifts the lantern. <<<element_1>>> says: "Hold the light!"',
        "duration": 3,
    }
    line = 'Narrator says: "Far out at sea, a light swings in the dark."'
    (root / "film.yaml").write_text(
        film.replace(
            "        prompt: Hold",
            '        dialogue: [{Narrator: "Far out at sea, a light swings in the dark."}]\n'
            "        prompt: Hold",
        )
    )
    assert errors(root) == [
        f"film.yaml:24:17: error: sequence 'storm' (multishot): prompt of shot 'signal' is "
        f"{len(words) + 1 + len(line)} characters with its dialogue written in; a segment of a "
        "multi-shot request takes at most 512"
    ]


def test_auto_packing_splits_where_the_lines_push_a_segment_over(project: Project) -> None:
    text = "waves " * 80  # 479 characters
    film = (
        HEAD
        + f"""\
shots:
  - sequence: storm
    shots:
      - {{id: a, duration: 3, prompt: {text.strip()}}}
      - {{id: b, duration: 3, prompt: The boat turns.}}
"""
    )
    root = project({"film.yaml": film})
    assert list(requests(root)) == ["storm"]
    spoken = film.replace(
        "prompt: waves", 'dialogue: [{Narrator: "The sea rose higher and higher."}], prompt: waves'
    )
    (root / "film.yaml").write_text(spoken)
    found = requests(root)
    assert list(found) == ["a", "b"]  # a take of one shot is named after it
    assert found["a"]["positivePrompt"].endswith('Narrator says: "The sea rose higher and higher."')


def test_the_2500_character_limit_counts_the_lines(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + f"""\
shots:
  - id: quay
    duration: 4
    prompt: {"x" * 2480}
    dialogue: [{{Narrator: "A long time ago."}}]
"""
        }
    )
    assert errors(root) == [
        "film.yaml:16:13: error: prompt is 2,514 characters once rendered with its dialogue "
        "written in; it may have at most 2,500"
    ]


def test_speakers_count_as_elements_of_the_request(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + """\
shots:
  - id: quay
    duration: 4
    prompt: <<<keeper>>> and <<<skipper>>> watch <<<trawler>>> come in.
    dialogue:
      - keeper: "There she is."
      - lantern: "I am a talking lantern."
"""
        }
    )
    assert errors(root) == [
        "film.yaml:19:9: error: 4 elements in one request (keeper, skipper, trawler, "
        "lantern); the model takes at most 3 (speakers of lines count too)"
    ]


def test_dialogue_checks(project: Project) -> None:
    root = project(
        {
            "film.yaml": """\
storyboard: 1
title: T
elements:
  keeper: {frontal_image: https://example.com/keeper.png}
shots:
  - id: quiet
    duration: 4
    prompt: The sea.
    dialogue:
      - keper: "Hold the light!"
      - {who: narrator, says: Once.}
      - {who: Narrator, says: Twice., at: 4}
  - id: loud
    duration: 4
    sound: true
    prompt: The sea.
    dialogue:
      - {Narrator: One., at: 2}
      - {Narrator: Two., at: 1}
  - id: postcard
    edit: loud
    prompt: Paint it.
    dialogue: [{Narrator: Then.}]
"""
        }
    )
    assert errors(root) == [
        "film.yaml:9:5: error: dialogue: shot 'quiet' has no sound, so the model would not "
        "speak its lines: set 'sound: true' on the shot (or in defaults)",
        "film.yaml:10:9: error: dialogue[0]: unknown element 'keper' (did you mean "
        "'keeper'?); a voice that is not an element is written with a capital letter or a "
        "space ('Narrator')",
        "film.yaml:11:15: error: dialogue[1].who: unknown element 'narrator'; a voice that is "
        "not an element is written with a capital letter or a space ('Narrator')",
        "film.yaml:12:43: error: dialogue[2].at: 4 s is at or past the end of shot 'quiet' "
        "(4 s long)",
        "film.yaml:19:30: error: dialogue[1].at: 1 s is before the line above it starts "
        "(dialogue[0].at: 2 s): lines are spoken in the order they are written",
        "film.yaml:23:5: error: dialogue: shot 'postcard' takes a video input ('edit'), and a "
        "request with one makes no sound: the model would not speak its lines",
    ]


def test_lines_that_cannot_be_spoken_in_time_are_warned_about(project: Project) -> None:
    film = (
        HEAD
        + """\
shots:
  - id: quay
    duration: 3
    prompt: The keeper shouts.
    dialogue:
      - keeper: "Hold the light, hold it high."
        at: 0.5
      - Narrator: "And the boat came home through the rocks."
"""
    )
    root = project({"film.yaml": film})
    with contextlib.chdir(root):
        compiled = api.compile_storyboard("film.yaml")
    (warning,) = [w.render() for w in compiled.warnings]
    # 6 words from 0.5 s (2.4 s), then 8 words (3.2 s): 6.1 s at 2.5 words a second; the
    # second line is the first to end past the 3 s shot (the first ends at 2.9 s)
    assert warning == (
        "film.yaml:20:19: warning: dialogue: the lines of shot 'quay' take about 6.1 s to say "
        "(14 words at 2.5 a second), and the shot is 3 s long: the model rushes or cuts off "
        "what does not fit, and the take is paid all the same; shorten the lines or lengthen "
        "the shot (defaults.speech_rate sets the pace)"
    )
    (root / "film.yaml").write_text(film.replace("sound: true", "sound: true\n  speech_rate: 6"))
    # at 6 words a second: 0.5 + 1 + 1.33 = 2.83 s, within the shot
    assert api.compile_storyboard(root / "film.yaml").warnings == ()
