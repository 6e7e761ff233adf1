"""What a student sees when a visible check fails, in a real kernel (issue 23, item 2): the check's
message and the student's own lines, never a frame of course_lib/checks (which would show the
properties it tests next); and a tick only for a property the student's code has shown."""

import re

import nbformat
import pytest
from nbclient import NotebookClient

from autograde import cells
from autograde.config import Course

ANSI = re.compile(r"\x1b\[[0-9;]*m")
pytestmark = pytest.mark.slow


def _lora_source() -> str:
    """The reference LoRALinear cell of the LoRA source notebook."""
    nb = nbformat.read(Course().source("lora"), as_version=4)
    return next(c.source for c in nb.cells if cells.grade_id(c) == "lora_linear")


@pytest.fixture(scope="module")
def executed():
    alpha_not_over_r = _lora_source().replace("self.scaling = alpha / r", "self.scaling = alpha")
    assert alpha_not_over_r != _lora_source()
    sources = [
        "import math\nimport torch\nimport torch.nn as nn\n"
        "from course_lib.checks.lora import check_lora_linear, check_lora_merge",
        alpha_not_over_r,
        "check_lora_merge(LoRALinear)",
        "class Stub(nn.Module):\n    def __init__(self, base, r, alpha, dropout=0.0):\n"
        "        super().__init__()\n        raise NotImplementedError()",
        "check_lora_linear(Stub)",
        "class Broken(LoRALinear):\n    def get_delta_weight(self):\n"
        "        return self.B.T @ self.A   # shapes do not fit",
        "check_lora_merge(Broken)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True).execute()
    return nb


def _error(cell) -> tuple[str, str]:
    [err] = [o for o in cell.outputs if o.output_type == "error"]
    shown = ANSI.sub("", "\n".join(err.traceback))
    printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return shown, printed


def _assert_short(shown: str):
    assert "course_lib" not in shown and "site-packages" not in shown, shown
    assert "Traceback" not in shown and "File " not in shown, shown
    assert len(shown.splitlines()) <= 8, shown


def test_a_wrong_scaling_gets_no_merge_tick_and_a_short_message(executed):
    shown, printed = _error(executed.cells[2])
    _assert_short(shown)
    assert shown.startswith("CheckFailed:") and "alpha, not alpha/r" in shown, shown
    assert "Cell In[" in shown and "check_lora_merge(LoRALinear)" in shown     # the student's line
    assert "alpha / r" not in printed and "merge()" not in printed, printed      # no tick for it


def test_an_exercise_not_written_yet_shows_the_students_raise(executed):
    shown, _ = _error(executed.cells[4])
    _assert_short(shown)
    assert shown.startswith("ExerciseNotDone:") and "not written yet" in shown, shown
    assert "raise NotImplementedError()" in shown and "check_lora_linear(Stub)" in shown, shown


def test_an_error_in_the_students_code_shows_their_line(executed):
    shown, _ = _error(executed.cells[6])
    _assert_short(shown)
    assert shown.startswith("CheckFailed:") and "RuntimeError" in shown, shown
    assert "return self.B.T @ self.A" in shown, shown
