"""The remote's store (:mod:`storyboard.remote.store`) against a real S3 API on loopback:
credentials from an AWS profile when the environment holds no keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import RemoteError, Store
from tests.s3 import S3

PROFILE_KEY_ID = "AKIAPROFILESTORYBOARD"
PROFILE_SECRET = "sbx-profile-secret-7d1e0c9a4b-DO-NOT-LEAK"
TASK = "3f8e2a1c-0b9d-4e7f-8a6b-5c4d3e2f1a0b"


@pytest.fixture
def profile_only(s3: S3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3:
    """The tests' bucket, with no keys in the environment: only the profile ``team`` of a
    shared credentials file. The machine's metadata service is turned off and pointed at a
    closed loopback port, so that nothing can look for a role off this machine."""
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(
        f"[team]\naws_access_key_id = {PROFILE_KEY_ID}\naws_secret_access_key = {PROFILE_SECRET}\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_METADATA_ENDPOINT", "http://127.0.0.1:9")
    return s3


def test_an_aws_profile_signs_when_the_environment_holds_no_keys(
    profile_only: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "team")
    store = Store(RemoteConfig(profile_only.url, "test"))
    url = store.sign_put(f"uploads/{TASK}")
    assert url is not None and f"X-Amz-Credential={PROFILE_KEY_ID}%2F" in url, url
    assert httpx.put(url, content=b"made by the provider").status_code == 200
    assert asyncio.run(store.create("results/x/record.json", b"{}")) is True
    assert profile_only.keys() == ["results/x/record.json", f"uploads/{TASK}"]
    assert profile_only.get(f"uploads/{TASK}") == b"made by the provider"


def test_a_profile_that_does_not_exist_is_one_line_without_a_secret(
    profile_only: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nobody")
    store = Store(RemoteConfig(profile_only.url, "test"))
    with pytest.raises(RemoteError) as caught:
        asyncio.run(store.probe())
    message = str(caught.value)
    assert caught.value.kind == "denied" and "\n" not in message
    assert message.startswith("cannot read the AWS profile 'nobody': "), message
    assert PROFILE_SECRET not in message and profile_only.keys() == []
