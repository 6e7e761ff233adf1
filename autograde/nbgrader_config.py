"""nbgrader course configuration (loaded by `python -m autograde` and usable by the nbgrader CLI).

Our own pipeline calls nbgrader's preprocessors directly (release) and its Gradebook (grades);
these settings keep plain `nbgrader` commands consistent with it.
"""

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "model-efficiency"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# Replaced per exercise by autograde.release with 'Exercise <id>: write <name>'.
c.ClearSolutions.code_stub = {"python": 'raise NotImplementedError("@@EXERCISE@@")'}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Sensible defaults for plain nbgrader too: hidden tests never reach feedback, all tests restored.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.OverwriteCells.add_missing_cells = True
c.Execute.timeout = 120
c.Execute.allow_errors = True
