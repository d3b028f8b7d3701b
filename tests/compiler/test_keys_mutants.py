"""Take keys, mutation-tested: what makes two requests the same take (reused, never paid
twice) and what makes them differ (made again), from :mod:`storyboard.compiler.keys` to the
pipeline's keys."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from storyboard import api
from storyboard.build.pipeline import prepare
from storyboard.compiler.keys import canonical, keys_and_materials, take_keys, why_stale
from tests.build.test_preview_lines import FILM

Project = Callable[[dict[str, str | bytes]], Path]

# the storyboard of the preview's lines, and a kept take
LINES = FILM + "  - {id: sea, duration: 3, prompt: a boat far out at sea, keep: true}\n"


def test_a_kept_take_does_not_stop_moved_lines_from_making_a_new_preview(
    project: Project,
) -> None:
    """A storyboard that keeps a take is keyed again with the kept results: the preview's
    keys must still hold the lines' ``at`` times, or moving a line reuses the old preview."""
    film = project({"film.yaml": LINES}) / "film.yaml"

    def keys(backend: str) -> dict[str, str]:
        return prepare(film, backend_name=backend).keys

    before = keys("preview@0.25")
    film.write_text(LINES.replace("at: 1}", "at: 2}"))
    after = keys("preview@0.25")
    assert after["gallery"] != before["gallery"]
    assert after["sea"] == before["sea"]


# -- keys of compiled storyboards ------------------------------------------------------------

ONE = """\
storyboard: 1
title: Keys
defaults: {sound: true}
shots:
  - id: a
    duration: 5
    prompt: the keeper walks
"""

DIALOGUE = """\
storyboard: 1
title: Keys
defaults: {sound: true}
shots:
  - sequence: talk
    continuity: multishot
    shots:
      - id: s0
        duration: 3
        prompt: the keeper looks up
      - id: s1
        duration: 3
        prompt: the keeper speaks
        dialogue:
          - {Keeper: "Hold the light!", at: 1}
          - {Keeper: "Now douse it."}
"""


def keys_of(root: Path) -> dict[str, str]:
    return take_keys(api.compile_storyboard(root / "film.yaml"))


def preview_and_paid(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    compiled = api.compile_storyboard(root / "film.yaml")
    return take_keys(compiled, draws_lines=True), take_keys(compiled)


def test_the_first_retake_is_a_new_take_and_retake_zero_is_none(project: Project) -> None:
    root = project({"film.yaml": ONE})
    before = keys_of(root)
    (root / "film.yaml").write_text(ONE.replace("  - id: a\n", "  - id: a\n    retake: 1\n"))
    first = keys_of(root)
    assert first["a"] != before["a"]
    (root / "film.yaml").write_text(ONE.replace("  - id: a\n", "  - id: a\n    retake: 0\n"))
    assert keys_of(root) == before


def test_a_preview_keys_every_lines_time_in_every_shot_of_its_take(project: Project) -> None:
    """In a take of two shots, the lines of the second shot are drawn too: moving the time
    from its first line to its second, or moving it, makes a new preview; never a paid take."""
    root = project({"film.yaml": DIALOGUE})
    (take,) = api.compile_storyboard(root / "film.yaml").takes
    assert [s.id for s in take.take.shots] == ["s0", "s1"]
    preview, paid = preview_and_paid(root)
    variants = [
        DIALOGUE.replace("at: 1}", "at: 2}"),
        DIALOGUE.replace(", at: 1}", "}").replace('"Now douse it."}', '"Now douse it.", at: 1}'),
    ]
    _, materials = keys_and_materials(api.compile_storyboard(root / "film.yaml"), draws_lines=True)
    assert materials["talk"]["lines_at"] == {"s1": [1, None]}  # a shot without lines: none
    seen = {preview["talk"]}
    for text in variants:
        (root / "film.yaml").write_text(text)
        moved, moved_paid = preview_and_paid(root)
        assert moved_paid == paid  # the provider sees no `at`: nothing is paid again
        assert moved["talk"] not in seen
        seen.add(moved["talk"])
    # a take whose lines have no time keys its preview as any other take
    (root / "film.yaml").write_text(DIALOGUE.replace(", at: 1}", "}"))
    untimed, untimed_paid = preview_and_paid(root)
    assert untimed == untimed_paid == paid


PICK = """\
storyboard: 1
title: Pick
shots:
  - {id: a, duration: 3, prompt: first, variations: 3}
  - {id: b, start: a.last, duration: 3, prompt: second}
"""


def test_every_pick_is_its_own_start_for_the_takes_downstream(project: Project) -> None:
    """b starts on the last frame of the picked video of a: each pick is another input (a
    new b), and going back to a pick goes back to its key (paid once)."""
    root = project({"film.yaml": PICK})
    keys: dict[int, dict[str, str]] = {}
    for pick in (1, 2, 3):
        (root / "film.yaml").write_text(
            PICK.replace("variations: 3", f"variations: 3, pick: {pick}")
        )
        keys[pick] = keys_of(root)
    assert keys[1]["a"] == keys[2]["a"] == keys[3]["a"]  # a's three videos are all kept
    assert len({keys[p]["b"] for p in (1, 2, 3)}) == 3
    (root / "film.yaml").write_text(PICK)
    assert keys_of(root) == keys[1]
    (root / "film.yaml").write_text(PICK.replace("variations: 3", "variations: 3, pick: 2"))
    assert keys_of(root) == keys[2]


def test_a_key_hashes_the_request_as_utf_8_json_with_sorted_keys(project: Project) -> None:
    """The key of a prompt that is not ASCII is the sha256 of its canonical JSON in UTF-8 (as
    keys were made before): escaping it another way would make every such take paid again."""
    text = (
        'storyboard: 1\ntitle: T\nshots:\n  - {id: a, duration: 5, prompt: "à l\'aube — phare"}\n'
    )
    root = project({"film.yaml": text})
    keys, materials = keys_and_materials(api.compile_storyboard(root / "film.yaml"))
    material = materials["a"]
    assert material["request"]["positivePrompt"] == "à l'aube — phare"
    written = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical(material) == written and "— phare" in written
    assert keys["a"] == hashlib.sha256(written.encode("utf-8")).hexdigest()


def test_why_a_take_is_made_again_names_what_changed() -> None:
    material = {"version": 1, "model": "m:1@1", "request": {"model": "m:1@1", "duration": 5}}
    assert why_stale(None, material) == "new"
    assert why_stale(dict(material), material) == "not in the cache"
    other = {"version": 1, "model": "m:2@1", "request": {"model": "m:2@1", "duration": 5}}
    assert why_stale(material, other) == "model changed"
    assert why_stale(material, {**material, "retake": 2}) == "retake 2"
    assert why_stale({**material, "retake": 2}, material) == "retake 0"  # back to the first
