"""The build: executor, cache, lock file, journal and the preview backend, end to end."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build, prepare
from storyboard.build.state.workspace import ProjectLock, Workspace
from storyboard.core.errors import BuildError
from storyboard.media.frames import all_frames, frame_array
from storyboard.media.probe import probe
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult, read_lock, tiny_jpeg

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Build test
defaults: {sound: true}
shots:
  - sequence: open
    shots:
      - {id: a, duration: 2, prompt: first shot}
      - {id: b, duration: 2, prompt: second shot}
  - {id: c, start: b.last, duration: 3, prompt: third shot}
  - {id: d, start: still.jpg, duration: 3, prompt: fourth shot, sound: false}
  - {id: e, edit: c, prompt: restyle the third}
"""


def preview() -> PreviewBackend:
    return PreviewBackend(scale=1 / 12)


@pytest.fixture
def film(project: Project) -> Path:
    root = project({"film.yaml": FILM, "still.jpg": tiny_jpeg(640, 360)})
    return root / "film.yaml"


def test_preview_build_writes_exact_takes(film: Path) -> None:
    result = build(film, backend=preview())
    assert result.ok and {o.status for o in result.outcomes.values()} == {"generated"}
    takes = film.parent / "build" / "film" / "preview" / "takes"
    assert sorted(p.name for p in takes.iterdir()) == ["c.mp4", "d.mp4", "e.mp4", "open.mp4"]
    facts = {p.stem: probe(p) for p in takes.iterdir()}
    assert facts["open"].frame_count == 96 and facts["open"].fps == 24
    assert facts["c"].duration_s == 3 and facts["c"].has_audio
    assert not facts["d"].has_audio  # sound: false
    assert facts["e"].duration_s == 3  # an edit takes its source's length
    assert (facts["open"].width, facts["open"].height) == (160, 90)
    requests = sorted(
        p.name for p in (film.parent / "build" / "film" / "preview" / "requests").iterdir()
    )
    assert requests == ["c.json", "d.json", "e.json", "open.json"]


def test_handoff_starts_on_the_exact_last_frame(film: Path) -> None:
    build(film, backend=preview())
    takes = film.parent / "build" / "film" / "preview" / "takes"
    decoded = all_frames(takes / "open.mp4")
    last = frame_array(takes / "open.mp4", "last")
    assert np.array_equal(last, decoded[-1])  # `.last` is the last decoded frame
    first_of_c = frame_array(takes / "c.mp4", "first").astype(int)
    # c's first frame is open's last frame, through one more lossy encode
    assert np.abs(first_of_c - last.astype(int)).mean() < 6
    assert np.abs(first_of_c - decoded[0].astype(int)).mean() > np.abs(first_of_c - last).mean()


def test_second_build_generates_nothing(film: Path) -> None:
    backend = FakePaidBackend()
    build(film, backend=backend)
    assert len(backend.submitted) == 4
    lock_before = (film.parent / "film.lock").read_text()
    again = FakePaidBackend()
    result = build(film, backend=again)
    assert again.submitted == [] and again.fetched == []
    assert {o.status for o in result.outcomes.values()} == {"cached"}
    assert (film.parent / "film.lock").read_text() == lock_before


def test_changing_a_prompt_regenerates_that_take_and_its_dependents(film: Path) -> None:
    build(film, backend=FakePaidBackend())
    film.write_text(FILM.replace("third shot", "third shot at night"))
    plan = prepare(film, backend_name="fake").plan
    status = {i.take.id: (i.status, i.reason) for i in plan.items}
    assert status == {
        "open": ("cached", "in the cache"),
        "c": ("generate", "prompt or setting changed"),
        "d": ("cached", "in the cache"),
        "e": ("generate", "upstream changed"),
    }
    backend = FakePaidBackend()
    build(film, backend=backend)
    assert sorted(j.take for j in backend.submitted) == ["c", "e"]


def test_changed_input_bytes_are_the_reason(film: Path) -> None:
    build(film, backend=FakePaidBackend())
    (film.parent / "still.jpg").write_bytes(tiny_jpeg(640, 360, color=(200, 0, 0)))
    status = {i.take.id: i.reason for i in prepare(film, backend_name="fake").plan.items}
    assert status["d"] == "input bytes changed"


def test_changed_element_image_bytes_are_the_reason(project: Project) -> None:
    text = (
        "storyboard: 1\ntitle: Elements\nelements:\n  hero: {frontal_image: hero.jpg}\n"
        "shots:\n  - {id: a, duration: 3, prompt: '<<<hero>>> runs'}\n"
    )
    root = project({"film.yaml": text, "hero.jpg": tiny_jpeg()})
    build(root / "film.yaml", backend=FakePaidBackend())
    (root / "hero.jpg").write_bytes(tiny_jpeg(color=(200, 0, 0)))
    (item,) = prepare(root / "film.yaml", backend_name="fake").plan.items
    assert (item.status, item.reason) == ("generate", "input bytes changed")
    # a take that uses the element and starts on that take: both changed
    (root / "film.yaml").write_text(
        text + "  - {id: b, start: a.last, duration: 3, prompt: '<<<hero>>> stops'}\n"
    )
    build(root / "film.yaml", backend=FakePaidBackend())
    (root / "hero.jpg").write_bytes(tiny_jpeg(color=(0, 0, 200)))
    reasons = {
        i.take.id: i.reason for i in prepare(root / "film.yaml", backend_name="fake").plan.items
    }
    assert reasons == {"a": "input bytes changed", "b": "upstream and input bytes changed"}
    (root / "film.yaml").write_text(text)
    (root / "film.yaml").write_text(text.replace("runs", "walks"))
    (item,) = prepare(root / "film.yaml", backend_name="fake").plan.items
    assert item.reason == "prompt or setting changed"


def test_a_new_pick_regenerates_only_what_starts_on_it(project: Project) -> None:
    text = (
        "storyboard: 1\ntitle: Pick\nshots:\n"
        "  - {id: a, duration: 3, prompt: first, variations: 2}\n"
        "  - {id: b, start: a.last, duration: 3, prompt: second}\n"
    )
    root = project({"film.yaml": text})
    backend = FakePaidBackend()
    build(root / "film.yaml", backend=backend)
    (root / "film.yaml").write_text(text.replace("variations: 2", "variations: 2, pick: 2"))
    reasons = {
        i.take.id: i.reason for i in prepare(root / "film.yaml", backend_name="fake").plan.items
    }
    assert reasons["b"] == "upstream changed"
    again = FakePaidBackend()
    result = build(root / "film.yaml", backend=again)
    assert [j.take for j in again.submitted] == ["b"]
    assert result.outcomes["a"].status == "cached"
    takes = root / "build/film/fake/takes"
    assert sorted(p.name for p in takes.iterdir()) == ["a.mp4", "a.v1.mp4", "b.mp4"]
    # b starts on the last frame of a's second video now
    takes = root / "build/film/fake/takes"
    first = frame_array(takes / "b.mp4", "first").astype(int)
    picked = frame_array(takes / "a.mp4", "last").astype(int)
    other = frame_array(takes / "a.v1.mp4", "last").astype(int)
    assert np.abs(first - picked).mean() < np.abs(first - other).mean()


def test_lock_lets_a_fresh_clone_download_instead_of_paying(film: Path) -> None:
    backend = FakePaidBackend()
    build(film, backend=backend)
    lock = read_lock(film.parent / "film.lock")
    assert sorted(lock) == ["c", "d", "e", "open"]
    entry = lock["c"]
    assert entry["cost"] == 3.0 and len(entry["results"][0]["sha256"]) == 64
    shutil.rmtree(film.parent / ".storyboard")  # a fresh clone: lock, no cache
    clone = FakePaidBackend()
    clone.served = backend.served
    result = build(film, backend=clone)
    assert clone.submitted == []
    assert len(clone.fetched) == 4
    assert {o.status for o in result.outcomes.values()} == {"locked"}


def test_a_locked_result_that_is_gone_is_priced_and_made_again_by_the_next_build(
    film: Path,
) -> None:
    from storyboard.core.errors import ProviderError

    backend = FakePaidBackend()
    build(film, backend=backend)
    shutil.rmtree(film.parent / ".storyboard")  # a fresh clone, long after: c's URL expired
    expired = read_lock(film.parent / "film.lock")["c"]["results"][0]

    class Expired(ProviderError):
        status_code = 404

    clone = FakePaidBackend()
    clone.served = {u: p for u, p in backend.served.items() if u != expired["url"]}

    async def fetch(url: str, dest: Path) -> None:
        if url == expired["url"]:
            raise Expired(f"download of {url} failed: HTTP 404")
        await FakePaidBackend.fetch(clone, url, dest)

    clone.fetch = fetch  # type: ignore[method-assign]
    result = build(film, backend=clone, keep_going=True)
    assert clone.submitted == []  # nothing paid for without a plan that says so
    assert result.outcomes["c"].status == "failed"
    assert "no longer served" in result.outcomes["c"].message
    lock = read_lock(film.parent / "film.lock")
    assert sorted(lock) == ["d", "e", "open"]  # c left the lock; e (its edit) kept its entry
    plan = {i.take.id: i for i in prepare(film, backend_name="fake").plan.items}
    assert plan["c"].status == "generate" and plan["c"].cost.amount == pytest.approx(3 * 0.14)
    again = FakePaidBackend()
    again.served = clone.served  # e, skipped above, still comes from the lock
    assert build(film, backend=again).ok
    assert sorted(j.take for j in again.submitted) == ["c"]


def test_corrupt_cache_entry_is_a_miss(film: Path) -> None:
    build(film, backend=preview())
    namespace = preview().namespace
    entry = next((film.parent / ".storyboard" / "cache" / namespace).glob("*/*/0.mp4"))
    entry.write_bytes(b"garbage")
    result = build(film, backend=preview())
    regenerated = [o.take for o in result.outcomes.values() if o.status == "generated"]
    assert len(regenerated) == 1


def test_failure_skips_dependents_and_says_how_to_resume(
    film: Path, run_cli: Callable[..., CliResult]
) -> None:
    backend = FakePaidBackend(fail={"c"})
    notes: list[str] = []
    result = build(film, backend=backend, keep_going=True, emit=lambda e: notes.append(str(e)))
    status = {k: o.status for k, o in result.outcomes.items()}
    assert status == {"open": "generated", "c": "failed", "d": "generated", "e": "skipped"}
    assert "the provider refused take c" in result.outcomes["c"].message
    assert any("again to resume" in n for n in notes)
    # the refused request is over: the next build may mint a new UUID
    first_uuid = backend.submitted[-1].task_uuid if backend.submitted[-1].take == "c" else None
    retry = FakePaidBackend()
    build(film, backend=retry)
    assert [j.take for j in retry.submitted] == ["c", "e"]
    assert retry.submitted[0].task_uuid != first_uuid and not retry.submitted[0].resumed


def test_without_keep_going_nothing_new_starts(film: Path) -> None:
    backend = FakePaidBackend(fail={"open"})
    result = build(film, backend=backend, jobs=1)
    assert result.outcomes["open"].status == "failed"
    assert all(o.status == "skipped" for k, o in result.outcomes.items() if k != "open")
    assert [j.take for j in backend.submitted] == ["open"]


def test_independent_takes_run_at_the_same_time(film: Path) -> None:
    backend = FakePaidBackend(delay=0.3)
    build(film, backend=backend, jobs=4)
    assert backend.most_running >= 2
    serial = FakePaidBackend(delay=0.05)
    shutil.rmtree(film.parent / ".storyboard")
    (film.parent / "film.lock").unlink()
    build(film, backend=serial, jobs=1)
    assert serial.most_running == 1


def test_max_cost_refuses_before_sending(film: Path) -> None:
    backend = FakePaidBackend()
    with pytest.raises(BuildError, match="over --max-cost"):
        build(film, backend=backend, max_cost=1.0)
    assert backend.submitted == []
    assert not (film.parent / "build").exists()


def test_max_cost_refuses_an_estimate_it_cannot_check(project: Project) -> None:
    text = (
        "storyboard: 1\ntitle: Remote edit\nshots:\n"
        "  - {id: x, edit: 'https://assets.example/in.mp4', prompt: restyle it}\n"
    )
    root = project({"film.yaml": text})
    backend = FakePaidBackend()
    with pytest.raises(BuildError, match="cost of x is not known"):
        build(root / "film.yaml", backend=backend, max_cost=100.0)
    assert backend.submitted == [] and not (root / "build").exists()


def test_runware_without_a_key_is_a_usage_error(
    film: Path, run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNWARE_API_KEY", raising=False)
    result = run_cli("build", str(film), "--backend", "runware")
    assert result.status == 2 and "needs a Runware API key" in result.err
    assert not (film.parent / "build").exists()


def test_select_builds_only_what_is_named(film: Path) -> None:
    backend = FakePaidBackend()
    build(film, backend=backend, select=["+c"])
    assert sorted(j.take for j in backend.submitted) == ["c", "open"]
    backend = FakePaidBackend()
    build(film, backend=backend, select=["c+"])
    assert sorted(j.take for j in backend.submitted) == ["e"]


def test_a_second_build_of_the_project_is_refused(film: Path) -> None:
    checked = prepare(film, backend_name="preview")
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with ProjectLock(checked.workspace):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    try:
        with pytest.raises(BuildError, match="another build of this project is running"):
            build(film, backend=preview())
    finally:
        release.set()
        thread.join()
    assert not (film.parent / "build").exists()


def test_journal_resumes_a_pending_task_with_the_same_uuid(film: Path) -> None:
    prepared = prepare(film, backend_name="fake")
    workspace: Workspace = prepared.workspace
    from storyboard.build.state.journal import Journal

    journal = Journal(workspace.journal, backend="fake", endpoint="fake://")
    journal.submit("open", prepared.keys["open"], "11111111-2222-4333-8444-555555555555")
    backend = FakePaidBackend()
    build(film, backend=backend)
    job = next(j for j in backend.submitted if j.take == "open")
    assert job.task_uuid == "11111111-2222-4333-8444-555555555555" and job.resumed
    assert all(not j.resumed for j in backend.submitted if j.take != "open")
    assert (
        Journal(workspace.journal, backend="fake", endpoint="fake://").pending(
            prepared.keys["open"]
        )
        is None
    )


def test_build_cli_exit_status_and_json(film: Path, run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("build", str(film), "--backend", "preview", "--json", "--preview-scale", "0.1")
    assert result.status == 0, result.err
    data = json.loads(result.out)
    assert data["ok"] and data["backend"] == "preview" and len(data["takes"]) == 4
    again = run_cli("build", str(film), "--backend", "preview", "--preview-scale", "0.1")
    assert again.status == 0
    assert again.err.count(": cached") == 4


def test_build_cuts_the_film_and_writes_its_exports(film: Path) -> None:
    result = build(film, backend=preview())
    out = film.parent / "build" / "film" / "preview"
    assert result.film == out / "film.mp4"
    facts = probe(out / "film.mp4")
    # default cut: every shot in story order, hard cuts (open 2+2, c 3, d 3, e 3)
    assert facts.frame_count == 13 * 24 and (facts.width, facts.height) == (160, 90)
    assert facts.audio_duration_s == pytest.approx(facts.duration_s, abs=1 / 24)
    record = json.loads((out / "build.json").read_text())
    assert [c["shot"] for c in record["clips"]] == ["a", "b", "c", "d", "e"]
    assert (out / "film.otio").is_file() and (out / "film.contact.png").is_file()


def test_no_op_build_does_not_recut_and_a_cut_change_regenerates_nothing(film: Path) -> None:
    build(film, backend=preview())
    movie = film.parent / "build" / "film" / "preview" / "film.mp4"
    stamp = movie.stat().st_mtime_ns
    build(film, backend=preview())
    assert movie.stat().st_mtime_ns == stamp  # nothing changed: nothing re-cut
    film.write_text(FILM + "cut:\n  clips:\n    - shot: c\n    - {shot: a, in: 0.5}\n")
    result = build(film, backend=preview())
    assert {o.status for o in result.outcomes.values()} == {"cached"}
    assert movie.stat().st_mtime_ns != stamp
    assert probe(movie).frame_count == 3 * 24 + 36
