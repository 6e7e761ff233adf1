"""The instructor's build: source notebooks from percent files, the student release, the student
course, the reference's outputs, sample submissions, the quiz files, summaries and the bundled data.

Runs in the instructor's process. May import autograde's shared modules (config, cells,
notebook_html, spec) and the sandbox-side runtime (sandboxed/), never the grading engine or results
(tests/test_layout.py).
"""
