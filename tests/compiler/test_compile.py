"""Resolve and compile: takes, hand-offs, cycles, the profile's rules, keys and plans."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import pytest

from storyboard import api
from storyboard.compiler.keys import take_keys
from storyboard.core.errors import InputError
from tests.conftest import tiny_jpeg

Project = Callable[[dict[str, str | bytes]], Path]

HEAD = "storyboard: 1\ntitle: T\n"


def compiled_json(root: Path, name: str = "film.yaml") -> dict[str, dict]:  # type: ignore[type-arg]
    compiled = api.compile_storyboard(root / name)
    return {t.id: t.to_json() for t in compiled.takes}


def errors_of(root: Path, name: str = "film.yaml") -> list[str]:
    with pytest.raises(InputError) as exc:
        api.compile_storyboard(root / name)
    return [d.render() for d in exc.value.diagnostics]


def test_chain_hands_off_last_frames(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "shots:\n  - sequence: walk\n    continuity: chain\n    shots:\n"
            + "".join(f"      - {{id: s{i}, duration: 4, prompt: step {i}}}\n" for i in range(3)),
        }
    )
    takes = compiled_json(root)
    assert list(takes) == ["s0", "s1", "s2"]
    assert "width" in takes["s0"]["request"]
    assert takes["s1"]["request"]["inputs"]["frameImages"] == [
        {"image": "take:s0/last", "frame": "first"}
    ]
    assert "width" not in takes["s1"]["request"]
    assert takes["s2"]["depends_on"] == ["s1"]


def test_multishot_that_breaks_a_limit_names_it(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "shots:\n  - sequence: long\n    continuity: multishot\n    shots:\n"
            + "".join(f"      - {{id: s{i}, duration: 4, prompt: step {i}}}\n" for i in range(4)),
        }
    )
    (message,) = errors_of(root)
    # at the last shot's duration
    assert message.endswith(
        "film.yaml:10:28: error: sequence 'long' (multishot): the shots add up to 16 s; "
        "a request must be 3..15 s"
    )


def test_auto_splits_and_chains(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "defaults: {sound: true}\n"
            + "shots:\n  - sequence: seq\n    shots:\n"
            + "".join(f"      - {{id: s{i}, duration: 4, prompt: step {i}}}\n" for i in range(5)),
        }
    )
    takes = compiled_json(root)
    assert [t["shots"] for t in takes.values()] == [["s0", "s1", "s2"], ["s3", "s4"]]
    first, second = takes.values()
    assert first["id"] == "seq.1" and second["id"] == "seq.2"
    assert first["request"]["duration"] == 12
    assert [
        p["duration"] for p in first["request"]["providerSettings"]["klingai"]["multiPrompt"]
    ] == [4, 4, 4]
    assert "positivePrompt" not in first["request"]
    assert second["request"]["inputs"]["frameImages"][0]["image"] == "take:seq.1/last"


def test_auto_reports_a_shot_no_request_can_hold(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "shots:\n  - sequence: seq\n    shots:\n"
            + "      - {id: a, duration: 2, prompt: one, sound: true}\n"
            + "      - {id: b, duration: 5, prompt: two}\n",
        }
    )
    (message,) = errors_of(root)
    assert ":6:27: error: sequence 'seq': shot 'a' fits in no request the model accepts" in message
    assert "shot 'a' is 2 s; a request must be 3..15 s" in message
    assert "sets 'sound' differently" in message


def test_elements_renumbered_by_first_appearance(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "elements:\n"
            + "  hero: {frontal_image: hero.jpg, description: the hero}\n"
            + "  cat: {id: my-cat}\n"
            + "shots:\n  - sequence: seq\n    continuity: multishot\n    shots:\n"
            + "      - {id: a, duration: 3, prompt: '<<<cat>>> sleeps'}\n"
            + "      - {id: b, duration: 3, prompt: '<<<hero>>> pets <<<cat>>>'}\n",
            "hero.jpg": tiny_jpeg(),
        }
    )
    (take,) = compiled_json(root).values()
    segments = take["request"]["providerSettings"]["klingai"]["multiPrompt"]
    assert [s["prompt"] for s in segments] == [
        "<<<element_1>>> sleeps",
        "<<<element_2>>> pets <<<element_1>>>",
    ]
    cat, hero = take["request"]["inputs"]["elements"]
    assert cat == {"id": "my-cat"}
    assert hero["frontalImage"] == "file:hero.jpg"
    assert hero["id"].startswith("hero-") and len(hero["id"]) <= 20


def test_derived_element_id_follows_image_bytes(project: Project) -> None:
    files: dict[str, str | bytes] = {
        "film.yaml": HEAD
        + "elements:\n  hero: {frontal_image: hero.jpg}\n"
        + "shots:\n  - {id: a, duration: 3, prompt: '<<<hero>>> runs'}\n",
        "hero.jpg": tiny_jpeg(),
    }
    root = project(files)
    before = compiled_json(root)["a"]["request"]["inputs"]["elements"][0]["id"]
    assert before == compiled_json(root)["a"]["request"]["inputs"]["elements"][0]["id"]
    (root / "hero.jpg").write_bytes(tiny_jpeg(color=(200, 10, 10)))
    after = compiled_json(root)["a"]["request"]["inputs"]["elements"][0]["id"]
    assert after != before
    # the file's name is not part of it: renaming a storyboard makes no new element
    (root / "film.yaml").rename(root / "renamed.yaml")
    renamed = compiled_json(root, "renamed.yaml")["a"]["request"]["inputs"]["elements"][0]
    assert renamed["id"] == after


def test_segment_handoffs_use_exact_frames(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "shots:\n  - sequence: seq\n    continuity: multishot\n    shots:\n"
            + "      - {id: a, duration: 3, prompt: one}\n"
            + "      - {id: b, duration: 4, prompt: two}\n"
            + "  - {id: c, start: a.last, duration: 3, prompt: three}\n"
            + "  - {id: d, start: b.first, duration: 3, prompt: four}\n"
            + "  - {id: e, start: b@1.5s, duration: 3, prompt: five}\n"
            + "  - {id: f, start: b.last, duration: 3, prompt: six}\n",
        }
    )
    takes = compiled_json(root)
    image = {
        k: v["request"]["inputs"]["frameImages"][0]["image"] for k, v in takes.items() if k != "seq"
    }
    # a ends at frame 3*24-1; b starts at 72; b@1.5s is (3+1.5)*24; b.last is the take's last
    assert image == {
        "c": "take:seq/frame/71",
        "d": "take:seq/frame/72",
        "e": "take:seq/frame/108",
        "f": "take:seq/last",
    }


def test_cycle_prints_the_whole_cycle(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "shots:\n"
            + "  - {id: a, start: c.last, duration: 3, prompt: one}\n"
            + "  - {id: b, start: a.last, duration: 3, prompt: two}\n"
            + "  - {id: c, start: b.last, duration: 3, prompt: three}\n",
        }
    )
    (message,) = errors_of(root)
    assert "error: dependency cycle:" in message
    for step in ("a needs c (a.start at", "b needs a (b.start at", "c needs b (c.start at"):
        assert step in message
    assert (
        "film.yaml:4:20)" in message
        and "film.yaml:5:20)" in message
        and "film.yaml:6:20)" in message
    )


def test_edit_request_has_no_duration_settings_or_elements(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "defaults: {sound: true}\n"
            + "shots:\n  - {id: a, duration: 5, prompt: one}\n"
            + "  - {id: b, edit: a, prompt: restyle it}\n",
        }
    )
    request = compiled_json(root)["b"]["request"]
    assert request == {
        "taskType": "videoInference",
        "model": "klingai:kling-video@o3-pro",
        "positivePrompt": "restyle it",
        "inputs": {"video": "take:a/video"},
    }


@pytest.mark.parametrize(
    "shot,expected",
    [
        ("{id: b, edit: a, prompt: x y, sound: true}", "'sound' is not allowed with 'edit'"),
        (
            "{id: b, end: p.jpg, duration: 3, prompt: x y}",
            "cannot take a last frame without a first",
        ),
        (
            "{id: b, duration: 3, prompt: x y, references: [" + ", ".join(["p.jpg"] * 8) + "]}",
            "8 reference images; the model takes at most 7",
        ),
        (
            "{id: b, duration: 3, prompt: x y, reference_videos: [a], references: ["
            + ", ".join(["p.jpg"] * 5)
            + "]}",
            "at most 4 when a video is an input",
        ),
        ("{id: b, duration: 3, prompt: x y, keep_original_sound: true}", "needs a video input"),
        ("{id: b, duration: 3, prompt: x y, character_orientation: image}", "needs a video input"),
        ("{id: b, edit: a, prompt: x y, reference_videos: [a]}", "cannot be combined with 'edit'"),
    ],
)
def test_profile_rules(project: Project, shot: str, expected: str) -> None:
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - {id: a, duration: 5, prompt: one}\n  - " + shot + "\n",
            "p.jpg": tiny_jpeg(),
        }
    )
    messages = errors_of(root)
    assert any(expected in m and "film.yaml:5:" in m for m in messages), messages


def make_video(path: Path, seconds: float) -> None:
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"color=c=gray:s=1280x720:d={seconds}:r=24",  # the model edits 720p and up
            "-c:v",
            "libx264",
            "-y",
            str(path),
        ],
        check=True,
    )


def test_plan_costs_an_edit_of_a_local_video_on_its_length(project: Project) -> None:
    root = project({"film.yaml": HEAD + "shots:\n  - {id: a, edit: src.mp4, prompt: restyle}\n"})
    make_video(root / "src.mp4", 6)
    plan = api.plan(root / "film.yaml")
    (item,) = plan.items
    assert item.cost.seconds == 6 and item.cost.rate == 0.168
    assert item.cost.amount == 1.008


def test_plan_bills_an_edit_as_the_service_does(project: Project) -> None:
    """A 4.5 s source is billed 5 s (halves up, as the emulator bills; Python's round made
    it 4), and a source whose audio runs longer than its video is billed on the video."""
    from storyboard.emulator.pricing import price
    from storyboard.media.probe import probe

    root = project({"film.yaml": HEAD + "shots:\n  - {id: a, edit: src.mp4, prompt: restyle}\n"})
    make_video(root / "src.mp4", 4.5)
    (item,) = api.plan(root / "film.yaml").items
    billed = price(seconds=probe(root / "src.mp4").duration_s, sound=False, video_input=True,
                   number_results=1)  # fmt: skip
    assert item.cost.seconds == billed.seconds == 5
    assert item.cost.amount == billed.total == 0.84
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error",
            "-f", "lavfi", "-i", "color=c=gray:s=1280x720:d=4:r=24",
            "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t:a", "4.8",
            "-c:v", "libx264", "-c:a", "aac", "-y", str(root / "src.mp4"),
        ],
        check=True,
    )  # fmt: skip
    assert probe(root / "src.mp4").duration_s == pytest.approx(4.0, abs=0.05)
    (item,) = api.plan(root / "film.yaml").items
    assert item.cost.seconds == 4  # the container says about 4.8 s (its audio): it was 5


def test_plan_total_and_critical_path(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "shots:\n"
            + "  - {id: a, duration: 5, prompt: one, sound: true}\n"
            + "  - {id: b, start: a.last, duration: 10, prompt: two, variations: 2}\n"
            + "  - {id: c, duration: 3, prompt: three}\n",
        }
    )
    plan = api.plan(root / "film.yaml")
    costs = {i.take.id: i.cost.amount for i in plan.items}
    assert costs == {"a": 0.7, "b": 2.24, "c": 0.336}
    assert plan.total == pytest.approx(3.276)
    assert plan.critical_path == ("a", "b") and plan.critical_seconds == 15


# -- keys ---------------------------------------------------------------------------------

FILM = """\
# a film
storyboard: 1
title: Keys
elements:
  hero: {frontal_image: hero.jpg}
shots:
  - id: a
    duration: 5
    prompt: <<<hero>>> walks
  - id: b
    start: a.last
    duration: 5
    prompt: and stops
  - id: c
    start: other.jpg
    duration: 5
    prompt: elsewhere
  - id: d
    start: c.last
    duration: 3
    prompt: after elsewhere
"""


def keys_of(root: Path) -> dict[str, str]:
    return take_keys(api.compile_storyboard(root / "film.yaml"))


def test_keys_ignore_layout_comments_and_key_order(project: Project) -> None:
    root = project(
        {"film.yaml": FILM, "hero.jpg": tiny_jpeg(), "other.jpg": tiny_jpeg(color=(1, 2, 3))}
    )
    before = keys_of(root)
    reordered = FILM.replace(
        "  - id: a\n    duration: 5\n    prompt: <<<hero>>> walks\n",
        "  # the opening\n  - prompt:   <<<hero>>> walks   # comment\n    duration: 5\n    id: a\n",
    )
    reordered = reordered.replace("title: Keys\n", "title:    Keys\n\n\n")
    (root / "film.yaml").write_text(reordered)
    assert keys_of(root) == before


def test_asset_change_rekeys_exactly_its_takes_and_descendants(project: Project) -> None:
    root = project(
        {"film.yaml": FILM, "hero.jpg": tiny_jpeg(), "other.jpg": tiny_jpeg(color=(1, 2, 3))}
    )
    before = keys_of(root)
    (root / "other.jpg").write_bytes(tiny_jpeg(color=(9, 9, 9)))
    after = keys_of(root)
    assert {k for k in before if before[k] != after[k]} == {"c", "d"}
    (root / "hero.jpg").write_bytes(tiny_jpeg(color=(9, 200, 9)))
    again = keys_of(root)
    assert {k for k in after if after[k] != again[k]} == {"a", "b"}


def test_cut_changes_no_key_and_pick_only_the_takes_that_start_on_the_pick(
    project: Project,
) -> None:
    root = project(
        {"film.yaml": FILM, "hero.jpg": tiny_jpeg(), "other.jpg": tiny_jpeg(color=(1, 2, 3))}
    )
    with_variations = FILM.replace("  - id: c\n", "  - id: c\n    variations: 3\n")
    (root / "film.yaml").write_text(with_variations)
    before = keys_of(root)
    cut = "cut:\n  transition: crossfade\n  clips:\n    - shot: b\n    - shot: a\n"
    (root / "film.yaml").write_text(with_variations + cut)
    assert keys_of(root) == before
    (root / "film.yaml").write_text(
        with_variations.replace("    variations: 3\n", "    variations: 3\n    pick: 2\n") + cut
    )
    picked = keys_of(root)
    # c keeps its key (its three videos are all kept); d starts on the picked one's last frame
    assert {k for k in before if before[k] != picked[k]} == {"d"}
    (root / "film.yaml").write_text(
        with_variations.replace("    variations: 3\n", "    variations: 3\n    pick: 1\n") + cut
    )
    assert keys_of(root) == before


def test_prompt_change_rekeys_take_and_descendants(project: Project) -> None:
    root = project(
        {"film.yaml": FILM, "hero.jpg": tiny_jpeg(), "other.jpg": tiny_jpeg(color=(1, 2, 3))}
    )
    before = keys_of(root)
    (root / "film.yaml").write_text(FILM.replace("and stops", "and stops dead"))
    after = keys_of(root)
    assert {k for k in before if before[k] != after[k]} == {"b"}


def test_prompt_limit_counts_the_numbered_element_names(project: Project) -> None:
    # 2,495 characters as written, over 2,500 once <<<x>>> becomes <<<element_1>>>
    prompt = "<<<x>>> " + "a" * 2487
    root = project(
        {
            "film.yaml": HEAD
            + "elements:\n  x: {id: some-id}\n"
            + f"shots:\n  - id: a\n    duration: 3\n    prompt: {prompt}\n",
        }
    )
    (message,) = errors_of(root)
    assert (
        ":8:13: error: prompt of shot 'a' is 2503 characters once elements are numbered" in message
    )


def test_prompt_limit_counts_a_long_element_name_as_it_is_sent(project: Project) -> None:
    """2,524 characters as written, 2,497 once the 36-character name becomes ``element_1``:
    the request is within the limit (check refused it, counting the name as written)."""
    name = "the-keeper-of-the-light-at-skerry-pt"
    assert len(name) == 36
    prompt = f"<<<{name}>>> " + "a" * (2524 - 43)
    assert len(prompt) == 2524
    root = project(
        {
            "film.yaml": HEAD
            + f"elements:\n  {name}: {{id: some-id}}\n"
            + f"shots:\n  - id: a\n    duration: 3\n    prompt: {prompt}\n",
        }
    )
    (take,) = api.compile_storyboard(root / "film.yaml").takes  # no InputError
    assert len(take.request["positivePrompt"]) == 2524 - 36 + len("element_1") == 2497


def test_retake_enters_its_takes_key_only_and_zero_adds_nothing(project: Project) -> None:
    root = project(
        {"film.yaml": FILM, "hero.jpg": tiny_jpeg(), "other.jpg": tiny_jpeg(color=(1, 2, 3))}
    )
    before = keys_of(root)
    requests = {t.id: t.request for t in api.compile_storyboard(root / "film.yaml").takes}
    (root / "film.yaml").write_text(FILM.replace("  - id: a\n", "  - id: a\n    retake: 0\n"))
    assert keys_of(root) == before  # keys made before `retake` existed stay the same
    (root / "film.yaml").write_text(FILM.replace("  - id: c\n", "  - id: c\n    retake: 2\n"))
    retaken = keys_of(root)
    assert {k for k in before if before[k] != retaken[k]} == {"c", "d"}
    # nothing else of the request changes: the same bytes are sent
    assert {t.id: t.request for t in api.compile_storyboard(root / "film.yaml").takes} == requests
    (root / "film.yaml").write_text(FILM.replace("  - id: c\n", "  - id: c\n    retake: 3\n"))
    assert keys_of(root)["c"] not in (before["c"], retaken["c"])


def test_keep_changes_no_key_by_itself(project: Project) -> None:
    root = project(
        {"film.yaml": FILM, "hero.jpg": tiny_jpeg(), "other.jpg": tiny_jpeg(color=(1, 2, 3))}
    )
    before = keys_of(root)
    (root / "film.yaml").write_text(FILM.replace("  - id: b\n", "  - id: b\n    keep: true\n"))
    assert keys_of(root) == before  # what it keeps is found at plan time, not compiled in
