"""Hostile storyboards: one table of attacks, each of which must be refused with a clear error.

Three kinds of attack, all counted in one table (figures: attacks tried, got through):

- a storyboard that tries to escape: template sandbox escapes and resource bombs, includes,
  templates and media paths leaving the project (``..``, absolute paths, symlinks to files
  and folders outside), ``file://``, non-loopback ``http://`` and other URLs, files too big
  to read, alias bombs and over-deep nesting, ``<<<element_N>>>`` markers smuggled into
  prompts (written, built by a template, or carried by a variable). ``storyboard check``
  must exit 2 with a positioned diagnostic that says what was refused;
- a build that would send or fetch something it must not: an image too large for the model
  (refused before it is read or uploaded), a tampered lock file naming a ``file://`` URL, a
  result that is not a video, or another video than the one locked. The build must end with
  exit status 1 and that reason, and the emulator's ledger must show nothing paid;
- a download that is too big or not a video (client side, with a scripted server): a body
  over the cap with or without ``Content-Length``, a lying ``Content-Length``, a gzip bomb,
  HTML instead of a video, a redirect to ``file://``. It must be refused and leave no file.

Many of these have unit tests elsewhere (tests/golden, tests/unit, tests/client); here they
run together as the attack surface, with one figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import re
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest

from storyboard.backends.runware import RunwareClient, RunwareError
from storyboard.build.pipeline import build
from storyboard.build.state.lockfile import LockFile
from storyboard.cli.main import main
from storyboard.core.errors import InputError
from storyboard.emulator.server import EmulatorServer
from tests.conftest import read_lock, tiny_jpeg
from tests.faults.conftest import Figures
from tests.faults.runner import FILM_SCALE, fast_backend

DIAGNOSTIC = re.compile(r"^[^\s:][^:]*:\d+:\d+: error: (?P<message>.*)$")


@dataclass(frozen=True)
class Attack:
    """A storyboard (its files and links) and what the refusal must say."""

    name: str
    text: str
    refusal: str
    """A piece of the message the refusal must contain (case-insensitive)."""
    files: dict[str, str | bytes] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    """Symbolic links to make: ``{link: target}`` (targets relative to the link)."""


def board(prompt: str = "a quiet harbour at dawn", shot: str = "", top: str = "") -> str:
    """A one-shot storyboard with ``prompt``, extra shot keys and extra top-level keys."""
    extra = f", {shot}" if shot else ""
    return (
        f"storyboard: 1\ntitle: Hostile\n{top}"
        f"shots:\n  - {{id: wide, prompt: {json.dumps(prompt)}{extra}}}\n"
    )


ELEMENT = "elements:\n  hero: {frontal_image: hero.jpg, description: a hero}\n"
BIG = 9 * 1024 * 1024  # over the 8 MiB a storyboard or include may have


def _laughs() -> str:
    lines = ["storyboard: 1", "title: laughs", "vars:", "  a: &a [lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"  {name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}]")
    lines += ["shots:", "  - {id: wide, prompt: 'a harbour {{ j }}'}"]
    return "\n".join(lines) + "\n"


CHECK_ATTACKS = [
    # -- the template sandbox ---------------------------------------------------------------
    Attack("sandbox: __class__ walk", board("{{ ''.__class__.__mro__[1].__subclasses__() }}"),
           "unsafe"),
    Attack("sandbox: cycler globals", board("{{ cycler.__init__.__globals__.os }}"),
           "not allowed"),
    Attack("sandbox: lipsum globals", board("{{ lipsum.__globals__['os'].popen('id') }}"),
           "undefined"),
    Attack("sandbox: self globals", board("{{ self.__init__.__globals__ }}"), "not allowed"),
    Attack("sandbox: attr filter", board("{{ ''|attr('__class__') }}"), "unsafe"),
    Attack("sandbox: escaped attr name", board("{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}"),
           "unsafe"),
    Attack("sandbox: vars internals", board("{{ vars.__class__.__init__ }}"), "unsafe"),
    Attack("sandbox: list mutation", board("{% set l = [1] %}{{ l.append(2) }}"), "unsafe"),
    Attack("sandbox: billion-step loop", board("{% for i in range(10**9) %}x{% endfor %}"),
           "steps"),
    Attack("sandbox: huge string", board("a {{ 'x' * 10**9 }}"), "more than 100,000"),
    Attack("sandbox: huge number", board("a {{ 9 ** 99999 }}"), "digits"),
    Attack("sandbox: format width", board("a {{ '%999999999s' % 'x' }}"), "format width"),
    Attack("sandbox: recursion",
           board("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"), "too complex"),
    Attack("sandbox: doubling", board(
        "{% set ns = namespace(t='x') %}{% for i in range(64) %}"
        "{% set ns.t = ns.t ~ ns.t %}{% endfor %}{{ ns.t }}"), "more than 100,000"),
    Attack("sandbox: prompt inflated by a loop",
           board("{% for i in range(3000) %}x{% endfor %}"), "at most 2,500"),
    # -- templates leaving the project ------------------------------------------------------
    Attack("template: absolute include", board("{% include '/etc/passwd' %}"), "absolute"),
    Attack("template: .. include", board("{% include '../secret.j2' %}"), "outside"),
    Attack("template: symlinked include", board("{% include 'styles/link.j2' %}"), "outside",
           links={"styles/link.j2": "../../secret.j2"}),
    Attack("template: extends outside", board("{% extends '../secret.j2' %}"), "outside"),
    Attack("template: import outside", board("{% import '../secret.j2' as s %}a {{ s }}"),
           "outside"),
    Attack("template: too big", board("{% include 'big.j2' %}"), "larger than",
           files={"big.j2": "x" * (1024 * 1024 + 1)}),
    # -- includes leaving the project -------------------------------------------------------
    Attack("include: ..", board(top="include: [../secret.yaml]\n"), "outside the project"),
    Attack("include: absolute", board(top="include: [/etc/passwd]\n"), "outside the project"),
    Attack("include: symlink", board(top="include: [cast.yaml]\n"), "outside the project",
           links={"cast.yaml": "../secret.yaml"}),
    Attack("include: itself", board(top="include: [film.yaml]\n"), "include"),
    Attack("include: too big", board(top="include: [big.yaml]\n"), "largest file",
           files={"big.yaml": "vars:\n  a: '" + "x" * BIG + "'\n"}),
    # -- media paths leaving the project ----------------------------------------------------
    Attack("media: .. start", board(shot="start: ../secret.jpg"), "outside the project"),
    Attack("media: absolute start", board(shot="start: /etc/passwd.jpg"), "absolute path"),
    Attack("media: symlinked file", board(shot="start: assets/link.jpg"), "link to a file",
           links={"assets/link.jpg": "../../secret.jpg"}),
    Attack("media: symlinked folder", board(shot="start: assets/out/secret.jpg"), "outside",
           links={"assets/out": "../.."}),
    Attack("media: element image outside",
           board("<<<hero>>> waves", top="elements:\n  hero: {frontal_image: ../secret.jpg, "
                 "description: a hero}\n"), "outside the project"),
    Attack("media: references outside", board(shot="references: [assets/../../secret.jpg]"),
           "outside the project"),
    Attack("media: reference video absolute", board(shot="reference_videos: [/tmp/x.mp4]"),
           "absolute path"),
    Attack("media: music outside",
           board(top="cut:\n  music: {file: ../secret.mp3}\n"), "outside the project"),
    Attack("media: NUL in a name", board(shot='start: "hero\\0.jpg"'), "NUL"),
    # -- URLs -------------------------------------------------------------------------------
    Attack("url: file://", board(shot="start: 'file:///etc/passwd'"), "only https"),
    Attack("url: plain http", board(shot="start: 'http://example.com/a.jpg'"), "plain http"),
    Attack("url: cloud metadata",
           board(shot="start: 'http://169.254.169.254/latest/meta-data.jpg'"), "plain http"),
    Attack("url: loopback look-alike",
           board(shot="start: 'http://localhost.evil.example/a.jpg'"), "plain http"),
    Attack("url: 127.0.0.1 look-alike", board(shot="start: 'http://127.0.0.1.nip.io/a.jpg'"),
           "plain http"),
    Attack("url: 0.0.0.0", board(shot="start: 'http://0.0.0.0/a.jpg'"), "plain http"),
    Attack("url: ftp", board(shot="start: 'ftp://example.com/a.jpg'"), "only https"),
    Attack("url: gopher", board(shot="start: 'gopher://example.com/_a.jpg'"), "only https"),
    Attack("url: webhook over http",
           board(top="delivery: {webhook_url: 'http://example.com/hook'}\n"), "plain http"),
    Attack("url: upload endpoint file://",
           board(top="delivery: {upload_endpoint: 'file:///tmp/x'}\n"), "only https"),
    Attack("url: data URI of the wrong kind",
           board(shot="start: 'data:text/html;base64,PHNjcmlwdD4='"), "takes an image"),
    # -- size and shape bombs ---------------------------------------------------------------
    Attack("bomb: storyboard too big", board("a " + "x" * BIG), "largest file"),
    Attack("bomb: billion laughs", _laughs(), "document too large"),
    Attack("bomb: recursive alias", "storyboard: 1\ntitle: t\nvars: &a {a: *a}\nshots: []\n",
           "alias"),
    Attack("bomb: deep nesting", "storyboard: 1\ntitle: t\nvars:\n  a: " + "[" * 200
           + "]" * 200 + "\nshots:\n  - {id: wide, prompt: a harbour}\n", "deep"),
    Attack("bomb: merge keys", "storyboard: 1\ntitle: t\nvars:\n  a: &a {x: 1}\n"
           + "".join(f"  b{i}: &b{i} {{<<: [*{'a' if i == 0 else f'b{i - 1}'}]}}\n"
                     for i in range(60))
           + "  c: !!python/object:os.system {}\nshots:\n  - {id: wide, prompt: a harbour}\n",
           "tag"),
    # -- marker injection -------------------------------------------------------------------
    Attack("marker: written", board("<<<element_1>>> walks in"), "<<<element_1>>>"),
    Attack("marker: beside a real element", board("<<<hero>>> meets <<<element_2>>>",
                                                  top=ELEMENT), "<<<element_2>>>"),
    Attack("marker: built by a template",
           board("{{ '<<' ~ '<element_1>' ~ '>>' }} walks in", top=ELEMENT), "<<<element_1>>>"),
    Attack("marker: carried by a variable", board("{{ m }} walks in",
                                                  top="vars: {m: '<<<element_1>>>'}\n"),
           "<<<element_1>>>"),
    Attack("marker: an element named element_1",
           board("<<<element_1>>> waves",
                 top="elements:\n  element_1: {frontal_image: hero.jpg, description: d}\n"),
           "element_1"),
    Attack("marker: image placeholder", board("<<<image_1>>> in the rain"), "<<<image_1>>>"),
    Attack("marker: nested brackets", board("<<<<<<hero>>>>>> waves", top=ELEMENT), "<<<"),
]  # fmt: skip


@dataclass
class Table:
    """The attacks tried and those that got through."""

    tried: int = 0
    through: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, name: str, refused: bool) -> None:
        self.tried += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        if not refused:
            self.through.append(name)


@pytest.fixture
def table(figures: Figures) -> Iterator[Table]:
    found = Table()
    yield found
    figures.add("attacks tried", found.tried)
    figures.add("attacks by kind", found.by_kind)
    figures.add("attacks that got through", len(found.through))
    figures.add("got through", found.through)


def _project(tmp_path: Path, attack: Attack) -> Path:
    """A project in ``tmp_path/project`` with secrets beside it, outside."""
    tmp_path.mkdir(parents=True)
    for name in ("secret.jpg", "secret.yaml", "secret.j2", "secret.mp3"):
        (tmp_path / name).write_bytes(b"vars: {stolen: yes}\n" if name.endswith("yaml") else b"x")
    (tmp_path / "secret.jpg").write_bytes(tiny_jpeg(640, 360))
    root = tmp_path / "project"
    (root / ".storyboard").mkdir(parents=True)
    (root / "assets").mkdir()
    (root / "styles").mkdir()
    (root / "hero.jpg").write_bytes(tiny_jpeg(640, 360))
    (root / "film.yaml").write_text(attack.text, encoding="utf-8")
    for name, content in attack.files.items():
        path = root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    for link, target in attack.links.items():
        (root / link).symlink_to(target)
    return root


def _check(root: Path) -> tuple[int, str]:
    err = io.StringIO()
    with (
        contextlib.chdir(root),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(err),
    ):
        status = main(["check", "film.yaml"])
    return status, err.getvalue()


def storyboard_attacks(tmp_path: Path, table: Table) -> list[str]:
    """Run :data:`CHECK_ATTACKS` through ``storyboard check``; the ones not refused."""
    failures = []
    for number, attack in enumerate(CHECK_ATTACKS):
        root = _project(tmp_path / f"attack-{number}", attack)
        status, err = _check(root)
        messages = [m.group("message") for m in map(DIAGNOSTIC.match, err.splitlines()) if m]
        refused = (
            status == 2
            and "Traceback" not in err
            and any(attack.refusal.lower() in m.lower() for m in messages)
        )
        table.count(attack.name.split(":")[0], attack.name, refused)
        if not refused:
            failures.append(f"{attack.name}: exit {status}\n{err[-1500:]}")
    return failures


# -- attacks a build meets: things it must not upload, fetch or trust -----------------------


def _film(root: Path, shot: str) -> Path:
    (root / ".storyboard").mkdir(parents=True, exist_ok=True)
    (root / "hero.jpg").write_bytes(tiny_jpeg(640, 360))
    film = root / "film.yaml"
    film.write_text(board("the picture comes alive", shot=shot), encoding="utf-8")
    return film


def _tamper_lock(film: Path, url: str) -> None:
    lock = LockFile.read(film.with_suffix(".lock"), film.name)
    lock.entries = [
        replace(e, results=tuple(replace(r, url=url) for r in e.results)) for e in lock.entries
    ]
    film.with_suffix(".lock").write_text(lock.text(), encoding="utf-8")


def build_attacks(emulator: EmulatorServer, tmp_path: Path, table: Table) -> list[str]:
    """Builds that meet something they must not upload, fetch or trust; the ones not refused."""
    failures = []

    def attempt(name: str, film: Path, refusal: str) -> None:
        """Build ``film``: it must fail with ``refusal`` and pay nothing."""
        before = emulator.total_cost()
        result = build(film, backend=fast_backend(), film_scale=FILM_SCALE)
        messages = " | ".join(o.message for o in result.failed)
        refused = (
            not result.ok
            and refusal.lower() in messages.lower()
            and emulator.total_cost() == before
        )
        table.count("build", name, refused)
        if not refused:
            failures.append(f"{name}: ok={result.ok}, paid {emulator.total_cost() - before}, "
                            f"{messages}")  # fmt: skip

    # an image over the model's 10 MB: refused by the check that starts the build, at its
    # place in the storyboard, before it is read whole or uploaded
    big = _film(tmp_path / "big-image", "start: big.jpg")
    (big.parent / "big.jpg").write_bytes(tiny_jpeg(640, 360) + b"\0" * (11 * 1024 * 1024))
    before = emulator.total_cost()
    with pytest.raises(InputError) as refused_big:
        build(big, backend=fast_backend(), film_scale=FILM_SCALE)
    big_refused = "10 MB" in str(refused_big.value) and emulator.total_cost() == before
    table.count("build", "build: an 11 MB start image", big_refused)
    if not big_refused:
        failures.append(f"build: an 11 MB start image: {refused_big.value}")
    assert emulator.stats()["tasks"].get("imageUpload", 0) == 0, "the big image was uploaded"

    # a lock file tampered with: the URLs of the paid results point elsewhere
    locked = _film(tmp_path / "locked", "start: hero.jpg")
    assert build(locked, backend=fast_backend(), film_scale=FILM_SCALE).ok
    shutil.rmtree(locked.parent / ".storyboard" / "cache")
    other = _film(tmp_path / "other", "start: hero.jpg, duration: 4")
    other_result = build(other, backend=fast_backend(), film_scale=FILM_SCALE)
    assert other_result.ok
    other_url = read_lock(other.with_suffix(".lock"))["wide"]["results"]
    for name, url, refusal in [
        ("build: lock names file://", "file:///etc/passwd", "only https://"),
        ("build: lock names the cloud metadata", "http://169.254.169.254/latest/", "inner address"),
        ("build: lock names a picture", _picture_url(emulator, tmp_path), "not a video"),
        ("build: lock names another video", other_url[0]["url"], "does not match"),
    ]:
        _tamper_lock(locked, url)
        attempt(name, locked, refusal)
    return failures


def _picture_url(emulator: EmulatorServer, tmp_path: Path) -> str:
    """A URL on the emulator that serves a JPEG, not a video (an uploaded image)."""
    client = httpx.Client(base_url=emulator.base_url, timeout=10)
    body = [{"taskType": "imageUpload", "taskUUID": "0b2f3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d",
             "image": "data:image/jpeg;base64," + __import__("base64").b64encode(
                 tiny_jpeg(640, 360)).decode()}]  # fmt: skip
    answer = client.post(
        "", json=body, headers={"Authorization": f"Bearer {emulator.api_key}"}
    ).json()
    url = answer["data"][0].get("imageURL")
    assert isinstance(url, str) and url.startswith("http"), answer
    return url


# -- downloads: the client refuses what is too big or not a video ---------------------------

MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
CAP = 64 * 1024


def _serve(route: Callable[[httpx.Request], httpx.Response]) -> RunwareClient:
    from storyboard.backends.runware.client import RetryPolicy
    from tests.backends.runware.fakes import StubResolver

    return RunwareClient(
        "a-test-key-for-downloads",
        base_url="https://api.example.test/v1",
        transport=httpx.MockTransport(route),
        retry=RetryPolicy(max_attempts=2, base_delay=0, jitter=0),
        resolver=StubResolver(),  # every name is a public address; none is connected to
    )


async def _stream(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 4096):
        yield data[start : start + 4096]


DOWNLOADS: list[tuple[str, Callable[[httpx.Request], httpx.Response], str]] = [
    ("over the cap, declared", lambda r: httpx.Response(
        200, headers={"content-length": str(CAP * 4)}, content=MP4 + b"\0" * (CAP * 4 - len(MP4))),
     "over the cap"),
    ("over the cap, streamed", lambda r: httpx.Response(
        200, content=_stream(MP4 + b"\0" * (CAP * 4))), "over the cap"),
    ("lying content-length", lambda r: httpx.Response(
        200, headers={"content-length": "100"}, content=_stream(MP4 + b"\0" * (CAP * 4))),
     "over the cap"),
    ("gzip bomb", lambda r: httpx.Response(
        200, headers={"content-encoding": "gzip"},
        content=gzip.compress(MP4 + b"\0" * (CAP * 64))), "over the cap"),
    ("html, not a video", lambda r: httpx.Response(
        200, content=b"<!doctype html><html><script>steal()</script></html>"), "not a video"),
    ("json error page", lambda r: httpx.Response(200, json={"error": "nope"}), "not a video"),
    ("redirect to file://", lambda r: httpx.Response(
        302, headers={"location": "file:///etc/passwd"}), "only https://"),
    ("redirect to the cloud metadata", lambda r: httpx.Response(
        307, headers={"location": "http://169.254.169.254/latest/meta-data/"}), "inner address"),
    ("redirect loop", lambda r: httpx.Response(
        302, headers={"location": "https://vm.example.test/again.mp4"}), "redirects"),
    ("plain http result URL", lambda r: httpx.Response(200, content=MP4), "only https://"),
    ("file:// result URL", lambda r: httpx.Response(200, content=MP4), "only https://"),
    ("redirect to a huge body", lambda r: httpx.Response(
        302, headers={"location": "https://cdn.example.test/huge.mp4"})
     if r.headers["host"] != "cdn.example.test" else httpx.Response(
        200, content=_stream(MP4 + b"\0" * (CAP * 4))), "over the cap"),
]  # fmt: skip


#: The URL each download starts from (default: an https URL of the result host).
START = {
    "plain http result URL": "http://cdn.example.test/v.mp4",
    "file:// result URL": "file:///etc/passwd",
}


def _allowed(url: httpx.URL) -> bool:
    return url.scheme == "https" or (url.scheme == "http" and url.host in ("127.0.0.1", "::1"))


def download_attacks(tmp_path: Path, table: Table) -> list[str]:
    """Downloads too big or not a video, or leading elsewhere; the ones not refused."""
    failures = []
    for number, (name, route, refusal) in enumerate(DOWNLOADS):
        folder = tmp_path / f"download-{number}"
        folder.mkdir(parents=True)
        requested: list[httpx.URL] = []

        def recording(
            request: httpx.Request,
            route: Callable[[httpx.Request], httpx.Response] = route,
            requested: list[httpx.URL] = requested,
        ) -> httpx.Response:
            requested.append(request.url)
            return route(request)

        async def fetch(folder: Path = folder, name: str = name) -> str:
            url = START.get(name, "https://vm.example.test/v.mp4")
            async with _serve(recording) as client:
                try:
                    await client.download(url, folder / "v.mp4", max_bytes=CAP)
                except RunwareError as exc:
                    return str(exc)
            return ""

        message = asyncio.run(fetch())
        left = sorted(p.name for p in folder.iterdir())
        forbidden = [str(url) for url in requested if not _allowed(url)]
        refused = refusal.lower() in message.lower() and not left and not forbidden
        table.count("download", f"download: {name}", refused)
        if not refused:
            failures.append(f"{name}: {message or 'downloaded'}; left {left}; sent {forbidden}")
    return failures


def test_every_attack_is_refused(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: Table
) -> None:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    through = storyboard_attacks(tmp_path / "storyboards", table)
    through += build_attacks(emulator, tmp_path / "builds", table)
    through += download_attacks(tmp_path / "downloads", table)
    assert not through, "\n\n".join(through)
    assert table.tried == len(CHECK_ATTACKS) + 5 + len(DOWNLOADS) >= 70
