"""The built wheel installs one top-level package, `chatwatch`, holding every module and data file.

PyPI has distributions that install top-level `rules` and `detectors`; a wheel that shipped
ours under those names would break next to them (or break them).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.test_layout import REPO, package_dirs

SOURCES = ["pyproject.toml", "README.md", *sorted({p.relative_to(REPO).parts[0] for p in package_dirs().values()})]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """Built from a copy of the sources, so the build leaves nothing (build/, *.egg-info) in the repository."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(src)], check=True, capture_output=True)
    (path,) = out.glob("chatwatch-*.whl")
    return zipfile.ZipFile(path)


def test_one_top_level_package(wheel: zipfile.ZipFile):
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"chatwatch"}


def test_every_module_and_data_file_is_in_the_wheel(wheel: zipfile.ZipFile):
    names = set(wheel.namelist())
    expected = set()
    for package, folder in package_dirs().items():
        prefix = package.replace(".", "/")
        for path in folder.rglob("*"):
            if path.suffix in {".py", ".yaml", ".json"} and "__pycache__" not in path.parts:
                expected.add(f"{prefix}/{path.relative_to(folder).as_posix()}")
    assert expected - names == set()
    assert "chatwatch/rules/packs/off_channel.yaml" in names and "chatwatch/streams/demo/conversations.yaml" in names


def test_console_command_is_chatwatch(wheel: zipfile.ZipFile):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "chatwatch = chatwatch.cli:main" in wheel.read(entry_points).decode()
