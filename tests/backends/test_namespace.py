"""Whose results a cache entry holds: previews per scale, Runware apart from any other server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard import api
from storyboard.backends.namespaces import namespace
from storyboard.backends.preview import PreviewBackend
from storyboard.backends.runware.backend import RunwareBackend
from storyboard.backends.runware.client import RunwareClient
from storyboard.build.pipeline import build
from storyboard.media.frames import extract_frame
from storyboard.media.probe import probe
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Namespaces
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, start: a.last, duration: 3, prompt: second shot}
"""


def test_namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNWARE_BASE_URL", raising=False)
    assert namespace("preview") == "preview"
    assert namespace("preview", preview_scale=0.25) == "preview@0.25"
    assert namespace("runware") == "runware"
    assert namespace("runware", base_url="https://api.runware.ai/v1/") == "runware"
    assert namespace("runware", base_url="http://127.0.0.1:8787/v1") == "runware@127.0.0.1:8787"
    assert namespace("runware", base_url="https://proxy.example/v1") == "runware@proxy.example:443"
    monkeypatch.setenv("RUNWARE_BASE_URL", "http://localhost:9/v1")
    assert namespace("runware") == "runware@localhost:9"


def test_the_backends_carry_their_namespace() -> None:
    assert PreviewBackend(scale=0.5).namespace == "preview@0.5"
    client = RunwareClient(api_key="k", base_url="http://127.0.0.1:8787/v1")
    assert RunwareBackend(client).namespace == "runware@127.0.0.1:8787"
    client = RunwareClient(api_key="k", base_url="https://api.runware.ai/v1")
    assert RunwareBackend(client).namespace == "runware"


def test_previews_at_another_scale_are_made_again_at_that_size(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNWARE_API_KEY", raising=False)
    film = project({"film.yaml": FILM}) / "film.yaml"
    assert build(film, backend=PreviewBackend(scale=0.1)).ok
    statuses = {i.take.id: i.status for i in api.plan(film, preview_scale=0.1).items}
    assert statuses == {"a": "cached", "b": "cached"}
    assert {i.status for i in api.plan(film, preview_scale=0.2).items} == {"generate"}
    result = build(film, backend=PreviewBackend(scale=0.2))
    assert {o.status for o in result.outcomes.values()} == {"generated"}
    assert result.film is not None
    info = probe(result.film)
    assert (info.width, info.height) == (384, 216)
    assert (probe(film.parent / "build/film/preview/takes/a.mp4").width) == 384


def test_results_of_another_server_never_stand_in_for_runware(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"

    class EmulatedRunware(FakePaidBackend):
        name = "runware"
        namespace = "runware@127.0.0.1:8787"

    assert build(film, backend=EmulatedRunware()).ok
    lock = (film.parent / "film.lock").read_text(encoding="utf-8")
    assert '"backend": "runware@127.0.0.1:8787"' in lock
    monkeypatch.setenv("RUNWARE_API_KEY", "a-key")
    monkeypatch.setenv("RUNWARE_BASE_URL", "http://127.0.0.1:8787/v1")
    assert {i.status for i in api.plan(film).items} == {"cached"}
    monkeypatch.delenv("RUNWARE_BASE_URL")  # the service itself: nothing of it is cached
    assert {i.status for i in api.plan(film).items} == {"generate"}


def test_a_preview_hand_off_frame_is_never_sent_to_a_paid_backend(
    project: Project, tmp_path: Path
) -> None:
    from PIL import Image

    film = project({"film.yaml": FILM}) / "film.yaml"
    assert build(film, backend=PreviewBackend(scale=0.1)).ok
    paid = FakePaidBackend()  # renders at 160x90, but is paid: frames go big enough for it
    result = build(film, backend=paid)
    assert result.ok
    (job,) = [j for j in paid.submitted if j.take == "b"]
    ((placeholder, frame),) = [(k, p) for k, p in job.files.items() if p.suffix == ".png"]
    upstream = result.outcomes[placeholder.split("/")[0].split(":")[-1]].entry
    assert upstream is not None
    expected = tmp_path / "expected.png"
    extract_frame(upstream.path(0), "last", expected)
    with Image.open(frame) as image, Image.open(expected) as last:
        # the paid take's own last frame, each pixel four times (300 px at least, the
        # model's least image), not the preview's (192x108)
        assert (last.size, image.size) == ((160, 90), (640, 360))
        assert image.resize(last.size, Image.Resampling.NEAREST).tobytes() == last.tobytes()


@pytest.mark.parametrize(
    "url", ["https:///v1", "ftp://host/v1", "https://host:99999/v1", "https://[::1/v1", "host/v1"]
)
def test_a_base_url_that_is_no_servers_is_refused_before_anything(
    url: str,
    project: Callable[[dict[str, str | bytes]], Path],
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """plan and build say so (exit 2) and write nothing: a URL without a host was retried
    six times over 30 s, a port out of range or an unclosed '[' crashed (exit 3)."""
    root = project({"film.yaml": "storyboard: 1\ntitle: T\nshots:\n  - {id: a, prompt: a quay}\n"})
    monkeypatch.setenv("RUNWARE_API_KEY", "test-key-0123456789")
    monkeypatch.setenv("RUNWARE_BASE_URL", url)
    for command in ("plan", "build"):
        result = run_cli(command, "film.yaml", cwd=root)
        assert result.status == 2, result.err
        assert "error: RUNWARE_BASE_URL is not a server's URL" in result.err
        assert sorted(p.name for p in root.rglob("*")) == [".storyboard", "film.yaml"]
