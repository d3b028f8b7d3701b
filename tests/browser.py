"""Headless Chromium for the page tests: found on the PATH, driven by chromedriver through
Selenium; screenshots kept as test artifacts (``build/test-artifacts/``, git-ignored).

Where Chromium or chromedriver is missing the browser tests are skipped (and ``-ra`` lists
them), except where ``STORYBOARD_REQUIRE_BROWSER=1`` is set, as ``.ci/run`` sets it after
installing them: there a missing browser fails every browser test instead of letting the run
pass without them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
)  # fmt: skip

REQUIRED = os.environ.get("STORYBOARD_REQUIRE_BROWSER", "") not in ("", "0")
"""CI sets it: a browser test must run, never be skipped."""

Test = TypeVar("Test", bound=Callable[..., Any])


def missing_browser(*, driver: bool) -> str | None:
    """What is missing for a browser test (``None``: nothing)."""
    if CHROMIUM is None:
        return "headless Chromium is not installed (Debian: apt-get install chromium)"
    if driver and CHROMEDRIVER is None:
        return "chromedriver is not installed (Debian: apt-get install chromium-driver)"
    return None


def skip_or_fail(reason: str) -> None:
    """Skip a browser test whose browser is missing; fail it where one is required."""
    if REQUIRED:
        pytest.fail(f"STORYBOARD_REQUIRE_BROWSER is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def _webdriver_present() -> None:
    reason = missing_browser(driver=True)
    if reason is not None:
        skip_or_fail(reason)


@pytest.fixture
def _chromium_present() -> None:
    reason = missing_browser(driver=False)
    if reason is not None:
        skip_or_fail(reason)


def needs_webdriver(test: Test) -> Test:
    """Mark a test that drives headless Chromium through chromedriver."""
    marked: Test = pytest.mark.usefixtures("_webdriver_present")(test)
    return marked


def needs_chromium(test: Test) -> Test:
    """Mark a test that runs headless Chromium alone (``--dump-dom``, ``--screenshot``)."""
    marked: Test = pytest.mark.usefixtures("_chromium_present")(test)
    return marked


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
    try:
        import selenium  # noqa: F401
    except ImportError:
        skip_or_fail("selenium is not installed (pip install -e '.[dev]')")
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
    reason = missing_browser(driver=True)
    if reason is not None:
        skip_or_fail(reason)
    browser = start_driver(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield browser
    finally:
        browser.quit()
