"""solutions/*.ipynb are generated from solutions/*.py (percent format) and must be up to date."""

import pytest

from autograde.build import authoring, student_course


def test_solution_notebooks_are_up_to_date():
    assert authoring.update(check=True) == 0, "run `make notebooks`"


def test_parse_builds_nbgrader_metadata():
    nb = authoring.parse("# %% [markdown]\n# # T\n# %% [solution] id=ex\n### BEGIN SOLUTION\nx = 1\n"
                         "### END SOLUTION\n# %% [tests] id=test_ex points=2\nassert x == 1\n"
                         "# %% [skip-grading]\nslow()\n", first_cell=False)
    md, sol, test, skip = nb.cells
    assert md.source == "# T"
    assert sol.metadata.nbgrader["solution"] and sol.metadata.nbgrader["grade_id"] == "ex"
    assert test.metadata.nbgrader["points"] == 2.0 and test.metadata.nbgrader["locked"]
    assert skip.metadata.tags == ["skip-grading"]


@pytest.mark.parametrize("bad, message", [
    ("# %% [solution]\nx = 1\n", "needs id"),
    ("# %% [tests] id=t\nx\n", "needs points"),
    ("# %% [wat]\nx\n", "unknown cell kind"),
    ("# %% [solution] id=a\nx\n# %% [solution] id=a\ny\n", "duplicate"),
])
def test_bad_sources_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        authoring.parse(bad)


def test_the_environment_check_is_inserted_after_the_title():
    nb = authoring.parse("# %% [markdown]\n# # Title\n# %%\nx = 1\n")
    title, check, code = nb.cells
    assert title.cell_type == "markdown" and code.source == "x = 1"
    assert check.source == student_course.first_cell()
    assert 'os.environ.get("COURSE_PACKAGE_URL"' in check.source
    assert "your-org" not in check.source                   # no placeholder link, ever


def test_points_are_stated_from_the_metadata():
    src = ("# %% [markdown]\n# | Points | {{total_points}} |\n"
           "# %% [markdown]\n# ### Exercise 1 ({{points}} points): f\n"
           "# %% [solution] id=f\nf = 1\n# %% [tests] id=test_f points=2\nf\n"
           "# %% [tests] id=test_f2 points=1.5\nf\n"
           "# %% [markdown]\n# ### Exercise 2 ({{points}} points): g\n"
           "# %% [solution] id=g\ng = 1\n# %% [tests] id=test_g points=1\ng\n")
    cells = authoring.parse(src, first_cell=False).cells
    assert cells[0].source == "| Points | 4.5 |"
    assert cells[1].source == "### Exercise 1 (3.5 points): f"
    assert cells[5].source == "### Exercise 2 (1 point): g"
    with pytest.raises(ValueError, match="not a number"):
        authoring.parse("# %% [markdown]\n# ### Exercise 1 (2 points): f\n")



def test_written_answers_are_graded_by_hand_and_their_rubric_stays_with_the_grader():
    from autograde.build.release import release_notebook
    src = ("# %% [markdown] id=why_question\n# ### Question 1 ({{points}} points): why?\n"
           "# Explain.\n# ### BEGIN MARK SCHEME\n# 1 point: names the reason.\n"
           "# ### END MARK SCHEME\n# %% [written] id=why points=2\n# Because.\n")
    nb = authoring.parse(src, first_cell=False)
    question, answer = nb.cells
    assert question.cell_type == answer.cell_type == "markdown"
    assert question.source.startswith("### Question 1 (2 points): why?")
    assert question.metadata.nbgrader["locked"] and not question.metadata.nbgrader["grade"]
    meta = answer.metadata.nbgrader
    assert meta["solution"] and meta["grade"] and not meta["locked"] and meta["points"] == 2.0
    released_question, released_answer = release_notebook(nb).cells
    assert "MARK SCHEME" not in released_question.source
    assert "names the reason" not in released_question.source
    assert "Explain." in released_question.source
    assert released_answer.source == "YOUR ANSWER HERE"
    for unlocked in ("# %% [markdown]\n", "# %% [written] id=w points=1\n", "# %%\n"):
        with pytest.raises(ValueError, match="belongs in a locked cell"):
            authoring.parse(unlocked + "# ### BEGIN MARK SCHEME\n# x\n# ### END MARK SCHEME\n")
    with pytest.raises(ValueError, match="needs points"):
        authoring.parse("# %% [written] id=w\n# x\n")


def test_readme_lists_every_notebook_in_the_lecture_order():
    from autograde.build import catalog
    names = [e.name for e in catalog.entries()]
    assert names[:2] == ["prompting", "prompt_tuning"] and names[-2:] == ["review", "practice_quiz"]
    assert catalog.render_readme(catalog.README.read_text()) == catalog.README.read_text()


def test_no_student_notebook_names_an_instructor_command():
    """The student course has no Makefile and no grader: a released notebook never tells the
    student to run `make summary`, `python -m autograde ...` or `python -m benchmarks`."""
    import json
    import re

    from autograde.config import ROOT
    targets = re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M)
    assert {"summary", "notebooks", "test"} <= set(targets)
    command = re.compile(r"\bmake\s+(" + "|".join(map(re.escape, targets)) + r")\b"
                         r"|python3? -m (autograde|benchmarks)\b")
    released = sorted((ROOT / "notebooks").glob("*/*.ipynb"))
    assert released
    for path in released:
        for cell in json.loads(path.read_text())["cells"]:
            text = "".join(cell["source"])
            assert not command.search(text), f"{path.name}: {command.search(text).group(0)!r}"
