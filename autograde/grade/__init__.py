"""The grading engine: one submission (one_submission.py), a class (batch.py), a Dask cluster
(cluster.py), the sandbox and its kernels (sandbox.py, cgroups.py, warm_kernels.py, execute.py),
restoring a submission onto the source (restore.py), reading the sandbox's records (records.py) and
the verdict (verdict.py).

Runs in the grader's process; student code runs only in the kernels it starts. May import the
shared modules, the sandbox-side runtime and the build (the release and the reference), never
results/ (tests/test_layout.py).
"""
