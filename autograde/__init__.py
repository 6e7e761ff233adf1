"""Instructor tools: release, grade, feedback, export, report (`python -m autograde --help`).

This file is imported inside the grading sandbox (student kernels import `autograde.sandboxed.recorder`), so it
must stay empty of imports: only it, `hidden.py` and the graded assignment's `cases.py` are visible
there.
"""
