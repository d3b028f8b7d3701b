"""``storyboard review``: the page in a real headless Chromium driven by WebDriver (the
variations play side by side, "pick 3" writes ``pick: 3`` with every comment kept, a save in
the editor is never written over), and the guard over HTTP and from another origin's page."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from storyboard.live.review import Review, make_app
from storyboard.live.server import LocalServer, new_token
from tests.browser import keep_screenshot, needs_webdriver
from tests.live.conftest import FILM


@pytest.fixture
def served(film: Path) -> Iterator[LocalServer]:
    """The review page of the film's preview build, on a loopback port with a token."""
    review = Review(
        film / "film.yaml", film / "build" / "film" / "preview", backend="preview",
        preview_scale=1 / 12,
    )  # fmt: skip
    with LocalServer(make_app(review), token=new_token()) as server:
        yield server


def wait_for(driver: Any, script: str, timeout: float = 15.0) -> Any:
    """Poll ``return ...`` in the page until it is truthy; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def click(driver: Any, take: str, label: str) -> str:
    """Click the button ``label`` of a take's card; return the message the page shows."""
    from selenium.webdriver.common.by import By

    before = driver.execute_script("return document.body.getAttribute('data-actions') || '0'")
    card = driver.find_element(By.CSS_SELECTOR, f'[data-take-card="{take}"]')
    card.find_element(By.XPATH, f".//button[normalize-space()='{label}']").click()
    wait_for(driver, f"return (document.body.getAttribute('data-actions') || '0') !== '{before}'")
    return str(driver.find_element(By.ID, "message").text)


@needs_webdriver
def test_the_page_plays_each_takes_variations_side_by_side_with_their_price(
    driver: Any, served: LocalServer
) -> None:
    from selenium.webdriver.common.by import By

    driver.get(served.url)
    assert driver.title == "Review · Review test"
    cards = {
        c.get_attribute("data-take-card"): c
        for c in driver.find_elements(By.CSS_SELECTOR, "[data-take-card]")
    }
    assert list(cards) == ["a", "b", "storm"]
    figures = cards["a"].find_elements(By.CSS_SELECTOR, "figure[data-variation]")
    assert [f.get_attribute("data-variation") for f in figures] == ["1", "2", "3", "4"]
    # side by side: one row, left to right
    tops = {f.location["y"] for f in figures}
    lefts = [f.location["x"] for f in figures]
    assert len(tops) == 1 and lefts == sorted(lefts) and len(set(lefts)) == 4
    # each playing its own video, and priced (3 s at $0.112/s, one result each)
    assert [
        f.find_element(By.TAG_NAME, "figcaption").text.split(" · ")[1].split()[0] for f in figures
    ] == ["$0.3360"] * 4
    sources = driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-take-card=a] video'))"
        ".map(v => v.currentSrc.split('/').pop())"
    )
    assert sources == ["a.mp4", "a.v2.mp4", "a.v3.mp4", "a.v4.mp4"]
    playing = wait_for(
        driver,
        "var v = Array.from(document.querySelectorAll('video'));"
        "return v.every(x => x.readyState >= 2 && !x.paused && x.currentTime > 0.2) && v.length",
    )
    assert playing == 4 + 1 + 2
    assert [
        f.get_attribute("data-variation")
        for f in cards["storm"].find_elements(By.CSS_SELECTOR, "figure")
    ] == ["1", "2"]
    assert (
        cards["a"].find_element(By.CSS_SELECTOR, "figure.picked").get_attribute("data-variation")
        == "1"
    )
    # the plan of the storyboard as it is: every take cached, nothing to pay
    assert driver.find_element(By.ID, "plan-total").text == "$0.0000"
    keep_screenshot(driver, "review-page")


@needs_webdriver
def test_pick_3_writes_pick_3_with_every_comment_kept(
    driver: Any, served: LocalServer, film: Path
) -> None:
    from selenium.webdriver.common.by import By

    storyboard = film / "film.yaml"
    driver.get(served.url)
    message = click(driver, "a", "pick 3")
    assert message == "wrote pick: 3 on the shot of take a in film.yaml"
    expected = FILM.replace(
        "    variations: 4   # four to choose from\n",
        "    variations: 4   # four to choose from\n    pick: 3\n",
    )
    assert storyboard.read_text(encoding="utf-8") == expected  # one line added, no other
    card = driver.find_element(By.CSS_SELECTOR, '[data-take-card="a"]')
    assert (
        card.find_element(By.CSS_SELECTOR, "figure.picked").get_attribute("data-variation") == "3"
    )
    assert not card.find_element(By.XPATH, ".//button[.='pick 3']").is_enabled()
    # the new plan: b starts on a's last frame, now variation 3's: b is made again
    rows = {
        r.get_attribute("data-plan-take"): r.text
        for r in driver.find_elements(By.CSS_SELECTOR, "[data-plan-take]")
    }
    assert rows["a"].startswith("a cached") and rows["storm"].startswith("storm cached")
    assert rows["b"].startswith("b generate") and rows["b"].endswith("$0.3360")
    assert driver.find_element(By.ID, "plan-total").text == "$0.3360"
    # a second pick replaces the value where it is; a sequence's pick goes on the sequence
    click(driver, "a", "pick 2")
    assert (
        click(driver, "storm", "pick 2")
        == "wrote pick: 2 on the sequence of take storm in film.yaml"
    )
    assert storyboard.read_text(encoding="utf-8") == FILM.replace(
        "    variations: 4   # four to choose from\n",
        "    variations: 4   # four to choose from\n    pick: 2\n",
    ).replace("    variations: 2\n", "    variations: 2\n    pick: 2\n")
    keep_screenshot(driver, "review-after-pick")
    # a build with the new pick cuts the film from a's variation 2 (the page reads the file)
    from storyboard.backends.preview import PreviewBackend
    from storyboard.build.pipeline import build

    takes = film / "build" / "film" / "preview" / "takes"
    second = (takes / "a.v2.mp4").read_bytes()
    assert (takes / "a.mp4").read_bytes() != second
    result = build(storyboard, backend=PreviewBackend(scale=1 / 12))
    assert result.ok and (takes / "a.mp4").read_bytes() == second
    assert (takes / "a.v1.mp4").is_file() and not (takes / "a.v2.mp4").exists()


@needs_webdriver
def test_keep_and_retake_write_their_keys(driver: Any, served: LocalServer, film: Path) -> None:
    storyboard = film / "film.yaml"
    driver.get(served.url)
    assert click(driver, "b", "keep") == "wrote keep: true on the shot of take b in film.yaml"
    assert (
        click(driver, "storm", "retake")
        == "wrote retake: 1 on the sequence of take storm in film.yaml"
    )
    assert (
        click(driver, "storm", "retake")
        == "wrote retake: 2 on the sequence of take storm in film.yaml"
    )
    assert click(driver, "b", "unkeep") == "wrote keep: false on the shot of take b in film.yaml"
    assert storyboard.read_text(encoding="utf-8") == FILM.replace(
        "prompt: the keeper climbs the stairs}",
        "prompt: the keeper climbs the stairs, keep: false}",
    ).replace("    variations: 2\n", "    variations: 2\n    retake: 2\n")


@needs_webdriver
def test_a_save_in_the_editor_is_never_written_over(
    driver: Any, served: LocalServer, film: Path
) -> None:
    from selenium.webdriver.common.by import By

    storyboard = film / "film.yaml"
    driver.get(served.url)
    edited = FILM.replace("a lighthouse at dawn", "a lighthouse at dusk")  # the writer's save
    storyboard.write_text(edited, encoding="utf-8")
    message = click(driver, "a", "pick 3")
    assert message.startswith("the storyboard changed on disk since this page read it")
    assert storyboard.read_text(encoding="utf-8") == edited
    assert driver.execute_script("return document.body.getAttribute('data-stale')") == "1"
    wait_for(driver, "return !document.getElementById('stale').hidden")  # said without a click
    driver.refresh()  # the page made from the file as it is now writes again
    click(driver, "a", "pick 3")
    assert storyboard.read_text(encoding="utf-8") == edited.replace(
        "# four to choose from\n", "# four to choose from\n    pick: 3\n"
    )
    assert driver.find_element(By.ID, "stale").get_attribute("hidden") is not None


@needs_webdriver
def test_a_page_of_another_origin_cannot_change_the_storyboard(
    driver: Any, served: LocalServer, film: Path
) -> None:
    """Even knowing the address with its token, another site's page (here another port of
    127.0.0.1) gets a refusal: the browser says where the request comes from."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    storyboard = film / "film.yaml"
    version = httpx.get(served.url + "api/state").json()["version"]
    body = json.dumps({"take": "a", "action": "pick", "value": 3, "version": version})
    attack = f"""<!DOCTYPE html><html><body><script>
      var results = [];
      function done(what) {{ results.push(what); document.title = results.join(","); }}
      fetch({json.dumps(served.url + "api/action")}, {{method: "POST", mode: "no-cors",
        headers: {{"Content-Type": "text/plain"}}, body: {json.dumps(body)}}})
        .then(function () {{ done("no-cors sent"); }}, function () {{ done("no-cors failed"); }});
      fetch({json.dumps(served.url + "api/action")}, {{method: "POST",
        headers: {{"Content-Type": "application/json"}}, body: {json.dumps(body)}}})
        .then(function (r) {{ done("cors " + r.status); }}, function () {{ done("cors failed"); }});
      fetch({json.dumps(served.url + "api/state")})
        .then(function (r) {{ done("read " + r.status); }}, function () {{ done("read failed"); }});
    </script></body></html>"""

    async def page(request: Any) -> HTMLResponse:
        return HTMLResponse(attack)

    with LocalServer(Starlette(routes=[Route("/", page)])) as other:
        driver.get(other.url)
        title = wait_for(driver, "return document.title.split(',').length === 3 && document.title")
    assert sorted(title.split(",")) == ["cors failed", "no-cors sent", "read failed"]
    assert storyboard.read_text(encoding="utf-8") == FILM  # nothing written
    # the same request from the page itself is accepted (the refusal above is the origin's)
    answer = httpx.post(
        served.url + "api/action", content=body,
        headers={"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{served.port}"},
    )  # fmt: skip
    assert answer.status_code == 200 and "    pick: 3\n" in storyboard.read_text(encoding="utf-8")


# -- the guard, over HTTP -------------------------------------------------------------------


def test_a_request_without_the_token_or_from_elsewhere_is_refused(
    served: LocalServer, film: Path
) -> None:
    root = f"http://127.0.0.1:{served.port}"
    own = {"Origin": root}
    assert httpx.get(served.url).status_code == 200  # the page, at its address
    refused = [
        httpx.get(root + "/"),  # no token
        httpx.get(root + "/api/state"),
        httpx.get(f"{root}/{'x' * len(served.token or '')}/"),  # another token
        httpx.get(served.url[:-2] + "/"),  # the token less its last character
        httpx.get(served.url, headers={"Host": "evil.example:80"}),  # DNS rebinding
        httpx.get(served.url, headers={"Host": f"attacker.test:{served.port}"}),
        httpx.get(served.url, headers={"Origin": "http://evil.example"}),
        httpx.get(served.url, headers={"Origin": "http://127.0.0.1:1"}),  # another port
        httpx.get(served.url, headers={"Sec-Fetch-Site": "cross-site"}),
        httpx.get(served.url, headers={"Sec-Fetch-Site": "same-site"}),
        httpx.post(served.url + "api/action", json={}),  # a change without an Origin
        httpx.post(served.url + "api/action", json={}, headers={"Origin": "null"}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert refused[0].text.startswith("refused: this address needs the token")
    assert "answers only to 127.0.0.1 and localhost" in refused[4].text
    for answer in refused:  # refused before the page's code: nothing of the film in it
        assert "Review test" not in answer.text and answer.headers["cache-control"] == "no-store"
    # the page's own requests pass: the page, its state, a variation (by ranges, for <video>)
    ok = httpx.get(
        served.url, headers={"Host": f"localhost:{served.port}", "Sec-Fetch-Site": "none"}
    )
    assert (
        ok.status_code == 200 and "frame-ancestors 'none'" in ok.headers["content-security-policy"]
    )
    part = httpx.get(served.url + "media/takes/a.v2.mp4", headers={"Range": "bytes=0-99", **own})
    assert part.status_code == 206 and len(part.content) == 100
    variation = film / "build" / "film" / "preview" / "takes" / "a.v2.mp4"
    assert part.content == variation.read_bytes()[:100]
    # only the build's videos are served, never another file of the project
    for name in ("film.yaml", "build.json", "takes/%2e%2e/build.json", "takes/../../film.yaml"):
        answer = httpx.get(served.url + "media/" + name, headers=own)
        assert answer.status_code in (403, 404) and b"storyboard" not in answer.content
    bad = httpx.post(
        served.url + "api/action", content="x", headers={**own, "Content-Type": "text/plain"}
    )
    assert bad.status_code == 415
    assert (film / "film.yaml").read_text(encoding="utf-8") == FILM


def test_a_pick_past_the_variations_the_storyboard_asks_for_is_refused(
    served: LocalServer, film: Path
) -> None:
    own = {"Origin": f"http://127.0.0.1:{served.port}"}
    version = httpx.get(served.url + "api/state").json()["version"]
    for value in (5, 0, "3", True):
        answer = httpx.post(
            served.url + "api/action", headers=own,
            json={"take": "a", "action": "pick", "value": value, "version": version},
        )  # fmt: skip
        assert answer.status_code == 400, answer.text
    assert "but the storyboard asks for 4 variations" in httpx.post(
        served.url + "api/action", headers=own,
        json={"take": "a", "action": "pick", "value": 5, "version": version},
    ).json()["error"]  # fmt: skip
    assert (film / "film.yaml").read_text(encoding="utf-8") == FILM


# -- the command ----------------------------------------------------------------------------


def test_the_review_command_serves_the_page_at_its_printed_address(film: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "storyboard", "review", "film.yaml"], cwd=film,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "RUNWARE_API_KEY": ""},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        token = url.rstrip("/").rsplit("/", 1)[1]
        assert len(token) >= 20
        page = httpx.get(url)
        assert page.status_code == 200 and "Review · Review test" in page.text
        assert httpx.get(url.replace(token + "/", "")).status_code == 403
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "reviewing the preview build of film.yaml" in err and "review stopped" in err


def test_review_of_a_storyboard_not_built_yet_says_so(tmp_path: Path) -> None:
    (tmp_path / ".storyboard").mkdir()
    (tmp_path / "new.yaml").write_text("storyboard: 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "storyboard", "review", "new.yaml"], cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert "new.yaml has not been built yet" in done.stderr


def test_review_refuses_a_storyboard_that_links_out_of_the_project(
    film: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_bytes((film / "film.yaml").read_bytes())
    (film / "linked.yaml").symlink_to(outside)
    done = subprocess.run(
        [sys.executable, "-m", "storyboard", "review", "linked.yaml"], cwd=film,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert "linked.yaml:1:1: error: this file is a symlink to" in done.stderr
    assert outside.read_bytes() == (film / "film.yaml").read_bytes()
