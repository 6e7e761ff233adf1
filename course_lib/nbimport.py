"""Import your own work from an earlier notebook: its setup cell and its exercise cells.

    adapters = import_notebook("adapters.ipynb")     # runs only the setup + solution cells
    model = adapters.add_adapters(load_encoder(), reduction=16)

Later notebooks (the PEFT comparison) reuse what you wrote before instead of a copy. Only cells
that define things run (the setup cell and the nbgrader solution cells), never the training.
Notebook files are read as plain JSON (no nbformat: the student library stays small).

The instructor's grader builds its reference the same way, with `exec_cells` on the source notebook
(autograde/build/reference.py): the executor and the few readers of cell metadata it needs live
here because the student library never imports the grader, and the grader may import the student
library (autograde/cells.py builds on these readers).
"""

from __future__ import annotations

import json
import types
from pathlib import Path


class ExerciseNotDone(RuntimeError):
    """An exercise cell of the imported notebook still raises NotImplementedError."""


SETUP_TAG = "setup"


def nbgrader_meta(cell) -> dict:
    """A cell's nbgrader metadata ({} where there is none)."""
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def is_solution(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_setup(cell) -> bool:
    return SETUP_TAG in tags(cell)


def defines(cell) -> bool:
    """A cell that defines things: a code cell tagged setup, or an nbgrader solution (exercise)."""
    return cell.get("cell_type") == "code" and (is_setup(cell) or is_solution(cell))


def exec_cells(nb, namespace: dict | None = None, name: str = "notebook") -> dict:
    """Exec the setup and solution cells of notebook `nb` (in order) into `namespace`."""
    namespace = {"__name__": name} if namespace is None else namespace
    for cell in nb["cells"]:
        if not defines(cell):
            continue
        where = grade_id(cell) or ("setup" if is_setup(cell) else "solution")
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        try:
            exec(compile(source, f"<{name}:{where}>", "exec"), namespace)
        except NotImplementedError as e:
            raise ExerciseNotDone(f"exercise {where!r} of {name} is not done yet: {e}") from e
    return namespace


def candidates(path) -> list[Path]:
    """Where `import_notebook("adapters.ipynb")` looks: this folder, then a sibling assignment
    folder (`../adapters/adapters.ipynb`, the layout of the course and of nbgrader's exchange)."""
    path = Path(path)
    if path.is_absolute():
        return [path]
    return [path, Path("..") / path.stem / path.name, Path("..") / path]


def import_notebook(path) -> types.ModuleType:
    """The setup and solution cells of the notebook at `path`, as a module."""
    places = candidates(path)
    found = next((p for p in places if p.exists()), None)
    if found is None:
        raise FileNotFoundError(f"no notebook {Path(path).name} in {[str(p.parent) for p in places]}")
    nb = json.loads(found.read_text(encoding="utf-8"))
    module = types.ModuleType(found.stem)
    exec_cells(nb, module.__dict__, found.name)
    return module
