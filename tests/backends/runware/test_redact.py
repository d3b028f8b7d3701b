"""The API key never shows up in an exception, a repr or a log record."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest

from storyboard.backends.runware import RetryPolicy, RunwareClient, RunwareError, scrub
from storyboard.backends.runware.redact import (
    REDACTED,
    SecretFilter,
    redact_url,
    register_secret,
    strip_redaction,
)
from tests.backends.runware.conftest import ClientFactory
from tests.backends.runware.fakes import API_KEY, REQUEST, TASK, ScriptedRunware, answer

pytestmark = pytest.mark.anyio


def echo_key(tasks: object) -> httpx.Response:
    """A server that repeats the key back in its error message (it happens)."""
    message = f"Invalid API key {API_KEY} (Bearer {API_KEY})"
    return answer(
        errors=[{"code": "invalidApiKey", "message": message, "parameter": API_KEY}], status=401
    )


def test_scrub_replaces_registered_secrets_and_bearer_tokens() -> None:
    register_secret("s3cr3t-value-123")
    assert scrub("key s3cr3t-value-123 here") == f"key {REDACTED} here"
    assert scrub("Authorization: Bearer abc.def-ghi") == f"Authorization: Bearer {REDACTED}"
    assert scrub("nothing to hide") == "nothing to hide"
    register_secret("k")  # too short to be a key: it would garble every message
    assert scrub("keep kites") == "keep kites"


async def test_key_is_absent_from_errors_reprs_and_logs(
    make_client: ClientFactory,
    runware: ScriptedRunware,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    runware.queue("videoInference", httpx.ConnectError(f"refused with {API_KEY}"), echo_key)
    runware.queue("getResponse", echo_key)
    texts: list[str] = []
    async with make_client(retry=RetryPolicy(max_attempts=3)) as client:
        texts.append(repr(client))
        for action in (client.submit(REQUEST, TASK), client.wait(TASK)):
            with pytest.raises(RunwareError) as caught:
                await action
            error = caught.value
            texts += [str(error), repr(error), error.message, str(error.parameter), error.args[0]]
            texts.append("".join(traceback.format_exception(error)))
    logging.getLogger("storyboard.backends.runware").error("oops %s", API_KEY)
    texts += [record.getMessage() for record in caplog.records]
    texts.append(caplog.text)
    assert any(REDACTED in text for text in texts)
    for text in texts:
        assert API_KEY not in text


def test_the_filter_scrubs_args_tracebacks_and_httpx_records(
    caplog: pytest.LogCaptureFixture,
) -> None:
    RunwareClient(API_KEY, base_url="https://x.test/v1", env={})  # registers the key
    caplog.set_level(logging.DEBUG)
    try:
        raise ValueError(f"failed with {API_KEY}")
    except ValueError:
        logging.getLogger("httpx").exception("request with %s", API_KEY)
    logging.getLogger("httpcore.http11").debug("headers %r", {"Authorization": f"Bearer {API_KEY}"})
    assert len(caplog.records) == 2
    assert API_KEY not in caplog.text
    assert "ValueError: failed with [REDACTED]" in caplog.text


def test_the_filter_can_sit_on_any_handler() -> None:
    record = logging.LogRecord("elsewhere", logging.INFO, __file__, 1, "key=%s", (API_KEY,), None)
    register_secret(API_KEY)
    assert SecretFilter().filter(record)
    assert record.getMessage() == f"key={REDACTED}"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://api.runware.ai/v1", "https://api.runware.ai/v1"),
        ("https://API.Runware.ai:443/v1/", "https://API.Runware.ai:443/v1/"),  # as written
        ("http://127.0.0.1:8787/v1?sig=abc123secret", f"http://127.0.0.1:8787/v1?{REDACTED}"),
        ("https://u:pw-0123456789@h.test/x.mp4#frag", f"https://{REDACTED}@h.test/x.mp4"),
        ("https://[::1]:9/v.mp4?token=t&x=1", f"https://[::1]:9/v.mp4?{REDACTED}"),
    ],
)
def test_redact_url_keeps_a_url_without_secrets_as_it_is(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert strip_redaction(redact_url(url)) == shown.removesuffix(f"?{REDACTED}")


async def test_the_secrets_of_the_base_url_are_scrubbed_from_messages(
    make_client: ClientFactory,
) -> None:
    secret = "sig-abcdef0123456789"
    async with make_client(base_url=f"https://api.runware.test/v1?sig={secret}") as client:
        assert secret not in repr(client)
    logged = scrub(f"HTTP Request: POST https://api.runware.test/v1?sig={secret}")
    assert secret not in logged and REDACTED in logged
