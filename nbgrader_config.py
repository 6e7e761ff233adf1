"""nbgrader course configuration: this folder is an nbgrader course directory.

Stock `nbgrader` commands run from here find the course (nbgrader reads `nbgrader_config.py` from
the folder it runs in); `python -m autograde` loads the same file. One folder per assignment under
each of nbgrader's directories:

    solutions/<name>/<name>.ipynb             source   (nbgrader's source/; instructor only)
    notebooks/<name>/<name>.ipynb             release  (what students get)
    submitted/<student>/<name>/<name>.ipynb   submissions: `nbgrader collect`, or what
                                              `python -m autograde grade ZIP_OR_FOLDER` takes in
    autograded/<student>/<name>/<name>.ipynb  graded notebooks (`python -m autograde grade`)
    feedback/<student>/<name>/<name>.html     feedback pages (`python -m autograde feedback`;
                                              `nbgrader release_feedback` hands them out)
    .grading/gradebook.db                     the gradebook both write and the formgrader reads

The gradebook is the same database for `python -m autograde` and nbgrader: both take
COURSE_GRADEBOOK_URL (any SQLAlchemy URL) or COURSE_GRADING_DIR from the environment, else SQLite
in .grading/. (`python -m autograde --db URL` alone is not seen by nbgrader: use the variable.)
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)
HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "model-efficiency"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
_grading = os.environ.get("COURSE_GRADING_DIR") or os.path.join(HERE, ".grading")
if not os.environ.get("COURSE_GRADEBOOK_URL"):
    try:
        os.makedirs(_grading, exist_ok=True)     # SQLite creates the file, not its folder
    except OSError:                              # a read-only copy (installed for all users)
        pass
c.CourseDirectory.db_url = (os.environ.get("COURSE_GRADEBOOK_URL")
                            or "sqlite:///" + os.path.join(os.path.abspath(_grading), "gradebook.db"))
# An assignment folder also holds the instructor's percent source, hidden cases, named mistakes
# and reference tests (*.py) and answer keys (*.toml): none of them may reach a release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py",
                            "*.toml"]

# Replaced per exercise by autograde.build.release with 'Exercise <id>: write <name>'.
c.ClearSolutions.code_stub = {"python": 'raise NotImplementedError("@@EXERCISE@@")'}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# A written answer's rubric (### BEGIN MARK SCHEME ... ### END MARK SCHEME) sits in the locked
# markdown cell of its question: cleared from the release, restored from the source into the
# graded copy, so the formgrader shows it. nbgrader would require a "task" cell, which is itself
# a (0-point) manual grade that keeps every submission flagged as needing grading; authoring
# (autograde/build/authoring.py) accepts a mark scheme in locked cells only.
c.ClearMarkScheme.enforce_metadata = False

# The release chain, written only here: nbgrader's own, plus the two steps that name each exercise's
# stub. `python -m autograde release` (autograde/build/release.py) runs it less the steps that need
# nbgrader's course directory and database; stock `nbgrader generate_assignment` runs all of it and
# writes the same release.
c.GenerateAssignment.preprocessors = [
    "autograde.build.release.RecordExerciseNames",
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "nbgrader.preprocessors.ClearSolutions",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
    "autograde.build.release.NameExerciseStubs",
]
# Stock `nbgrader generate_feedback` never shows a hidden test: test cells as released, each
# error output cut to its exception's name and message (no traceback, which would quote the failing
# hidden line: nbgrader issue #917), the grader's verdict lines in place of the test cells' outputs.
# `python -m autograde feedback` writes the fuller pages (summary table, rendered math).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograde.results.nbgrader_dirs.HideTestsInFeedback",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# The formgrader and `generate_feedback` render notebooks with nbconvert's HTML exporter: sanitize
# what it renders of outputs (their HTML through nbconvert's cleaner, no JavaScript, no widget).
# Its formgrade template leaves markdown cells unsanitized, so `grade` also writes autograded/
# notebooks that are inert on their own (autograde.results.nbgrader_dirs.inert): this is the second lock.
c.HTMLExporter.sanitize_html = True
# Stock `nbgrader export`: nbgrader's CSV columns, quoted and escaped against formula injection.
c.ExportApp.plugin_class = "autograde.results.export.SafeCsvExportPlugin"
c.OverwriteCells.add_missing_cells = True
c.Execute.timeout = 120

# The published student course (`python -m autograde publish DIR`): the GitHub repository students
# clone, pip-install and open in Colab and Binder; every notebook's first cell installs from it.
# `publish` refuses to write the course until it is set (here, or with --repository owner/name):
# c.StudentCourse.repository = "owner/name"
c.StudentCourse.branch = "main"
