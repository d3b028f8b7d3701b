"""Classification: raw codes (§1.3) and HTTP statuses (§1.4) -> one typed family."""

from __future__ import annotations

import pytest

from storyboard.backends.runware import (
    RunwareAuthError,
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
from storyboard.backends.runware.errors import error_class_for, error_from_api
from storyboard.core.errors import ProviderError

CODES: dict[type[RunwareError], list[str]] = {
    RunwareAuthError: [
        "invalidApiKey",
        "missingApiKey",
        "unauthorized",
        "forbidden",
        "insufficientPermissions",
        "accountSuspended",
    ],
    RunwareValidationError: [
        "invalidPositivePrompt",
        "invalidPositivePromptLength",
        "missingPositivePrompt",
        "unsupportedDuration",
        "unsupportedParameter",
        "unknownParameter",
        "incompatibleParameters",
        "valueTooLarge",
        "arrayTooSmall",
        "mismatchProviderSettingsProvider",
        "unknownProviderSettingsProvider",
        "unsupportedTaskType",
        "conflictTaskUUID",
        "duplicateElementId",
        "missingWidth",
        "invalidFrameImageWidth",
        "maxReferenceImages",
        "unsupportedDimensions",
        "invalidModel",
        "invalidDuration",
    ],
    RunwareQuotaError: ["insufficientCredits", "lowBalance", "quotaExceeded", "paymentRequired"],
    RunwareRateLimitError: ["rateLimitExceeded", "providerRateLimit"],
    RunwareSafetyError: [
        "contentPolicyViolation",
        "providerContentPolicyViolation",
        "sensitiveContentDetected",
        "unsafeContentDetected",
        "nsfwContentDetected",
        "promptBlocked",
        "imageBlocked",
        "moderationFailed",
    ],
    RunwareProviderError: [
        "timeoutProvider",
        "inferenceError",
        "processingFailed",
        "taskFailed",
        "downloadFailed",
        "uploadFailed",
        "noAvailableServer",
        "modelUnavailable",
        "modelDisabled",
        "modelNotReady",
        "providerError",
    ],
    RunwareNotFoundError: [
        "taskFailedOrNotFound",
        "taskCancelled",
        "unknownModel",
        "imageNotFound",
        "urlExpired",
    ],
    RunwareServerError: ["internalServerError", "serviceUnavailable", "unknownError"],
}


@pytest.mark.parametrize(
    ("code", "cls"), [(code, cls) for cls, codes in CODES.items() for code in codes]
)
def test_codes_decide_the_class(code: str, cls: type[RunwareError]) -> None:
    # The code wins over whatever status carried it.
    assert error_class_for(code, 400) is cls
    assert error_class_for(code, None) is cls


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, RunwareValidationError),
        (401, RunwareAuthError),
        (402, RunwareQuotaError),
        (403, RunwareAuthError),
        (404, RunwareNotFoundError),
        (408, RunwareTimeoutError),
        (418, RunwareValidationError),
        (429, RunwareRateLimitError),
        (500, RunwareServerError),
        (503, RunwareServerError),
        (504, RunwareServerError),
        (None, RunwareProviderError),
    ],
)
def test_unknown_codes_fall_back_to_the_status(status: int | None, cls: type[RunwareError]) -> None:
    assert error_class_for("somethingNew", status) is cls
    assert error_class_for(None, status) is cls


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (RunwareValidationError, False),
        (RunwareAuthError, False),
        (RunwareQuotaError, False),
        (RunwareSafetyError, False),
        (RunwareNotFoundError, False),
        (RunwareRateLimitError, True),
        (RunwareProviderError, True),
        (RunwareServerError, True),
        (RunwareTimeoutError, True),
    ],
)
def test_retryable_defaults(cls: type[RunwareError], retryable: bool) -> None:
    error = cls("x")
    assert error.retryable is retryable
    assert isinstance(error, ProviderError)
    assert error.exit_code == 1


def test_error_from_api_carries_everything() -> None:
    error = error_from_api(
        code="unsupportedDuration",
        message="Invalid value for duration parameter.",
        status_code=400,
        task_uuid="t-1",
        parameter="duration",
        documentation="https://runware.ai/docs#duration",
        context="submit",
    )
    assert isinstance(error, RunwareValidationError)
    assert str(error) == (
        "Runware submit failed for task t-1: unsupportedDuration: "
        "Invalid value for duration parameter. (parameter duration)"
    )
    assert (error.code, error.status_code, error.task_uuid, error.parameter) == (
        "unsupportedDuration",
        400,
        "t-1",
        "duration",
    )
    assert repr(error).startswith("RunwareValidationError('Runware submit failed")
    assert "code='unsupportedDuration'" in repr(error)


@pytest.mark.parametrize(
    ("parameter", "code", "message", "flagged"),
    [
        ("positivePrompt", "contentPolicyViolation", "refused", "positivePrompt"),
        (
            None,
            "sensitiveContentDetected",
            "inputs.referenceImages[2] is unsafe",
            "inputs.referenceImages[2]",
        ),
        (None, "promptBlocked", "blocked", "positivePrompt"),
        (None, "imageBlocked", "blocked", "image input"),
        (None, "nsfwContentDetected", "the output was flagged", None),
    ],
)
def test_safety_errors_name_the_flagged_input(
    parameter: str | None, code: str, message: str, flagged: str | None
) -> None:
    error = error_from_api(code=code, message=message, status_code=400, parameter=parameter)
    assert isinstance(error, RunwareSafetyError)
    assert error.flagged == flagged
    if flagged:
        assert flagged in str(error)


def test_evolve_keeps_the_class_and_fields() -> None:
    error = RunwareSafetyError("flagged", parameter="positivePrompt", code="promptBlocked")
    copy = error.evolve("flagged again", task_uuid="t")
    assert type(copy) is RunwareSafetyError
    assert (copy.parameter, copy.code, copy.task_uuid, copy.flagged) == (
        "positivePrompt",
        "promptBlocked",
        "t",
        "positivePrompt",
    )
