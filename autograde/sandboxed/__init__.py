"""What runs inside the grading sandbox, in the student's kernel: nothing here imports the grader.

The sandbox mounts this folder's `__init__.py`, `recorder.py` (the hidden cases' runtime) and
`kernel.py` (the kernel as the grader starts it: its last steps of isolation, output caps; and, for
a warm zygote, `zygote.py`), `autograde/__init__.py`, `autograde/spec.py` and the graded assignment's `cases.py`
read-only into each kernel (autograde/grade/sandbox.py, `course_paths`). Keep this file free of
imports.
"""
