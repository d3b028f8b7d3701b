"""Mutation audit of ``storyboard/compiler/resolve.py``: how shots become takes.

60 changes were made, one at a time, to resolve's decisions (the model's limits on a group and
their bounds, which settings must agree, defaults applied to a shot, element numbering, the
take ids of a sequence, chaining, the frame and span each hand-off names, the edges of the
take graph, cycles, story order, and the errors for a sequence no packing can split), and the
compiler's and golden tests were run. 26 survived; 17 are killed here, each by asserting the
error ``check`` prints (exit 2, nothing sent) or the request compiled:

- a multi-shot request under 3 s, and the limits of a chained shot (both accepted: the
  service refuses them after the takes before were paid for);
- segments that set ``references``, ``provider`` or ``keep_original_sound`` differently (one
  request has one of each: all but the first shot's were silently dropped);
- an edit or a reference video in a multi-shot request, an ``end`` frame from the same
  request, a differing ``character_orientation`` (the edit, the frame and the orientation are
  refused by other checks too, with a worse message: the message is pinned);
- a sequence in which each shot fits some request but no split covers them all (a crash);
- ``start`` taken from a multi-shot's first shot and ``end`` from its last (else lost);
- a default ``sound: true`` not applied to a request with a reference video;
- the edges of ``reference_videos`` and ``end`` hand-offs (else a take is sent before the
  one it needs), and the frame span of a reference video of one segment.

The other nine are equivalent or not pinned: one was a no-op, the top-level ``model`` taking
precedence (one model exists), the take id of a one-group sequence (never one shot of several),
``request_elements``'s one-shot shortcut (since removed), ``pack``'s ``<`` as ``<=`` (the same
split), element numbering from 0 in the length check (same length up to 3 elements), the
hand-off's shot name on a chain (used only in messages), ``depends_on`` and ``provider``
ordering (story order of dependencies; key order of provider settings).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from storyboard import api
from tests.compiler.test_parity_audit import refused
from tests.conftest import CliResult, tiny_jpeg

Project = Callable[[dict[str, str | bytes]], Path]
Cli = Callable[..., CliResult]

HEAD = "storyboard: 1\ntitle: T\n"


def takes_of(root: Path) -> dict[str, dict[str, Any]]:
    compiled = api.compile_storyboard(root / "film.yaml")
    return {t.id: t.to_json() for t in compiled.takes}


# a sequence in which every shot fits some request, but no split covers them all -----------


def test_a_sequence_no_split_can_cover_is_refused(project: Project, run_cli: Cli) -> None:
    """a+b and b+c each fit (3 elements, 4 s), but a and c fit no request without b: the
    sequence must be refused, not dropped from the film."""
    text = HEAD + (
        "elements:\n"
        "  x: {id: ex}\n  y: {id: ey}\n  z: {id: ez}\n  w: {id: ew}\n  v: {id: ev}\n"
        "shots:\n"
        "  - sequence: seq\n"
        "    shots:\n"
        "      - {id: a, duration: 2, prompt: '<<<x>>> and <<<y>>>'}\n"
        "      - {id: b, duration: 2, prompt: '<<<z>>> waits'}\n"
        "      - {id: c, duration: 2, prompt: '<<<w>>> and <<<v>>>'}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:10:15: error: sequence 'seq' cannot be split into requests the model accepts"
    ]


# a hand-off to a shot generated in the same request ---------------------------------------


def test_an_end_frame_from_the_same_multishot_request_is_refused(
    project: Project, run_cli: Cli
) -> None:
    text = HEAD + (
        "shots:\n"
        "  - sequence: seq\n"
        "    continuity: multishot\n"
        "    shots:\n"
        "      - {id: a, duration: 3, prompt: one}\n"
        "      - {id: b, duration: 3, prompt: two}\n"
        "      - {id: c, end: a.last, duration: 3, prompt: three}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:9:22: error: end: shot 'c' refers to shot 'a', which is generated in the "
        "same request ('seq')"
    ]


# the limits on a multi-shot request ---------------------------------------------------------


def test_a_multishot_request_under_3_s_is_refused(project: Project, run_cli: Cli) -> None:
    """Two 1 s segments: each is long enough for a segment, the request is not."""
    text = HEAD + (
        "shots:\n"
        "  - sequence: seq\n"
        "    continuity: multishot\n"
        "    shots:\n"
        "      - {id: a, duration: 1, prompt: one}\n"
        "      - {id: b, duration: 1, prompt: two}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:8:27: error: sequence 'seq' (multishot): the shots add up to 2 s; "
        "a request must be 3..15 s"
    ]


def test_an_edit_in_a_multishot_request_is_refused(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "shots:\n"
        "  - {id: a, duration: 5, prompt: one}\n"
        "  - sequence: seq\n"
        "    continuity: multishot\n"
        "    shots:\n"
        "      - {id: b, duration: 3, prompt: two}\n"
        "      - {id: c, edit: a, prompt: restyle}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:9:9: error: sequence 'seq' (multishot): an edit ('edit') cannot be part of "
        "a multi-shot request"
    ]


def test_a_reference_video_in_a_multishot_request_is_refused(
    project: Project, run_cli: Cli
) -> None:
    text = HEAD + (
        "shots:\n"
        "  - {id: a, duration: 5, prompt: one}\n"
        "  - sequence: seq\n"
        "    continuity: multishot\n"
        "    shots:\n"
        "      - {id: b, duration: 3, prompt: two}\n"
        "      - {id: c, duration: 3, prompt: three, reference_videos: [a]}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:9:9: error: sequence 'seq' (multishot): 'reference_videos' cannot be "
        "combined with a multi-shot request"
    ]


def test_segments_with_different_references_are_refused(project: Project, run_cli: Cli) -> None:
    """One request has one set of reference images: b's would silently become a's."""
    text = HEAD + (
        "shots:\n"
        "  - sequence: seq\n"
        "    continuity: multishot\n"
        "    shots:\n"
        "      - {id: a, duration: 3, prompt: one, references: [p.jpg]}\n"
        "      - {id: b, duration: 3, prompt: two}\n"
    )
    assert refused(project, run_cli, text, **{"p.jpg": tiny_jpeg()}) == [
        "film.yaml:8:9: error: sequence 'seq' (multishot): shot 'b' sets 'references' "
        "differently from shot 'a'; shots of one request must agree"
    ]


def test_segments_with_different_provider_settings_are_refused(
    project: Project, run_cli: Cli
) -> None:
    text = HEAD + (
        "shots:\n"
        "  - sequence: seq\n"
        "    continuity: multishot\n"
        "    shots:\n"
        "      - {id: a, duration: 3, prompt: one}\n"
        "      - {id: b, duration: 3, prompt: two, provider: {klingai: {cameraFixed: true}}}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:8:53: error: sequence 'seq' (multishot): shot 'b' sets 'provider' "
        "differently from shot 'a'; shots of one request must agree"
    ]


def test_segments_with_different_keep_original_sound_are_refused(
    project: Project, run_cli: Cli
) -> None:
    text = HEAD + (
        "shots:\n"
        "  - sequence: seq\n"
        "    continuity: multishot\n"
        "    shots:\n"
        "      - {id: a, duration: 3, prompt: one, keep_original_sound: false}\n"
        "      - {id: b, duration: 3, prompt: two}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:8:9: error: sequence 'seq' (multishot): shot 'b' sets 'keep_original_sound' "
        "differently from shot 'a'; shots of one request must agree"
    ]


def test_segments_with_different_character_orientation_are_refused(
    project: Project, run_cli: Cli
) -> None:
    text = HEAD + (
        "shots:\n"
        "  - sequence: seq\n"
        "    continuity: multishot\n"
        "    shots:\n"
        "      - {id: a, duration: 3, prompt: one, character_orientation: video}\n"
        "      - {id: b, duration: 3, prompt: two}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:8:9: error: sequence 'seq' (multishot): shot 'b' sets "
        "'character_orientation' differently from shot 'a'; shots of one request must agree"
    ]


def test_a_chained_shot_over_15_s_is_refused(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "shots:\n"
        "  - sequence: seq\n"
        "    continuity: chain\n"
        "    shots:\n"
        "      - {id: a, duration: 5, prompt: one}\n"
        "      - {id: b, duration: 16, prompt: two}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:8:27: error: sequence 'seq' (chain): shot 'b' is 16 s; a request must be 3..15 s"
    ]


# the request sent is the one written ------------------------------------------------------


def test_a_multishot_request_starts_on_its_first_shot_and_ends_on_its_last(
    project: Project,
) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "shots:\n  - sequence: seq\n    continuity: multishot\n    shots:\n"
            + "      - {id: a, duration: 3, prompt: one, start: p.jpg}\n"
            + "      - {id: b, duration: 3, prompt: two, end: q.jpg}\n",
            "p.jpg": tiny_jpeg(),
            "q.jpg": tiny_jpeg(color=(200, 10, 10)),
        }
    )
    (take,) = takes_of(root).values()
    assert take["request"]["inputs"]["frameImages"] == [
        {"image": "file:p.jpg", "frame": "first"},
        {"image": "file:q.jpg", "frame": "last"},
    ]


def test_a_default_sound_is_not_applied_to_a_request_with_a_reference_video(
    project: Project,
) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "defaults: {sound: true}\n"
            + "shots:\n  - {id: a, duration: 5, prompt: one}\n"
            + "  - {id: b, duration: 5, prompt: two, reference_videos: [a]}\n",
        }
    )
    takes = takes_of(root)
    assert takes["a"]["request"]["providerSettings"] == {"klingai": {"sound": True}}
    assert takes["b"]["request"] == {
        "taskType": "videoInference",
        "model": "klingai:kling-video@o3-pro",
        "positivePrompt": "two",
        "width": 1920,
        "height": 1080,
        "duration": 5,
        "inputs": {"referenceVideos": ["take:a/video"]},
    }


# hand-offs become edges: the upstream take is made first ----------------------------------


def test_a_reference_video_and_an_end_frame_written_before_their_shot_wait_for_it(
    project: Project,
) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "shots:\n"
            + "  - {id: b, duration: 5, prompt: two, reference_videos: [a]}\n"
            + "  - {id: c, duration: 5, prompt: three, start: p.jpg, end: d.first}\n"
            + "  - {id: a, duration: 5, prompt: one}\n"
            + "  - {id: d, duration: 5, prompt: four}\n",
            "p.jpg": tiny_jpeg(),
        }
    )
    takes = takes_of(root)
    assert list(takes) == ["a", "b", "d", "c"]
    assert takes["b"]["depends_on"] == ["a"]
    assert takes["c"]["depends_on"] == ["d"]
    assert takes["c"]["request"]["inputs"]["frameImages"][1] == {
        "image": "take:d/first",
        "frame": "last",
    }


def test_a_reference_video_of_one_segment_names_its_frames(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD
            + "shots:\n  - sequence: seq\n    continuity: multishot\n    shots:\n"
            + "      - {id: a, duration: 3, prompt: one}\n"
            + "      - {id: b, duration: 4, prompt: two}\n"
            + "  - {id: c, duration: 5, prompt: three, reference_videos: [b]}\n",
        }
    )
    takes = takes_of(root)
    # b is seconds 3..7 of the take: frames [72, 168) at 24 fps
    assert takes["c"]["request"]["inputs"]["referenceVideos"] == ["take:seq/video/72-168"]
    assert takes["c"]["depends_on"] == ["seq"]
