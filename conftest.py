"""pytest settings for the whole checkout (tests/ and solutions/<name>/test_<name>.py)."""

import hashlib
import os
import tempfile
from pathlib import Path


def pytest_configure(config):
    # Temporary folders per checkout: pytest keeps only the 3 newest numbered folders under its
    # root, so test runs of two checkouts (git worktrees) on one machine would delete each other's.
    if "PYTEST_DEBUG_TEMPROOT" not in os.environ:
        tag = hashlib.sha256(str(Path(__file__).resolve().parent).encode()).hexdigest()[:8]
        root = Path(tempfile.gettempdir()) / f"pytest-checkout-{tag}"
        root.mkdir(exist_ok=True)
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(root)
