"""Tests that kill mutants of ``build/finish.py``, ``build/keep.py`` and ``build/clean.py``
the rest of the suite let live (a mutation audit: 64 mutants, one small change each).

``storyboard clean --previews`` removes only what storyboard made in the preview namespaces
and the frames folder: a folder only named like a preview namespace, a file or a folder only
named like a shard, an entry-shaped folder where the cache puts none, a file whose name only
starts like a frame's or a result's, all stay; and clean takes the project lock, removing
nothing while a build runs.

The finish cuts again whenever the film's bytes would change, and only then: the cut key holds
the content of the music, the fonts and the cards' images (not their names), each take
video's content (another pick, which draws the contact sheet again too), and, in a film that
uses one word of the mix, that word's value (a film of the plain language keeps its old
key). A build stopped after its new film went in never leaves a key the old storyboard would
match. A ``.cut.json`` of another version is not read. The exports follow the record
(written again when it changed, or when one is missing), the note is not written again when
nothing changed, and the subtitles follow the lines (written again when one changed,
removed with the last).

``keep`` keeps only a result there is: one the records name but the cache lost, or one the
lock holds for another backend, is an error before anything is sent; a take renamed in a
clone is found in the lock by its request; and an edit of a kept result this project cannot
measure is not priced on an older request of the project's own (a budget refuses the
estimate it cannot check).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from msgspec.structs import replace
from PIL import Image

import storyboard.build.finish as finish
from storyboard.backends.preview import PreviewBackend
from storyboard.build.clean import clean
from storyboard.build.pipeline import build, prepare
from storyboard.build.state.workspace import ProjectLock, Workspace
from storyboard.core.errors import BuildError, InputError
from storyboard.core.project import find_project_root
from storyboard.cut import build_timeline, measure_videos
from storyboard.cut.look import Look
from storyboard.cut.subtitles import Subtitle
from storyboard.cut.timeline import Overlay, Timeline
from storyboard.media.fonts import font_file
from storyboard.media.probe import probe
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult
from tests.cut.test_mix import tone

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

# b starts on a's last frame: the build extracts it into .storyboard/frames/
FILM = """\
storyboard: 1
title: Audit
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, start: a.last, duration: 3, prompt: second shot}
"""
KEPT = "storyboard did not write it"


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project built once on the preview (its build folder, preview cache and frames)."""
    root = tmp_path_factory.mktemp("built") / "project"
    (root / ".storyboard").mkdir(parents=True)
    (root / "film.yaml").write_text(FILM, encoding="utf-8")
    assert build(root / "film.yaml", backend=PreviewBackend(scale=0.1)).ok
    return root


@pytest.fixture
def built(built_once: Path, tmp_path: Path) -> Path:
    """A copy of the project built once, for this test alone."""
    root = tmp_path / "project"
    shutil.copytree(built_once, root, symlinks=True)
    return root


def _files(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder``, by its path there, with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _entries(namespace: Path) -> list[Path]:
    return sorted(p.parent for p in namespace.glob("*/*/entry.json"))


# -- clean --previews: only what storyboard made in the preview namespaces and frames ------


def test_a_cache_folder_only_named_like_a_preview_namespace_stays(
    built: Path, run_cli: Run
) -> None:
    """``preview`` and ``preview@SCALE`` are the preview's namespaces: a folder of the user's
    beside them (here a copy of one, ``preview-backup``) is not one, and stays whole."""
    root = built
    cache = root / ".storyboard" / "cache"
    backup = cache / "preview-backup"
    shutil.copytree(cache / "preview@0.1", backup)
    before = _files(backup)
    assert len(_entries(backup)) == 2

    result = run_cli("clean", "film.yaml", "--previews", cwd=root)

    assert result.status == 0, result.err
    assert not (cache / "preview@0.1").exists()
    assert _files(backup) == before


def test_what_is_only_named_like_a_shard_of_a_preview_namespace_stays(
    built: Path, run_cli: Run
) -> None:
    """A shard is a folder named by exactly two hex digits: a file named so, and a folder whose
    name only starts with two, are the user's (kept, and said so)."""
    root = built
    namespace = root / ".storyboard" / "cache" / "preview@0.1"
    (namespace / "ab").write_bytes(b"my notes")
    (namespace / "cd-old").mkdir()

    result = run_cli("clean", "film.yaml", "--previews", cwd=root)

    assert result.status == 0, result.err
    assert (namespace / "ab").read_bytes() == b"my notes"
    assert (namespace / "cd-old").is_dir()
    assert f"kept .storyboard/cache/preview@0.1/ab: {KEPT}" in result.err
    assert f"kept .storyboard/cache/preview@0.1/cd-old: {KEPT}" in result.err
    assert _entries(namespace) == []


def test_folders_shaped_like_entries_where_the_cache_puts_none_stay(
    built: Path, run_cli: Run
) -> None:
    """An entry is ``<key[:2]>/<key>/``: a copy of one under another shard, and a folder in a
    shard that is no key (holding a ``0.mp4``), are not the cache's, and stay byte for byte."""
    root = built
    namespace = root / ".storyboard" / "cache" / "preview@0.1"
    entry = _entries(namespace)[0]
    shard = entry.parent
    misplaced = shard / ("0" * 64 if shard.name != "00" else "1" * 64)
    shutil.copytree(entry, misplaced)
    mine = shard / f"{shard.name}-my-cut"
    mine.mkdir()
    (mine / "0.mp4").write_bytes(b"my video")
    theirs = [p for folder in (misplaced, mine) for p in sorted(folder.iterdir())]
    before = {p: p.read_bytes() for p in theirs}
    assert len(before) == 3

    result = run_cli("clean", "film.yaml", "--previews", cwd=root)

    assert result.status == 0, result.err
    assert {p: p.read_bytes() for p in theirs if p.is_file()} == before
    assert _entries(namespace) == [misplaced] and not entry.exists()


def test_a_file_whose_name_only_starts_like_a_frame_or_a_result_stays(
    built: Path, run_cli: Run
) -> None:
    """A hand-off frame's name, or a result's (``0.mp4``, read when the entry's record is
    damaged), is the whole name: a copy beside it with more after the name is the user's."""
    root = built
    frames = root / ".storyboard" / "frames"
    (made,) = frames.iterdir()
    copy = frames / f"{made.name}.orig"
    shutil.copyfile(made, copy)
    entry = _entries(root / ".storyboard" / "cache" / "preview@0.1")[0]
    (entry / "entry.json").write_text("{not json")
    (entry / "0.mp4.notes").write_text("mine")

    result = run_cli("clean", "film.yaml", "--previews", cwd=root)

    assert result.status == 0, result.err
    assert not made.exists() and copy.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in frames.iterdir()) == [copy.name]
    assert sorted(p.name for p in entry.iterdir()) == ["0.mp4.notes"]
    assert f"kept .storyboard/frames/{copy.name}: {KEPT}" in result.err


def test_clean_waits_for_no_build_and_removes_nothing_while_one_runs(
    built: Path, run_cli: Run
) -> None:
    """Cleaning takes the project lock: while a build holds it, nothing is pulled from under
    it (the build folder, the previews and the frames stay), and it is said why."""
    root = built
    film = root / "film.yaml"
    before = _files(root)
    workspace = Workspace.for_storyboard(film, find_project_root(film), None)
    running = "another build of this project is running"
    with ProjectLock(workspace), pytest.raises(BuildError, match=running):
        clean(film, previews=True)
    assert _files(root) == before
    assert (root / "build" / "film" / "preview" / "film.mp4").is_file()


# -- finish: what a build writes after the takes ------------------------------------------

ONE = """\
storyboard: 1
title: Finish
shots:
  - {id: a, duration: 3, prompt: a harbour at dawn}
"""


TWO = """\
storyboard: 1
title: Two shots
shots:
  - {id: a, duration: 3, prompt: a lighthouse at dusk}
  - {id: b, duration: 3, prompt: a boat far out at sea}
"""


def _preview() -> PreviewBackend:
    return PreviewBackend(scale=1 / 12)


def _png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), color).save(buffer, "PNG")
    return buffer.getvalue()


def _out(film: Path) -> Path:
    return film.parent / "build" / film.stem / "preview"


def test_exports_removed_since_the_last_build_are_written_again(project: Project) -> None:
    """The exports are remembered by the record's content, and written again when one of
    them is missing, though the record did not change (the second build's record, its take
    cached, is the third's); what the finish remembers did not change: its note is not
    written again."""
    film = project({"film.yaml": ONE}) / "film.yaml"
    assert build(film, backend=_preview()).ok
    assert build(film, backend=_preview()).ok
    out = _out(film)
    note = (out / ".cut.json").stat().st_mtime_ns
    made = {name: (out / name).read_bytes() for name in ("film.otio", "film.edl", "film.fcpxml")}
    for name in made:
        (out / name).unlink()
    assert build(film, backend=_preview()).ok
    assert {name: (out / name).read_bytes() for name in made} == made
    assert (out / ".cut.json").stat().st_mtime_ns == note


@pytest.mark.parametrize("music", ["{file: bed.wav}", "{file: bed.wav, fade_in: 0.5}"])
def test_a_music_file_replaced_under_its_name_is_cut_again(
    project: Project, tmp_path: Path, music: str
) -> None:
    """The film's key holds the music's content, not its name (a film of the plain language
    and one with a faded cue alike): another bed under the same name is heard in the film."""
    bed = tone(tmp_path / "bed.wav", 3.0, 440, 0.2)
    film = project({"film.yaml": ONE + f"cut:\n  music: {music}\n", "bed.wav": bed}) / "film.yaml"
    first = build(film, backend=_preview())
    assert first.ok and first.film is not None
    cut = first.film.read_bytes()
    (film.parent / "bed.wav").write_bytes(tone(tmp_path / "other.wav", 3.0, 880, 0.2))
    again = build(film, backend=_preview())
    assert again.ok and again.film == first.film
    assert again.film.read_bytes() != cut


class Killed(Exception):
    """A build stopped right after its new film was moved into place."""


def test_a_build_stopped_after_its_new_film_went_in_never_passes_it_off_as_the_old_one(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before a new film is cut, the old film's key is forgotten: a build stopped after the new
    film is in place, before it remembers the new key, leaves no key that the storyboard as it
    was before would match, so going back to it cuts its film again."""
    root = project({"film.yaml": TWO})
    film = root / "film.yaml"
    first = build(film, backend=_preview())
    assert first.ok and first.film is not None
    assert probe(first.film).frame_count == 6 * 24
    film.write_text(TWO + "cut:\n  clips:\n    - shot: a\n")

    def stop(*args: object) -> None:
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(finish, "_placements", stop)
        with pytest.raises(Killed):
            build(film, backend=_preview())
    assert probe(first.film).frame_count == 3 * 24  # the new film went in
    film.write_text(TWO)
    again = build(film, backend=_preview())
    assert again.ok and again.film == first.film
    assert probe(first.film).frame_count == 6 * 24


def test_a_film_using_one_word_of_the_mix_is_keyed_on_its_value(
    project: Project, tmp_path: Path
) -> None:
    """A film of the language before the mix keeps its old cut key (which holds none of the
    mix); a film that uses one word of it (a loudness, a clip's gain, a music cue ending
    before the film does, a caption, a subtitle) is keyed on that word's value, so that
    changing it cuts the film again."""
    bed = tone(tmp_path / "bed.wav", 6.0, 440, 0.2)
    root = project({"film.yaml": TWO + "cut:\n  music: {file: bed.wav}\n", "bed.wav": bed})
    result = build(root / "film.yaml", backend=_preview())
    assert result.ok and result.film is not None
    compiled = result.prepared.compiled
    videos = {t.id: result.film.parent / "takes" / f"{t.id}.mp4" for t in compiled.takes}
    info = probe(result.film)
    timeline = build_timeline(
        compiled, videos, measure_videos(videos), size=(info.width, info.height)
    )
    assert finish._plain(timeline)
    state = json.loads((result.film.parent / ".cut.json").read_text())
    assert state["key"] == finish._cut_key(timeline, result)
    end = timeline.music[0].last

    def gain(volume: float) -> Timeline:
        first, *rest = timeline.clips
        return replace(timeline, clips=(replace(first, volume=volume), *rest))

    def music_to(last: int) -> Timeline:
        return replace(timeline, music=(replace(timeline.music[0], last=last),))

    def caption(text: str) -> Timeline:
        look = Look((255, 255, 255), font_file("lato"), 12)
        return replace(timeline, overlays=(Overlay("caption", 0, 24, text, look, "bottom-left"),))

    def subtitle(text: str) -> Timeline:
        return replace(timeline, subtitles=(Subtitle(0.5, 1.5, text),))

    for one, other in [
        (replace(timeline, loudness=-16.0), replace(timeline, loudness=-20.0)),
        (gain(0.5), gain(0.25)),
        (music_to(end // 2), music_to(end // 3)),
        (caption("Dawn"), caption("Dusk")),
        (subtitle("Hold on"), subtitle("Let go")),
    ]:
        assert finish._cut_key(one, result) != finish._cut_key(other, result)


def test_another_pick_of_a_take_as_long_as_the_last_is_cut_again(project: Project) -> None:
    """The film's key holds each take video's content: another pick among a take's
    variations, as long as the video it replaces, cuts the film again (in a film of the
    plain language, and in one with a clip's gain) and draws its contact sheet again;
    nothing is made again for it."""
    plain = TWO.replace("at dusk}", "at dusk, variations: 2}")
    gain = "cut:\n  clips:\n    - {shot: a, volume: 0.5}\n    - shot: b\n"
    second = plain.replace("variations: 2}", "variations: 2, pick: 2}")
    film = project({"film.yaml": plain}) / "film.yaml"
    first = build(film, backend=_preview())
    assert first.ok and first.film is not None
    sheet = first.film.with_name("film.contact.png")
    made = [(first.film.read_bytes(), sheet.read_bytes())]
    # the gain alone need not change the bytes (the preview's takes are silent)
    for change, picked in [(second, True), (second + gain, False), (plain + gain, True)]:
        film.write_text(change)
        result = build(film, backend=_preview())
        assert result.ok and result.film == first.film
        assert {o.status for o in result.outcomes.values()} == {"cached"}
        made.append((first.film.read_bytes(), sheet.read_bytes()))
        (cut, drawn), (last_cut, last_drawn) = made[-1], made[-2]
        assert not picked or (cut != last_cut and drawn != last_drawn), change


def test_a_cut_note_of_another_version_is_not_read(project: Project) -> None:
    """``.cut.json`` of another version (its lengths of the take videos, here too short) is
    forgotten: the takes are measured again and the film cut as long as the storyboard says,
    not refused as not fitting them."""
    film = project({"film.yaml": TWO}) / "film.yaml"
    first = build(film, backend=_preview())
    assert first.ok and first.film is not None
    note = first.film.parent / ".cut.json"
    state = json.loads(note.read_text())
    assert state["version"] == finish.STATE_VERSION and len(state["sizes"]) == 2
    state["version"] = finish.STATE_VERSION - 1
    state["sizes"] = {digest: [10, 24] for digest in state["sizes"]}
    note.write_text(json.dumps(state))
    first.film.unlink()
    again = build(film, backend=_preview())
    assert again.ok and again.film == first.film
    assert probe(first.film).frame_count == 6 * 24


def _edl_clips(edl: Path) -> list[str]:
    """The clip names of an EDL's events, in order (``001  a  V  C ...``)."""
    return [line.split()[1] for line in edl.read_text().splitlines() if line[:3].isdigit()]


def test_the_exports_follow_a_change_of_the_cut(project: Project) -> None:
    """The exports are written again when the record changed, though every one of them is
    still there: after the clips are put in another order, the EDL lists them so."""
    film = project({"film.yaml": TWO}) / "film.yaml"
    assert build(film, backend=_preview()).ok
    edl = _out(film) / "film.edl"
    assert _edl_clips(edl) == ["a", "b"]
    film.write_text(TWO + "cut:\n  clips:\n    - shot: b\n    - shot: a\n")
    assert build(film, backend=_preview()).ok
    assert _edl_clips(edl) == ["b", "a"]


def test_a_font_or_a_cards_image_replaced_under_its_name_is_cut_again(project: Project) -> None:
    """A title card's font and background are keyed on their content, not their names:
    another font, then another image, under the same name, are drawn into the film."""
    card = "cut:\n  clips:\n    - title: {text: Dawn, font: t.ttf, background: back.png}\n"
    root = project(
        {
            "film.yaml": TWO + card + "    - shot: a\n",
            "t.ttf": font_file("lato").read_bytes(),
            "back.png": _png((30, 60, 90)),
        }
    )
    first = build(root / "film.yaml", backend=_preview())
    assert first.ok and first.film is not None
    cuts = [first.film.read_bytes()]
    others = {"t.ttf": font_file("lato-black").read_bytes(), "back.png": _png((200, 40, 40))}
    for name, data in others.items():
        (root / name).write_bytes(data)
        assert build(root / "film.yaml", backend=_preview()).ok
        cuts.append(first.film.read_bytes())
        assert cuts[-1] != cuts[-2], name


def test_the_subtitles_follow_the_lines_and_go_with_them(project: Project) -> None:
    """A film with lines of dialogue has its subtitle files, written again when a line
    changed; once the storyboard has none, they would be another film's: they are removed,
    not left or written empty."""
    spoken = TWO.replace(
        "at dusk}", 'at dusk, sound: true, dialogue: [{who: Keeper, says: "Hold on", at: 0.5}]}'
    )
    film = project({"film.yaml": spoken}) / "film.yaml"
    assert build(film, backend=_preview()).ok
    out = _out(film)
    assert "Hold on" in (out / "film.srt").read_text() and (out / "film.vtt").is_file()
    film.write_text(spoken.replace("Hold on", "Let go"))
    assert build(film, backend=_preview()).ok
    for name in ("film.srt", "film.vtt"):
        text = (out / name).read_text()
        assert "Let go" in text and "Hold on" not in text, name
    film.write_text(TWO)
    assert build(film, backend=_preview()).ok
    assert not (out / "film.srt").exists() and not (out / "film.vtt").exists()


# -- keep: the result a kept take keeps ------------------------------------------------------


@pytest.fixture
def paid_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], FakePaidBackend]:
    """The fake paid backend, its store of served results in ``tmp_path``."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return FakePaidBackend


def test_keep_of_a_result_only_the_records_name_is_refused_before_anything_is_sent(
    project: Project, paid_backend: Callable[[], FakePaidBackend]
) -> None:
    """The records of the last build name what a kept take was made from; with that result
    gone from the cache (and no lock file to fetch it by), nothing is left to keep: on a paid
    backend that is an error at ``keep``, and the changed request is not paid for."""
    root = project({"film.yaml": TWO})
    film = root / "film.yaml"
    assert build(film, backend=paid_backend()).ok
    (root / "film.lock").unlink()
    shutil.rmtree(root / ".storyboard" / "cache" / "fake")
    film.write_text(
        TWO.replace("{id: b, ", "{id: b, keep: true, ").replace("far out", "close to the rocks")
    )
    with pytest.raises(InputError, match="keep: take 'b' has no result in fake to keep"):
        prepare(film, backend_name="fake")
    backend = paid_backend()
    with pytest.raises(InputError, match="keep: take 'b' has no result in fake to keep"):
        build(film, backend=backend)
    assert backend.submitted == []


class OtherServer(FakePaidBackend):
    """The fake paid backend at another server: results of its own namespace."""

    namespace = "fake@other"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_kept_take_never_keeps_the_locked_result_of_another_backend(
    project: Project, paid_backend: Callable[[], FakePaidBackend]
) -> None:
    """The lock holds b's result made on one server: on another, whose results never stand in
    for the first's, b has nothing to keep, which is said before anything is sent or
    fetched."""
    root = project({"film.yaml": TWO})
    film = root / "film.yaml"
    first = paid_backend()
    assert build(film, backend=first).ok
    film.write_text(TWO.replace("{id: b, ", "{id: b, keep: true, "))
    other = OtherServer()
    other.served = first.served
    with pytest.raises(InputError, match="keep: take 'b' has no result in fake@other to keep"):
        build(film, backend=other)
    assert other.submitted == [] and other.fetched == []
    assert not (root / "build" / "film" / "fake@other").exists()


def test_a_kept_take_renamed_in_a_clone_is_fetched_by_its_request_from_the_lock(
    project: Project, paid_backend: Callable[[], FakePaidBackend], tmp_path: Path
) -> None:
    """A teammate's clone (the storyboard and the lock, no cache, no records) keeps a take
    renamed since: no entry of the lock has its id, one has its request, which is fetched,
    paying nothing."""
    root = project({"film.yaml": TWO})
    writer = paid_backend()
    assert build(root / "film.yaml", backend=writer).ok
    clone = tmp_path / "clone"
    (clone / ".storyboard").mkdir(parents=True)
    shutil.copy(root / "film.lock", clone / "film.lock")
    (clone / "film.yaml").write_text(TWO.replace("{id: b, ", "{id: boat, keep: true, "))
    teammate = paid_backend()
    teammate.served = writer.served
    result = build(clone / "film.yaml", backend=teammate)
    assert result.ok and teammate.submitted == []
    kept = clone / "build" / "film" / "fake" / "takes" / "boat.mp4"
    assert _digest(kept) == _digest(root / "build" / "film" / "fake" / "takes" / "b.mp4")


EDITED = """\
storyboard: 1
title: Kept and edited
shots:
  - {id: a, duration: 3, prompt: a lighthouse}
  - {id: b, edit: a, prompt: restyle as a watercolour}
"""


def test_an_edit_of_a_kept_take_is_not_priced_on_another_request_of_this_projects(
    project: Project, paid_backend: Callable[[], FakePaidBackend], tmp_path: Path
) -> None:
    """This project's records know a 3 s request of a; the lock, from a teammate, keeps a's
    5 s result, not in this cache. The edit of a is billed on that result's length, which is
    not known here: its cost is not guessed from the 3 s request, and a budget refuses the
    estimate it cannot check before anything is sent."""
    root = project({"film.yaml": EDITED})
    assert build(root / "film.yaml", backend=paid_backend()).ok
    teammate = tmp_path / "teammate"
    shutil.copytree(root, teammate)
    (teammate / "film.yaml").write_text(EDITED.replace("duration: 3", "duration: 5"))
    assert build(teammate / "film.yaml", backend=paid_backend()).ok
    shutil.copy(teammate / "film.lock", root / "film.lock")
    kept = EDITED.replace("{id: a, duration: 3", "{id: a, keep: true, duration: 4")
    (root / "film.yaml").write_text(kept.replace("watercolour", "oil painting"))
    costs = {i.take.id: i.cost for i in prepare(root / "film.yaml", backend_name="fake").plan.items}
    assert costs["b"] is not None and costs["b"].seconds is None
    backend = paid_backend()
    with pytest.raises(BuildError, match="cost of b is not known"):
        build(root / "film.yaml", backend=backend, max_cost=100.0)
    assert backend.submitted == [] and backend.fetched == []
