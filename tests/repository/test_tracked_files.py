"""What must never be committed: the data directory of an install (secret key, queue, database)."""

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def tracked_files() -> list[str]:
    git = shutil.which("git")
    assert git, "git is needed to list the tracked files"
    listed = subprocess.run(  # noqa: S603 - a fixed command, no user input
        [git, "ls-files", "-z"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    return [path for path in listed.split("\0") if path]


def test_no_file_under_any_var_directory_is_tracked():
    tracked = tracked_files()
    assert "pyproject.toml" in tracked  # the listing itself works
    assert [path for path in tracked if "var" in Path(path).parts] == []


def test_the_default_home_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    from guanxi.config.env import guanxi_home

    monkeypatch.delenv("GUANXI_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert guanxi_home() == (tmp_path / "data" / "guanxi").resolve()
    monkeypatch.chdir(REPO)
    assert guanxi_home() == (tmp_path / "data" / "guanxi").resolve()
