"""Results in and out: intake from folders and LMS zips (intake.py), the gradebook, nbgrader's
folders (nbgrader_dirs.py), feedback pages, LMS export, the class report, Gradescope, and the class
integrity report (similarity.py, its fingerprints in fingerprint.py, its page in similarity_page.py).

Runs in the instructor's process. May import the shared modules, the build and the grading engine
(tests/test_layout.py).
"""
