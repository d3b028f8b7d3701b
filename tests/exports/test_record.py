"""The film record: built from a build, written as build.json, read back."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from storyboard.compiler.draw import describe
from storyboard.core.errors import InputError
from storyboard.exports.record import (
    RECORD_VERSION,
    ClipPlacement,
    FilmRecord,
    read_record,
    record_from_build,
    record_path,
    write_record,
)
from tests.exports.film import FILM, SHOTS, Built


def line_of(shot: str) -> int:
    """1-based line of a shot's `id:` in FILM."""
    return next(n for n, line in enumerate(FILM.splitlines(), 1) if f"id: {shot}," in line)


def test_default_clips_are_every_shot_in_story_order_with_hard_cuts(built: Built) -> None:
    clips = built.record.clips
    assert [c.shot for c in clips] == list(SHOTS)
    assert [c.take for c in clips] == ["open", "open", "c", "d", "e"]
    # a and b are the two segments of the multi-shot take `open`
    assert [(c.source, c.source_in, c.source_out) for c in clips[:2]] == [
        ("takes/open.mp4", 0.0, 2.0),
        ("takes/open.mp4", 2.0, 4.0),
    ]
    # the edit's length comes from its video (it takes its source's length, 3 s)
    assert (clips[4].source_in, clips[4].source_out) == (0.0, 3.0)
    assert [c.start for c in clips] == [0.0, 2.0, 4.0, 7.0, 10.0]
    assert {c.transition for c in clips} == {"cut"}
    assert built.record.duration == 13.0
    for clip in clips:
        assert (built.build_dir / clip.source).exists()
        file, line, col = clip.position.rsplit(":", 2)
        assert file.endswith("film.yaml") and int(line) == line_of(clip.shot) and int(col) > 0


def test_takes_carry_status_cost_key_prompts_and_videos(built: Built) -> None:
    record = built.record
    assert [t.id for t in record.takes] == ["open", "c", "d", "e"]
    open_take = record.take("open")
    assert open_take.shots == ("a", "b")
    assert dict(open_take.prompts) == {"a": "first shot", "b": "second shot"}
    assert open_take.status == "generated" and open_take.cost == 0.0
    assert open_take.key == built.result.prepared.keys["open"]
    assert open_take.video == "takes/open.mp4" and open_take.duration == 4.0
    assert record.take("c").depends_on == ("open",)
    assert record.take("e").depends_on == ("c",)
    # the plan's prices: 4 s and 3 s with sound (0.14/s), 3 s silent (0.112/s), an edit of
    # 3 s (0.168/s)
    assert [t.estimate for t in record.takes] == [0.56, 0.42, 0.336, 0.504]
    assert record.totals.estimate_all_takes == pytest.approx(1.82)
    assert record.totals.spent == 0.0
    assert record.prompt("e") == "restyle the third"
    assert record.status_counts() == {"generated": 4}
    assert record.graph == describe(built.result.prepared.compiled)
    assert (record.name, record.storyboard, record.title) == ("film", "film.yaml", "Export test")
    # build() cuts the film too, so the record points at it
    assert (record.backend, record.film) == ("preview", "film.mp4")
    assert (built.build_dir / "film.mp4").is_file()
    assert (record.output.width, record.output.height, record.output.fps) == (1920, 1080, 24)


def test_written_json_is_versioned_and_reads_back_equal(built: Built) -> None:
    path = record_path(built.build_dir)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert next(iter(data)) == "version" and data["version"] == RECORD_VERSION == 1
    assert data["clips"][1] == {
        "shot": "b",
        "take": "open",
        "source": "takes/open.mp4",
        "source_in": 2.0,
        "source_out": 4.0,
        "start": 2.0,
        "transition": "cut",
        "transition_duration": 0.0,
        "position": built.record.clips[1].position,
    }
    assert str(built.build_dir) not in path.read_text(encoding="utf-8")  # no absolute paths
    again = read_record(path)
    assert again == built.record
    assert again.root == built.build_dir
    assert read_record(built.build_dir) == built.record  # the folder works too


def test_the_cut_clips_are_kept_with_relative_sources_and_positions(built: Built) -> None:
    cut = [
        ClipPlacement("c", "c", str(built.build_dir / "takes/c.mp4"), 0.5, 2.5, 0.0),
        ClipPlacement("a", "open", "takes/open.mp4", 0.0, 2.0, 1.5, "crossfade", 0.5),
    ]
    (built.build_dir / "film.mp4").write_bytes(b"")  # as if the cut wrote the film
    try:
        record = record_from_build(built.result, cut)
    finally:
        (built.build_dir / "film.mp4").unlink()
    assert record.film == "film.mp4"
    assert [c.source for c in record.clips] == ["takes/c.mp4", "takes/open.mp4"]
    assert record.clips[0].position == built.record.clips[2].position
    assert record.clips[1].transition == "crossfade" and record.clips[1].start == 1.5
    assert record.duration == 3.5


def test_reading_a_missing_record_says_to_build_first(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no build record at .*build\.json: build"):
        read_record(tmp_path)


def test_reading_another_version_or_a_damaged_record_is_an_input_error(
    built: Built, tmp_path: Path
) -> None:
    data = built.record.to_json()
    (tmp_path / "build.json").write_text(json.dumps({**data, "version": 2}))
    with pytest.raises(InputError, match="version 2 is not one this storyboard reads"):
        read_record(tmp_path / "build.json")
    del data["takes"]
    (tmp_path / "build.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="damaged: KeyError"):
        read_record(tmp_path / "build.json")
    (tmp_path / "build.json").write_text("{not json")
    with pytest.raises(InputError, match="damaged"):
        read_record(tmp_path / "build.json")
    # not UTF-8: damaged too (it was a UnicodeDecodeError, an internal error, exit 3)
    (tmp_path / "build.json").write_bytes(b'{"version": 1, "title": "\xff"}')
    with pytest.raises(InputError, match="damaged: 'utf-8' codec can't decode byte 0xff"):
        read_record(tmp_path / "build.json")


def test_reading_a_record_through_a_reader(tmp_path: Path) -> None:
    """A caller's reader is what reads the file (the project's, which follows no link);
    a reader that finds nothing there is a missing record."""
    asked: list[tuple[Path, int]] = []

    def nothing(path: Path, limit: int) -> bytes | None:
        asked.append((path, limit))
        return None

    (tmp_path / "build.json").write_text("{}")
    with pytest.raises(InputError, match="no build record at"):
        read_record(tmp_path / "build.json", nothing)
    assert asked == [(tmp_path / "build.json", 64 << 20)]  # and told the most it may read


def test_write_record_is_atomic_and_stable(built: Built, tmp_path: Path) -> None:
    record: FilmRecord = replace(built.record, root=tmp_path)
    first = write_record(record).read_bytes()
    assert write_record(record).read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build.json"]  # no temp files left


def test_a_second_build_records_cached_takes(built: Built, tmp_path: Path) -> None:
    from storyboard.backends.preview import PreviewBackend
    from storyboard.build.pipeline import build

    result = build(built.storyboard, backend=PreviewBackend(scale=1 / 12))
    record = record_from_build(result)
    assert record.status_counts() == {"cached": 4}
    assert record.totals.estimate == 0.0  # nothing left to generate
    assert record.clips == built.record.clips
