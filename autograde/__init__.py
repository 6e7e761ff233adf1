"""Instructor tools: release, grade, feedback, export, report (`python -m autograde --help`).

This file is imported inside the grading sandbox (student kernels import `autograde.cases.*`), so it
must stay empty of imports: nothing else of `autograde/` is visible there.
"""
