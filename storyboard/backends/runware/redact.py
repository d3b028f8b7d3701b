"""Keep the Runware API key out of messages, reprs and log records.

The key travels in exactly one place, the ``Authorization: Bearer`` header of requests to
the API. Everything that turns into text (exception messages, reprs, log records, even a
server message that echoes the key back) goes through :func:`scrub` first.

The client registers its key with :func:`register_secret` when it is built; from then on
:func:`scrub` replaces it, and :class:`SecretFilter` (installed on this package's logger and
on httpx's loggers by :func:`install_log_filter`) scrubs every record those loggers emit.
A process-wide registry is what lets a logging filter, which receives only the record,
know which strings to remove; nothing is ever written to disk.

URLs carry secrets too: a signed result URL (``.../x.mp4?token=...``), a base URL with a
key in its query or its userinfo. :func:`redact_url` is the form of a URL that may be
persisted or shown (lock file, cache entries, journal, messages): its query and userinfo
are replaced by :data:`REDACTED`, its fragment dropped. :func:`register_url_secrets` makes
:func:`scrub` remove a URL's query and password (or its user, when it has no password)
wherever they would still show up (httpx's own log lines print the URL it requests).
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "SecretFilter",
    "install_log_filter",
    "redact_url",
    "redacted",
    "register_secret",
    "register_url_secrets",
    "scrub",
    "strip_redaction",
]

REDACTED = "[REDACTED]"

#: Loggers whose records may mention a request; the filter is attached to each of them
#: (a filter on a logger only sees records created on that very logger).
LOGGER_NAMES = (
    "storyboard.backends.runware",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)

#: Shorter values are not registered: no real key is that short, and replacing, say, ``k``
#: in every message of the process would make them unreadable (test doubles use such keys).
MIN_SECRET_LENGTH = 8

_lock = threading.Lock()
_secrets: set[str] = set()
# ``Bearer <anything>`` is scrubbed even for keys never registered (a header dumped by a
# third-party library, a key from another process).
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s'\",;]+")
# httpcore's DEBUG records print a response's headers as they came, ``(b'Location', b'...')``:
# a redirect to a signed URL shows its token there before the client has read it (and so
# registered it); a log record gets the header's URL as :func:`redact_url` gives it.
_LOCATION = re.compile(r"(?i)(\(b?['\"](?:content-)?location['\"],\s*b?(['\"]))(.*?)(\2\))")


def register_secret(secret: str) -> None:
    """Remember ``secret`` so that :func:`scrub` removes it from now on.

    Values shorter than :data:`MIN_SECRET_LENGTH` are ignored.
    """
    secret = secret.strip()
    if len(secret) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(secret)


def scrub(text: str) -> str:
    """Return ``text`` with every registered secret and any bearer token replaced."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)  # longest first: no partial leaks
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _BEARER.sub(rf"\1 {REDACTED}", text)


def redact_url(url: str) -> str:
    """``url`` without what may be secret: userinfo and query become :data:`REDACTED`, the
    fragment goes. Text that is not a URL is returned scrubbed."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return scrub(url.split("?", 1)[0].split("#", 1)[0])
    if not parts.scheme or not host:
        return scrub(url.split("?", 1)[0].split("#", 1)[0])
    del port  # parsed only to refuse a bad one; the host is kept as written (the journal is
    # scoped by this text: a URL without secrets must come out exactly as it went in)
    netloc = parts.netloc.rpartition("@")[2]
    if "@" in parts.netloc:
        netloc = f"{REDACTED}@{netloc}"
    query = REDACTED if parts.query else ""
    return scrub(urlunsplit((parts.scheme, netloc, parts.path, query, "")))


def redacted(url: str | None) -> str | None:
    """:func:`redact_url` of ``url``, or ``None`` when there is no URL."""
    return None if url is None else redact_url(url)


def strip_redaction(url: str) -> str:
    """A persisted (redacted) URL made downloadable: the marker of a removed query goes.

    A provider whose result URLs need their query (a signed URL) answers the bare URL
    with 403 or 404, which the caller treats as a result no longer served."""
    marker = f"?{REDACTED}"
    return url[: -len(marker)] if url.endswith(marker) else url


def register_url_secrets(url: str) -> None:
    """Make :func:`scrub` remove ``url``'s query, its parameters' values and its password
    (its user when it has no password: ``https://KEY@host`` logs in with a token alone), as
    written and as httpx prints the URL (percent-encoded anew: a space or a non-ASCII
    character of a token shows up as ``%20``, ``%C3%A9``...)."""
    try:
        parts = urlsplit(url)
        login = [parts.password or parts.username or ""]
    except ValueError:
        return
    queries = [parts.query]
    import httpx  # here: scrubbing text needs no HTTP client

    try:
        printed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        pass
    else:
        queries.append(printed.query.decode("ascii", "replace"))
        user, _, password = printed.userinfo.decode("ascii", "replace").partition(":")
        login.append(password or user)
    for query in queries:
        if not query:
            continue
        register_secret(query)
        register_secret(unquote(query))
        for pair in query.split("&"):
            value = pair.partition("=")[2]
            register_secret(value)
            register_secret(unquote(value))
    for value in login:
        if value:
            register_secret(value)
            register_secret(unquote(value))


class SecretFilter(logging.Filter):
    """A logging filter that scrubs the rendered message and any traceback of a record.

    It never drops a record. It can be attached to handlers too, which is the way to cover
    loggers this package does not know about.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = _LOCATION.sub(lambda m: m[1] + redact_url(m[3]) + m[4], scrub(message))
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


_FILTER = SecretFilter()


def install_log_filter() -> None:
    """Attach the shared :class:`SecretFilter` to :data:`LOGGER_NAMES` (idempotent)."""
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
