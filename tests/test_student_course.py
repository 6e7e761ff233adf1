"""The student course (`python -m autograde publish`): what it holds, that it holds no answer, that
publishing is deterministic, and that it installs alone and runs every notebook as students run it.
"""

import ast
import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
import tomllib

from autograde.build import publish, student_course
from autograde.config import ROOT, Course
from benchmarks import student_course as sc

COURSE = Course()
REPOSITORY = "test-university/model-efficiency-course"      # tests name one, never a placeholder


def commits(folder: Path) -> int:
    out = subprocess.run(["git", "-C", str(folder), "rev-list", "--count", "HEAD"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student") / "course"
    committed, found = publish.publish(folder, COURSE, repository=REPOSITORY)
    assert not found, found
    assert committed
    return folder


def test_the_student_course_holds_the_notebooks_the_library_and_how_to_start(published):
    names = COURSE.assignments()
    assert sorted(p.parent.name for p in (published / "notebooks").glob("*/*.ipynb")) == names
    for must in ("README.md", "WHERE_TO_RUN.md", "pyproject.toml", "environment.yml",
                 "constraints.txt", "course_lib/__init__.py", "course_lib/checks/lora.py",
                 "course_lib/data/encoder.pt"):
        assert (published / must).is_file(), must
    readme = (published / "README.md").read_text()
    repo = student_course.StudentCourse(REPOSITORY)
    assert repo.colab_url("notebooks/lora/lora.ipynb") in readme and repo.binder_url() in readme
    first = nbformat.read(published / "notebooks" / "lora" / "lora.ipynb", as_version=4).cells[1]
    assert repo.package_url in first.source
    everything = "\n".join(p.read_text(errors="ignore") for p in published.rglob("*")
                           if p.is_file() and ".git" not in p.parts)
    assert "solutions/" not in everything.replace("solutions/<", "")     # no instructor path


def test_its_dependencies_are_the_notebooks_and_never_the_grading_stack(published):
    project = tomllib.loads((published / "pyproject.toml").read_text())["project"]
    names = {r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in project["dependencies"]}
    assert names == set(publish.STUDENT_DEPENDENCIES)
    extras = " ".join(" ".join(v) for v in project["optional-dependencies"].values()).lower()
    assert "nbgrader" not in extras and "sqlalchemy" not in extras
    pins = (published / "constraints.txt").read_text()
    assert "torch==" in pins and "nbgrader" not in pins


def test_publishing_again_without_a_change_makes_no_commit(published, tmp_path):
    before = commits(published)
    assert publish.publish(published, COURSE, repository=REPOSITORY) == (False, [])
    assert commits(published) == before
    partial = tmp_path / "semester"
    assert publish.publish(partial, COURSE, ["prompting", "lora"], REPOSITORY) == (True, [])
    assert sorted(p.parent.name for p in (partial / "notebooks").glob("*/*.ipynb")) == ["lora", "prompting"]
    assert publish.publish(partial, COURSE, ["prompting", "lora", "moe"], REPOSITORY) == (True, [])
    assert commits(partial) == 2 and (partial / "notebooks" / "moe" / "moe.ipynb").exists()
    with pytest.raises(ValueError, match="no assignment"):
        publish.publish(partial, COURSE, ["lora", "nonsense"], REPOSITORY)


def test_publish_refuses_placeholder_links_and_names_the_setting(tmp_path, monkeypatch):
    """No repository configured, or a placeholder: nothing is written, and the message says which
    setting to set (issue 23, item 4)."""
    from autograde import cli
    monkeypatch.setattr(student_course, "configured", lambda: student_course.StudentCourse())
    for repository in (None, "your-org/model-efficiency-course", "not a repository"):
        with pytest.raises(student_course.RepositoryNotSet, match="c.StudentCourse.repository"):
            publish.publish(tmp_path / "course", COURSE, ["lora"], repository)
        assert not (tmp_path / "course").exists()
    code = cli.main(["publish", str(tmp_path / "course"), "--assignments", "lora"])
    assert code == 2 and not (tmp_path / "course").exists()


def _plant(folder: Path) -> dict:
    """Plant one give-away of each kind; {what: text a leak line must contain}."""
    source = nbformat.read(COURSE.source("lora"), as_version=4)
    answer = next(c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                  == "lora_linear")
    region = answer.split("### BEGIN SOLUTION\n")[2].split("### END SOLUTION")[0]   # forward()
    model = folder / "course_lib" / "model.py"
    model.write_text(model.read_text() + "\n\ndef _helper(self, x):\n" + region)
    path = folder / "notebooks" / "moe" / "moe.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("def topk_gate(p, k):\n    return p.topk(k, -1)"))
    nb.cells.append(nbformat.v4.new_markdown_cell("### BEGIN HIDDEN TESTS\nold text"))
    nbformat.write(nb, path)
    (folder / "course_lib" / "grading.py").write_text("from autograde.spec import Case\n")
    (folder / "solutions" / "lora").mkdir(parents=True)
    (folder / "solutions" / "lora" / "lora.py").write_text("# the source\n")
    bank = folder / "course_lib" / "data" / "self_check.json"
    data = json.loads(bank.read_text())
    data["questions"][0]["answer"] = 1
    bank.write_text(json.dumps(data))
    return {"window": "course_lib/model.py: lines of a reference solution",
            "name": "defines 'topk_gate'", "marker": "'BEGIN HIDDEN TESTS'",
            "import": "course_lib/grading.py: imports the grader",
            "file": "solutions/lora/lora.py: an instructor-only file",
            "key": "the plain answer of question"}


def test_the_leak_check_finds_every_planted_answer(published, tmp_path):
    assert publish.leaks(published, COURSE) == []
    copy = tmp_path / "planted"
    shutil.copytree(published, copy, ignore=shutil.ignore_patterns(".git"))
    planted = _plant(copy)
    found = "\n".join(publish.leaks(copy, COURSE))
    for what, words in planted.items():
        assert words in found, (what, found)


def test_the_student_library_never_imports_the_grader():
    for path in (ROOT / "course_lib").rglob("*.py"):
        tree = ast.parse(path.read_text())
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imported if m.split(".")[0] == "autograde"], path


@pytest.mark.slow
def test_the_student_course_installs_alone_and_runs_every_notebook(published, tmp_path):
    """As a student gets it: a wheel of the published folder in a clean venv (CPU torch pinned),
    each notebook alone in an empty folder, its exercises filled with the reference answers."""
    wheel = sc.build(tmp_path / "again", tmp_path / "dist", COURSE)
    python = sc.make_venv(tmp_path / "venv", wheel, published / "constraints.txt")
    installed = sc.packages(python)
    assert not set(installed) & set(sc.GRADING_STACK), installed
    assert "model-efficiency-course" in installed and "torch" in installed
    sc.add_kernel(python, tmp_path / "kernels")
    ran = sc.run_all(COURSE, published, tmp_path / "kernels", tmp_path / "runs", workers=2)
    assert sorted(ran) == COURSE.assignments()
    for name, (seconds, errors) in ran.items():
        assert not errors, (name, [f"{e.get('ename')}: {e.get('evalue')}" for e in errors])
        print(f"{name}: {seconds:.0f} s")
