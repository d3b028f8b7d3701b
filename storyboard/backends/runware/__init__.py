"""The Runware API client (``videoInference`` with Kling VIDEO O3 Pro), async, over httpx.

Modules, from the wire up::

    redact    scrub the API key (and URL secrets) from text and log records; redact_url
    errors    the RunwareError family (drawn in its docstring); raw code -> class
    wire      task objects out, envelopes in (both failure encodings, legacy shapes)
    media     sniffing, data URIs, finding local files in a request
    poll      Poller: one batched getResponse loop shared by every wait
    download  stream a result to disk, capped, checked to be a video; where it may go
    client    RunwareClient: submit (idempotent retries), upload, wait, download

Only :mod:`storyboard.core.errors` and :mod:`storyboard.core.settings` are imported from the
rest of storyboard. The names below load on first use (PEP 562): a build that sends nothing
(a no-op rebuild) reads :mod:`.redact` and must not pay for httpx (about 50 ms to import,
with ssl).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storyboard.backends.runware.client import (
        API_KEY_ENV,
        BASE_URL_ENV,
        DEFAULT_BASE_URL,
        RetryPolicy,
        RunwareClient,
        Submission,
    )
    from storyboard.backends.runware.download import DEFAULT_MAX_BYTES, Destinations, Download
    from storyboard.backends.runware.errors import (
        RunwareAuthError,
        RunwareConnectionError,
        RunwareDownloadError,
        RunwareError,
        RunwareNotFoundError,
        RunwareProviderError,
        RunwareQuotaError,
        RunwareRateLimitError,
        RunwareSafetyError,
        RunwareServerError,
        RunwareTimeoutError,
        RunwareValidationError,
    )
    from storyboard.backends.runware.media import FileSpec, JsonPath
    from storyboard.backends.runware.poll import Poller, PollPolicy
    from storyboard.backends.runware.redact import SecretFilter, redact_url, scrub
    from storyboard.backends.runware.wire import VideoResult

_EXPORTS = {
    "API_KEY_ENV": "client",
    "BASE_URL_ENV": "client",
    "DEFAULT_BASE_URL": "client",
    "RetryPolicy": "client",
    "RunwareClient": "client",
    "Submission": "client",
    "DEFAULT_MAX_BYTES": "download",
    "Destinations": "download",
    "Download": "download",
    "RunwareAuthError": "errors",
    "RunwareConnectionError": "errors",
    "RunwareDownloadError": "errors",
    "RunwareError": "errors",
    "RunwareNotFoundError": "errors",
    "RunwareProviderError": "errors",
    "RunwareQuotaError": "errors",
    "RunwareRateLimitError": "errors",
    "RunwareSafetyError": "errors",
    "RunwareServerError": "errors",
    "RunwareTimeoutError": "errors",
    "RunwareValidationError": "errors",
    "FileSpec": "media",
    "JsonPath": "media",
    "Poller": "poll",
    "PollPolicy": "poll",
    "SecretFilter": "redact",
    "redact_url": "redact",
    "scrub": "redact",
    "VideoResult": "wire",
}

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_BYTES",
    "Destinations",
    "Download",
    "FileSpec",
    "JsonPath",
    "PollPolicy",
    "Poller",
    "RetryPolicy",
    "RunwareAuthError",
    "RunwareClient",
    "RunwareConnectionError",
    "RunwareDownloadError",
    "RunwareError",
    "RunwareNotFoundError",
    "RunwareProviderError",
    "RunwareQuotaError",
    "RunwareRateLimitError",
    "RunwareSafetyError",
    "RunwareServerError",
    "RunwareTimeoutError",
    "RunwareValidationError",
    "SecretFilter",
    "Submission",
    "VideoResult",
    "redact_url",
    "scrub",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'storyboard.backends.runware' has no attribute {name!r}")
    return getattr(importlib.import_module(f"storyboard.backends.runware.{module}"), name)
