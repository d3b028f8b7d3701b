"""``storyboard review``: a local page to compare a build's variations and change the storyboard.

Place in the pipeline: after a build, beside the report. The page is built from the build's
film record (``build.json``, what the report reads) and from the storyboard as it is on disk
now: for each take, its variations side by side, playing, each with its price; the ``pick``,
``keep`` and ``retake`` the storyboard says; and the plan (what the next build would generate
and cost) with the storyboard as it is now.

Its buttons change the storyboard: "pick 3" writes ``pick: 3`` on the take's shot (or its
sequence), "keep" writes ``keep: true`` (or ``false``), "retake" writes ``retake: N+1``, each
as one line of the file (:mod:`storyboard.live.edit`), and only if the file is still the
version the page was made from: a change saved in the editor meanwhile is never written over
(the page says so, and a reload shows the file as it is). Then the page shows the new plan and
its cost. Nothing is built or sent: ``storyboard build`` does that.

The app is served by :class:`storyboard.live.server.LocalServer` with a token: every path
below is relative to ``/TOKEN/``. Its videos are the record's, and only those storyboard wrote
(the build folder's marker lists them), each opened through the project's
:class:`~storyboard.build.state.safe.Tree` (no symlink followed from the project down, a
regular file only) and answered from that descriptor.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from storyboard.live.edit import (
    CHANGED,
    EditRefused,
    FileChanged,
    Place,
    Snapshot,
    find_take,
    read_snapshot,
    set_key,
    write_if_unchanged,
)
from storyboard.live.server import open_file_response

if TYPE_CHECKING:
    from storyboard.build.state.safe import Tree

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self'; "
    "media-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
ACTIONS = ("pick", "keep", "retake")


@dataclass(frozen=True)
class Variation:
    """One variation of a take as the page shows it."""

    number: int
    url: str
    price: float | None
    built: bool  # the variation the last build cut the film with


@dataclass(frozen=True)
class TakeView:
    """One take: what the build made, and what the storyboard says now."""

    record: Any  # storyboard.exports.record.TakeRecord
    variations: list[Variation]
    place: Place | None
    problem: str


class Review:
    """The state behind the page: the storyboard, the build folder it reviews, the backend
    whose cache the plan compares with."""

    def __init__(self, storyboard: Path, folder: Path, *, backend: str, preview_scale: float):
        self.storyboard = storyboard
        self.folder = folder
        self.backend = backend
        self.preview_scale = preview_scale
        self.lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------------

    def record(self) -> Any:
        from storyboard.exports.record import read_record, record_path

        return read_record(record_path(self.place), self.tree.read_bytes)

    @functools.cached_property
    def tree(self) -> Tree:
        """The project folder, through which the build's videos are opened."""
        from storyboard.build.state.safe import Tree
        from storyboard.core.project import find_project_root

        return Tree.at(find_project_root(self.storyboard))

    @functools.cached_property
    def place(self) -> Path:
        """The reviewed folder, inside the project: as given, else with the folders above it
        resolved (a symlink above the project, like macOS's ``/var``)."""
        given = Path(os.path.normpath(os.path.abspath(self.folder)))
        if self.tree.contains(given):
            return given
        return Path(os.path.realpath(given.parent)) / given.name

    def owned(self) -> set[str] | None:
        """The files of the reviewed folder storyboard wrote (names inside it), as the build
        folder's marker lists them: in the folder above (a backend's folder) or in the folder
        itself; ``None`` when neither is marked (a folder an older storyboard made); empty
        when the marker cannot be trusted now (a symlink in its folder...)."""
        from storyboard.build.state.outputs import MARKER, BuildFolder
        from storyboard.build.state.safe import UnsafePath

        storyboard = Path(os.path.realpath(self.storyboard.absolute().parent))
        storyboard /= self.storyboard.name
        folder = self.place
        try:
            for root in (folder.parent, folder):
                if not self.tree.contains(root) or self.tree.lstat(root / MARKER) is None:
                    continue
                prefix = "".join(f"{part}/" for part in folder.relative_to(root).parts)
                names = BuildFolder(self.tree, root, storyboard).owned(prefix)
                return {n[len(prefix) :] for n in names}
        except (UnsafePath, OSError, ValueError):
            return set()
        return None

    def media(self, name: str) -> int | None:
        """A descriptor of the record's video ``name``, open for reading, or ``None`` when it
        is not a regular file storyboard wrote in the reviewed folder (a symlink anywhere from
        the project down to it, a name the record or the marker does not list, a NUL...)."""
        from storyboard.core.errors import StoryboardError
        from storyboard.live.server import open_listed
        from storyboard.report import record_media

        try:
            record = self.record()
        except StoryboardError:  # no record now (removed, damaged): nothing to serve
            return None
        listed = set(record_media(record))  # the record's videos, no other file
        owned = self.owned()
        if owned is not None:
            listed &= set(owned)
        return open_listed(self.tree, self.place, name, listed)

    def views(self, record: Any, snapshot: Snapshot | None) -> list[TakeView]:
        views = []
        for take in record.takes:
            files = list(take.variations) or ([take.video] if take.video else [])
            each = (
                take.estimate / len(files) if take.estimate is not None and files else take.estimate
            )
            variations = [
                Variation(i, f"media/{path}", each, path == take.video)
                for i, path in enumerate(files, start=1)
            ]
            place, problem = None, ""
            if snapshot is not None:
                try:
                    place = find_take(snapshot.text, take.id)
                except EditRefused as exc:
                    problem = str(exc)
            views.append(TakeView(take, variations, place, problem))
        return views

    def plan(self) -> tuple[Any | None, list[str]]:
        """The plan of the storyboard as it is now, or the problems that stop it."""
        from storyboard import api
        from storyboard.core.errors import InputError, StoryboardError

        try:
            plan = api.plan(self.storyboard, backend=self.backend, preview_scale=self.preview_scale)
        except InputError as exc:
            return None, [d.render() for d in exc.diagnostics]
        except StoryboardError as exc:
            return None, [str(exc)]
        return plan, []

    def snapshot(self) -> tuple[Snapshot | None, str]:
        try:
            return read_snapshot(self.storyboard), ""
        except (OSError, UnicodeDecodeError) as exc:
            return None, f"cannot read the storyboard: {exc}"

    # -- the page -----------------------------------------------------------------------------

    def page(self) -> str:
        from storyboard.report import template_environment

        record = self.record()
        snapshot, problem = self.snapshot()
        env = template_environment()
        return env.get_template("review.html.j2").render(
            record=record,
            takes=self.views(record, snapshot),
            version=snapshot.version if snapshot else "",
            problem=problem,
            storyboard=self.storyboard.name,
            plan_html=self.plan_html(),
        )

    def plan_html(self) -> str:
        from storyboard.report import template_environment

        plan, errors = self.plan()
        template = template_environment().get_template("review_plan.html.j2")
        return template.render(plan=plan, errors=errors)

    def state(self) -> dict[str, Any]:
        """The storyboard's version and, per take, its ``pick``, ``keep`` and ``retake``."""
        snapshot, problem = self.snapshot()
        takes: dict[str, Any] = {}
        if snapshot is not None:
            for take in self.record().takes:
                try:
                    takes[take.id] = find_take(snapshot.text, take.id).values
                except EditRefused:
                    takes[take.id] = None
        return {"version": snapshot.version if snapshot else "", "problem": problem, "takes": takes}

    # -- changing the storyboard --------------------------------------------------------------

    def act(self, body: Any) -> tuple[int, dict[str, Any]]:
        """Carry out one button's change; ``(HTTP status, answer)``."""
        if not isinstance(body, dict):
            return 400, {"error": "the request is not a JSON object"}
        take, action, value, version = (body.get(k) for k in ("take", "action", "value", "version"))
        if action not in ACTIONS or not isinstance(take, str) or not isinstance(version, str):
            return 400, {"error": "the request names no take, action and version"}
        with self.lock:
            try:
                snapshot = read_snapshot(self.storyboard)
            except (OSError, UnicodeDecodeError) as exc:
                return 409, {"error": f"cannot read the storyboard: {exc}"}
            if snapshot.version != version:
                return 409, {"error": CHANGED, "changed": True}
            try:
                place = find_take(snapshot.text, take)
                key, new = _change(action, value, place)
                text = set_key(snapshot.text, place.path, key, new)
                write_if_unchanged(self.storyboard, version, text)
            except FileChanged as exc:
                return 409, {"error": str(exc), "changed": True}
            except EditRefused as exc:
                return 400, {"error": str(exc)}
            except OSError as exc:
                return 500, {"error": f"cannot write the storyboard: {exc}"}
        shown = json.dumps(new) if isinstance(new, bool) else str(new)
        what = "sequence" if place.kind == "sequence" else "shot"
        return 200, {
            "message": f"wrote {key}: {shown} on the {what} of take {take} in "
            f"{self.storyboard.name}",
            **self.state(),
            "plan_html": self.plan_html(),
        }


def _change(action: str, value: Any, place: Place) -> tuple[str, bool | int]:
    """The key and value a button writes.

    Raises:
        EditRefused: the value is not one the storyboard can take there.
    """
    if action == "pick":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise EditRefused("pick: the variation must be a whole number from 1")
        if value > place.variations:
            raise EditRefused(
                f"pick: {value}, but the storyboard asks for {place.variations} variation"
                f"{'s' if place.variations != 1 else ''} of this take now"
            )
        return "pick", value
    if action == "keep":
        if not isinstance(value, bool):
            raise EditRefused("keep: true or false")
        return "keep", value
    current = place.values.get("retake")
    count = current if isinstance(current, int) and not isinstance(current, bool) else 0
    return "retake", count + 1


def make_app(review: Review) -> Starlette:
    """The page's routes (below the token)."""
    from storyboard.core.errors import StoryboardError

    async def page(request: Request) -> Response:
        try:
            html = await run_in_threadpool(review.page)
        except StoryboardError as exc:  # the record gone (the build folder removed)...
            return Response(f"{exc}\n", status_code=503, media_type="text/plain")
        return HTMLResponse(html, headers={"content-security-policy": PAGE_POLICY})

    async def script(request: Request) -> Response:
        return Response(SCRIPT, media_type="text/javascript")

    async def state(request: Request) -> Response:
        try:
            return JSONResponse(await run_in_threadpool(review.state))
        except StoryboardError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)

    async def action(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send JSON"}, status_code=415)
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):  # RecursionError: nested too deep to read
            return JSONResponse({"error": "the request is not JSON"}, status_code=400)
        status, answer = await run_in_threadpool(review.act, body)
        return JSONResponse(answer, status_code=status)

    async def media(request: Request) -> Response:
        name = request.path_params["name"]
        fd = await run_in_threadpool(review.media, name)
        if fd is None:
            return Response("not a file of this build\n", status_code=404)
        kind = "video/mp4" if name.endswith(".mp4") else None
        return open_file_response(fd, request, name=name, media_type=kind)

    return Starlette(
        routes=[
            Route("/", page),
            Route("/review.js", script),
            Route("/api/state", state),
            Route("/api/action", action, methods=["POST"]),
            Route("/media/{name:path}", media),
        ]
    )


SCRIPT = r"""// storyboard review: the buttons write the storyboard through the page's server.
(function () {
  "use strict";
  var body = document.body;
  var message = document.getElementById("message");

  function say(text, bad) {
    message.textContent = text;
    message.className = bad ? "message bad" : "message ok";
  }

  function show(state) {
    body.setAttribute("data-version", state.version);
    Object.keys(state.takes).forEach(function (id) {
      var card = document.querySelector('[data-take-card="' + CSS.escape(id) + '"]');
      var now = state.takes[id];
      if (!card || !now) { return; }
      var pick = now.pick || 1;
      card.setAttribute("data-pick", String(pick));
      card.querySelectorAll("[data-variation]").forEach(function (figure) {
        var on = figure.getAttribute("data-variation") === String(pick);
        figure.classList.toggle("picked", on);
        var button = figure.querySelector("button[data-action=pick]");
        if (button) { button.disabled = on; }
      });
      var keep = card.querySelector("button[data-action=keep]");
      if (keep) {
        keep.setAttribute("data-value", now.keep ? "false" : "true");
        keep.textContent = now.keep ? "unkeep" : "keep";
        card.classList.toggle("kept", !!now.keep);
      }
      var retake = card.querySelector("[data-retake]");
      if (retake) { retake.textContent = String(now.retake || 0); }
    });
  }

  function act(button) {
    var card = button.closest("[data-take-card]");
    var raw = button.getAttribute("data-value");
    var request = {
      take: card.getAttribute("data-take-card"),
      action: button.getAttribute("data-action"),
      value: raw === null ? null : JSON.parse(raw),
      version: body.getAttribute("data-version")
    };
    body.setAttribute("data-busy", "1");
    fetch("api/action", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(request),
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (answer) { return [response.status, answer]; });
    }).then(function (pair) {
      var answer = pair[1];
      if (pair[0] !== 200) {
        say(answer.error || "refused", true);
        if (answer.changed) { body.setAttribute("data-stale", "1"); }
        return;
      }
      show(answer);
      document.getElementById("plan").innerHTML = answer.plan_html;
      say(answer.message, false);
    }).catch(function (error) {
      say("the page's server did not answer: " + error, true);
    }).finally(function () {
      body.removeAttribute("data-busy");
      body.setAttribute("data-actions", String(Number(body.getAttribute("data-actions") || 0) + 1));
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (button && !button.disabled) { act(button); }
  });

  // Say when the file changes on disk (an editor's save), so no click is made on an old page.
  setInterval(function () {
    fetch("api/state", {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (state) {
        if (body.getAttribute("data-busy")) { return; }
        var stale = state.version !== body.getAttribute("data-version");
        document.getElementById("stale").hidden = !stale;
      }).catch(function () {});
  }, 2000);
})();
"""
