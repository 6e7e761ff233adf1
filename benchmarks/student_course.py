"""The student course as students get it: published, built into a wheel, installed alone into a
clean virtual environment, and every notebook run to the end from an empty folder holding only it
(as Colab opens one), its exercises filled with the reference answers.

    python -m benchmarks student_course      # the footprint and each notebook's time, one by one

tests/test_student_course.py runs the same steps (two notebooks at a time) in `make test`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from autograde.build import publish, samples
from autograde.config import ROOT, Course

GRADING_STACK = ("nbgrader", "jupyterlab", "sqlalchemy", "alembic", "notebook", "jupyter-server",
                 "autograde")
KERNEL = "student-course"


REPOSITORY = "bench-university/model-efficiency-course"   # publish needs one; no link is followed


def build(folder: Path, dist: Path, course: Course | None = None, assignments=None) -> Path:
    """Publish the student course into `folder` and build its wheel into `dist`."""
    committed, found = publish.publish(folder, course or Course(), assignments, REPOSITORY)
    if found:
        raise RuntimeError("the student course leaks: " + "; ".join(found[:5]))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(folder)], check=True, capture_output=True)
    return next(dist.glob("model_efficiency_course-*.whl"))


def clean_env() -> dict:
    """The environment of a student's shell: none of the instructor's variables."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("COURSE_", "PYTHON", "VIRTUAL_ENV", "AUTOGRADE_", "JUPYTER", "PYTEST"))}


def make_venv(where: Path, wheel: Path, constraints: Path) -> Path:
    """A clean venv with only the wheel (and its dependencies, pinned) installed; its python."""
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    python = where / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-c", str(constraints), str(wheel)], check=True, env=clean_env(),
                   capture_output=True, cwd=where)
    return python


def packages(python: Path) -> list[str]:
    """Every distribution installed in the venv (pip list), pip itself included."""
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], check=True,
                         capture_output=True, text=True, env=clean_env()).stdout
    return sorted(p["name"].lower() for p in json.loads(out))


def add_kernel(python: Path, kernels: Path) -> None:
    """ipykernel into the venv (Colab and JupyterHub have one), and a kernelspec that runs it."""
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-c", str(ROOT / "constraints.txt"), "ipykernel"], check=True,
                   env=clean_env(), capture_output=True)
    spec = kernels / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "student course", "language": "python"}))


def filled(course: Course, name: str, published: Path):
    """The published notebook with its exercise cells filled with the reference answers."""
    source = nbformat.read(course.source(name), as_version=4)
    return samples.correct(source, nbformat.read(published, as_version=4))


def run_notebook(nb, folder: Path, kernels: Path, timeout: int = 600) -> tuple[float, list]:
    """Execute nb alone in `folder` with the venv's kernel: (seconds, error outputs)."""
    folder.mkdir(parents=True)
    sockets = tempfile.mkdtemp(prefix="sc-", dir="/tmp")      # ipc paths must be short
    km = KernelManager(kernel_name=KERNEL, transport="ipc", ip=str(Path(sockets) / "k"),
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    env = {**clean_env(), "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}
    start = time.perf_counter()
    NotebookClient(nb, km=km, timeout=timeout, kernel_name=KERNEL,
                   resources={"metadata": {"path": str(folder)}}).execute(env=env, cwd=str(folder))
    seconds = time.perf_counter() - start
    shutil.rmtree(sockets, ignore_errors=True)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    return seconds, errors


def run_all(course: Course, published: Path, kernels: Path, runs: Path, workers: int = 1) -> dict:
    """{notebook: (seconds, errors)}, every published notebook from an empty folder of its own."""
    names = sorted(p.parent.name for p in (published / "notebooks").glob("*/*.ipynb"))

    def one(name):
        nb = filled(course, name, published / "notebooks" / name / f"{name}.ipynb")
        return name, run_notebook(nb, runs / name, kernels)
    with ThreadPoolExecutor(workers) as pool:
        return dict(pool.map(one, names))


def run() -> list[dict]:
    course = Course()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wheel = build(tmp / "student-course", tmp / "dist", course)
        python = make_venv(tmp / "venv", wheel, tmp / "student-course" / "constraints.txt")
        installed = packages(python)
        stack = sorted(p for p in installed if p in GRADING_STACK)
        rows = [{"figure": "student course: packages in a clean venv after `pip install` of the "
                           "student course (pip list, pip included)",
                 "value": f"{len(installed)}; grading stack: {', '.join(stack) or 'none'}",
                 "packages": len(installed), "lecture": "the grading stack stays out"}]
        add_kernel(python, tmp / "kernels")
        for name, (seconds, errors) in run_all(course, tmp / "student-course", tmp / "kernels",
                                               tmp / "runs").items():
            rows.append({"figure": f"student course: {name} from an empty folder, clean venv",
                         "value": f"{seconds:.0f} s" + (" (errors!)" if errors else ""),
                         "lecture": "at most 60 s on 2 CPU cores"})
    return rows
