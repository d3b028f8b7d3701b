"""pytest plugin: a real S3 API on loopback (moto's server mode) for the remote's tests.

``moto_server`` (session scope) starts one ``ThreadedMotoServer`` on a free loopback port per
session (per xdist worker); ``s3`` (function scope) gives a test its own bucket and points the
standard AWS environment at the server (``AWS_ENDPOINT_URL``, fake keys, a region), so that
storyboard's remote, through obstore, talks to it exactly as to S3. Nothing leaves loopback.
"""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

#: The fake credentials every test uses (moto accepts any); searched for by the secrets test.
ACCESS_KEY_ID = "AKIAFAKESTORYBOARD01"
SECRET_ACCESS_KEY = "sbx-aws-secret-FAKE-3f9c0d6e1b7a-DO-NOT-LEAK"


@dataclass(frozen=True)
class S3:
    """A bucket of the test's own on the loopback S3 server."""

    endpoint: str
    bucket: str
    client: Any
    """A boto3 client of the server (to look at or tamper with what storyboard wrote)."""

    @property
    def url(self) -> str:
        """The remote's URL: a prefix inside the bucket, as a team would use it."""
        return f"s3://{self.bucket}/films"

    def key(self, path: str) -> str:
        return f"films/{path}"

    def keys(self, prefix: str = "") -> list[str]:
        """Every object below ``films/PREFIX``, relative to ``films/``."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.key(prefix)
        )
        return sorted(o["Key"][len("films/") :] for p in pages for o in p.get("Contents", []))

    def get(self, path: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=self.key(path))["Body"].read()
        return body

    def put(self, path: str, data: bytes) -> None:
        """Overwrite an object behind storyboard's back (a hostile or broken writer)."""
        self.client.put_object(Bucket=self.bucket, Key=self.key(path), Body=data)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The endpoint URL of a loopback S3 server, for the whole session."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def aws_env(endpoint: str) -> dict[str, str]:
    """The standard AWS environment pointing at ``endpoint``."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }


@pytest.fixture
def s3(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> S3:
    """A fresh bucket on the loopback S3 server, and the AWS environment pointing at it."""
    import boto3

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_env(moto_server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STORYBOARD_REMOTE", raising=False)
    client = boto3.client(
        "s3",
        endpoint_url=moto_server,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        region_name="us-east-1",
    )
    bucket = f"team-films-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=bucket)
    return S3(moto_server, bucket, client)
