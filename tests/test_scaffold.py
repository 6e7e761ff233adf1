"""The recipes of docs/CONVENTIONS.md, followed in a copy of the repository: `python -m autograde new`
makes an assignment that passes its tests and is graded as generated, and adding an exercise to it
by the recipe makes that exercise graded too."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograde.build import samples
from autograde.config import ROOT, Course
from autograde.grade import batch

pytestmark = pytest.mark.slow

EXERCISE = '''
# %% [markdown]
# ### Exercise 2 ({{points}} points): `cosine`
#
# Write `cosine(a, b)`: the cosine of the angle between the rows of `a` and `b`, shape `(...)`.

# %% [solution] id=cosine
def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    ### BEGIN SOLUTION
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))     # a.b / (|a| |b|)
    ### END SOLUTION


# %% [tests] id=test_cosine points=1
assert cosine(torch.ones(1, 2), torch.ones(1, 2)).shape == (1,), "one cosine per row"
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("{name}.cosine", cosine=cosine)
### END HIDDEN TESTS
'''
CASE = '''

def _cosine(objects, seed):
    g = torch.Generator().manual_seed(100 + seed)
    a, b = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g) * 3
    return {"c": objects["cosine"](a, b)}


CASES["cosine"] = Case(_cosine, seeds=(0, 1), requires={
    "c": "a . b / (|a| |b|) for each pair of rows"})
'''


def run(copy: Path, *args, env=None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=copy, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(copy), **(env or {})})
    assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    return done


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    """The repository's tracked files, as a fresh clone has them."""
    target = tmp_path_factory.mktemp("repo") / "course"
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    return target


def test_a_new_notebook_passes_the_tests_and_is_graded_as_generated(copy):
    run(copy, "-m", "autograde", "new", "demo_topic")
    course = Course(solutions=copy / "solutions", notebooks=copy / "notebooks", work=copy / ".grading")
    assert (copy / "notebooks" / "demo_topic" / "demo_topic.ipynb").exists()
    run(copy, "-m", "autograde", "notebooks", "--check")        # README lists it; notebooks fresh
    assert "demo_topic" in (copy / "README.md").read_text()
    env = {"AUTOGRADE_TEST_ASSIGNMENTS": "demo_topic"}
    run(copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", "solutions/demo_topic",
        "tests/test_grading_notebooks.py", "tests/test_mistakes.py", "-k", "demo_topic or every",
        env=env)
    from autograde.build import publish
    assert not [f for f in publish.leaks(copy / "notebooks", course) if "demo_topic" in f]


def test_an_exercise_added_by_the_recipe_is_graded(copy):
    if not (copy / "solutions" / "demo_topic").exists():
        run(copy, "-m", "autograde", "new", "demo_topic")
    folder = copy / "solutions" / "demo_topic"
    source = folder / "demo_topic.py"
    text = source.read_text()
    summary = text.index("# %% [markdown]\n# ## Summary")
    source.write_text(text[:summary] + EXERCISE.strip("\n").replace("{name}", "demo_topic")
                      + "\n\n" + text[summary:])
    (folder / "cases.py").write_text((folder / "cases.py").read_text() + CASE)
    run(copy, "-m", "autograde", "notebooks")
    run(copy, "-m", "autograde", "release")
    course = Course(solutions=copy / "solutions", notebooks=copy / "notebooks", work=copy / "work2")
    source_nb = nbformat.read(course.source("demo_topic"), as_version=4)
    demo = samples.demo_samples(source_nb, "demo_topic", course)
    samples.write({k: demo[k] for k in ("correct", "untouched")}, copy / "inbox", "demo_topic")
    code = ("import sys; from pathlib import Path; from autograde.grade import batch; "
            "from autograde.results import intake; "
            "from autograde.config import Course; c = Course(solutions=Path('solutions').resolve(), "
            "notebooks=Path('notebooks').resolve(), work=Path('work2').resolve()); "
            "batch.grade_all(c, intake.find(Path('inbox'), ['demo_topic']), workers=1, progress=False)")
    run(copy, "-c", code)
    results = {r["student"]: r for r in batch.load_results(course, "demo_topic")}
    assert results["correct"]["score"] == results["correct"]["max_score"] == 3
    assert [t["id"] for t in results["correct"]["tests"]] == ["test_normalize", "test_cosine"]
    assert results["untouched"]["score"] == 0
