"""The remote's objects, through obstore: the only module that knows it.

Place in the pipeline: under :mod:`storyboard.build.remote_session` (what a build asks of the
remote) and :mod:`storyboard.build.remote_sync` (``push`` and ``pull``). obstore (Rust's
``object_store``) serves S3, GCS, Azure and local folders behind one API, with the two
things a shared cache needs: conditional puts (``mode="create"``: ``If-None-Match: *`` on S3)
and presigned URLs.

The layout, like Bazel's two stores, under the URL's prefix::

    cas/sha256/<first two hex>/<sha256>       media by content (videos), create-only
    results/<namespace>/<key>.json             a record per take key, create-only
    uploads/<task UUID>                        where a provider PUTs a result (uploadEndpoint)

Nothing here ever overwrites an object (every put is create-only), and every media object is
read against the sha256 its record names, as it streams in. Failures are
:class:`RemoteError`, one line each, with a ``kind`` the callers act on; obstore's own
messages (many lines, with the request's URL) are reduced to a reason. Credentials are read
by obstore from each store's standard environment; this module never reads, writes or prints
them, and registers the secret ones with :func:`storyboard.backends.runware.redact.scrub` so
that no message can carry them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import ipaddress
import logging
import os
import re
import secrets
import stat
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from storyboard.core import settings
from storyboard.core.errors import BuildError
from storyboard.remote.config import RemoteConfig

if TYPE_CHECKING:
    from obstore.store import ClientConfig, ObjectStore, RetryConfig, S3Config

Kind = Literal[
    "unreachable", "denied", "no-bucket", "missing", "exists", "corrupt", "unsupported", "error"
]
#: The kinds of failure after which a build does not ask the remote again.
DOWN: tuple[Kind, ...] = ("unreachable", "no-bucket", "denied")
#: Claims of a take are numbered from 1 (the next when one lapsed) up to, not including, this.
MAX_GENERATIONS = 10_000

#: Environment variables whose values are secrets of the stores (never printed).
SECRET_ENV = (
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_TOKEN", "AWS_SSE_CUSTOMER_KEY_BASE64",
    "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_ACCESS_KEY", "AZURE_STORAGE_MASTER_KEY",
    "AZURE_STORAGE_SAS_KEY", "AZURE_STORAGE_SAS_TOKEN", "AZURE_CLIENT_SECRET",
    "AZURE_STORAGE_CLIENT_SECRET", "AZURE_STORAGE_TOKEN", "AZURE_ENCRYPTION_KEY",
    "AZURE_FABRIC_SESSION_TOKEN", "GOOGLE_SERVICE_ACCOUNT_KEY", "GOOGLE_BEARER_TOKEN",
)  # fmt: skip
#: A record is a few hundred bytes; media up to the model's largest output and then some.
MAX_RECORD_BYTES = 1 << 20
MAX_MEDIA_BYTES = 2 << 30
#: How long a presigned upload URL stays valid: a generation takes minutes, a queue longer.
UPLOAD_URL_LIFETIME = timedelta(hours=6)
#: Seconds before a request to the store is given up (connection, then the whole request).
CONNECT_TIMEOUT_ENV = settings.REMOTE_CONNECT_TIMEOUT.name
DEFAULT_CONNECT_TIMEOUT = settings.REMOTE_CONNECT_TIMEOUT.default
TIMEOUT_ENV = settings.REMOTE_TIMEOUT.name
DEFAULT_TIMEOUT = settings.REMOTE_TIMEOUT.default
_CHUNK = 8 << 20
#: How a folder remote's folders, objects and new files are opened (see ``Store._walk``).
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OBJECT_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: Where an S3 store is, first set first (``_S3`` is also the one obstore lets win).
ENDPOINT_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")


class Files(Protocol):
    """The project's files as a download writes them: the build's safe tree
    (:class:`storyboard.build.state.safe.Tree`: inside the project, no link followed), taken as
    a shape so that this package stays below the build."""

    def open(self, path: str | os.PathLike[str], flags: int, mode: int = ...) -> int: ...

    def unlink(self, path: str | os.PathLike[str]) -> int | None: ...


class RemoteError(BuildError):
    """The remote failed or refused one operation; ``kind`` says how (one line each)."""

    def __init__(self, message: str, kind: Kind = "error") -> None:
        from storyboard.backends.runware.redact import scrub

        super().__init__(scrub(message))
        self.kind = kind


def cas_path(sha256: str) -> str:
    """Where the media of this sha256 live."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise RemoteError(f"not a sha256: {sha256[:80]!r}", "corrupt")
    return f"cas/sha256/{sha256[:2]}/{sha256}"


def result_path(namespace: str, key: str) -> str:
    """Where the record of the take ``key`` made in ``namespace`` lives.

    Namespaced like the local cache (docs/build.md#namespaces): an emulator's result never
    stands in for Runware's. Every character but letters, digits, ``.`` and ``_`` is made
    ``-`` (``runware@127.0.0.1:8787`` is ``runware-127.0.0.1-8787``): object keys that need
    no escaping, in every store and every signature."""
    return f"results/{_scoped(namespace, key)}.json"


def claim_path(namespace: str, key: str, generation: int, *, released: bool = False) -> str:
    """Where a build claims the take ``key`` of ``namespace`` before paying for it (the
    ``generation``-th claim, from 1: a claim that lapsed is followed by the next), and where
    it says it gave the claim up (``released``). See :mod:`storyboard.build.remote_claims`."""
    if not 0 < generation < MAX_GENERATIONS:
        raise RemoteError(f"not a claim's generation: {generation!r}", "corrupt")
    return f"claims/{_scoped(namespace, key)}/{generation}.{'released' if released else 'json'}"


def _scoped(namespace: str, key: str) -> str:
    """``FOLDER/KEY``: the take ``key`` under its namespace's folder (see :func:`result_path`)."""
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise RemoteError(f"not a take key: {key[:80]!r}", "corrupt")
    folder = "".join(c if c.isascii() and (c.isalnum() or c in "._") else "-" for c in namespace)
    return f"{folder}/{key}"


_TASK_UUID = r"[0-9a-f-]{36}"


def upload_path(task_uuid: str) -> str:
    """Where a provider PUTs the single result of the task ``task_uuid``."""
    if not re.fullmatch(_TASK_UUID, task_uuid):
        raise RemoteError(f"not a task UUID: {task_uuid[:80]!r}", "corrupt")
    return f"uploads/{task_uuid}"


def checked_path(upload: str) -> str:
    """Where a push copies the provider's upload ``upload`` before checking it: a name the
    presigned URL the provider wrote through cannot write (it signs ``upload`` alone), so the
    bytes checked there are the bytes copied into ``cas/``."""
    if not is_upload(upload):
        raise RemoteError(f"not a provider's upload: {upload[:80]!r}", "corrupt")
    return f"{upload}.checked"


def is_upload(path: str) -> bool:
    """Whether ``path`` is one :func:`upload_path` makes: the only objects a push reads as a
    provider's upload, or removes."""
    return re.fullmatch(f"uploads/{_TASK_UUID}", path) is not None


class Store:
    """One remote's objects (see the module docstring). The obstore store is made on first
    use: a command that never needs the remote never builds it, nor reads its credentials."""

    def __init__(self, config: RemoteConfig, *, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.url = config.url
        self._env = dict(os.environ if env is None else env)
        self._store: ObjectStore | None = None
        #: a ``file://`` remote's folder (its root: whatever the writer configured, links
        #: and all), and the folders below it already found to be real folders, not links
        self._folder = self.url.removeprefix("file://") if config.scheme == "file" else None
        self._real_folders: set[str] = set()

    @property
    def can_sign(self) -> bool:
        """Whether the store makes presigned URLs (S3, GCS, Azure; not a folder)."""
        return self.config.scheme in ("s3", "gs", "az")

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            self._store = self._open()
        return self._store

    def _open(self) -> ObjectStore:
        from obstore.exceptions import BaseError
        from obstore.store import AzureStore, GCSStore, LocalStore, S3Store

        from storyboard.backends.runware.redact import register_secret

        for name in SECRET_ENV:  # never in a message, whatever a library says
            if self._env.get(name):
                register_secret(self._env[name])
        scheme = self.config.scheme
        try:
            if self._folder is not None:
                folder = self._folder
                if not os.path.isdir(folder):
                    raise RemoteError(
                        f"the remote folder {folder} does not exist (a network share not "
                        "mounted?); make it, or mount it", "no-bucket",
                    )  # fmt: skip
                return LocalStore(folder)
            # checked when the remote was configured (find_remote)
            connect = settings.value_or_default(settings.REMOTE_CONNECT_TIMEOUT, self._env)
            timeout = settings.value_or_default(settings.REMOTE_TIMEOUT, self._env)
            endpoint = self.endpoint() if scheme == "s3" else None
            client: ClientConfig = {
                "connect_timeout": timedelta(seconds=connect),
                "timeout": timedelta(seconds=timeout),
                "allow_http": self._loopback_http(endpoint),
            }
            retry: RetryConfig = {"max_retries": 3, "retry_timeout": timedelta(seconds=30)}
            if scheme == "s3":
                # the endpoint the plain-http decision was made for, given to obstore: left to
                # itself it takes whichever of AWS_ENDPOINT_URL and AWS_ENDPOINT comes last in
                # the environment
                config: S3Config = {"endpoint": endpoint} if endpoint else {}
                # copy-if-not-exists (a provider's upload into place) needs a mode on S3
                copy = self._env.get("AWS_COPY_IF_NOT_EXISTS", "multipart")
                profile = self._aws_profile()
                if profile is not None:
                    return S3Store.from_url(
                        self.url, config=config, client_options=client, retry_config=retry,
                        copy_if_not_exists=copy, credential_provider=profile,
                    )  # fmt: skip
                return S3Store.from_url(
                    self.url, config=config, client_options=client, retry_config=retry,
                    copy_if_not_exists=copy,
                )  # fmt: skip
            if scheme == "gs":
                return GCSStore.from_url(self.url, client_options=client, retry_config=retry)
            return AzureStore.from_url(self.url, client_options=client, retry_config=retry)
        except BaseError as exc:
            raise RemoteError(f"cannot open the remote {self.url}: {_reason(exc)}") from None

    def _aws_profile(self) -> Any | None:
        """The credentials of an AWS profile (``AWS_PROFILE``, else the ``default`` profile of
        ``~/.aws/credentials`` and ``~/.aws/config``), read by boto3, when the environment
        holds no keys; ``None``: no profile to read (obstore's own chain then: the
        environment, web identity, the machine's role).

        obstore (object_store) does not read the shared files; boto3 does, every kind of
        profile (keys, SSO, an assumed role, a credential process), and obstore takes what it
        finds through :class:`obstore.auth.boto3.Boto3CredentialProvider`. boto3 is the
        optional extra ``storyboard[aws]``.

        Raises:
            RemoteError: a profile is named but cannot be read (``denied``).
        """
        if self._env.get("AWS_ACCESS_KEY_ID"):
            return None  # keys in the environment come first, as in every AWS tool
        named = self._env.get("AWS_PROFILE") or self._env.get("AWS_DEFAULT_PROFILE")
        files = (
            self._env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials",
            self._env.get("AWS_CONFIG_FILE") or "~/.aws/config",
        )
        if not named and not any(os.path.isfile(os.path.expanduser(f)) for f in files):
            return None
        try:
            import boto3
            import botocore.exceptions
            from obstore.auth.boto3 import Boto3CredentialProvider
        except ImportError:
            if not named:
                return None  # files of the AWS CLI's, and no profile asked for
            raise RemoteError(
                f"AWS_PROFILE names the profile '{named}', and reading profiles needs boto3: "
                "pip install 'storyboard[aws]', or export the profile's keys (aws configure "
                "export-credentials --format env)",
                "denied",
            ) from None
        from storyboard.backends.runware.redact import register_secret

        _quiet_botocore_wire()
        try:
            session = boto3.Session(profile_name=named or None)
            if session.get_credentials() is None:
                return None
            provider = Boto3CredentialProvider(session)
            found = provider.credentials.get_frozen_credentials()
        except (botocore.exceptions.BotoCoreError, ValueError) as exc:
            which = f"the AWS profile '{named}'" if named else "the default AWS profile"
            raise RemoteError(f"cannot read {which}: {_reason(exc)}", "denied") from None
        for secret in (found.secret_key, found.token):  # never in a message
            if secret:
                register_secret(secret)
        return provider

    def endpoint(self) -> str | None:
        """The endpoint of an S3 store: the first set of ``AWS_ENDPOINT_URL_S3``,
        ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT``; ``None``: AWS's own, by region. It is
        given to obstore, so that the requests go where the plain-http decision looked."""
        for name in ENDPOINT_ENV:
            endpoint = self._env.get(name)
            if endpoint:
                try:
                    login = urlsplit(endpoint).username is not None
                except ValueError:
                    login = False  # obstore says what is wrong with it
                if login:
                    # it would be signed into every presigned URL, which go to the provider
                    raise RemoteError(
                        f"{name} holds a user name or password: S3 credentials come from "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile), never "
                        "from the endpoint's URL; remove them from it",
                        "denied",
                    )
                return endpoint
        return None

    def _loopback_http(self, endpoint: str | None) -> bool:
        """Plain http only to this machine (a local S3 server, the tests' moto): a session
        token travels in a header, and must not cross a network in clear. Only for S3
        (``endpoint``: :meth:`endpoint`): no other store is given an endpoint here."""
        if endpoint is None or not _is_loopback_http(endpoint):
            return False
        # obstore reads AWS_ENDPOINT_URL_S3 from the process itself and lets it win over the
        # endpoint it is given: plain http only if that is the same one
        overriding = os.environ.get("AWS_ENDPOINT_URL_S3")
        return not overriding or overriding == endpoint

    # -- a folder's objects, looked at before obstore touches them -----------------------

    async def _local(self, path: str, *, leaf: bool = True) -> bool | None:
        """For a ``file://`` remote, what is at ``path`` (in a thread: a network share can be
        slow to answer); ``None`` for any other store. See :meth:`_look`."""
        if self._folder is None:
            return None
        if self._store is None:  # opened first: a folder that is not there is said so
            self._store = self._open()
        return await asyncio.to_thread(self._look, self._folder, path, leaf)

    def _look(self, root: str, path: str, leaf: bool) -> bool:
        """Whether a regular file is at ``path`` below the folder ``root`` (``True`` when
        ``leaf`` is false: only the folders on the way are looked at), by ``lstat`` alone:
        no link followed, nothing opened.

        obstore's folder store opens what it reads as it finds it: a named pipe there would
        hold a pull or a build forever (the request timeouts are HTTP's), a device or a link
        would be read as an object, and a folder of the share that is a link (``results/``
        pointing elsewhere) would be read and written through. The root is the writer's own
        choice, and may be a link; below it every folder must be a folder of its own.

        Raises:
            RemoteError: a folder on the way is a link (``denied``: the remote is not used),
                or a non-regular file is at ``path`` (``corrupt``: a bad object, refused as
                a damaged one is), or it cannot be looked at.
        """
        parts = path.split("/")
        where = root
        for depth, name in enumerate(parts[:-1], 1):
            where = os.path.join(where, name)
            folder = "/".join(parts[:depth])
            if folder in self._real_folders:
                continue
            try:
                mode = os.lstat(where).st_mode
            except (FileNotFoundError, NotADirectoryError):
                return False  # nothing there (a write makes real folders)
            except OSError as exc:
                raise self._error(exc, "look up", folder) from None
            if stat.S_ISLNK(mode):
                raise self._linked(folder)
            if not stat.S_ISDIR(mode):
                return False  # a file where a folder should be: no object below it
            self._real_folders.add(folder)
        if not leaf:
            return True
        try:
            mode = os.lstat(os.path.join(where, parts[-1])).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise self._error(exc, "look up", path) from None
        if not stat.S_ISREG(mode):
            raise self._not_regular(path, mode)
        return True

    def _linked(self, folder: str) -> RemoteError:
        return RemoteError(
            f"{self._at(folder)} is a symbolic link: the folders of a remote's folder "
            "(cas/, results/, uploads/ and theirs) must be its own, not links to "
            "another place; refused",
            "denied",
        )

    def _not_regular(self, path: str, mode: int) -> RemoteError:
        return RemoteError(
            f"{self._at(path)} is not a regular file but {_file_kind(mode)}: refused, "
            "nothing of it was read",
            "corrupt",
        )

    # -- a folder's objects, read and written with no link followed ----------------------
    #
    # :meth:`_look` looks by path; what is then read or written is reached again from the
    # remote's folder, one folder at a time (``O_NOFOLLOW``), and a file is opened without
    # waiting on a pipe (``O_NONBLOCK``) and checked by ``fstat``: a folder swapped for a link,
    # or an object for a named pipe, a device or a link, after that look is refused too,
    # never followed nor waited on. (obstore's folder store opens paths as they are.)

    def _walk(self, parts: list[str], *, make: bool) -> int | None:
        """An open descriptor of the folder ``parts`` below the remote's folder (which may be
        a link), each step opened from the last without following a link; ``make``: the
        missing ones made. ``None``: one is missing, or a file stands there (not ``make``).

        Raises:
            RemoteError: a folder on the way is a link (``denied``) or a file (``make``).
            OSError: it cannot be opened.
        """
        assert self._folder is not None
        fd = os.open(self._folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for depth, name in enumerate(parts, 1):
                step = self._step(fd, name, "/".join(parts[:depth]), make=make)
                if step is None:
                    return None
                os.close(fd)
                fd = step
            found, fd = fd, -1
            return found
        finally:
            if fd >= 0:
                os.close(fd)

    def _step(self, fd: int, name: str, folder: str, *, make: bool) -> int | None:
        """The folder ``name`` in the folder ``fd``, opened without following a link."""
        for _ in range(3):
            try:
                return os.open(name, _FOLDER_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not make:
                    return None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=fd)
            except NotADirectoryError:  # a link (O_NOFOLLOW says so this way), or a file
                try:
                    mode = os.lstat(name, dir_fd=fd).st_mode
                except FileNotFoundError:
                    continue  # gone meanwhile: look again
                if stat.S_ISLNK(mode):
                    raise self._linked(folder) from None
                if not make:
                    return None
                raise RemoteError(
                    f"{self._at(folder)} is {_file_kind(mode)}, not a folder: nothing can be "
                    "written below it",
                    "corrupt",
                ) from None
        raise RemoteError(f"{self._at(folder)} keeps changing: refused", "corrupt")

    def _open_object(self, path: str) -> tuple[int, int] | None:
        """``(descriptor, size)`` of the regular file at ``path``, opened as the section says;
        ``None`` when there is none.

        Raises:
            RemoteError: a link on the way, or not a regular file (``corrupt``).
            OSError: it cannot be opened.
        """
        parts = path.split("/")
        folder = self._walk(parts[:-1], make=False)
        if folder is None:
            return None
        try:
            fd = os.open(parts[-1], _OBJECT_FLAGS, dir_fd=folder)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise self._not_regular(path, stat.S_IFLNK) from None
            raise
        finally:
            os.close(folder)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise self._not_regular(path, info.st_mode)
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd, info.st_size

    def _read_local(self, path: str, limit: int) -> bytes | None:
        """The bytes of the small object at ``path`` of a folder, at most ``limit``."""
        opened = self._open_object(path)
        if opened is None:
            return None
        fd, size = opened
        try:
            data = bytearray()
            while size <= limit and len(data) <= limit:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
            if size > limit or len(data) > limit:
                raise RemoteError(f"{self._at(path)} is larger than {limit:,} bytes", "corrupt")
            return bytes(data)
        finally:
            os.close(fd)

    def _copy_local(self, path: str, out: int | None, size: int | None) -> tuple[str, int] | None:
        """``(sha256, bytes)`` of the object at ``path`` of a folder, written to ``out`` as it
        is read (if given); ``None`` when there is none.

        Raises:
            RemoteError: not ``size`` bytes (``corrupt``), or larger than a medium may be.
        """
        opened = self._open_object(path)
        if opened is None:
            return None
        fd, found = opened
        try:
            self._check_size(path, found, size)
            digest = hashlib.sha256()
            written = 0
            bound = MAX_MEDIA_BYTES if size is None else size
            while chunk := os.read(fd, _CHUNK):
                written += len(chunk)
                if written > bound:
                    raise self._longer(path, size)
                if out is None:
                    digest.update(chunk)
                else:
                    _consume(out, digest, chunk)
            return digest.hexdigest(), written
        finally:
            os.close(fd)

    def _create_local(self, path: str, data: bytes | Path) -> bool:
        """Put ``data`` at ``path`` of a folder only if nothing is there (a hard link of a
        file written beside it: ``link`` never replaces a name)."""
        parts = path.split("/")
        folder = self._walk(parts[:-1], make=True)
        assert folder is not None
        name = parts[-1]
        partial = f".{name}.{secrets.token_hex(8)}.partial"
        try:
            fd = os.open(partial, _NEW_FLAGS, 0o666, dir_fd=folder)
            try:
                try:
                    if isinstance(data, Path):
                        with open(data, "rb") as source:
                            while chunk := source.read(_CHUNK):
                                _consume(fd, None, chunk)
                    else:
                        _consume(fd, None, data)
                    os.fsync(fd)  # the bytes are there before the name is: never a short object
                finally:
                    os.close(fd)
                try:
                    os.link(partial, name, src_dir_fd=folder, dst_dir_fd=folder,
                            follow_symlinks=False)  # fmt: skip
                except FileExistsError:
                    return False
                return True
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(partial, dir_fd=folder)
        finally:
            os.close(folder)

    def _check_size(self, path: str, found: int, size: int | None) -> None:
        """Refuse an object of another size than ``size`` (if known), or too large, before a
        byte of it is read."""
        if size is not None and found != size:
            raise RemoteError(
                f"{self._at(path)} holds {found:,} bytes where {size:,} were recorded "
                "(truncated or replaced)",
                "corrupt",
            )
        if found > MAX_MEDIA_BYTES:
            raise self._longer(path, None, found)

    def _longer(self, path: str, size: int | None, found: int | None = None) -> RemoteError:
        if size is not None:
            return RemoteError(
                f"{self._at(path)} is longer than the {size:,} bytes recorded (replaced while "
                "read?): refused, nothing of it was kept",
                "corrupt",
            )
        shown = f" ({found:,} bytes)" if found is not None else ""
        return RemoteError(
            f"{self._at(path)} is too large{shown}: a medium is at most {MAX_MEDIA_BYTES:,} "
            "bytes; refused, nothing of it was kept",
            "corrupt",
        )

    # -- reading -------------------------------------------------------------------------

    async def probe(self) -> None:
        """Check the remote answers and its bucket exists (one small list request).

        Raises:
            RemoteError: unreachable, no such bucket or folder, access denied.
        """
        import obstore

        try:
            if self._folder is not None:  # opened (the folder exists); results/ not a link
                await self._local("results/", leaf=False)
                return
            # the first page only: one request, however many objects the remote holds
            async for _ in obstore.list(self.store, prefix="results/", chunk_size=1):
                break
        except Exception as exc:
            raise self._error(exc, "list") from None

    async def exists(self, path: str) -> bool:
        """Whether an object is at ``path``.

        Raises:
            RemoteError: the remote could not say.
        """
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            found = await self._local(path)
            if found is not None:
                return found  # a folder's: obstore's head opens the file (a pipe: forever)
            await obstore.head_async(self.store, path)
        except (NotFoundError, FileNotFoundError):
            return False
        except Exception as exc:
            raise self._error(exc, "look up", path) from None
        return True

    async def read(self, path: str, limit: int = MAX_RECORD_BYTES) -> bytes | None:
        """The bytes of the small object at ``path``; ``None`` when there is none.

        Raises:
            RemoteError: the remote failed, or the object is larger than ``limit``.
        """
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            if await self._local(path) is False:
                return None
            if self._folder is not None:
                return await asyncio.to_thread(self._read_local, path, limit)
            result = await obstore.get_async(self.store, path)
            if result.meta["size"] > limit:
                raise RemoteError(f"{self._at(path)} is larger than {limit:,} bytes", "corrupt")
            return bytes(await result.bytes_async())
        except RemoteError:
            raise
        except (NotFoundError, FileNotFoundError):
            return None
        except Exception as exc:
            raise self._error(exc, "read", path) from None

    async def download(
        self, path: str, tree: Files, dest: Path, *, sha256: str | None, size: int | None = None
    ) -> tuple[str, int]:
        """Stream the object at ``path`` into the new file ``dest`` (inside the project, no
        link followed), hashing it as it comes; return ``(sha256, bytes)``.

        Raises:
            RemoteError: missing, failed, or not the bytes ``sha256`` and ``size`` name
                (``corrupt``: a truncated or altered object); ``dest`` is then removed.
        """
        import obstore
        from obstore.exceptions import NotFoundError

        digest = hashlib.sha256()
        written = 0
        if size is not None and size > MAX_MEDIA_BYTES:  # nothing read, nothing written
            raise RemoteError(
                f"{self._at(path)} is recorded as {size:,} bytes, and a medium is at most "
                f"{MAX_MEDIA_BYTES:,}: refused, nothing of it was read",
                "corrupt",
            )
        # opened in a thread: the walk from the project's root (no link followed) would
        # hold up the loop, which is receiving the other transfers
        fd = await asyncio.to_thread(tree.open, dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                if await self._local(path) is False:
                    raise RemoteError(f"{self._at(path)} is missing", "missing")
                if self._folder is not None:
                    copied = await asyncio.to_thread(self._copy_local, path, fd, size)
                    if copied is None:
                        raise RemoteError(f"{self._at(path)} is missing", "missing")
                    found, written = copied
                else:
                    result = await obstore.get_async(self.store, path)
                    self._check_size(path, result.meta["size"], size)
                    bound = MAX_MEDIA_BYTES if size is None else size
                    async for chunk in result.stream(min_chunk_size=_CHUNK):
                        written += len(chunk)
                        if written > bound:
                            raise self._longer(path, size)
                        # hashed and written in a thread (both release the GIL): the loop
                        # goes on receiving the other transfers meanwhile
                        await asyncio.to_thread(_consume, fd, digest, chunk)
                    found = digest.hexdigest()
            except RemoteError:
                raise
            except (NotFoundError, FileNotFoundError):
                raise RemoteError(f"{self._at(path)} is missing", "missing") from None
            except Exception as exc:
                raise self._error(exc, "download", path) from None
        except BaseException:
            os.close(fd)
            _unlink_quietly(tree, dest)
            raise
        os.close(fd)
        if (sha256 is not None and found != sha256) or (size is not None and written != size):
            _unlink_quietly(tree, dest)
            raise RemoteError(
                f"{self._at(path)} does not match its sha256 ({written:,} bytes, sha256 "
                f"{found[:16]}...): it was truncated or altered; nothing of it was kept",
                "corrupt",
            )
        return found, written

    async def digest(self, path: str) -> tuple[str, int] | None:
        """``(sha256, bytes)`` of the object at ``path``, streamed and not kept; ``None`` when
        there is none.

        Raises:
            RemoteError: the remote failed.
        """
        import obstore
        from obstore.exceptions import NotFoundError

        digest = hashlib.sha256()
        size = 0
        try:
            if await self._local(path) is False:
                return None
            if self._folder is not None:
                return await asyncio.to_thread(self._copy_local, path, None, None)
            result = await obstore.get_async(self.store, path)
            self._check_size(path, result.meta["size"], None)
            async for chunk in result.stream(min_chunk_size=_CHUNK):
                size += len(chunk)
                if size > MAX_MEDIA_BYTES:
                    raise self._longer(path, None)
                digest.update(chunk)
        except RemoteError:
            raise
        except (NotFoundError, FileNotFoundError):
            return None
        except Exception as exc:
            raise self._error(exc, "read", path) from None
        return digest.hexdigest(), size

    # -- writing (create-only) -------------------------------------------------------------

    async def create(self, path: str, data: bytes | Path) -> bool:
        """Put ``data`` at ``path`` only if nothing is there; return whether it was written
        (``False``: an object was there already, and stays as it was).

        Raises:
            RemoteError: the remote failed or refused (``denied``: no write permission).
        """
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            await self._local(path, leaf=False)
            if self._folder is not None:
                return await asyncio.to_thread(self._create_local, path, data)
            await obstore.put_async(self.store, path, data, mode="create")
        except (AlreadyExistsError, PreconditionError, FileExistsError):
            return False
        except Exception as exc:
            raise self._error(exc, "write", path) from None
        return True

    async def copy_new(self, source: str, target: str) -> bool | None:
        """Copy ``source`` to ``target`` in the store only if nothing is at ``target``;
        ``True`` when copied, ``False`` when an object was there, ``None`` when the store
        cannot copy without overwriting.

        Raises:
            RemoteError: the remote failed or refused.
        """
        import obstore
        from obstore.exceptions import AlreadyExistsError, NotSupportedError, PreconditionError

        try:
            await self._local(source)
            await self._local(target, leaf=False)
            await obstore.copy_async(self.store, source, target, overwrite=False)
        except (AlreadyExistsError, PreconditionError, FileExistsError):
            return False
        except NotSupportedError:
            return None
        except Exception as exc:
            raise self._error(exc, "copy", target) from None
        return True

    async def remove(self, path: str) -> None:
        """Remove ``path`` (only ever an upload of the provider's, once copied)."""
        import obstore

        try:
            await self._local(path, leaf=False)
            await obstore.delete_async(self.store, path)
        except Exception as exc:
            raise self._error(exc, "remove", path) from None

    def sign_put(self, path: str, lifetime: timedelta = UPLOAD_URL_LIFETIME) -> str | None:
        """A presigned PUT URL of ``path`` (its query is a credential: never persist or show
        it), or ``None`` when the store cannot sign or signing failed."""
        if not self.can_sign:
            return None
        import obstore
        from obstore.store import AzureStore, GCSStore, S3Store

        try:
            store = self.store
            if not isinstance(store, S3Store | GCSStore | AzureStore):
                return None
            url = obstore.sign(store, "PUT", path, lifetime)
        except Exception:
            return None
        from storyboard.backends.runware.redact import register_url_secrets

        register_url_secrets(url)
        return url

    # -- messages ----------------------------------------------------------------------------

    def _at(self, path: str) -> str:
        return f"{self.url}/{path}"

    def _error(self, exc: BaseException, doing: str, path: str = "") -> RemoteError:
        """One line for what obstore raised, with the kind the callers act on."""
        from obstore.exceptions import (
            NotFoundError,
            PermissionDeniedError,
            UnauthenticatedError,
        )

        if isinstance(exc, RemoteError):  # opening the store failed already
            return exc
        text = str(exc)
        where = self._at(path) if path else self.url
        if "NoSuchBucket" in text:
            bucket = urlsplit(self.url).netloc
            return RemoteError(
                f"the bucket '{bucket}' of the remote {self.url} does not exist", "no-bucket"
            )
        if isinstance(
            exc, PermissionDeniedError | UnauthenticatedError | PermissionError
        ) or re.search(r"\b40[13] (Forbidden|Unauthorized)", text):
            what = "write to" if doing in ("write", "copy", "remove") else "read"
            return RemoteError(
                f"the remote {self.url} refused to let these credentials {what} {where} "
                f"({_status(text) or 'access denied'}): see docs/remote.md#security",
                "denied",
            )
        if isinstance(exc, NotFoundError | FileNotFoundError):
            return RemoteError(f"{where} is missing", "missing")
        if re.search(r"error sending request|connect|dns|timed? ?out|Connection", text, re.I):
            return RemoteError(
                f"the remote {self.url} cannot be reached ({_reason(exc)})", "unreachable"
            )
        return RemoteError(f"the remote {self.url} failed to {doing} {where}: {_reason(exc)}")


#: botocore's loggers that print whole requests and answers at DEBUG: the answer of STS
#: (an assumed role) or SSO to a profile's lookup holds its temporary credentials, unknown to
#: the redactor until it has been read, and the requests carry session and bearer tokens.
_BOTOCORE_WIRE = ("botocore.endpoint", "botocore.parsers", "botocore.auth")


class _NoWireDumps(logging.Filter):
    """Drops the DEBUG records of :data:`_BOTOCORE_WIRE` (the others pass as they are)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_NO_WIRE_DUMPS = _NoWireDumps()


def _quiet_botocore_wire() -> None:
    """Attach :class:`_NoWireDumps` to botocore's wire loggers (idempotent): a build with every
    logger at DEBUG must not print the credentials an AWS profile resolves to."""
    for name in _BOTOCORE_WIRE:
        logger = logging.getLogger(name)
        if _NO_WIRE_DUMPS not in logger.filters:
            logger.addFilter(_NO_WIRE_DUMPS)


def _consume(fd: int, digest: Any, chunk: Any) -> None:
    """Hash ``chunk`` (if ``digest`` is given) and write it whole to ``fd``."""
    if digest is not None:
        digest.update(chunk)
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view) :]


def _file_kind(mode: int) -> str:
    """What a file that is not a regular one is, in a message."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "something else"


def _reason(exc: BaseException) -> str:
    """obstore's message reduced to its reason: the first line, without the request's URL."""
    text = str(exc).split("\n", 1)[0]
    for pattern in (r"HTTP error: (.+)$", r"status code: (.+?)(?::|$)", r"(Unable to [^:]+)"):
        found = re.search(pattern, text)
        if found:
            return found.group(1).strip()
    text = re.sub(r"https?://\S+", "", text)
    return text[:200].strip() or type(exc).__name__


def _status(text: str) -> str | None:
    found = re.search(r"\b(\d{3} [A-Z][A-Za-z ]+?)(?::|$)", text)
    return found.group(1) if found else None


def _is_loopback_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme != "http":
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _unlink_quietly(tree: Files, path: Path) -> None:
    with contextlib.suppress(OSError, BuildError):
        tree.unlink(path)


async def gather_limited(limit: int, *coros: Any) -> list[Any]:
    """Run ``coros`` at most ``limit`` at a time; their results (or exceptions) in order."""
    gate = asyncio.Semaphore(max(1, limit))

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return list(await asyncio.gather(*(one(c) for c in coros), return_exceptions=True))
