"""nbgrader course configuration: this folder is an nbgrader course directory.

Stock `nbgrader` commands run from here find the course (nbgrader reads `nbgrader_config.py` from
the folder it runs in); `python -m autograde` loads the same file. One folder per assignment under
each of nbgrader's directories:

    solutions/<name>/<name>.ipynb             source   (nbgrader's source/; instructor only)
    notebooks/<name>/<name>.ipynb             release  (what students get)
    submitted/<student>/<name>/<name>.ipynb   collected submissions (nbgrader collect)
    autograded/<student>/<name>/<name>.ipynb  graded notebooks (the formgrader reads them)
    feedback/<student>/<name>/<name>.html     feedback pages (nbgrader release_feedback)
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)
HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "model-efficiency"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# An assignment folder also holds the instructor's percent source, hidden cases, named mistakes
# and reference tests (*.py): none of them may reach a release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py"]

# Replaced per exercise by autograde.release with 'Exercise <id>: write <name>'.
c.ClearSolutions.code_stub = {"python": 'raise NotImplementedError("@@EXERCISE@@")'}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# A written answer's rubric (### BEGIN MARK SCHEME ... ### END MARK SCHEME) sits in the locked
# markdown cell of its question: cleared from the release, restored from the source into the
# graded copy, so the formgrader shows it. nbgrader would require a "task" cell, which is itself
# a (0-point) manual grade that keeps every submission flagged as needing grading; authoring
# (autograde/authoring.py) accepts a mark scheme in locked cells only.
c.ClearMarkScheme.enforce_metadata = False

# Sensible defaults for plain nbgrader too: hidden tests and mark schemes never reach feedback,
# all tests restored.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.OverwriteCells.add_missing_cells = True
c.Execute.timeout = 120

# The published student course (`python -m autograde publish DIR`): the repository students clone,
# pip-install and open in Colab and Binder. Every notebook's first cell installs from it.
c.StudentCourse.repository = "your-org/model-efficiency-course"
c.StudentCourse.branch = "main"
