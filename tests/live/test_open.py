"""``--open``: the browser is given a private redirect file, never the page's tokened address
on its command line (which every user of the machine can read), and the redirect lands on the
page in a real headless Chromium through the guard."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from storyboard.live.browser import OpenedPage, redirect_page
from storyboard.live.server import LocalServer
from tests.browser import needs_webdriver

# a stand-in browser ($BROWSER): writes what it was started with and what it could read
RECORDER = """\
import json, os, stat, sys
from urllib.parse import unquote, urlparse
target = sys.argv[2]
path = unquote(urlparse(target).path) if target.startswith("file:") else None
seen = {"argv": sys.argv[2:], "file": path}
if path:
    seen["mode"] = stat.S_IMODE(os.stat(path).st_mode)
    seen["text"] = open(path, encoding="utf-8").read()
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump(seen, out)
"""


def _browser_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    recorder = tmp_path / "recorder.py"
    recorder.write_text(RECORDER, encoding="utf-8")
    seen = tmp_path / "seen.json"
    env = {
        **os.environ,
        "RUNWARE_API_KEY": "",
        "BROWSER": f"{sys.executable} {recorder} {seen} %s",
        "TMPDIR": str(tmp_path),
    }
    return env, seen


def _wait_for(path: Path, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"the browser was not started ({path} not written)")


@pytest.mark.parametrize("command", ["review", "watch"])
def test_open_gives_the_browser_a_private_file_not_the_tokened_address(
    command: str, film: Path, tmp_path: Path
) -> None:
    env, seen_file = _browser_env(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "storyboard", command, "film.yaml", "--open"], cwd=film,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    lines: list[str] = []
    assert process.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        seen = _wait_for(seen_file)
        opened = Path(seen["file"])
        assert opened.exists()  # kept while the page is reviewed
        if command == "watch":  # Ctrl-C once its first build is done (see below)
            deadline = time.monotonic() + 60
            while not any(line.startswith("built in") for line in list(lines)):
                assert time.monotonic() < deadline, lines
                time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
        reader.join(10)
    err = "".join(lines)
    # (a Ctrl-C that lands while a watch is building ends it with 0 too: test_watch.py and
    # tests/cli/test_interrupt.py)
    assert process.returncode == 0, err
    url = out.strip() if command == "review" else err.split("the report at ", 1)[1].split()[0]
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert len(token) >= 20
    # the command line the browser got names a file, not the address
    assert token not in " ".join(seen["argv"]) and seen["argv"] == [opened.as_uri()]
    assert opened.parent == tmp_path and seen["mode"] == 0o600  # this user's only
    assert f'content="0;url={url}"' in seen["text"]  # the file sends it on
    assert not opened.exists()  # removed when the page stopped


def test_the_redirect_file_is_removed_once_and_holds_the_address_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: started.append(url) or True)
    url = 'http://127.0.0.1:1/"><script>x</script>/'
    with OpenedPage(url, folder=str(tmp_path)) as page:
        assert page.opened and page.file is not None
        opened = page.file
        assert started == [opened.as_uri()]
        assert stat.S_IMODE(opened.stat().st_mode) == 0o600
        text = opened.read_text(encoding="utf-8")
        assert "<script>" not in text and "&quot;&gt;&lt;script&gt;" in text
        page.close()
        assert not opened.exists()
    assert list(tmp_path.iterdir()) == []  # closing twice is not an error


def test_the_guard_lets_a_navigation_from_another_site_reach_only_the_pages_address(
    reviewed: LocalServer,
) -> None:
    root = f"http://127.0.0.1:{reviewed.port}"
    navigate = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    document = {**navigate, "Sec-Fetch-Dest": "document"}
    entry = httpx.get(reviewed.url, headers=document)
    assert entry.status_code == 200 and "Review · Review test" in entry.text
    assert "frame-ancestors 'none'" in entry.headers["content-security-policy"]
    refused = [
        # the page's other addresses
        httpx.get(reviewed.url + "api/state", headers=document),
        httpx.get(
            reviewed.url + "media/takes/a.v2.mp4",
            headers=document,
        ),
        # no token, or another
        httpx.get(root + "/", headers=document),
        httpx.get(
            f"{root}/{'x' * len(reviewed.token or '')}/",
            headers=document,
        ),
        # in a frame, by a script, or not a navigation
        httpx.get(reviewed.url, headers={**navigate, "Sec-Fetch-Dest": "iframe"}),
        httpx.get(reviewed.url, headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}),
        httpx.get(reviewed.url, headers={"Sec-Fetch-Site": "cross-site"}),
        httpx.post(
            reviewed.url, headers={**navigate, "Sec-Fetch-Dest": "document", "Origin": "null"}
        ),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert all("Review test" not in r.text for r in refused)


@needs_webdriver
def test_chromium_given_the_redirect_file_lands_on_the_page(
    driver: Any, reviewed: LocalServer, tmp_path: Path
) -> None:
    page = tmp_path / "open.html"
    page.write_text(redirect_page(reviewed.url), encoding="utf-8")
    driver.get(page.as_uri())
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and driver.current_url != reviewed.url:
        time.sleep(0.05)
    assert driver.current_url == reviewed.url
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and "Review test" not in driver.title:
        time.sleep(0.05)
    assert driver.title == "Review · Review test", driver.page_source[:300]
