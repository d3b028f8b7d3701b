"""The Runware client's exception family, and how raw server codes map onto it.

Every error the client raises on purpose is a :class:`RunwareError`, itself a
:class:`storyboard.core.errors.ProviderError`, so the CLI maps all of them to exit status 1::

    ProviderError (storyboard.core.errors)
     +-- RunwareError                      base; task_uuid, parameter, code, status_code,
          |                                retryable, may_be_running, documentation
          +-- RunwareValidationError       the request is wrong (400, invalid*/missing*/...)
          +-- RunwareAuthError             no key, bad key, key lacks permission (401/403)
          +-- RunwareQuotaError            no credits left (402, *Credits*/*Balance*/*Quota*)
          +-- RunwareRateLimitError        too busy, try later (429)             retryable
          +-- RunwareSafetyError           moderation refused an input or output; names it
          +-- RunwareProviderError         the model/provider failed the task     retryable
          +-- RunwareNotFoundError         unknown task, model or resource (404)
          +-- RunwareServerError           Runware itself failed (5xx)           retryable
          +-- RunwareTimeoutError          no answer in time; may still run      retryable
          +-- RunwareConnectionError       the network failed (reset, refused)   retryable
          +-- RunwareDownloadError         a result could not be fetched or is not a video

``retryable`` says whether trying again can help. For a failure that reached the service
it means a *new* attempt (a new task UUID, billed again) may succeed; that decision belongs
to the caller. ``may_be_running`` is set when the task may have been accepted (and may be
billed) but the client could not bring its result back: an ambiguous submit, a wait cut
short (deadline, revoked key, closed client), a download of a finished task that failed.
Keep the UUID and resume (poll, download); never resubmit under a new UUID. When it is
False, the service answered for good (refused the request, or the generation failed).
``not_sent`` is set when no byte of the request left this machine: the connection was
refused, the name did not resolve, connecting timed out (``httpx.ConnectError``,
``httpx.ConnectTimeout``), on every attempt. The service cannot hold what was never sent.

Every message, ``parameter`` and repr goes through :func:`~.redact.scrub`, so the API key
never shows up in an error, even when the server echoes it back.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from storyboard.backends.runware.redact import scrub
from storyboard.core.errors import ProviderError

__all__ = [
    "RunwareAuthError",
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
    "error_class_for",
    "error_from_api",
]


class RunwareError(ProviderError):
    """Base of the family; carries what the service said about the failure.

    Attributes:
        task_uuid: the task concerned, when known.
        parameter: the offending request field as the service names it (``"duration"``).
        code: the raw server code (``"unsupportedDuration"``), or ``None``.
        status_code: the HTTP status of the answer, or ``None`` (network failure, poll item).
        retryable: whether trying again can help (see the module docstring).
        may_be_running: the task may be accepted and billed, its result not brought back.
        documentation: the service's link for this error, if it gave one.
        retry_after: seconds the service asked to wait (``Retry-After``), if it did.
        not_sent: no byte of the request was written: it failed before a connection was
            made (see the module docstring), so the service cannot have it.
        delivered: the results a task of several (``numberResults``) delivered, and the
            service billed, before it failed: kept, not asked for again.
    """

    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        task_uuid: str | None = None,
        parameter: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        retryable: bool | None = None,
        may_be_running: bool = False,
        documentation: str | None = None,
        retry_after: float | None = None,
        not_sent: bool = False,
        delivered: tuple[Any, ...] = (),
    ) -> None:
        self.message = scrub(message)
        super().__init__(self.message)
        self.task_uuid = task_uuid
        self.parameter = scrub(parameter) if parameter is not None else None
        self.code = code
        self.status_code = status_code
        self.retryable = self.default_retryable if retryable is None else retryable
        self.may_be_running = may_be_running
        self.documentation = documentation
        self.retry_after = retry_after
        self.not_sent = not_sent
        self.delivered = delivered

    def evolve(self, message: str | None = None, **changes: Any) -> RunwareError:
        """A copy of this error (same class) with a new message and/or changed fields."""
        fields: dict[str, Any] = {
            "task_uuid": self.task_uuid,
            "parameter": self.parameter,
            "code": self.code,
            "status_code": self.status_code,
            "retryable": self.retryable,
            "may_be_running": self.may_be_running,
            "documentation": self.documentation,
            "retry_after": self.retry_after,
            "not_sent": self.not_sent,
            "delivered": self.delivered,
        }
        fields.update(changes)
        return type(self)(self.message if message is None else message, **fields)

    def __str__(self) -> str:
        return scrub(super().__str__())

    def __repr__(self) -> str:
        fields = [repr(str(self))]
        for name in ("code", "status_code", "task_uuid", "parameter"):
            value = getattr(self, name)
            if value is not None:
                fields.append(f"{name}={value!r}")
        fields.append(f"retryable={self.retryable!r}")
        return scrub(f"{type(self).__name__}({', '.join(fields)})")


class RunwareValidationError(RunwareError):
    """The service rejected the request as invalid; fix the request, do not retry."""


class RunwareAuthError(RunwareError):
    """The API key is missing, unknown, suspended or lacks permission."""


class RunwareQuotaError(RunwareError):
    """The account has no credits (or quota) left for this request."""


class RunwareRateLimitError(RunwareError):
    """The service (or the model's queue) is over capacity; retry later."""

    default_retryable = True


class RunwareSafetyError(RunwareError):
    """Content moderation refused an input or the output.

    ``flagged`` names the input the service blamed (its ``parameter`` or a field named in
    its message), or is ``None`` when the service did not say.
    """

    def __init__(self, message: str, **kwargs: Any) -> None:
        flagged = flagged_input(kwargs.get("parameter"), kwargs.get("code"), message)
        if flagged and flagged not in message:
            message = f"{message} (flagged input: {flagged})"
        super().__init__(message, **kwargs)
        self.flagged = flagged


class RunwareProviderError(RunwareError):
    """The model or its provider failed the task (provider timeout, inference error...)."""

    default_retryable = True


class RunwareNotFoundError(RunwareError):
    """The task, model or resource is unknown to the service (or expired)."""


class RunwareServerError(RunwareError):
    """Runware itself failed (5xx, ``internalServerError``); retrying usually helps."""

    default_retryable = True


class RunwareTimeoutError(RunwareError):
    """No answer in time: an HTTP call timed out, or a task missed the poll deadline."""

    default_retryable = True


class RunwareConnectionError(RunwareError):
    """The network failed: connection refused, reset or dropped mid-answer (``not_sent``
    when it failed before the request was written)."""

    default_retryable = True


class RunwareDownloadError(RunwareError):
    """A result could not be downloaded, was too large, or is not a video."""


# Raw codes, most specific family first: ``providerContentPolicyViolation`` is a safety
# error before it is a provider error, ``missingApiKey`` an auth error before a validation
# error, ``unknownError`` a server error before an unknown-parameter one.
_CODE_RULES: tuple[tuple[type[RunwareError], re.Pattern[str]], ...] = (
    (
        RunwareAuthError,
        re.compile(
            r"apikey|^unauthori[sz]ed|^forbidden|permission|^accountsuspended|^suspended"
            r"|^invalidcredentials|^authentication"
        ),
    ),
    (RunwareQuotaError, re.compile(r"credits?|balance|quota|paymentrequired|insufficientfunds")),
    (RunwareRateLimitError, re.compile(r"ratelimit|toomanyrequests|throttl")),
    (
        RunwareSafetyError,
        re.compile(
            r"contentpolicy|sensitivecontent|unsafecontent|nsfw|moderation|blocked"
            r"|safetycheck|flagged"
        ),
    ),
    (
        RunwareNotFoundError,
        re.compile(r"notfound$|expired$|^taskfailedornotfound$|^taskcancell?ed$|^unknownmodel$"),
    ),
    (
        RunwareServerError,
        re.compile(r"^internal|servererror|^serviceunavailable$|^unknownerror$|^gatewaytimeout$"),
    ),
    (
        RunwareProviderError,
        re.compile(
            r"^timeoutprovider$|^inferenceerror$|^processingfailed$|^taskfailed$"
            r"|^downloadfailed$|^uploadfailed$|^noavailableserver$|^model(unavailable|disabled"
            r"|notready)$|^provider|failed$"
        ),
    ),
    (
        RunwareValidationError,
        re.compile(
            r"^(invalid|missing|unsupported|unknown|incompatible|mismatch|duplicate|max|min"
            r"|conflict)|toolarge$|toosmall$|toolong$|tooshort$|^valueout"
        ),
    ),
)

_STATUS_CLASSES: dict[int, type[RunwareError]] = {
    400: RunwareValidationError,
    401: RunwareAuthError,
    402: RunwareQuotaError,
    403: RunwareAuthError,
    404: RunwareNotFoundError,
    408: RunwareTimeoutError,
    409: RunwareValidationError,
    413: RunwareValidationError,
    422: RunwareValidationError,
    429: RunwareRateLimitError,
}

#: HTTP statuses after which the same request is sent again (same task UUID).
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def error_class_for(code: str | None, status_code: int | None) -> type[RunwareError]:
    """The exception class for a raw server ``code``, else for the HTTP ``status_code``.

    A code decides when it is known; an unknown code falls back to the status; an error
    item inside a 200 answer with an unknown code is a provider failure.
    """
    if code:
        folded = code.lower()
        for cls, pattern in _CODE_RULES:
            if pattern.search(folded):
                return cls
    if status_code is not None:
        if status_code in _STATUS_CLASSES:
            return _STATUS_CLASSES[status_code]
        if status_code >= 500:
            return RunwareServerError
        if 400 <= status_code < 500:
            return RunwareValidationError
    return RunwareProviderError


def error_from_api(
    *,
    code: str | None,
    message: str | None,
    status_code: int | None,
    task_uuid: str | None = None,
    parameter: str | None = None,
    documentation: str | None = None,
    context: str = "",
) -> RunwareError:
    """Build the right :class:`RunwareError` for one error the service reported.

    Args:
        code: raw server code, if any.
        message: the service's text, if any.
        status_code: HTTP status of the answer that carried the error.
        task_uuid: the task the error is about.
        parameter: the offending field, as the service named it.
        documentation: the service's documentation link.
        context: what the client was doing (``"submit"``, ``"poll"``), put in the message.
    """
    cls = error_class_for(code, status_code)
    parts = [f"Runware {context} failed" if context else "Runware request failed"]
    if task_uuid:
        parts.append(f"for task {task_uuid}")
    text = " ".join(parts)
    detail = message or (f"HTTP {status_code}" if status_code else "no message")
    label = f"{code}: " if code else ""
    where = f" (parameter {parameter})" if parameter else ""
    text = f"{text}: {label}{detail}{where}"
    return cls(
        text,
        task_uuid=task_uuid,
        parameter=parameter,
        code=code,
        status_code=status_code,
        documentation=documentation,
    )


# A field named in a moderation message: ``inputs.frameImages[0].image``, ``positivePrompt``,
# ``providerSettings.klingai.multiPrompt[1].prompt``...
_FIELD = re.compile(
    r"\b((?:inputs|providerSettings)(?:\.[A-Za-z]\w*|\[\d+\])+|positivePrompt|multiPrompt(?:\[\d+\])?)"
)
_CODE_HINTS = {"promptblocked": "positivePrompt", "imageblocked": "image input"}


def flagged_input(parameter: str | None, code: str | None, message: str) -> str | None:
    """Which input a moderation failure blames: its parameter, a field named in its
    message, or what its code implies (``promptBlocked`` -> ``positivePrompt``)."""
    if parameter:
        return parameter
    match = _FIELD.search(message)
    if match:
        return match.group(1)
    if code:
        return _CODE_HINTS.get(code.lower())
    return None
