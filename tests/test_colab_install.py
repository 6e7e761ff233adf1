"""The notebooks' first cell (autograde.build.student_course.first_cell()) installs the course package where it is
missing, as in Colab, then runs the environment check.

The install is tested against a local copy of the repository, in a fresh virtual environment that
sees this environment's dependencies (torch, numpy, ...) but not course_lib: a folder of links to
every entry of our site-packages except course_lib's own, added through a .pth file. pip runs with
--no-deps --no-build-isolation and PIP_NO_INDEX=1, so nothing is downloaded.
"""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from autograde.build import authoring, publish, student_course

REPOSITORY = "test-university/model-efficiency-course"      # tests name one, never a placeholder
HIDDEN = re.compile(r"(course_lib|course-lib|autograde|__editable__)", re.I)


def make_fresh_env(tmp: Path) -> Path:
    """A venv without course_lib that imports our dependencies; returns its python."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(tmp / "env")
    python = tmp / "env" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                              "'purelib'))"], capture_output=True, text=True, check=True)
    deps = tmp / "deps"
    deps.mkdir()
    for sp in map(Path, site.getsitepackages()):
        for entry in sp.iterdir():
            if not HIDDEN.search(entry.name) and not entry.name.endswith(".pth") \
                    and not (deps / entry.name).exists():
                (deps / entry.name).symlink_to(entry)
    (Path(purelib.stdout.strip()) / "course_deps.pth").write_text(f"{deps}\n")
    return python


def copy_of_repository(tmp: Path) -> Path:
    """What `pip install git+URL` of the student course gives pip: the published folder."""
    folder = tmp / "model-efficiency-course"
    committed, found = publish.publish(folder, assignments=["lora"], repository=REPOSITORY)
    assert not found, found
    return folder


def run_cell(python, cwd, **env_vars) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "COURSE_PACKAGE_URL", "COURSE_PIP_ARGS", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **env_vars)
    return subprocess.run([str(python), "-c", student_course.first_cell()], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_first_cell_is_short_and_ends_with_the_check():
    cell = student_course.first_cell()
    lines = cell.splitlines()
    assert lines[0].startswith("# Run this first")
    assert lines[-2:] == ["from course_lib.doctor import check_environment", "check_environment()"]
    assert len(lines) <= 10 and max(map(len, lines)) < 100
    assert 'os.environ.get("COURSE_PACKAGE_URL",' in cell                 # the one override
    assert "git+https://github.com/org/repo" in student_course.first_cell(
        student_course.StudentCourse("org/repo").package_url)
    compile(cell, "<first cell>", "exec")


@pytest.mark.slow
def test_first_cell_installs_the_package_where_it_is_missing(tmp_path):
    python = make_fresh_env(tmp_path)
    work = tmp_path / "work"                # not the repository: '' on sys.path must not find it
    work.mkdir()
    probe = subprocess.run([str(python), "-c", "import importlib.util as u, torch; "
                            "print(u.find_spec('course_lib'))"], cwd=work,
                           capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr                          # dependencies visible
    if probe.stdout.strip() != "None":
        pytest.skip(f"course_lib is visible without installing it: {probe.stdout.strip()}")

    done = run_cell(python, work, COURSE_PACKAGE_URL=str(copy_of_repository(tmp_path)),
                    COURSE_PIP_ARGS="--no-deps --no-build-isolation")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK   torch" in done.stdout and "OK   course_lib data" in done.stdout, done.stdout
    assert done.stdout.strip().endswith("Environment OK."), done.stdout

    where = subprocess.run([str(python), "-c", "import course_lib; print(course_lib.__file__)"],
                           cwd=work, capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).is_relative_to(tmp_path / "env"), where    # installed in the env

    again = run_cell(python, work, COURSE_PACKAGE_URL=str(tmp_path / "nowhere"))
    assert again.returncode == 0 and "Environment OK." in again.stdout, again.stderr  # no pip


@pytest.mark.slow
def test_first_cell_does_not_install_where_the_package_is_there(tmp_path):
    done = run_cell(sys.executable, tmp_path, COURSE_PACKAGE_URL=str(tmp_path / "nowhere"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Environment OK." in done.stdout


def test_failed_install_stops_the_cell(tmp_path):
    python = make_fresh_env(tmp_path)
    done = run_cell(python, tmp_path, COURSE_PACKAGE_URL=str(tmp_path / "nowhere"),
                    COURSE_PIP_ARGS="--no-deps")
    assert done.returncode != 0 and "CalledProcessError" in done.stderr


def test_badges():
    course = student_course.StudentCourse("org/repo")
    assert course.colab_url("notebooks/lora/lora.ipynb") == (
        "https://colab.research.google.com/github/org/repo/blob/main/notebooks/lora/lora.ipynb")
    assert "colab-badge.svg" in course.colab_badge("notebooks/lora/lora.ipynb")
    assert course.binder_url("notebooks/lora/lora.ipynb") == (
        "https://mybinder.org/v2/gh/org/repo/main?urlpath=lab/tree/notebooks/lora/lora.ipynb")


def test_every_notebook_starts_with_the_first_cell():
    """authoring inserts it after the title: no source writes it, every notebook has it."""
    for src in authoring.sources():
        assert "check_environment()" not in src.read_text(), src
        nb = authoring.parse(src.read_text(), src.name)
        assert nb.cells[1].source == student_course.first_cell(), src
