"""Instructor tools: release, grade, feedback, export, report (`python -m autograde --help`).

This file is imported inside the grading sandbox (student kernels import `autograde.sandboxed.recorder`),
so it must stay empty of imports: only it, `spec.py`, `sandboxed/` and the graded assignment's
`cases.py` are visible there (tests/test_layout.py).

    spec.py       what an assignment folder imports (Case, Mistake)
    sandboxed/    runs inside the student's kernel; imports only spec
    config.py, cells.py, notebook_html.py    shared: the course's folders, cell metadata, HTML
    build/        the instructor's build: notebooks, release, student course, reference, samples
    grade/        the grading engine: one submission, a class, a cluster, sandbox, verdict
    results/      intake, gradebook, nbgrader's folders, feedback, export, report, Gradescope
    cli.py        the one command line
"""
