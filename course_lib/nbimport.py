"""Import your own work from an earlier notebook: its setup cell and its exercise cells.

    adapters = import_notebook("adapters.ipynb")     # runs only the setup + solution cells
    model = adapters.add_adapters(load_encoder(), reduction=16)

Later notebooks (the PEFT comparison) reuse what you wrote before instead of a copy. Only cells
that define things run (the setup cell and the nbgrader solution cells), never the training.
Notebook files are read as plain JSON (no nbformat: the student library stays small).
"""

from __future__ import annotations

import json
import types
from pathlib import Path


class ExerciseNotDone(RuntimeError):
    """An exercise cell of the imported notebook still raises NotImplementedError."""


def _kind(cell) -> str | None:
    if cell.get("cell_type") != "code":
        return None
    if "setup" in cell.get("metadata", {}).get("tags", []):
        return "setup"
    if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
        return "solution"
    return None


def exec_cells(nb, namespace: dict | None = None, name: str = "notebook") -> dict:
    """Exec the setup and solution cells of notebook `nb` (in order) into `namespace`."""
    namespace = {"__name__": name} if namespace is None else namespace
    for cell in nb["cells"]:
        kind = _kind(cell)
        if kind is None:
            continue
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", kind)
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        try:
            exec(compile(source, f"<{name}:{grade_id}>", "exec"), namespace)
        except NotImplementedError as e:
            raise ExerciseNotDone(f"exercise {grade_id!r} of {name} is not done yet: {e}") from e
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
