"""Shared fixtures: a project written from a dict of files, and the CLI run in-process."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from storyboard.cli.main import main

pytest_plugins = ["storyboard.testing.plugin", "tests.browser", "tests.s3"]


def tiny_jpeg(
    width: int = 640, height: int = 360, color: tuple[int, int, int] = (40, 90, 160)
) -> bytes:
    """A real JPEG image (the model takes images of at least 300 px on each side)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def tiny_audio(fmt: str = "mp3", seconds: float = 0.5) -> bytes:
    """A real audio file (a 440 Hz tone, 48 kHz stereo) in ``fmt``: ``mp3``, ``wav``,
    ``flac`` or ``ipod`` (an ``.m4a``: AAC in MP4)."""
    import av
    import numpy as np

    codec = {"mp3": "libmp3lame", "wav": "pcm_s16le", "flac": "flac", "ipod": "aac"}[fmt]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=48_000, layout="stereo")
        count = int(48_000 * seconds)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(count) / 48_000)).astype(np.float32)
        step = 1152  # an MP3 frame: every encoder here takes it
        for start in range(0, count, step):
            block = np.stack([tone[start : start + step]] * 2)
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            frame.sample_rate = 48_000
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


@dataclass
class CliResult:
    status: int
    out: str
    err: str


@pytest.fixture
def project(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Path]:
    """Write ``{relative path: text or bytes}`` into a fresh project folder; return it."""

    def write(files: dict[str, str | bytes]) -> Path:
        root = tmp_path / "project"
        root.mkdir(exist_ok=True)
        (root / ".storyboard").mkdir(exist_ok=True)
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return root

    return write


@pytest.fixture
def nas(tmp_path: Path) -> Path:
    """An empty folder for a ``file://`` remote (a NAS share)."""
    folder = tmp_path / "nas" / "films"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``storyboard ARGS`` in-process from ``cwd``; return status and output."""

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        old = Path.cwd()
        if cwd is not None:
            os.chdir(cwd)
        try:
            try:
                status = main(list(args))
            except SystemExit as exc:  # argparse usage errors and --help
                status = int(exc.code or 0)
        finally:
            os.chdir(old)
        captured = capsys.readouterr()
        return CliResult(status, captured.out, captured.err)

    return run


@pytest.fixture
def paid(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The emulator, as the Runware backend the environment names (``RUNWARE_API_KEY``,
    ``RUNWARE_BASE_URL``), and no remote but one a test gives."""
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    monkeypatch.delenv("STORYBOARD_REMOTE", raising=False)
    return emulator


@pytest.fixture
def in_dir(tmp_path: Path) -> Iterator[Path]:
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


REPO = Path(__file__).resolve().parents[1]


def read_lock(path: Path) -> dict[str, dict[str, Any]]:
    """A lock file's entries as JSON, by take id (whatever the file's version)."""
    from storyboard.build.state.lockfile import LockFile

    lock = LockFile.read(path, path.with_suffix(".yaml").name)
    return {take: entry.to_json() for take, entry in lock.takes.items()}


@pytest.fixture
def example(tmp_path: Path) -> Callable[[str], Path]:
    """A private copy of ``examples/NAME`` (its own project: no shared cache); its folder."""

    def copy(name: str) -> Path:
        import shutil

        target = tmp_path / "examples" / name
        shutil.copytree(REPO / "examples" / name, target, ignore=shutil.ignore_patterns("build"))
        (target / ".storyboard").mkdir(exist_ok=True)
        return target

    return copy
