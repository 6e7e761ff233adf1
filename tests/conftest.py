"""Shared set-up of the test suite: the toy course's fixture modules (tests/fixtures/toy: the toy
assignment, `toycourse` to build it into a temporary course, `adversarial` its hostile corpus) and
the similarity report's calibration corpus (tests/fixtures/similarity/corpus.py) are importable by
every test."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "toy"))
sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "similarity"))
