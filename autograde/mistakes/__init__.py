"""Named wrong variants of the reference, one module per assignment (grader only).

`autograde.mistakes.<assignment>` defines `MISTAKES = {case name: [Mistake(...), ...]}`. A Mistake
has a `name`, the `hint` shown to the student, and `make(objects) -> objects`, which turns the
reference objects a case receives into wrong ones. When a student's outputs match a variant's
outputs on every seed where they fail, the feedback names that mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class Mistake:
    """A known wrong variant: `make` turns the reference objects of a case into wrong ones."""

    name: str
    hint: str
    make: Callable[[dict], dict]
