"""The page servers of ``storyboard watch`` and ``storyboard review``: the decisions a mutation
audit of ``storyboard/live/server.py``, ``review.py`` and the serving part of ``watch.py``
found no test for. Over a real loopback server (``127.0.0.1`` only) and a real HTTP client:
the guard's answers, the byte ranges a ``<video>`` asks, the files served (only those the
marker lists), the clicks (only a known change, on the storyboard, refused with a ``4xx``)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from storyboard.live import review as reviewing
from storyboard.live import watch as watching
from storyboard.live.edit import CHANGED, FileChanged
from storyboard.live.server import LocalServer, new_token
from tests.live.conftest import FILM
from tests.live.test_serving_links import serving, start_watch

TAKE = "takes/a.v2.mp4"


def own(server: LocalServer) -> dict[str, str]:
    return {"Origin": f"http://127.0.0.1:{server.port}"}


def preview(film: Path) -> Path:
    return film / "build" / "film" / "preview"


def click(server: LocalServer, **change: Any) -> httpx.Response:
    """A button's request, as the page sends it (its own Origin, JSON, the version now)."""
    version = httpx.get(server.url + "api/state").json()["version"]
    body = {"version": version, **change}
    return httpx.post(server.url + "api/action", headers=own(server), json=body, timeout=10)


@pytest.fixture
def watched(film: Path) -> Iterator[tuple[watching.Watch, str]]:
    watch, _ = start_watch(film)
    with serving(watch) as url:
        yield watch, url


# -- the guard ------------------------------------------------------------------------------


def test_the_server_listens_on_loopback_only_with_a_token_of_128_bits() -> None:
    tokens = {new_token() for _ in range(8)}
    assert len(tokens) == 8 and all(len(t) >= 22 for t in tokens)  # 16 random bytes
    with LocalServer(Starlette(), token="t0ken") as server:
        assert server._sock.getsockname()[0] == "127.0.0.1"
        assert server.url == f"http://127.0.0.1:{server.port}/t0ken/"


def test_a_host_without_the_pages_port_or_with_another_is_refused(
    reviewed: LocalServer,
) -> None:
    for host in ("127.0.0.1", "localhost", f"127.0.0.1:{reviewed.port + 1}", "[::1]"):
        answer = httpx.get(reviewed.url, headers={"Host": host})
        assert answer.status_code == 403 and "Review test" not in answer.text, host


def test_a_method_that_may_change_anything_needs_the_pages_origin(
    reviewed: LocalServer, film: Path
) -> None:
    for method in ("OPTIONS", "PUT", "DELETE", "PATCH"):
        answer = httpx.request(method, reviewed.url + "api/action", content="{}")
        assert answer.status_code == 403 and "no Origin" in answer.text, method
    assert (film / "film.yaml").read_text(encoding="utf-8") == FILM


def test_only_a_navigation_to_a_document_is_let_in_from_another_site(
    reviewed: LocalServer,
) -> None:
    cross = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "document"}
    for mode in ("no-cors", "cors", "same-origin"):
        answer = httpx.get(reviewed.url, headers={**cross, "Sec-Fetch-Mode": mode})
        assert answer.status_code == 403 and "Review test" not in answer.text, mode
    post = httpx.post(
        reviewed.url, headers={**cross, "Sec-Fetch-Mode": "navigate", **own(reviewed)}
    )
    assert post.status_code == 403


def test_the_token_without_its_final_slash_is_refused(reviewed: LocalServer) -> None:
    answer = httpx.get(reviewed.url.rstrip("/"))
    assert answer.status_code == 403 and "with a final /" in answer.text


def test_every_answer_says_no_store_no_referrer_no_sniffing_no_framing(
    reviewed: LocalServer, film: Path
) -> None:
    root = f"http://127.0.0.1:{reviewed.port}/"
    answers = {
        "refused": httpx.get(root),
        "page": httpx.get(reviewed.url),
        "state": httpx.get(reviewed.url + "api/state"),
        "video": httpx.get(reviewed.url + "media/" + TAKE),
        "missing": httpx.get(reviewed.url + "media/film.yaml"),
    }
    assert [a.status_code for a in answers.values()] == [403, 200, 200, 200, 404]
    for what, answer in answers.items():
        assert answer.headers["cache-control"] == "no-store", what
        assert answer.headers["referrer-policy"] == "no-referrer", what
        assert answer.headers["x-content-type-options"] == "nosniff", what
        assert answer.headers["x-frame-options"] == "DENY", what
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], what
    # the page's own policy: no script but its own, nothing sent elsewhere
    assert answers["page"].headers.get_list("content-security-policy") == [reviewing.PAGE_POLICY]


# -- byte ranges ----------------------------------------------------------------------------


def ranged(server: LocalServer, header: str, **more: str) -> httpx.Response:
    return httpx.get(server.url + "media/" + TAKE, headers={"Range": header, **more}, timeout=10)


def test_a_byte_range_is_answered_exactly(reviewed: LocalServer, film: Path) -> None:
    data = (preview(film) / TAKE).read_bytes()
    size = len(data)
    expected = {  # header: (status, first byte, end excluded)
        "bytes=10-": (206, 10, size),
        "bytes=5-5": (206, 5, 6),
        f"bytes={size - 1}-": (206, size - 1, size),
        "bytes=-7": (206, size - 7, size),
        f"bytes=-{size * 10}": (206, 0, size),  # more than the file: all of it
        f"bytes=0-{size * 10}": (206, 0, size),  # past the end: up to it
        "bytes=-": (200, 0, size),  # no range: the whole file
        "bytes=9-3": (200, 0, size),  # not a range: ignored
    }
    for header, (status, start, end) in expected.items():
        answer = ranged(reviewed, header)
        assert answer.status_code == status, header
        assert answer.content == data[start:end], header
        assert answer.headers["content-length"] == str(end - start), header
        if status == 206:
            assert answer.headers["content-range"] == f"bytes {start}-{end - 1}/{size}", header


def test_a_range_of_nothing_is_416_and_an_if_range_gets_the_whole_file(
    reviewed: LocalServer, film: Path
) -> None:
    data = (preview(film) / TAKE).read_bytes()
    for header in (f"bytes={len(data)}-", "bytes=-0"):
        answer = ranged(reviewed, header)
        assert answer.status_code == 416, header
        assert answer.headers["content-range"] == f"bytes */{len(data)}"
    whole = ranged(reviewed, "bytes=0-9", **{"If-Range": '"an-etag"'})
    assert whole.status_code == 200 and whole.content == data


def test_a_head_is_answered_with_no_body_and_no_descriptor_is_left_open(
    reviewed: LocalServer, film: Path
) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("no /proc/self/fd to count descriptors")
    size = (preview(film) / TAKE).stat().st_size
    httpx.get(reviewed.url + "media/" + TAKE)  # the first opens what stays open (the tree...)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(6):  # a descriptor kept by each answer: 12 more
        head = httpx.head(reviewed.url + "media/" + TAKE)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(size)
        assert ranged(reviewed, "bytes=0-9").status_code == 206
    assert len(os.listdir("/proc/self/fd")) < before + 6


# -- what is served -------------------------------------------------------------------------


def test_a_listed_video_removed_meanwhile_is_a_404(reviewed: LocalServer, film: Path) -> None:
    (preview(film) / TAKE).unlink()
    answer = httpx.get(reviewed.url + "media/" + TAKE)
    assert answer.status_code == 404


def test_review_serves_no_file_but_the_records_videos_and_none_once_the_record_is_gone(
    reviewed: LocalServer, film: Path
) -> None:
    for name in ("film.edl", "build.json", "requests/a.json"):
        assert (preview(film) / name).is_file()  # storyboard wrote it, the marker lists it
        assert httpx.get(reviewed.url + "media/" + name).status_code == 404, name
    shutil.move(film / "build", film / "build-aside")
    gone = httpx.get(reviewed.url + "media/" + TAKE)
    assert gone.status_code == 404 and gone.text == "not a file of this build\n"


def rewrite_marker(film: Path, files: list[str]) -> None:
    marker = film / "build" / "film" / ".storyboard-build.json"
    data = json.loads(marker.read_text(encoding="utf-8"))
    data["files"] = files
    marker.write_text(json.dumps(data), encoding="utf-8")


def test_review_serves_a_video_of_the_record_only_if_the_marker_lists_it(
    reviewed: LocalServer, film: Path
) -> None:
    marker = film / "build" / "film" / ".storyboard-build.json"
    files = json.loads(marker.read_text(encoding="utf-8"))["files"]
    assert httpx.get(reviewed.url + "media/" + TAKE).status_code == 200
    rewrite_marker(film, [f for f in files if f != "preview/" + TAKE])
    assert httpx.get(reviewed.url + "media/" + TAKE).status_code == 404
    assert httpx.get(reviewed.url + "media/takes/a.mp4").status_code == 200
    rewrite_marker(film, [])  # a marker that lists nothing: nothing is served
    assert httpx.get(reviewed.url + "media/takes/a.mp4").status_code == 404


def test_review_serves_nothing_when_the_marker_is_a_symlink(
    reviewed: LocalServer, film: Path, tmp_path: Path
) -> None:
    marker = film / "build" / "film" / ".storyboard-build.json"
    copy = tmp_path / "marker.json"
    copy.write_bytes(marker.read_bytes())
    marker.unlink()
    marker.symlink_to(copy)
    assert httpx.get(reviewed.url + "media/" + TAKE).status_code == 404


def test_watch_serves_no_hidden_file_and_none_the_marker_does_not_list(
    watched: tuple[watching.Watch, str], film: Path
) -> None:
    _, url = watched
    (preview(film) / "notes.txt").write_text("mine\n", encoding="utf-8")
    assert httpx.get(url + "takes/a.mp4").status_code == 200
    for name in (".build.json", ".cut.json", "notes.txt", "../.storyboard-build.json"):
        answer = httpx.get(url + name)
        assert answer.status_code == 404, name


def test_watch_before_its_first_build_serves_no_file(film: Path) -> None:
    watch = watching.Watch(film / "film.yaml", preview_scale=1 / 12)  # not built yet
    with serving(watch) as url:
        answer = httpx.get(url + "report.html")
        assert answer.status_code == 404 and answer.text == "not built yet\n"


def test_watch_serves_a_report_of_up_to_its_limit_and_only_utf_8(
    watched: tuple[watching.Watch, str], film: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = watched
    report = preview(film) / "report.html"
    size = report.stat().st_size
    monkeypatch.setattr(watching, "PAGE_LIMIT", size)
    assert "Review test" in httpx.get(url).text  # just at the limit: served
    monkeypatch.setattr(watching, "PAGE_LIMIT", size - 1)
    over = httpx.get(url)
    assert over.status_code == 200 and "Review test" not in over.text
    monkeypatch.setattr(watching, "PAGE_LIMIT", size)
    with report.open("r+b") as handle:  # the same file, no longer UTF-8
        handle.write(b"\xff\xfe")
    broken = httpx.get(url)
    assert broken.status_code == 200 and "Review test" not in broken.text


def test_watch_events_answer_a_since_that_is_not_a_number_or_is_ahead(
    watched: tuple[watching.Watch, str],
) -> None:
    watch, url = watched
    for since in ("x", str(watch.generation + 5)):
        with httpx.stream("GET", url + f"__storyboard/events?since={since}", timeout=5) as events:
            assert events.status_code == 200
            text = "".join(events.iter_text())
        assert f"event: build\ndata: {watch.generation}\n" in text, since


# -- clicks ---------------------------------------------------------------------------------


def test_a_request_that_is_not_a_known_change_writes_nothing_and_is_a_400(
    reviewed: LocalServer, film: Path
) -> None:
    version = httpx.get(reviewed.url + "api/state").json()["version"]
    url = reviewed.url + "api/action"
    bodies: list[Any] = [
        [],
        "pick",
        1,
        {"take": "a", "action": "delete", "value": 3, "version": version},
        {"take": "a", "action": "pick", "value": 3},
        {"take": 1, "action": "pick", "value": 3, "version": version},
        {"take": ["a"], "action": "retake", "version": version},
        {"take": "a", "action": "keep", "value": "yes", "version": version},
        {"take": "a", "action": "keep", "value": 1, "version": version},
    ]
    for body in bodies:
        answer = httpx.post(url, headers=own(reviewed), json=body, timeout=10)
        assert answer.status_code == 400, (body, answer.text)
    not_json = httpx.post(
        url, content="{", headers={**own(reviewed), "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and not_json.json()["error"] == "the request is not JSON"
    assert httpx.get(url).status_code == 405  # a change is a POST
    assert (film / "film.yaml").read_text(encoding="utf-8") == FILM


def test_retake_counts_up_from_the_number_written_and_not_from_a_boolean(
    reviewed: LocalServer, film: Path
) -> None:
    storyboard = film / "film.yaml"
    assert click(reviewed, take="a", action="retake").status_code == 200
    assert click(reviewed, take="a", action="retake").status_code == 200
    assert "retake: 2" in storyboard.read_text(encoding="utf-8")
    text = storyboard.read_text(encoding="utf-8").replace("retake: 2", "retake: true")
    storyboard.write_text(text, encoding="utf-8")
    answer = click(reviewed, take="a", action="retake")
    assert answer.status_code == 200 and "retake: 1" in answer.json()["message"]
    assert "retake: 1" in storyboard.read_text(encoding="utf-8")


def test_a_click_on_a_storyboard_gone_is_a_409_and_writes_nothing(
    reviewed: LocalServer, film: Path
) -> None:
    version = httpx.get(reviewed.url + "api/state").json()["version"]
    (film / "film.yaml").unlink()
    answer = httpx.post(
        reviewed.url + "api/action", headers=own(reviewed),
        json={"take": "a", "action": "pick", "value": 2, "version": version},
    )  # fmt: skip
    assert answer.status_code == 409 and "cannot read the storyboard" in answer.json()["error"]
    assert not (film / "film.yaml").exists()


def test_a_save_between_the_check_and_the_write_is_a_409(
    review: reviewing.Review, film: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The editor saves after the click read the file: the write finds it changed."""

    def saved_meanwhile(path: Path, version: str, text: str) -> None:
        raise FileChanged(CHANGED)

    monkeypatch.setattr(reviewing, "write_if_unchanged", saved_meanwhile)
    version = review.state()["version"]
    status, answer = review.act({"take": "a", "action": "pick", "value": 2, "version": version})
    assert status == 409 and answer == {"error": CHANGED, "changed": True}
