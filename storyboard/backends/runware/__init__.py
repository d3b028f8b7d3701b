"""The Runware API client (``videoInference`` with Kling VIDEO O3 Pro), async, over httpx.

Modules, from the wire up::

    redact    scrub the API key (and URL secrets) from text and log records; redact_url
    errors    the RunwareError family (drawn in its docstring); raw code -> class
    wire      task objects out, envelopes in (both failure encodings, legacy shapes)
    media     sniffing, data URIs, finding local files in a request
    poll      Poller: one batched getResponse loop shared by every wait
    download  stream a result to disk, capped, checked to be a video; where it may go
    client    RunwareClient: submit (idempotent retries), upload, wait, download

Only :mod:`storyboard.core.errors` is imported from the rest of storyboard.
"""

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
