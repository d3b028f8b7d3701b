"""Which remote a project uses, and only where it is: never how to log in to it.

Place in the pipeline: read by the commands that may use the remote (``build``, ``plan``,
``push``, ``pull``, ``remote``) before anything else of it, so that a wrong setting is an
input error (exit status 2) before anything is sent.

The remote is named by, first to last (the first one found wins):

1. ``--no-remote`` (none) or ``--remote URL`` on the command line;
2. ``STORYBOARD_REMOTE`` in the environment (empty: none);
3. ``storyboard.toml`` at the project root (the folder holding ``.git`` or ``.storyboard``)::

       [remote]
       url = "s3://team-films/storyboard"     # also gs://, az://, file:///mnt/nas/films

A URL names a place and nothing else: one with a user, a password or a query is refused,
and so is any other key of ``[remote]``, because credentials come only from each store's
own environment and files (``AWS_ACCESS_KEY_ID``... for S3; see docs/remote.md) and a
committed file must never hold them.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from storyboard.core import settings
from storyboard.core.diagnostics import Position, display_path
from storyboard.core.errors import InputError

#: The environment variable that names the remote (and overrides ``storyboard.toml``).
ENV = "STORYBOARD_REMOTE"
#: The project's settings file, committed at the project root.
CONFIG_FILE = "storyboard.toml"
#: Schemes obstore serves, as storyboard accepts them.
SCHEMES = ("s3", "gs", "az", "file")
#: ``storyboard.toml`` is a few lines; a larger one is not ours to parse.
MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True)
class RemoteConfig:
    """A remote as configured: its URL and where that URL was found (for messages)."""

    url: str
    source: str
    """``--remote``, ``STORYBOARD_REMOTE`` or the path of ``storyboard.toml``."""

    @property
    def scheme(self) -> str:
        return self.url.split(":", 1)[0]

    def to_json(self) -> dict[str, str]:
        return {"url": self.url, "source": self.source}


def find_remote(
    project_root: Path,
    *,
    flag: str | None = None,
    disabled: bool = False,
    env: Mapping[str, str] | None = None,
) -> RemoteConfig | None:
    """The remote of the project at ``project_root``, or ``None`` when it has none.

    Raises:
        InputError: a URL that is not one of a remote (with its position in
            ``storyboard.toml``), or a ``storyboard.toml`` that cannot be read.
    """
    env = os.environ if env is None else env
    if disabled:
        return None
    if flag is not None:
        found: RemoteConfig | None = RemoteConfig(checked_url(flag, "--remote", None), "--remote")
    elif ENV in env:
        value = env[ENV].strip()
        found = RemoteConfig(checked_url(value, ENV, None), ENV) if value else None
    else:
        found = _from_file(project_root / CONFIG_FILE)
    if found is not None:
        outside_state(found, project_root)
        settings.check(settings.REMOTE, env)  # read later, when a build may have paid
    return found


def outside_state(config: RemoteConfig, project_root: Path) -> None:
    """Refuse a folder remote inside the project's ``.storyboard/`` (its links resolved):
    builds empty and rewrite that folder (``.storyboard/tmp/`` is emptied by every build), so
    the remote's objects, which other builds count on, would be lost, and the remote would
    write into storyboard's own state outside its safe tree.

    Raises:
        InputError: it is.
    """
    if config.scheme != "file":
        return
    folder = Path(os.path.realpath(config.url.removeprefix("file://")))
    state = Path(os.path.realpath(project_root / ".storyboard"))
    if folder == state or state in folder.parents:
        flagged = config.source in ("--remote", ENV)
        raise InputError.at(
            None if flagged else Position(config.source),
            f"{config.source if flagged else 'url'}: the remote folder {folder} is inside "
            "the project's .storyboard/ (storyboard's own state: builds empty and rewrite it, "
            "and the remote's objects would be lost); name a folder outside it",
        )


def _from_file(path: Path) -> RemoteConfig | None:
    shown = display_path(path)
    try:
        # a file of the writer's, read as input: never waited on (a named pipe), and only
        # a regular file of the project (a link is followed inside it, never out of it)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if os.path.lexists(path):  # a link to nothing: not "no remote"
            raise InputError.at(
                Position(shown), f"{shown} is a symbolic link to a file that is not there"
            ) from None
        return None
    except OSError as exc:
        raise InputError.at(Position(shown), f"cannot read {shown}: {exc.strerror}") from None
    real, root = os.path.realpath(path), os.path.realpath(path.parent)
    problem = (
        f"{shown} is not a regular file"
        if not stat.S_ISREG(os.fstat(fd).st_mode)
        else f"{shown} is a symbolic link out of the project: refused"
        if os.path.commonpath([real, root]) != root
        else None
    )
    if problem is not None:
        os.close(fd)
        raise InputError.at(Position(shown), problem)
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as stream:
        try:
            data = stream.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise InputError.at(Position(shown), f"cannot read {shown}: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError.at(Position(shown), f"{shown} is larger than {MAX_CONFIG_BYTES:,} bytes")
    import tomllib  # here: a project without storyboard.toml never parses TOML (start-up)

    try:
        text = data.decode("utf-8")
        table = tomllib.loads(text)
    except UnicodeDecodeError:
        raise InputError.at(Position(shown), f"{shown} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        line, col = _toml_position(str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)$", "", str(exc))
        raise InputError.at(Position(shown, line, col), f"not valid TOML: {message}") from None
    remote = table.get("remote")
    if remote is None:
        return None
    at = Position(shown, *_line_of(text, r"^\s*\[\s*remote\s*\]"))
    if not isinstance(remote, dict):
        raise InputError.at(at, 'remote must be a table: [remote] with url = "s3://..."')
    extra = sorted(k for k in remote if k != "url")
    if extra:
        where = Position(shown, *_line_of(text, rf"^\s*{re.escape(extra[0])}\s*="))
        raise InputError.at(
            where,
            f"[remote] takes only url, not {', '.join(extra)}: credentials come from the "
            "store's own environment (AWS_ACCESS_KEY_ID..., see docs/remote.md), never from "
            "a committed file",
        )
    url = remote.get("url")
    where = Position(shown, *_line_of(text, r"^\s*url\s*="))
    if not isinstance(url, str):
        raise InputError.at(where if url is not None else at, '[remote] needs url = "..."')
    if not url.strip():
        return None
    return RemoteConfig(checked_url(url.strip(), "url", where, base=path.parent), shown)


def checked_url(url: str, name: str, where: Position | None, *, base: Path | None = None) -> str:
    """``url`` if it names a remote (a ``file://`` path made absolute), else an input error.

    Raises:
        InputError: an unknown scheme, no bucket, a relative ``file://`` path, or a URL that
            carries credentials (a user, a password, a query).
    """

    def refuse(why: str) -> InputError:
        return InputError.at(where, f"{name}: {why}")

    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in url):
        raise refuse(
            "the URL holds a control character (a terminal escape, a line break...): no "
            "remote is named so"
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise refuse(f"malformed URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = f"'{scheme}://'" if scheme else "no scheme"
        raise refuse(
            f"a remote URL starts with s3://, gs://, az:// or file://, not {shown} "
            "(e.g. s3://team-films/storyboard, file:///mnt/nas/films)"
        )
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise refuse(
            "the URL carries more than a place (a user, a password, a query or a fragment): "
            "credentials come from the store's own environment, never from the URL"
        )
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise refuse(
                f"file://{parts.netloc}... names a host; a folder is file:///ABSOLUTE/PATH "
                "(three slashes)"
            )
        folder = Path(parts.path)
        if not folder.is_absolute():
            folder = (base or Path.cwd()) / folder
        return "file://" + os.path.normpath(folder.absolute())
    if not parts.netloc:
        raise refuse(f"{scheme}:// needs a bucket: {scheme}://BUCKET/PREFIX")
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _toml_position(message: str) -> tuple[int, int]:
    found = re.search(r"at line (\d+), column (\d+)", message)
    return (int(found.group(1)), int(found.group(2))) if found else (1, 1)


def _line_of(text: str, pattern: str) -> tuple[int, int]:
    for number, line in enumerate(text.splitlines(), 1):
        found = re.search(pattern, line)
        if found:
            return number, len(line) - len(line.lstrip()) + 1
    return 1, 1
