"""Fetching a finished video: streamed to disk, capped in size, checked to be a video.

The bytes go to a temporary file beside the destination and are hashed on the way; only
a complete file that starts like a video container (MP4/MOV ``ftyp`` box, WEBM/Matroska
EBML header) is renamed into place, so a crash, a cap or a bad answer never leaves a
partial or bogus file under the final name. The request carries no API key: result URLs
live on another host.

Where a download may go is decided before anything connects (:class:`Destinations`):
every URL (the result URL, each redirect) is resolved first, with a resolver that tests
replace, and every address it resolves to is checked. Only ``https://`` to public
addresses is fetched; loopback, private, link-local (the cloud metadata service at
169.254.169.254 among them), unique-local, carrier-grade NAT, multicast and reserved
addresses are refused, unless the client talks to an emulator on this machine, in which
case ``http://`` to that emulator's own host and port (and nowhere else on loopback) is
allowed too. The request then goes to the address that was checked (the URL's host is
replaced by it, the ``Host`` header and TLS server name keep the name), so a name that
resolves to a public address for the check and to an inner one for the connection (DNS
rebinding) gets nowhere. Messages never show a body's bytes, nor a URL's query.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import httpx

from storyboard.backends.runware.errors import (
    RETRYABLE_STATUSES,
    RunwareConnectionError,
    RunwareDownloadError,
    RunwareTimeoutError,
)
from storyboard.backends.runware.media import video_container
from storyboard.backends.runware.redact import redact_url, register_url_secrets

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Destinations",
    "Download",
    "Resolver",
    "fetch_video",
    "network_reason",
    "system_resolver",
]

#: Refuse results larger than this (a 15 s 1080p clip is tens of megabytes).
DEFAULT_MAX_BYTES = 1 << 30
#: Redirects a download follows at most.
MAX_REDIRECTS = 5
_HEAD = 16

#: ``resolver(host, port) -> addresses``: how names are turned into addresses to check.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives ``host`` (every family)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Pinned:
    """A request to make: the URL with its host replaced by the checked address, and the
    name the server must see (``Host`` header, TLS server name)."""

    url: httpx.URL
    host_header: str
    server_name: str | None


@dataclass(frozen=True)
class Destinations:
    """Where downloads may go (see the module docstring).

    Attributes:
        resolver: turns a host name into addresses (the system's by default; tests give a
            stub, so that no test ever asks DNS or connects to anything but loopback).
        emulator: ``(host, port)`` of the API when the base URL is on loopback (an emulator
            on this machine): plain ``http://`` to exactly that host and port is allowed.
            ``None`` for the real service: loopback is refused like any inner address.
    """

    resolver: Resolver = system_resolver
    emulator: tuple[str, int] | None = None

    @classmethod
    def for_base_url(cls, base_url: str, resolver: Resolver | None = None) -> Destinations:
        """The rules for a client whose API is at ``base_url``."""
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        emulator = None
        if _loopback_name(host):
            default = 443 if parts.scheme == "https" else 80
            emulator = (host, parts.port or default)
        return cls(resolver or system_resolver, emulator)

    async def pin(self, url: str) -> Pinned:
        """Check ``url`` and every address its host resolves to; the request to make.

        Raises:
            RunwareDownloadError: the URL or one of its addresses is not allowed (nothing
                was connected to).
        """
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            raise _refused(url, "it is not a valid URL") from None
        scheme = parts.scheme.lower()
        if not host or scheme not in ("https", "http"):
            raise _refused(url, "only https:// URLs (or http:// to a local emulator) are fetched")
        port = port or (443 if scheme == "https" else 80)
        addresses = await self._addresses(url, host, port)
        for address in addresses:
            self._check(url, scheme, address, port)
        target = httpx.URL(url)
        return Pinned(
            target.copy_with(host=addresses[0]),
            target.netloc.decode("ascii").rpartition("@")[2],
            host if scheme == "https" else None,
        )

    async def _addresses(self, url: str, host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        if host.lower().rstrip(".") == "localhost" or host.lower().endswith(".localhost"):
            return ["127.0.0.1"]  # RFC 6761: never asked of DNS
        try:
            found = await self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise RunwareConnectionError(
                f"download of {redact_url(url)} failed: cannot resolve {host} "
                f"({type(exc).__name__})"
            ) from exc
        if not found:
            raise RunwareConnectionError(
                f"download of {redact_url(url)} failed: {host} has no address"
            )
        return found

    def _check(self, url: str, scheme: str, address: str, port: int) -> None:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            raise _refused(url, f"its host resolved to {address!r}, not an address") from None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback:
            if self.emulator is not None and port == self.emulator[1]:
                return
            where = (
                f"loopback port {port}, not the emulator's ({self.emulator[1]})"
                if self.emulator is not None
                else "this machine (loopback)"
            )
            raise _refused(url, f"it leads to {where}")
        carried = _carried_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
        if carried is not None and (not carried.is_global or carried.is_multicast):
            raise _refused(
                url, f"it leads to {ip}, which carries the inner address {carried} (NAT64, 6to4)"
            )
        if (
            not ip.is_global
            or ip.is_multicast
            or (ip.is_reserved and carried is None)  # ::/8 (IPv4-compatible...), 240/4
            or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)  # fec0::/10
        ):
            raise _refused(
                url, f"it leads to {ip}, an inner address (private, link-local or reserved)"
            )
        if scheme != "https":
            raise _refused(url, "only https:// URLs are fetched from other machines")


#: NAT64's well-known prefix (RFC 6052): ``64:ff9b::a.b.c.d`` reaches ``a.b.c.d`` through the
#: network's translator, private addresses included where the translator lets it.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _carried_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to through a translator or a tunnel (NAT64's
    ``64:ff9b::/96``, 6to4's ``2002::/16``), which must be public too; ``None`` for others.
    Python's ``is_global`` calls both forms global whatever they carry."""
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def _loopback_name(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refused(url: str, why: str) -> RunwareDownloadError:
    return RunwareDownloadError(f"refusing to download {redact_url(url)}: {why}")


@dataclass(frozen=True)
class Download:
    """A downloaded video.

    Attributes:
        path: where it was written.
        sha256: hex digest of its bytes.
        size: its size in bytes.
        container: ``"mp4"``, ``"mov"`` or ``"webm"``, from its first bytes.
    """

    path: Path
    sha256: str
    size: int
    container: str


async def fetch_video(
    http: httpx.AsyncClient,
    url: str,
    dest: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    destinations: Destinations | None = None,
) -> Download:
    """Download ``url`` to ``dest`` (temp file + rename), at most ``max_bytes``.

    Args:
        destinations: where the URL and its redirects may lead (default: public https only).

    Raises:
        RunwareDownloadError: a URL that is not allowed, bad status (``retryable`` for
            408/429/5xx), too large, not a video, or the local disk could not take it;
            nothing is left on disk.
        RunwareTimeoutError, RunwareConnectionError: the transfer failed (retryable).
    """
    register_url_secrets(url)
    destinations = destinations or Destinations()
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as exc:
        raise _cannot_save(url, dest, exc) from exc
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size, head = await _stream(http, url, out, max_bytes, destinations)
        container = video_container(head)
        if container is None:
            # Never the bytes themselves: a body may hold anything (another service's page).
            raise RunwareDownloadError(
                f"{redact_url(url)} is not a video: its {size} bytes start neither with an "
                "MP4/MOV ftyp box nor with a WEBM/Matroska EBML header"
            )
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError):  # the local disk (the network's errors are typed)
            raise _cannot_save(url, dest, exc) from exc
        raise
    return Download(dest, digest, size, container)


def _cannot_save(url: str, dest: Path, exc: OSError) -> RunwareDownloadError:
    """A download the local disk could not take (full, read-only): not the service's fault."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return RunwareDownloadError(
        f"cannot save the download of {redact_url(url)} in {dest.parent}: {reason}"
    )


async def _stream(
    http: httpx.AsyncClient, url: str, out: BinaryIO, max_bytes: int, destinations: Destinations
) -> tuple[str, int, bytes]:
    """Write the body to ``out``; return its sha256, size and first bytes."""
    hasher = hashlib.sha256()
    size = 0
    head = b""
    try:
        async with _get(http, url, destinations) as response:
            status = response.status_code
            if status != 200:
                raise RunwareDownloadError(
                    f"download of {redact_url(url)} failed: HTTP {status}",
                    status_code=status,
                    retryable=status in RETRYABLE_STATUSES,
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(url, int(declared), max_bytes)
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(url, size, max_bytes)
                if len(head) < _HEAD:
                    head += chunk[: _HEAD - len(head)]
                hasher.update(chunk)
                out.write(chunk)
    except httpx.TimeoutException as exc:
        raise RunwareTimeoutError(f"download of {redact_url(url)} timed out") from exc
    except httpx.RequestError as exc:
        raise RunwareConnectionError(
            f"download of {redact_url(url)} failed: {network_reason(exc)}"
        ) from exc
    return hasher.hexdigest(), size, head


@contextlib.asynccontextmanager
async def _get(
    http: httpx.AsyncClient, url: str, destinations: Destinations
) -> AsyncIterator[httpx.Response]:
    """GET ``url``, following at most :data:`MAX_REDIRECTS` redirects; each URL is checked
    and pinned to its checked address before anything connects to it."""
    for _ in range(MAX_REDIRECTS + 1):
        pinned = await destinations.pin(url)
        request = http.build_request(
            "GET",
            pinned.url,
            headers={"Host": pinned.host_header},
            extensions={"sni_hostname": pinned.server_name} if pinned.server_name else None,
        )
        response = await http.send(request, stream=True, follow_redirects=False)
        try:
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                yield response
                return
            try:
                url = str(httpx.URL(url).join(location))  # against the name, not the address
            except (httpx.InvalidURL, ValueError):
                raise _refused(url, "it redirects to something that is not a URL") from None
            register_url_secrets(url)
        finally:
            await response.aclose()
    raise RunwareDownloadError(f"download refused: more than {MAX_REDIRECTS} redirects")


def network_reason(exc: httpx.RequestError) -> str:
    """What went wrong on the network, for a message. Errors raised before anything was
    received (refused, unreachable) keep their text; others are named only, since a
    protocol error's text may quote what the other side sent."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def _too_large(url: str, size: int, cap: int) -> RunwareDownloadError:
    return RunwareDownloadError(
        f"download of {redact_url(url)} refused: {size} bytes or more, over the cap of {cap} bytes"
    )
