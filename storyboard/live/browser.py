"""Opening a served page in the user's web browser without putting its token on a command line.

Place in the pipeline: none; ``storyboard review --open`` and ``storyboard watch --open`` call
it. :func:`webbrowser.open` starts the browser (or ``xdg-open``) with the address as an
argument, and every user of the machine can read a process's arguments (``ps``,
``/proc/PID/cmdline``): with the page's address, its token. So, as Jupyter does, the browser
is given a file instead, readable by this user only (``0600``), that sends it on to the
address. The file is removed when the page stops (:class:`OpenedPage`).

A file page is another site to the browser, so the navigation it makes arrives with
``Sec-Fetch-Site: cross-site``: the server's guard lets that one request through, a top-level
``GET`` of the page's own tokened address (see :class:`storyboard.live.server.Guard`).
"""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path
from types import TracebackType


def redirect_page(url: str) -> str:
    """The HTML of a page that sends the browser on to ``url`` (with a link, if it does not)."""
    quoted = html.escape(url, quote=True)
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">\n'
        f'<meta http-equiv="refresh" content="0;url={quoted}">\n'
        "<title>storyboard</title></head>\n"
        f'<body><p>Opening <a href="{quoted}">the page storyboard serves</a>.</p></body></html>\n'
    )


class OpenedPage:
    """The page at ``url`` opened in the user's browser through a private redirect file.

    ``opened`` says whether a browser was started; ``file`` is the redirect file, removed on
    :meth:`close` (or when the ``with`` block ends).
    """

    def __init__(self, url: str, *, folder: str | None = None) -> None:
        import webbrowser

        fd, name = tempfile.mkstemp(prefix="storyboard-open-", suffix=".html", dir=folder)
        self.file: Path | None = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp: 0600, O_EXCL
                out.write(redirect_page(url))
            self.opened = webbrowser.open(self.file.as_uri())
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Remove the redirect file (once; a file already gone is not an error)."""
        if self.file is not None:
            self.file.unlink(missing_ok=True)
            self.file = None

    def __enter__(self) -> OpenedPage:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
