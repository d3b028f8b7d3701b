"""A real S3 API on loopback for the remote's benchmarks: moto's server, in a process of its
own (as a remote store would be: its work does not share this process's interpreter lock)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

ENV = {
    "AWS_ACCESS_KEY_ID": "AKIABENCHSTORYBOARD0",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def moto(bucket: str) -> Iterator[str]:
    """A moto server on a free loopback port with ``bucket`` made, and this process's AWS
    environment pointing at it; yields the endpoint URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in (*ENV, "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN")}
    try:
        for _ in range(200):
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        os.environ.update(ENV, AWS_ENDPOINT_URL=endpoint)
        os.environ.pop("AWS_SESSION_TOKEN", None)
        httpx.put(f"{endpoint}/{bucket}", timeout=10).raise_for_status()
        yield endpoint
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
