"""``retake`` and ``keep`` (issue 17, section 1): keys, the plan, downstream takes, errors, a
teammate's clone, the preview and a paid backend, end to end on real files."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build, prepare
from storyboard.core.errors import InputError
from storyboard.media.frames import frame_array
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult, read_lock

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Retake and keep
include: [style.yaml]
shots:
  - {id: a, duration: 3, prompt: 'a lighthouse at dusk, {{ look }}'}
  - {id: b, start: a.last, duration: 3, prompt: the keeper climbs the stairs}
  - {id: c, edit: b, prompt: restyle as a watercolour}
  - {id: d, duration: 3, prompt: a boat far out at sea}
"""
STYLE = "vars:\n  look: 35mm film grain\n"


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM, "style.yaml": STYLE}) / "film.yaml"


def edit(film: Path, old: str, new: str) -> None:
    text = film.read_text()
    assert old in text
    film.write_text(text.replace(old, new))


def statuses(film: Path, backend: str = "fake") -> dict[str, str]:
    plan = prepare(film, backend_name=backend).plan
    return {i.take.id: f"{i.status} ({i.reason})" for i in plan.items}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def takes_dir(film: Path, backend: str = "fake") -> Path:
    return film.parent / "build" / film.stem / backend / "takes"


# -- retake --------------------------------------------------------------------------------


def test_a_retake_is_a_fresh_attempt_at_the_same_request(film: Path) -> None:
    first = FakePaidBackend()
    build(film, backend=first)
    edit(film, "{id: a, duration: 3,", "{id: a, retake: 2, duration: 3,")
    plan = prepare(film, backend_name="fake").plan
    items = {i.take.id: i for i in plan.items}
    assert (items["a"].status, items["a"].reason) == ("generate", "retake 2")
    assert items["b"].reason == "upstream changed"  # it starts on the new attempt's last frame
    assert items["d"].status == "cached"
    assert plan.total == pytest.approx(0.336 + 0.336 + 0.504)  # a retake is priced
    again = FakePaidBackend()
    build(film, backend=again)
    sent = {j.take: j for j in again.submitted}
    assert sorted(sent) == ["a", "b", "c"]
    # the request sent is the very same: only the key knows it is another attempt
    original = next(j for j in first.submitted if j.take == "a")
    assert sent["a"].request == original.request and sent["a"].retake == 2
    assert sent["a"].key != original.key


def test_going_back_to_an_earlier_retake_costs_nothing(film: Path) -> None:
    build(film, backend=FakePaidBackend())
    shown = {}
    for retake in (1, 2):
        edit(film, "{id: a, ", f"{{id: a, retake: {retake}, ")
        build(film, backend=FakePaidBackend())
        shown[retake] = digest(takes_dir(film) / "a.mp4")
        edit(film, f"{{id: a, retake: {retake}, ", "{id: a, ")
    assert shown[1] != shown[2]  # the preview's card says which attempt it is
    edit(film, "{id: a, ", "{id: a, retake: 1, ")
    assert statuses(film)["a"] == "cached (in the cache)"
    assert statuses(film)["b"] == "cached (in the cache)"
    backend = FakePaidBackend()
    result = build(film, backend=backend)
    assert backend.submitted == [] and result.spent == 0
    assert digest(takes_dir(film) / "a.mp4") == shown[1]
    edit(film, "retake: 1, ", "")  # and the first attempt, retake 0, is there too
    assert set(statuses(film).values()) == {"cached (in the cache)"}


def test_retake_on_a_sequence_applies_to_each_of_its_takes(project: Project) -> None:
    text = """\
storyboard: 1
title: Sequence
shots:
  - sequence: storm
    continuity: chain
    shots:
      - {id: s1, duration: 3, prompt: the lamp dies}
      - {id: s2, duration: 3, prompt: the keeper runs}
  - {id: e, duration: 3, prompt: elsewhere}
"""
    film = project({"film.yaml": text}) / "film.yaml"
    build(film, backend=FakePaidBackend())
    edit(film, "continuity: chain\n", "continuity: chain\n    retake: 1\n")
    reasons = statuses(film)
    assert reasons == {
        "s1": "generate (retake 1)",
        "s2": "generate (upstream changed)",  # chained on s1, and a retake itself
        "e": "cached (in the cache)",
    }
    backend = FakePaidBackend()
    build(film, backend=backend)
    assert {j.take: j.retake for j in backend.submitted} == {"s1": 1, "s2": 1}


# -- keep ----------------------------------------------------------------------------------


def test_a_kept_take_stays_in_the_film_when_its_prompt_changes(film: Path) -> None:
    build(film, backend=FakePaidBackend())
    before = {p.name: digest(p) for p in takes_dir(film).iterdir()}
    edit(film, "the keeper climbs the stairs", "the keeper runs up the stairs")
    edit(film, "{id: b, ", "{id: b, keep: true, ")
    plan = prepare(film, backend_name="fake").plan
    items = {i.take.id: i for i in plan.items}
    assert (items["b"].status, items["b"].reason) == ("kept", "prompt changed since")
    assert items["b"].amount == 0.0
    assert items["c"].status == "cached"  # keyed on the kept result: nothing to make again
    assert plan.total == 0 and plan.chargeable == 0
    backend = FakePaidBackend()
    result = build(film, backend=backend)
    assert result.ok and backend.submitted == [] and backend.fetched == []
    assert {p.name: digest(p) for p in takes_dir(film).iterdir()} == before
    assert result.film is not None and result.film.is_file()
    # the next plan still knows what the kept result was made from
    assert statuses(film)["b"] == "kept (prompt changed since)"
    # and without keep, the changed prompt is made, and what depends on it
    edit(film, "{id: b, keep: true, ", "{id: b, ")
    assert statuses(film)["b"] == "generate (prompt or setting changed)"
    assert statuses(film)["c"] == "generate (upstream changed)"


def test_keep_holds_through_a_shared_include_and_an_upstream_change(film: Path) -> None:
    build(film, backend=FakePaidBackend())
    (film.parent / "style.yaml").write_text("vars:\n  look: hand-painted watercolour\n")
    edit(film, "{id: a, ", "{id: a, keep: true, ")
    assert statuses(film)["a"] == "kept (prompt changed since)"
    assert statuses(film)["b"] == "cached (in the cache)"
    edit(film, "{id: a, keep: true, ", "{id: a, ")
    edit(film, "{id: b, ", "{id: b, keep: true, ")
    reasons = statuses(film)
    assert reasons["a"] == "generate (prompt or setting changed)"
    assert reasons["b"] == "kept (upstream changed since)"
    assert reasons["c"] == "cached (in the cache)"  # downstream of the kept b
    backend = FakePaidBackend()
    build(film, backend=backend)
    assert [j.take for j in backend.submitted] == ["a"]


def test_keep_with_no_result_yet_is_an_error_at_the_value_and_nothing_is_sent(
    film: Path,
) -> None:
    edit(film, "{id: d, ", "{id: d, keep: true, ")
    with pytest.raises(InputError) as caught:
        prepare(film, backend_name="fake")
    (problem,) = caught.value.diagnostics
    assert str(problem.position).endswith("film.yaml:8:19")
    assert "keep: take 'd' has no result in fake to keep" in problem.message
    backend = FakePaidBackend()
    with pytest.raises(InputError):
        build(film, backend=backend)
    assert backend.submitted == []
    assert not (film.parent / "build").exists() and not (film.parent / "film.lock").exists()


def test_keep_on_a_sequence_keeps_each_of_its_takes(project: Project) -> None:
    text = """\
storyboard: 1
title: Sequence
shots:
  - sequence: storm
    continuity: chain
    shots:
      - {id: s1, duration: 3, prompt: the lamp dies}
      - {id: s2, duration: 3, prompt: the keeper runs}
  - {id: e, start: s2.last, duration: 3, prompt: after the storm}
"""
    film = project({"film.yaml": text}) / "film.yaml"
    build(film, backend=FakePaidBackend())
    edit(film, "the lamp dies", "the lamp flickers and dies")
    edit(film, "continuity: chain\n", "continuity: chain\n    keep: true\n")
    assert statuses(film) == {
        "s1": "kept (prompt changed since)",
        "s2": "kept (nothing changed since)",  # keyed on the kept s1: the same request
        "e": "cached (in the cache)",
    }


def test_a_teammates_clone_finds_the_kept_result_in_the_lock(film: Path, tmp_path: Path) -> None:
    writer = FakePaidBackend()
    build(film, backend=writer)
    edit(film, "the keeper climbs the stairs", "the keeper runs up the stairs")
    edit(film, "{id: b, ", "{id: b, keep: true, ")
    build(film, backend=FakePaidBackend())
    kept = read_lock(film.parent / "film.lock")["b"]
    # the clone: the storyboard, its include and the lock; no cache, no records
    clone = tmp_path / "clone"
    (clone / ".storyboard").mkdir(parents=True)
    for name in ("film.yaml", "style.yaml", "film.lock"):
        shutil.copy(film.parent / name, clone / name)
    reasons = statuses(clone / "film.yaml")
    assert reasons["b"] == (
        "kept (its request changed since, or this project has no record of the one it was "
        "made from (found in the lock file); download from the lock)"
    )
    assert reasons["c"] == "locked (download from the lock)"
    teammate = FakePaidBackend()
    teammate.served = writer.served  # the provider's store of result URLs
    result = build(clone / "film.yaml", backend=teammate)
    assert result.ok and teammate.submitted == []
    assert {o.status for o in result.outcomes.values()} == {"locked"}
    assert digest(takes_dir(clone / "film.yaml") / "b.mp4") == digest(takes_dir(film) / "b.mp4")
    assert read_lock(clone / "film.lock")["b"] == kept


def test_keep_on_the_preview(film: Path) -> None:
    preview = PreviewBackend(scale=1 / 12)
    space = preview.namespace
    edit(film, "{id: d, ", "{id: d, keep: true, ")
    # nothing to keep in the preview yet: free, so made from the current request
    assert statuses(film, space)["d"] == (
        f"generate (kept, but nothing to keep yet in {space}: made from the current request, free)"
    )
    assert build(film, backend=preview).ok
    first = frame_array(takes_dir(film, "preview") / "d.mp4", 36)
    edit(film, "a boat far out at sea", "a boat close to the rocks")
    assert statuses(film, space)["d"] == "kept (prompt changed since)"
    assert build(film, backend=PreviewBackend(scale=1 / 12)).ok
    assert (frame_array(takes_dir(film, "preview") / "d.mp4", 36) == first).all()
    # a paid backend keeps only its own results: the preview's is not a paid one
    with pytest.raises(InputError, match="has no result in fake to keep"):
        prepare(film, backend_name="fake")


def test_plan_explain_says_what_changed_since_the_kept_result(
    film: Path, run_cli: Callable[..., CliResult]
) -> None:
    build(film, backend=PreviewBackend(scale=0.25))
    edit(film, "the keeper climbs the stairs", "the keeper runs up the stairs")
    edit(film, "{id: b, ", "{id: b, keep: true, ")
    out = run_cli("plan", str(film), "--backend", "preview", "--explain", "b")
    assert out.status == 0, out.err
    assert out.out.splitlines() == [
        "take 'b' (shot b) in preview@0.25: kept (prompt changed since)",
        "the film keeps the result made before these changes (found in the records of the "
        "last build here):",
        "  the prompt of shot 'b': the keeper [-climbs-]{+runs up+} the stairs",
        "cost: $0.0000 while it is kept; made from the current request: $0.3360 (remove 'keep')",
    ]
    plain = run_cli("plan", str(film), "--backend", "preview", "--explain", "c")
    assert plain.out.splitlines()[0] == "take 'c' (shot c) in preview@0.25: cached (in the cache)"
    unknown = run_cli("plan", str(film), "--explain", "nope")
    assert unknown.status == 2 and "--explain: unknown shot or take 'nope'" in unknown.err


def test_a_kept_take_is_not_found_in_another_backends_lock_entry(
    film: Path, tmp_path: Path
) -> None:
    """keep reads the lock's entry of the backend being built, never another's: a result made
    elsewhere (a preview, another server) is not this backend's take. A mutation audit found
    no test held it (a kept take would have been another backend's result, reused)."""
    build(film, backend=FakePaidBackend())
    edit(film, "the keeper climbs the stairs", "the keeper runs up the stairs")
    edit(film, "{id: b, ", "{id: b, keep: true, ")
    build(film, backend=FakePaidBackend())
    clone = tmp_path / "clone"
    (clone / ".storyboard").mkdir(parents=True)
    for name in ("film.yaml", "style.yaml"):
        shutil.copy(film.parent / name, clone / name)
    lock = (film.parent / "film.lock").read_text()
    assert '"backend": "fake"' in lock
    (clone / "film.lock").write_text(lock.replace('"backend": "fake"', '"backend": "elsewhere"'))
    with pytest.raises(InputError, match="keep: take 'b' has no result in fake to keep"):
        prepare(clone / "film.yaml", backend_name="fake")
