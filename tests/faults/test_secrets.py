"""Secrets: the API key never lands in a file, a log line, the lock, a report or a message.

A recognisable fake key is set in ``RUNWARE_API_KEY`` and the emulator accepts it. Builds
then fail in many ways (503s, dropped connections, malformed answers, generations failed by
the provider and by moderation), and afterwards every file the run wrote (the project, its
state, its build folder, the report, and a private ``HOME`` and ``TMPDIR``) and every byte
it printed are searched for the key, raw and in the encodings it could hide in (base64,
URL-encoded, hex, reversed).

URLs carry secrets too: in the command-line run ``RUNWARE_BASE_URL`` has a secret in its
query (``?sig=...``) and every result URL carries a token (``?token=...``, which the emulator
requires to serve the file); both are searched for the same way as the key.

So do the remote's credentials (issue 15): the command-line run has a remote on a loopback
S3 server (moto) with a recognisable ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``; the
build looks takes up there, pushes every paid take, and hands the emulator presigned upload
URLs (which carry the session token in their query). Neither secret may appear anywhere.

Two runs:

- the command line as a user runs it, in its own process, with every logger at DEBUG on
  stderr (``build --json``, then ``report --exports``);
- the library in-process, against a hostile service that echoes the key back in every
  error it sends (message, parameter, headers), with the log records, the events and the
  exception messages of every failed take searched too.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from storyboard.backends.runware.backend import RunwareBackend
from storyboard.backends.runware.client import RetryPolicy, RunwareClient
from storyboard.backends.runware.poll import PollPolicy
from storyboard.build.pipeline import build
from storyboard.cli.main import main
from storyboard.core.events import Event
from storyboard.emulator.server import EmulatorServer
from tests.faults.conftest import Figures
from tests.faults.films import billed_per_take, film_files
from tests.faults.runner import FILM_SCALE
from tests.s3 import S3, SECRET_ACCESS_KEY

REPO = Path(__file__).resolve().parents[2]
FAKE_KEY = "sbx-FAKE-KEY-7c1e9a40d2b84f63a5e0-DO-NOT-LEAK"
#: A take fails for the provider twice (no retry helps), one for moderation; the rest
#: misbehave on the wire and recover.
FAULTS = "submit-503@0.2,drop@0.1,malformed@0.1,poll-503@0.2,poll-malformed@0.1,seed=3"
#: A secret in the query of ``RUNWARE_BASE_URL``, and the token of every result URL.
BASE_URL_SECRET = "sig-base-url-SECRET-2b7e151628aed2a6"
RESULT_TOKEN = "tok-result-url-SECRET-abf7158809cf4f3c"
#: The remote's session token (travels in presigned URLs' queries).
SESSION_TOKEN = "sbx-aws-session-token-FAKE-91d2e7c4a0b3-DO-NOT-LEAK"

Project = Callable[[dict[str, str | bytes]], Path]


def forms(secret: str) -> dict[str, bytes]:
    """The ways a secret can show up in bytes."""
    raw = secret.encode()
    return {
        "raw": raw,
        "base64": base64.b64encode(raw).rstrip(b"="),
        "base64 of Bearer": base64.b64encode(b"Bearer " + raw).rstrip(b"="),
        "url-encoded": urllib.parse.quote(secret, safe="").encode(),
        "hex": raw.hex().encode(),
        "reversed": raw[::-1],
        "middle": raw[8:-8],
    }


def leaks(data: bytes, secret: str) -> list[str]:
    return [name for name, form in forms(secret).items() if form in data]


def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield path


def search(roots: list[Path], printed: dict[str, bytes], secret: str) -> tuple[int, list[str]]:
    """(files searched, what leaked where)."""
    found = [
        f"{name}: {leaks(data, secret)}" for name, data in printed.items() if leaks(data, secret)
    ]
    count = 0
    for path in files_under(*roots):
        count += 1
        hit = leaks(path.read_bytes(), secret)
        if hit:
            found.append(f"{path}: {hit}")
    return count, found


def _fail_some(emulator: EmulatorServer) -> None:
    """Faults on the wire, plus takes that fail for good: the build has failures to report."""
    emulator.set_faults(FAULTS)
    emulator.add_fault("moderation", times=1)
    emulator.add_fault("provider-error", times=3)


@pytest.fixture
def fake_key(emulator: EmulatorServer) -> str:
    emulator.configure(api_keys=frozenset({emulator.api_key, FAKE_KEY}))
    return FAKE_KEY


def test_the_command_line_never_shows_or_writes_the_key(
    emulator: EmulatorServer, fake_key: str, tmp_path: Path, figures: Figures, s3: S3,
    project: Project,
) -> None:  # fmt: skip
    root = project(film_files(8))
    home, temp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    env = {
        **os.environ,
        "RUNWARE_API_KEY": fake_key,
        "RUNWARE_BASE_URL": f"{emulator.base_url}?sig={BASE_URL_SECRET}",
        "HOME": str(home),
        "TMPDIR": str(temp),
        "CI": "1",
        "STORYBOARD_REMOTE": s3.url,
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
    }
    _fail_some(emulator)
    emulator.add_fault("token-url", token=RESULT_TOKEN)
    printed: dict[str, bytes] = {}
    statuses = []
    for step, args in enumerate(
        [["build", "film.yaml", "--json", "--keep-going"], ["report", "film.yaml", "--exports"]]
    ):
        run = subprocess.run(
            [sys.executable, "-m", "tests.faults.runner", "--cli", *args],
            cwd=root, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, timeout=180,
        )  # fmt: skip
        statuses.append(run.returncode)
        printed[f"step {step} stdout"] = run.stdout
        printed[f"step {step} stderr"] = run.stderr
    build_out = json.loads(printed["step 0 stdout"])
    failed = [t for t in build_out["takes"] if t["status"] == "failed"]
    count, found = search([root, home, temp], printed, fake_key)
    for secret in (BASE_URL_SECRET, RESULT_TOKEN, SECRET_ACCESS_KEY, SESSION_TOKEN):
        found += search([root, home, temp], printed, secret)[1]
    stderr = printed["step 0 stderr"].decode(errors="replace")
    served = emulator.stats()["downloads"]

    figures.add("files searched", count)
    figures.add("bytes printed searched", sum(len(v) for v in printed.values()))
    figures.add("takes that failed", len(failed))
    figures.add("debug log lines", stderr.count("DEBUG:"))
    figures.add("places the key was found", len(found))
    figures.add("secrets persisted", len(found))
    # the result URLs' tokens were used (the files are served only with them)
    assert served.get("served", 0) >= 4 and "forbidden" not in served, served
    # the run really failed, really logged, really reached the service with the key
    assert statuses[0] == 1 and failed, stderr[-3000:]
    assert "DEBUG:" in stderr and "httpx" in stderr
    assert billed_per_take(emulator, fake_key), "the emulator billed nothing for the key"
    assert (root / "film.lock").exists() and list((root / "build" / "film").glob("*/report.html"))
    # the remote was really used with those credentials: takes pushed, uploads presigned
    pushed = s3.keys("results/")
    uploads = [d for d in emulator.deliveries() if d["kind"] == "upload"]
    figures.add("remote: takes pushed with the secret credentials", len(pushed))
    figures.add("remote: presigned uploads the provider made", len(uploads))
    assert pushed and uploads and all(d["ok"] for d in uploads)
    assert found == []


class EchoingService(httpx.AsyncBaseTransport):
    """The emulator behind a proxy that puts the caller's key in every error it returns."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.echoed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not key or request.method != "POST":
            return response
        body = await response.aread()
        try:
            answer = json.loads(body)
        except ValueError:  # a malformed body stays malformed, with the key appended
            self.echoed += 1
            return _answer(response, body + f" key={key}".encode(), key)
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if not errors:
            return _answer(response, body, key)
        for error in errors:
            error["message"] = f"{error.get('message', '')} (request made with key {key})"
            error["parameter"] = error.get("parameter") or f"apiKey={key}"
        self.echoed += 1
        return _answer(response, json.dumps(answer).encode(), key)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _answer(response: httpx.Response, body: bytes, key: str) -> httpx.Response:
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    headers["x-echo-key"] = key
    return httpx.Response(response.status_code, headers=headers, content=body)


def test_a_service_that_echoes_the_key_cannot_make_the_build_leak_it(
    emulator: EmulatorServer,
    fake_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[bytes],
    caplog: pytest.LogCaptureFixture,
    figures: Figures,
    project: Project,
) -> None:
    monkeypatch.setenv("RUNWARE_API_KEY", fake_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    root = project(film_files(8))
    _fail_some(emulator)
    service = EchoingService()
    client = RunwareClient(
        transport=service,
        timeout=10,
        poll=PollPolicy(first_delay=0.1, multiplier=1.2, max_interval=0.3, deadline=60),
        retry=RetryPolicy(max_attempts=8, base_delay=0.05, max_delay=0.3, jitter=0.05),
    )
    events: list[Event] = []
    caplog.set_level(logging.DEBUG)
    result = build(
        root / "film.yaml", backend=RunwareBackend(client), keep_going=True,
        film_scale=FILM_SCALE, emit=events.append,
    )  # fmt: skip
    status = main(["report", str(root / "film.yaml")])
    out, err = capsys.readouterr()
    messages = [o.message for o in result.outcomes.values()]
    printed = {
        "stdout": out.encode() if isinstance(out, str) else out,
        "stderr": err.encode() if isinstance(err, str) else err,
        "log records": "\n".join(
            f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records
        ).encode(),
        "events": "\n".join(repr(e) for e in events).encode(),
        "outcome messages": "\n".join(messages).encode(),
    }
    count, found = search([root], printed, fake_key)
    figures.add("errors the service echoed the key in", service.echoed)
    figures.add("log records searched", len(caplog.records))
    figures.add("files searched", count)
    figures.add("takes that failed", len(result.failed))
    figures.add("places the key was found", len(found))
    assert service.echoed >= 3 and result.failed and status == 0
    assert any("REDACTED" in m for m in messages), messages
    assert found == []
