"""Hidden test cases, one module per assignment (`autograde.cases.<assignment>`).

A module maps case names to `course_lib.grading.Case`s in a dict `CASES`. A case builds its seeded
inputs itself and calls the student's objects; it holds no answers. These modules are importable
inside the grading sandbox; the reference and the mistakes are not.
"""
