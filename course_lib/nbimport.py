"""Import your own work from an earlier notebook: its setup cell and its exercise cells.

    adapters = import_notebook("adapters.ipynb")     # runs only the setup + solution cells
    model = adapters.add_adapters(load_encoder(), reduction=16)

Later notebooks (the PEFT comparison) reuse what you wrote before instead of a copy. Only cells
that define things run (the setup cell and the nbgrader solution cells), never the training.
The grader extracts its reference from an instructor notebook with the same function.
"""

from __future__ import annotations

import types
from pathlib import Path

import nbformat


class ExerciseNotDone(RuntimeError):
    """An exercise cell of the imported notebook still raises NotImplementedError."""


def _kind(cell) -> str | None:
    if cell.cell_type != "code":
        return None
    if "setup" in cell.get("metadata", {}).get("tags", []):
        return "setup"
    if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
        return "solution"
    return None


def exec_cells(nb, namespace: dict | None = None, name: str = "notebook") -> dict:
    """Exec the setup and solution cells of notebook `nb` (in order) into `namespace`."""
    namespace = {"__name__": name} if namespace is None else namespace
    for cell in nb.cells:
        kind = _kind(cell)
        if kind is None:
            continue
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", kind)
        try:
            exec(compile(cell.source, f"<{name}:{grade_id}>", "exec"), namespace)
        except NotImplementedError as e:
            raise ExerciseNotDone(f"exercise {grade_id!r} of {name} is not done yet: {e}") from e
    return namespace


def import_notebook(path, search=(".", "../notebooks", "notebooks")) -> types.ModuleType:
    """The setup and solution cells of the notebook at `path`, as a module."""
    path = Path(path)
    candidates = [path] if path.is_absolute() else [Path(d) / path for d in search]
    found = next((p for p in candidates if p.exists()), None)
    if found is None:
        raise FileNotFoundError(f"no notebook {path} in {[str(c.parent) for c in candidates]}")
    nb = nbformat.read(found, as_version=4)
    module = types.ModuleType(found.stem)
    exec_cells(nb, module.__dict__, found.name)
    return module
