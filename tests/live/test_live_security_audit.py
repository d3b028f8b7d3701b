"""The page servers of ``storyboard watch`` and ``storyboard review`` against what a hostile
page (or a malformed request) can send, over a real loopback server and a real HTTP client: a
malformed request is a ``4xx`` or is answered as if the header were not there, never a
traceback; another site's request changes nothing."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storyboard.live import watch as watching
from storyboard.live.server import LocalServer
from tests.live.conftest import FILM


@pytest.fixture
def watched(film: Path) -> Iterator[LocalServer]:
    watch = watching.Watch(film / "film.yaml", stream=io.StringIO(), preview_scale=1 / 12)
    watch.once()
    with LocalServer(watching.make_app(watch)) as server:
        yield server


def own(server: LocalServer) -> dict[str, str]:
    return {"Origin": f"http://127.0.0.1:{server.port}"}


def no_traceback(answer: httpx.Response, capfd: pytest.CaptureFixture[str]) -> None:
    assert answer.status_code < 500, answer.text
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("digits", ["bytes={}-", "bytes=-{}", "bytes=0-{}"])
def test_a_range_of_more_digits_than_python_reads_is_not_a_traceback(
    reviewed: LocalServer, watched: LocalServer, film: Path, digits: str,
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """``int()`` refuses a number of more than 4300 digits (a ValueError): the header cannot
    be read, so the whole file is the answer, as for any other such header."""
    take = (film / "build" / "film" / "preview" / "takes" / "a.v2.mp4").read_bytes()
    header = {"Range": digits.format("1" * 5000)}
    answer = httpx.get(reviewed.url + "media/takes/a.v2.mp4", headers=header, timeout=10)
    no_traceback(answer, capfd)
    assert answer.status_code == 200 and answer.content == take
    answer = httpx.get(watched.url + "takes/a.v2.mp4", headers=header, timeout=10)
    no_traceback(answer, capfd)
    assert answer.status_code == 200 and answer.content == take


@pytest.mark.parametrize("body", ["[" * 100_000, '{"a":' * 100_000])
def test_a_json_body_nested_too_deep_to_read_is_a_400(
    reviewed: LocalServer, film: Path, body: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """``json.loads`` raises RecursionError (not ValueError) past Python's recursion limit."""
    answer = httpx.post(
        reviewed.url + "api/action", content=body,
        headers={**own(reviewed), "Content-Type": "application/json"}, timeout=10,
    )  # fmt: skip
    no_traceback(answer, capfd)
    assert answer.status_code == 400 and answer.json()["error"] == "the request is not JSON"
    assert (film / "film.yaml").read_text(encoding="utf-8") == FILM


def test_what_another_sites_page_can_send_changes_nothing(
    reviewed: LocalServer, film: Path
) -> None:
    """A form POST (urlencoded or text/plain), with the token even, from another site or with
    no Origin, or under another site's name (DNS rebinding): refused, nothing written."""
    version = httpx.get(reviewed.url + "api/state").json()["version"]
    change = json.dumps({"take": "a", "action": "pick", "value": 3, "version": version})
    url = reviewed.url + "api/action"
    evil = {"Origin": "http://evil.example", "Referer": "http://evil.example/page"}
    form = {**evil, "Content-Type": "application/x-www-form-urlencoded"}
    rebound = {
        "Content-Type": "application/json",
        "Host": f"evil.example:{reviewed.port}",
        "Origin": f"http://evil.example:{reviewed.port}",
    }
    cross = {**own(reviewed), "Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}
    untokened = f"http://127.0.0.1:{reviewed.port}/api/action"
    json_from_own = {**own(reviewed), "Content-Type": "application/json"}
    refused = [
        httpx.post(url, content=change, headers={**evil, "Content-Type": "text/plain"}),
        httpx.post(url, content=f"x={change}", headers=form),
        httpx.post(url, content=change, headers={"Content-Type": "text/plain"}),
        httpx.post(url, content=change, headers={"Content-Type": "application/json"}),
        httpx.post(url, content=change, headers=rebound),  # DNS rebinding
        httpx.post(url, content=change, headers=cross),
        httpx.post(untokened, content=change, headers=json_from_own),  # no token
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    for method in ("PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"):
        assert httpx.request(method, url, content=change, headers=evil).status_code == 403
    assert (film / "film.yaml").read_text(encoding="utf-8") == FILM


def test_a_save_in_the_editor_is_not_written_over_by_a_click_on_the_old_page(
    reviewed: LocalServer, film: Path
) -> None:
    storyboard = film / "film.yaml"
    version = httpx.get(reviewed.url + "api/state").json()["version"]
    saved = FILM.replace("# the opening", "# the opening, as the editor saved it")
    storyboard.write_text(saved, encoding="utf-8")  # saved in the editor after the page read it
    answer = httpx.post(
        reviewed.url + "api/action", headers=own(reviewed),
        json={"take": "a", "action": "pick", "value": 3, "version": version},
    )  # fmt: skip
    assert answer.status_code == 409 and answer.json()["changed"] is True
    assert storyboard.read_text(encoding="utf-8") == saved
