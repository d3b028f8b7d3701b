"""The remote's configuration (:mod:`storyboard.remote.config`): where it comes from (the
``--remote`` flag, then ``STORYBOARD_REMOTE``, then ``storyboard.toml``), and every wrong one
refused at its position before anything is sent, credentials never taken from a URL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.remote.config import RemoteConfig, find_remote
from tests.conftest import CliResult

FILM = """\
storyboard: 1
title: Harbour
shots:
  - {id: harbour, duration: 3, prompt: a small stone harbour at dawn}
  - {id: nets, duration: 3, prompt: an old fisherman mends a net}
"""

Project = Callable[[dict[str, str | bytes]], Path]
Cli = Callable[..., CliResult]


def test_the_remote_comes_from_the_flag_then_the_environment_then_storyboard_toml(
    tmp_path: Path, nas: Path
) -> None:
    (tmp_path / "storyboard.toml").write_text('[remote]\nurl = "s3://team-films/storyboard"\n')
    found = find_remote(tmp_path, env={})
    assert found == RemoteConfig("s3://team-films/storyboard", str(tmp_path / "storyboard.toml"))
    env = {"STORYBOARD_REMOTE": f"file://{nas}"}
    assert find_remote(tmp_path, env=env) == RemoteConfig(f"file://{nas}", "STORYBOARD_REMOTE")
    assert find_remote(tmp_path, env={"STORYBOARD_REMOTE": ""}) is None
    flag = find_remote(tmp_path, flag="gs://other/x/", env=env)
    assert flag == RemoteConfig("gs://other/x", "--remote")
    assert find_remote(tmp_path, disabled=True, env=env) is None
    (tmp_path / "storyboard.toml").write_text('[remote]\nurl = "nas"\n')
    with pytest.raises(Exception, match="s3://, gs://, az:// or file://"):
        find_remote(tmp_path, env={})


@pytest.mark.parametrize(
    ("toml", "where", "message"),
    [
        ('[remote]\nurl = "s3://KEY:SECRET@bucket/x"\n', "2:1", "credentials come from"),
        ('[remote]\nurl = "s3://bucket/x?X-Amz-Signature=1"\n', "2:1", "credentials come from"),
        ('[remote]\nurl = "ftp://bucket/x"\n', "2:1", "not 'ftp://'"),
        ('[remote]\nurl = "s3:///x"\n', "2:1", "needs a bucket"),
        ('[remote]\nurl = "file://nas/films"\n', "2:1", "three slashes"),
        ('[remote]\nurl = "s3://b/x"\naws_secret_access_key = "x"\n', "3:1", "takes only url"),
        ('[remote]\nurl = "s3://b/x\n', "2:16", "not valid TOML: Illegal character"),
        (
            '[remote]\nurl = "file:///nas\\u001b]0;T\\u0007\\u001b[31m"\n',
            "2:1",
            "control character",
        ),
    ],
)
def test_a_wrong_remote_is_refused_before_anything_is_sent(
    project: Project, run_cli: Cli, toml: str, where: str, message: str
) -> None:
    root = project({"film.yaml": FILM, "storyboard.toml": toml})
    result = run_cli("plan", "film.yaml", cwd=root)
    assert result.status == 2, result.err
    line = result.err.splitlines()[0]
    assert line.startswith(f"storyboard.toml:{where}: error: ") and message in line, line
    assert "SECRET" not in result.err and not (root / "build").exists()


@pytest.mark.parametrize("kind", ["fifo", "dangling link", "link out", "folder"])
def test_a_storyboard_toml_that_is_not_a_file_of_the_project_is_refused_not_waited_on(
    project: Project, run_cli: Cli, tmp_path: Path, kind: str
) -> None:
    import os

    root = project({"film.yaml": FILM})
    config = root / "storyboard.toml"
    outside = tmp_path / "elsewhere.toml"
    outside.write_text('[remote]\nurl = "file:///tmp/x"\n', encoding="utf-8")
    if kind == "fifo":
        os.mkfifo(config)  # reading it would wait for ever (no one writes it)
    elif kind == "dangling link":
        config.symlink_to(root / "missing.toml")  # not "no remote"
    elif kind == "link out":
        config.symlink_to(outside)
    else:
        config.mkdir()
    result = run_cli("plan", "film.yaml", cwd=root)
    assert result.status == 2, result.err
    line = result.err.splitlines()[0]
    assert line.startswith("storyboard.toml:1:1: error: storyboard.toml "), line
    expected = {
        "fifo": "is not a regular file",
        "dangling link": "is a symbolic link to a file that is not there",
        "link out": "is a symbolic link out of the project",
        "folder": "is not a regular file",
    }[kind]
    assert expected in line, line
    assert not (root / "build").exists()


def test_a_storyboard_toml_linked_inside_the_project_is_read(project: Project) -> None:
    root = project(
        {"film.yaml": FILM, "config/remote.toml": '[remote]\nurl = "file:///srv/films"\n'}
    )
    (root / "storyboard.toml").symlink_to(root / "config" / "remote.toml")
    found = find_remote(root, env={})
    assert found is not None and found.url == "file:///srv/films"
