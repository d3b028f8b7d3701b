"""Stage 2-3: what ``check`` returns for valid storyboards, and rules beyond the golden cases."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard import api
from storyboard.core.diagnostics import Position, position_in_value
from storyboard.core.errors import InputError
from storyboard.language.checked import CheckedStoryboard
from storyboard.language.prompts import MAX_STEPS, PromptRenderer, ShotContext, TemplateProblem
from storyboard.language.sources import FrameRef, MediaRef, ShotRef
from tests.conftest import tiny_audio, tiny_jpeg

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Harbour
include: [cast/cast.yaml]
vars:
  look: cinematic
  items: [gulls, boats]
defaults:
  duration: 4
  references: [assets/ref.jpg]
elements:
  keeper:
    description: an old keeper
    frontal_image: assets/keeper.jpg
shots:
  - id: wide
    prompt: "{{ shot.id }} {{ shot.index }} {{ shot.duration }} <<<keeper>>> {{ look }}"
  - sequence: storm
    shots:
      - id: waves
        start: wide.last
        prompt: "{{ shot.index }} of {{ storyboard.title }} in {{ shot.sequence }}"
        duration: 3
      - id: rain
        end: wide@1.5s
        prompt: "{{ vars.look }} {% include 'styles/noir.j2' %} <<<dog>>>"
        references: [https://example.com/a.jpg, 01234567-89AB-cdef-0123-456789abcdef]
  - id: restyle
    edit: rain
    prompt: |
      Restyle: {% for item in items %}{{ item|upper }}{{ ', ' if not loop.last }}{% endfor %}.
    reference_videos: [wide, clips/take.mp4]
cut:
  music: {file: assets/score.mp3}
"""
FILES: dict[str, str | bytes] = {
    "film.yaml": FILM,
    "cast/cast.yaml": "elements:\n  dog:\n    frontal_image: dog.jpg\n",
    "cast/dog.jpg": tiny_jpeg(),
    "assets/keeper.jpg": tiny_jpeg(),
    "assets/ref.jpg": tiny_jpeg(),
    "assets/score.mp3": tiny_audio("mp3"),
    "clips/take.mp4": b"placeholder",
    "styles/noir.j2": "noir",
}


def check(root: Path, name: str = "film.yaml") -> CheckedStoryboard:
    return api.check(root / name)


def problems(root: Path, name: str = "film.yaml") -> list[str]:
    with pytest.raises(InputError) as caught:
        api.check(root / name)
    return [d.render() for d in caught.value.diagnostics]


def test_a_valid_storyboard_is_checked(project: Project) -> None:
    root = project(FILES)
    checked = check(root)
    assert [s.id for s in checked.shots] == ["wide", "waves", "rain", "restyle"]
    assert [s.index for s in checked.shots] == [1, 2, 3, 4]
    assert [s.sequence for s in checked.shots] == [None, "storm", "storm", None]
    assert [s.duration for s in checked.shots] == [4, 3, 4, None]  # an edit takes its source's
    assert checked.storyboard.title == "Harbour"
    assert checked.name == "film"


def test_prompts_render_with_shot_storyboard_and_vars(project: Project) -> None:
    checked = check(project(FILES))
    prompts = {s.id: s.prompt for s in checked.shots}
    assert prompts["wide"] == "wide 1 4 <<<keeper>>> cinematic"
    assert prompts["waves"] == "2 of Harbour in storm"
    assert prompts["rain"] == "cinematic noir <<<dog>>>"
    assert prompts["restyle"] == "Restyle: GULLS, BOATS."


def test_sources_are_resolved(project: Project) -> None:
    root = project(FILES)
    checked = check(root)
    wide, waves, rain, restyle = checked.shots
    assert waves.sources["start"] == (FrameRef("wide", "last"),)
    assert rain.sources["end"] == (FrameRef("wide", "time", 1.5),)
    assert rain.sources["references"] == (
        MediaRef("url", "https://example.com/a.jpg"),
        MediaRef("uuid", "01234567-89ab-cdef-0123-456789abcdef"),
    )
    # a shot without its own references takes the defaults'
    assert wide.sources["references"] == (
        MediaRef("file", "assets/ref.jpg", root / "assets/ref.jpg"),
    )
    assert restyle.sources["edit"] == (ShotRef("rain"),)
    video = MediaRef("file", "clips/take.mp4", root / "clips/take.mp4")
    assert restyle.sources["reference_videos"] == (ShotRef("wide"), video)
    assert "start" not in wide.sources


def test_assets_templates_elements_and_music(project: Project) -> None:
    root = project(FILES)
    checked = check(root)
    # the included file's paths are relative to the included file
    dog = checked.element_sources["dog"]["frontal_image"]
    assert dog == (MediaRef("file", "dog.jpg", root / "cast/dog.jpg"),)
    keeper = checked.element_sources["keeper"]["frontal_image"]
    assert keeper == (MediaRef("file", "assets/keeper.jpg", root / "assets/keeper.jpg"),)
    assert checked.music == MediaRef("file", "assets/score.mp3", root / "assets/score.mp3")
    assert checked.templates == ((root / "styles/noir.j2").resolve(),)
    assert checked.assets == tuple(
        sorted(
            root / name
            for name in (
                "assets/keeper.jpg",
                "assets/ref.jpg",
                "assets/score.mp3",
                "cast/dog.jpg",
                "clips/take.mp4",
            )
        )
    )
    assert all(p.is_absolute() for p in checked.assets)
    assert checked.document.files == (root / "film.yaml", root / "cast/cast.yaml")


def test_positions_travel_with_the_checked_storyboard(project: Project) -> None:
    checked = check(project(FILES))
    rain = checked.shot("rain")
    pos = checked.position((*rain.path, "end"))
    assert (Path(pos.file).name, pos.line, pos.col) == ("film.yaml", 24, 14)


def test_element_references_pass_through_templating(project: Project) -> None:
    root = project(
        {
            "film.yaml": "storyboard: 1\ntitle: t\nvars: {who: <<<keeper>>>}\nelements:\n"
            "  keeper: {id: kept-element}\nshots:\n"
            "  - id: a\n    prompt: '<<<keeper>>> meets {{ who }} {{ \"<<<keeper>>>\" }}'\n"
        }
    )
    assert check(root).shots[0].prompt == "<<<keeper>>> meets <<<keeper>>> <<<keeper>>>"


def test_template_includes_may_climb_inside_the_project(project: Project) -> None:
    root = project(
        {
            "films/film.yaml": "storyboard: 1\ntitle: t\nshots:\n"
            "  - id: a\n    prompt: \"{% include '../styles/noir.j2' %} harbour\"\n",
            "styles/noir.j2": "noir",
        }
    )
    checked = check(root, "films/film.yaml")
    assert checked.shots[0].prompt == "noir harbour"
    assert checked.templates == ((root / "styles/noir.j2").resolve(),)


def test_links_inside_the_project_and_loopback_urls_are_allowed(project: Project) -> None:
    root = project(
        {
            "film.yaml": "storyboard: 1\ntitle: t\nshots:\n  - id: a\n    prompt: hello\n"
            "    start: assets/link.jpg\n    references: [http://127.0.0.1:8080/a.jpg]\n"
            "delivery: {webhook_url: 'http://localhost:9000/hook'}\n",
            "assets/real.jpg": tiny_jpeg(),
        }
    )
    (root / "assets/link.jpg").symlink_to("real.jpg")
    shot = check(root).shots[0]
    assert shot.sources["start"] == (MediaRef("file", "assets/link.jpg", root / "assets/link.jpg"),)
    assert shot.sources["references"] == (MediaRef("url", "http://127.0.0.1:8080/a.jpg"),)


def test_ordinary_template_features_are_not_mistaken_for_abuse(project: Project) -> None:
    prompt = (
        "{{ '%05d' % 3 }} {{ '{:,}'.format(7000000) }} {{ 'ab' * 3 }} {{ 2 ** 10 }} "
        "{{ items|join('/') }} {{ 'x'|center(5) }}|{{ look ~ '!' }} {{ range(3)|list|length }} "
        "{% set ns = namespace(n=0) %}{% for i in range(100) %}{% set ns.n = ns.n + i %}"
        "{% endfor %}{{ ns.n }} {{ big }} {% set a %}s{% endset %}{% set b | upper %}b{% endset %}"
        "{{ a ~ b }}"
    )
    root = project(
        {
            "film.yaml": "storyboard: 1\ntitle: t\n"
            "vars: {items: [a, b], look: dark, big: 123456789012}\n"
            f"shots:\n  - id: a\n    prompt: {prompt!r}\n"
        }
    )
    expected = "00003 7,000,000 ababab 1024 a/b   x  |dark! 3 4950 123456789012 sB"
    assert check(root).shots[0].prompt == expected


def test_the_step_budget_is_per_prompt(project: Project) -> None:
    # a loop over range(n) takes 2n steps (n range items, n loop items); each prompt here
    # stays within the budget although the storyboard as a whole does not
    loop = f"{{% for i in range({MAX_STEPS // 3}) %}}{{% endfor %}}ok"
    shots = "".join(f"  - id: s{i}\n    prompt: '{loop}'\n" for i in range(3))
    root = project({"film.yaml": f"storyboard: 1\ntitle: t\nshots:\n{shots}"})
    assert [s.prompt for s in check(root).shots] == ["ok", "ok", "ok"]


def test_every_problem_is_reported_at_once_in_file_order(project: Project) -> None:
    root = project(
        {
            "film.yaml": "storyboard: 1\ntitle: t\nshots:\n"
            "  - id: a\n    prompt: '{{ nope }}'\n    duration: x\n"
            "  - id: a\n    promt: hello\n"
        }
    )
    found = problems(root)
    assert [m.split(": error: ")[0].split(":", 1)[1] for m in found] == [
        "5:17",
        "6:15",
        "7:9",
        "8:5",
    ]
    # the misspelt required key is reported once, as an unknown key with a suggestion
    assert not any("missing required key 'prompt'" in m for m in found)
    assert "unknown key 'promt' in shot 'a' (did you mean 'prompt'?)" in found[3]


def test_a_missing_required_key_without_a_close_misspelling_is_reported(project: Project) -> None:
    root = project({"film.yaml": "storyboard: 1\ntitle: t\nshots:\n  - id: a\n    words: hi\n"})
    found = problems(root)
    assert any("missing required key 'prompt' in shot 'a'" in m for m in found)
    assert any("unknown key 'words' in shot 'a'" in m for m in found)


def test_a_template_included_by_many_prompts_reports_its_problem_once(project: Project) -> None:
    root = project(
        {
            "film.yaml": "storyboard: 1\ntitle: t\nshots:\n"
            + "".join(
                f"  - id: s{i}\n    prompt: \"x {{% include 't.j2' %}}\"\n" for i in range(3)
            ),
            "t.j2": "line one\n  {{ missing }}\n",
        }
    )
    (message,) = problems(root)
    assert message.startswith(f"{root}/t.j2:2:6: error: template error: 'missing' is undefined")
    assert message.endswith(f"(in a template included by shot 's0' at {root}/film.yaml:5:13)")


@pytest.mark.parametrize(
    ("value", "line", "near", "expected"),
    [
        # a literal block maps template lines to file lines exactly
        ("|\n  one\n  two {{ x }}\n", 2, "x", (3, 10)),
        ("|\n  one\n  two {{ x }}\n", 2, None, (3, 3)),
        # folded and plain text is searched, preferring a match inside {{ }}
        (">\n  x marks\n  the {{ x }}\n", None, "x", (3, 10)),
        ("plain x and {{ x }}\n", None, "x", (1, 21)),
        ("'quoted {{ lens }}'\n", 1, "lens", (1, 17)),
        # not found: the value's own position
        ("plain text\n", None, "zzz", (1, 6)),
    ],
)
def test_position_in_value(
    value: str, line: int | None, near: str | None, expected: tuple[int, int]
) -> None:
    lines = ("key: " + value).splitlines()
    source = {"|": "one\ntwo {{ x }}\n", ">": "x marks the {{ x }}\n"}.get(value[0], value)
    pos = position_in_value(lines, Position("f", 1, 6), 1, source, line=line, near=near)
    assert (pos.line, pos.col) == expected


DOUBLING = "{% set ns = namespace(s='x') %}{% for i in range(64) %}{STEP}{% endfor %}{{ ns.s }}"


@pytest.mark.parametrize(
    "template",
    [
        DOUBLING.replace("{STEP}", "{% set ns.s = ns.s ~ ns.s %}"),
        DOUBLING.replace("{STEP}", "{% set ns.s = ns.s + ns.s %}"),
        DOUBLING.replace("{STEP}", "{% set ns.s %}{{ ns.s }}{{ ns.s }}{% endset %}"),
        DOUBLING.replace("{STEP}", "{% set ns.s = ns.s|replace('x', 'xx') %}"),
        DOUBLING.replace("{STEP}", "{% set ns.s = '%s%s'|format(ns.s, ns.s) %}"),
        DOUBLING.replace("{STEP}", "{% set ns.s = [ns.s, ns.s]|join %}"),
        "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s }}{% endmacro %}{{ d('x', 64) }}",
        "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(64) }}",
        "{% for a in 'x' * 1000 %}{% for b in 'x' * 1000 %}{% endfor %}{% endfor %}",
        "{{ range(10**30)|list }}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ ('x\\n' * 50000)|indent(50000) }}",
        "{{ '{:>{w}}'.format('x', w=10**9) }}",
        "{{ '%0*d' % (10**9, 1) }}",
        "{{ ('%s' * 50000) % (('x' * 50000,) * 50000) }}",
        "{{ (10**60) ** 100 }}",
        "{% set frames = [1] %}{{ frames.extend(frames) }}",
        "{{ lipsum(10**9) }}",
    ],
)
def test_templates_cannot_exhaust_memory_or_time(template: str) -> None:
    renderer = PromptRenderer(Path("."), Path("."), "t", {})
    started = time.thread_time()  # the work done: a loaded machine does not stretch it
    with pytest.raises(TemplateProblem):
        renderer.render(template, ShotContext("a", 5, 1, None))
    assert time.thread_time() - started < 2
