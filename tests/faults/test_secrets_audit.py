"""Secrets audit: places a secret still reached before these fixes (see test_secrets.py).

1. A ``RUNWARE_BASE_URL`` with no host (``https:///v1?sig=SECRET``, a typo) made the
   backend's namespace out of the whole URL, query and userinfo included: the journal's
   records, the cache's and the build's folder names and ``build --json`` carried the secret.
2. httpx logs the URL it requests as it encodes it anew: the user of a base URL that logs in
   with a token alone (``https://TOKEN@host/v1``), and a result URL's token holding a space or
   a non-ASCII character (``%20``, ``%C3%A9``), were not registered in those forms, so the
   ``HTTP Request: ...`` lines carried them. And httpcore, at DEBUG, prints a response's
   headers: a redirect to a signed URL showed its token (``Location``) before the download
   had read it, so before it was registered.
3. An AWS profile that assumes a role: botocore, at DEBUG, prints the STS answer, with the
   temporary secret key and session token the remote then signs with.

Nothing here leaves loopback: the Runware client runs on an ``httpx.MockTransport`` and a
stub resolver, the remote on the loopback S3 server (moto) of ``tests/s3.py``, STS too.
"""

from __future__ import annotations

import asyncio
import http.server
import logging
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from storyboard.backends.namespaces import namespace
from storyboard.backends.runware.backend import RunwareBackend
from storyboard.backends.runware.client import RetryPolicy, RunwareClient
from storyboard.backends.runware.errors import RunwareDownloadError
from storyboard.build.pipeline import build
from storyboard.core.errors import InputError
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import Store
from tests.backends.runware.fakes import MP4_HEAD
from tests.faults.films import film_files
from tests.faults.runner import FILM_SCALE
from tests.faults.test_secrets import files_under
from tests.s3 import S3

KEY = "sbx-AUDIT-KEY-51c0e7a9b2d4-DO-NOT-LEAK"
TASK = "5b0c6c1e-8f2a-4d3b-9e7f-1a2b3c4d5e6f"

Project = Callable[[dict[str, str | bytes]], Path]


# -- 1. a base URL without a host -----------------------------------------------------------


def test_a_base_url_without_a_host_names_no_secret_in_the_namespace() -> None:
    """It is refused as no server's URL (exit 2, before anything is planned), and the
    refusal does not repeat it; it used to name the namespace with the URL's whole text."""
    secret = "sig-audit-nohost-4e8a1f0c9b7d"
    for url in (f"https:///v1?sig={secret}", f"https://user:{secret}@/v1"):
        with pytest.raises(InputError, match="RUNWARE_BASE_URL is not a server's URL") as refused:
            namespace("runware", base_url=url)
        assert secret not in str(refused.value)
    assert namespace("runware", base_url="http://127.0.0.1:8787/v1/") == "runware@127.0.0.1:8787"


@pytest.mark.parametrize(
    "url",
    ["https:///v1?sig={secret}", "https://h:99999/v1?s={secret}"],
)
def test_a_build_at_a_base_url_without_a_host_writes_no_secret(project: Project, url: str) -> None:
    secret = "sig-audit-nohost-SECRET-7d2c5e0a9f13"
    root = project(film_files(5))
    before = sorted(files_under(root))

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing may be sent: {request.url}")

    with pytest.raises(InputError) as refused:
        client = RunwareClient(
            KEY,
            base_url=url.format(secret=secret),
            transport=httpx.MockTransport(refuse),
            retry=RetryPolicy(max_attempts=1, connect_attempts=1),
            env={},
        )
        build(root / "film.yaml", backend=RunwareBackend(client), film_scale=FILM_SCALE)
    assert secret not in str(refused.value)
    assert sorted(files_under(root)) == before  # nothing written: no journal, no build folder


# -- 2. what httpx logs ------------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _service(request: httpx.Request) -> httpx.Response:
    if request.method == "POST":
        ack = {"taskType": "videoInference", "taskUUID": TASK}
        return httpx.Response(200, json={"data": [ack]})
    return httpx.Response(404)


async def _resolve(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]  # public; nothing connects (the transport is a mock)


@pytest.mark.anyio
async def test_a_token_as_the_user_of_the_base_url_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "rw-userinfo-TOKEN-6f1e2d3c4b5a"
    caplog.set_level(logging.DEBUG)
    async with RunwareClient(
        KEY, base_url=f"https://{token}@api.runware.test/v1", env={},
        transport=httpx.MockTransport(_service), resolver=_resolve,
    ) as client:  # fmt: skip
        await client.submit({"model": "m"}, TASK)
    assert "HTTP Request: POST" in caplog.text  # httpx did log the request
    assert token not in caplog.text


@pytest.mark.anyio
@pytest.mark.parametrize("token", ["tok en-SECRET-3a9c1e7b5d", "tök-SECRET-8e2f4a6c0b1d"])
async def test_a_token_httpx_encodes_anew_is_not_logged(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, token: str
) -> None:
    url = f"https://vm.runware.test/v.mp4?token={token}"
    printed = httpx.URL(url).query.decode().partition("=")[2]  # as httpx shows it
    caplog.set_level(logging.DEBUG)
    async with RunwareClient(
        KEY, base_url="https://api.runware.test/v1", env={},
        transport=httpx.MockTransport(_service), resolver=_resolve,
        retry=RetryPolicy(max_attempts=1),
    ) as client:  # fmt: skip
        with pytest.raises(RunwareDownloadError, match="HTTP 404"):
            await client.download(url, tmp_path / "x.mp4")
    assert "HTTP Request: GET" in caplog.text
    for form in (token, printed, urllib.parse.quote(token)):
        assert form not in caplog.text, form


REDIRECT_TOKEN = "tok-redirect-SECRET-4c7e1a9f2b6d"


class _Redirecting(http.server.BaseHTTPRequestHandler):
    """``/a.mp4`` redirects to ``/b.mp4?token=...`` (a signed URL), which serves a video."""

    def do_GET(self) -> None:
        if self.path.startswith("/a.mp4"):
            self.send_response(302)
            self.send_header("Location", f"/b.mp4?token={REDIRECT_TOKEN}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = MP4_HEAD + bytes(512)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[int]:
    """The port of a loopback server that redirects to a signed URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.anyio
async def test_the_token_of_a_redirect_is_not_logged(
    redirecting: int, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    here = f"http://127.0.0.1:{redirecting}"  # an emulator's place: downloads may go there
    async with RunwareClient(
        KEY, base_url=f"{here}/v1", env={}, retry=RetryPolicy(max_attempts=1)
    ) as client:
        done = await client.download(f"{here}/a.mp4", tmp_path / "x.mp4")
    assert done.size == len(MP4_HEAD) + 512  # the redirect was followed
    assert "receive_response_headers" in caplog.text  # httpcore did log the headers
    assert REDIRECT_TOKEN not in caplog.text


# -- 3. an AWS profile that assumes a role -----------------------------------------------------


def test_the_credentials_of_an_assumed_role_are_not_logged(
    s3: S3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("boto3")
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(
        "[source]\naws_access_key_id = AKIAAUDITSOURCE00001\n"
        "aws_secret_access_key = sbx-audit-source-secret-0b9d7e5c3a1f\n"
    )
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile films]\nrole_arn = arn:aws:iam::123456789012:role/films\n"
        "source_profile = source\nregion = us-east-1\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "films")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", s3.endpoint)  # STS on loopback (moto)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_METADATA_ENDPOINT", "http://127.0.0.1:9")
    caplog.set_level(logging.DEBUG)
    store = Store(RemoteConfig(s3.url, "test"), env=dict(os.environ))
    signed = store.sign_put(f"uploads/{TASK}")
    assert signed is not None
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(signed).query)
    # signed with the role's temporary credentials, which came from STS
    assert query["X-Amz-Credential"][0].startswith("ASIA"), signed
    session_token = query["X-Amz-Security-Token"][0]
    logged = "\n".join(f"{r.name}: {r.getMessage()}" for r in caplog.records)
    assert "botocore" in logged  # botocore did log the lookup
    assert session_token not in logged
    assert "<SecretAccessKey>" not in logged and "<SessionToken>" not in logged
    assert asyncio.run(store.create("results/x/record.json", b"{}")) is True


def test_an_s3_endpoint_with_a_login_is_refused_before_anything_is_signed() -> None:
    """obstore signed an endpoint's user name and password into every presigned URL, which
    are sent to the provider: such an endpoint is refused, saying where credentials go."""
    from storyboard.remote.config import RemoteConfig
    from storyboard.remote.store import RemoteError, Store

    secret = "pw-audit-endpoint-5c1e9a7d3b"
    env = {
        "AWS_ENDPOINT_URL": f"http://films:{secret}@127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "AKIAAUDITAUDITAUDIT0",
        "AWS_SECRET_ACCESS_KEY": "audit-secret-access-key-0123456789abcdef",
        "AWS_REGION": "us-east-1",
    }
    store = Store(RemoteConfig("s3://team-films/storyboard", "test"), env=env)
    assert store.sign_put("uploads/6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11") is None  # no URL
    with pytest.raises(RemoteError, match="AWS_ENDPOINT_URL holds a user name or password") as no:
        _ = store.store
    assert secret not in str(no.value) and no.value.kind == "denied"
    plain = Store(RemoteConfig("s3://team-films/storyboard", "test"), env={
        **env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})  # fmt: skip
    assert plain.endpoint() == "http://127.0.0.1:9"
