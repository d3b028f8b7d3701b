"""Headless Chromium for the page tests: found on the PATH, driven by chromedriver through
Selenium; screenshots kept as test artifacts (``build/test-artifacts/``, git-ignored)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
)  # fmt: skip

needs_webdriver = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless Chromium and its WebDriver are not installed (Debian: apt-get install "
    "chromium chromium-driver)",
)


def artifacts() -> Path:
    """Where screenshots are kept: ``$STORYBOARD_TEST_ARTIFACTS``, else
    ``build/test-artifacts/`` of the repository (ignored by git)."""
    folder = Path(os.environ.get("STORYBOARD_TEST_ARTIFACTS") or REPO / "build" / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def keep_screenshot(driver: Any, name: str) -> Path:
    """Save the window as ``NAME.png`` among the artifacts; return its path."""
    path = artifacts() / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    return path


def start_driver(profile: Path, width: int = 1300, height: int = 1000) -> Any:
    """A Chrome WebDriver on headless Chromium with a fresh profile folder."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    # the driver given by path: Selenium Manager (which would download one) is never run
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One browser per test module."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("headless Chromium and its WebDriver are not installed")
    browser = start_driver(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield browser
    finally:
        browser.quit()
