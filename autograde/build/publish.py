"""The student course: `python -m autograde publish DIR [--assignments a,b] [--repository org/name]`.

This repository is the instructor's and private: it holds every answer. Students get the student
course, a folder of its own that is its own git repository (each publish a commit; push it where
students clone it, e.g. a public GitHub repository named in nbgrader_config.py):

    notebooks/<name>/<name>.ipynb    the released notebooks (no answers, no hidden tests)
    course_lib/                      the student library: model, data, weights, visible checks
    pyproject.toml                   `pip install .` gives everything the notebooks import and
                                     nothing of the grading stack; `.[lab]` adds JupyterLab
    constraints.txt                  pinned versions of those, CPU torch, for a laptop
    environment.yml                  Binder
    README.md, WHERE_TO_RUN.md       how to start locally, in Colab, on Binder, on a JupyterHub

Publishing is deterministic: the same sources give the same bytes, so publishing twice without a
change makes no new commit. `--assignments` publishes the assignments released so far (a course
releases over a semester). Before anything is committed, `leaks()` searches every published file;
a publish that would leak an answer stops with the list and commits nothing.
"""

from __future__ import annotations

import ast
import json
import re
import string
import subprocess
import tempfile
from pathlib import Path

import nbformat
import tomllib

from autograde import cells
from autograde.build import catalog, release, student_course
from autograde.config import ROOT, Course

TEMPLATES = Path(__file__).with_name("templates") / "student_course"
STUDENT_DEPENDENCIES = ["torch", "numpy", "matplotlib", "ipywidgets", "tqdm"]
LAB = ["jupyterlab>=4.0", "ipykernel>=6.5"]
LAB_PINS = ["jupyterlab", "notebook", "ipykernel", "jupyter_client"]
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
           "BEGIN MARK SCHEME", "END MARK SCHEME", "hidden_check(", "record_step(")
FORBIDDEN_NAMES = re.compile(r"(^|/)(solutions|autograde|\.grading|autograded|submitted|feedback)(/|$)"
                             r"|(^|/)(cases|mistakes|nbgrader_config)\.py$|(^|/)(answer_key|self_check_key)\.\w+$"
                             r"|(^|/)test_[^/]*\.py$"
                             r"|gradebook\.db$")


# ---------------------------------------------------------------- what the student course holds
def _requirements() -> dict:
    """The instructor's pyproject ranges for the student's dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    by_name = {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower(): r for r in project["dependencies"]}
    return {name: by_name[name] for name in STUDENT_DEPENDENCIES}


def _pins(names: list[str]) -> list[str]:
    """constraints.txt lines of the instructor's pins for these packages (CPU torch)."""
    wanted = {n.lower().replace("_", "-") for n in names}
    out = []
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name = re.split(r"[<>=!~ ;\[]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
        if line.strip() and not line.startswith("#") and name in wanted:
            out.append(line.strip())
    return out


def _packages() -> list[str]:
    inits = (ROOT / "course_lib").rglob("__init__.py")
    return sorted(".".join(p.relative_to(ROOT).parts[:-1]) for p in inits)


def _fill(name: str, **values) -> str:
    """A template of autograde/build/templates/student_course (NAME.in), its $fields filled."""
    return string.Template((TEMPLATES / f"{name}.in").read_text()).substitute(**values)


def footprint() -> int | None:
    """Packages in a clean venv with the student course installed, as `make bench` measured it."""
    results = ROOT / "benchmarks" / "results.json"
    try:
        data = json.loads(results.read_text())
        groups = data.get("groups", data)
        for row in groups["student_course"]["rows"]:
            if "packages" in row:
                return int(row["packages"])
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return None


def notebook_for(course: Course, name: str, repo: student_course.StudentCourse) -> str:
    """The released notebook, its first cell installing from the student repository."""
    text = release.release_text(course, name)
    configured = student_course.first_cell()
    wanted = student_course.first_cell(repo.package_url)
    if configured != wanted:
        nb = nbformat.reads(text, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source == configured:
                cell.source = wanted
        text = release.release_json(nb)
    return text


def student_files(course: Course, names: list[str], repo: student_course.StudentCourse) -> dict:
    """{relative path: bytes} of the student course (deterministic)."""
    files = {}
    for path in sorted((ROOT / "course_lib").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[path.relative_to(ROOT).as_posix()] = path.read_bytes()
    for name in names:
        files[f"notebooks/{name}/{name}.ipynb"] = notebook_for(course, name, repo).encode()
    reqs = _requirements()
    version = re.search(r'__version__ = "(.+?)"', (ROOT / "course_lib" / "__init__.py").read_text())
    files["pyproject.toml"] = _fill(
        "pyproject.toml", version=version.group(1),
        dependencies="\n".join(f'    "{r}",' for r in reqs.values()),
        lab="\n".join(f'    "{r}",' for r in LAB),
        packages=", ".join(f'"{p}"' for p in _packages())).encode()
    files["environment.yml"] = _fill(
        "environment.yml", dependencies="\n".join(f"      - {r}" for r in reqs.values())).encode()
    files["constraints.txt"] = ("# Pinned versions for a laptop install: pip install -c constraints.txt "
                                "-e \".[lab]\"\n" + "\n".join(_pins(STUDENT_DEPENDENCIES + LAB_PINS))
                                + "\n").encode()
    rows = [f"| {catalog.label(e)} | [`{e.path}`]({e.path}) | {repo.colab_badge(e.path)} |"
            for e in catalog.entries(course) if e.name in names]
    count = footprint()
    files["README.md"] = _fill(
        "README.md", binder_badge=repo.binder_badge(), notebook_rows="\n".join(rows),
        package_url=repo.package_url, clone_url=f"https://github.com/{repo.repository}",
        dependency_list=", ".join(reqs), package_count=f"about {count}" if count else "a few dozen").encode()
    files["WHERE_TO_RUN.md"] = _fill(
        "WHERE_TO_RUN.md", first_cell=student_course.first_cell(repo.package_url),
        colab_pattern=repo.colab_url("notebooks/<name>/<name>.ipynb"),
        binder_url=repo.binder_url()).encode()
    files[".gitignore"] = (TEMPLATES / "gitignore").read_bytes()
    license_text = ROOT / "LICENSE"
    if license_text.exists():
        files["LICENSE"] = license_text.read_bytes()
    return files


# ---------------------------------------------------------------- the leak test
WINDOW = 3          # consecutive lines of a reference solution that count as giving it away


def _normal(text: str) -> list[str]:
    """Code lines without indentation, blank lines and comments."""
    lines = (re.sub(r"\s+#.*$", "", line).strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _windows(lines: list[str], sizes) -> set:
    return {tuple(lines[i:i + k]) for k in sizes for i in range(len(lines) - k + 1)}


def _secret_windows(region: str) -> set:
    """What of one solution region must not appear: WINDOW consecutive lines of it (the whole
    region when it is shorter, a single line only if it says enough: 12 characters or more)."""
    lines = _normal(region)
    k = min(WINDOW, len(lines))
    if k == 1 and len(lines[0]) < 12:
        return set()
    return _windows(lines, [k]) if k else set()


def solution_secrets(course: Course) -> tuple[set, set]:
    """(line windows that appear only inside solution regions, names that solution cells define)
    over every assignment of the course, published or not."""
    inside, outside, names = set(), set(), set()
    for name in course.assignments():
        nb = nbformat.read(course.source(name), as_version=4)
        for cell in nb.cells:
            if cells.is_solution(cell) and cell.cell_type == "code":
                for region in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S):
                    inside |= _secret_windows(region)
                try:
                    tree = ast.parse(cell.source)
                except SyntaxError:
                    tree = ast.Module(body=[], type_ignores=[])
                names |= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            given = re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION", "", cell.source, flags=re.S)
            outside |= _windows(_normal(cells.HIDDEN.sub("", given)), range(1, WINDOW + 1))
    return inside - outside, names


def _texts(path: Path, data: bytes) -> list[tuple[str, str, bool]]:
    """(where, text, given code?) pieces of a published file worth searching: each cell of a
    notebook (given code: a code cell that is not an exercise's stub), a text file whole (given
    code: a .py file), nothing of a binary file."""
    if path.suffix == ".ipynb":
        nb = json.loads(data)
        out = []
        for i, c in enumerate(nb.get("cells", [])):
            source = "".join(c["source"]) if isinstance(c.get("source"), list) else c.get("source", "")
            given = c.get("cell_type") == "code" and not cells.is_solution(c)
            out.append((f"{path} cell {i} ({c.get('cell_type')})", source, given))
        return out
    try:
        return [(str(path), data.decode("utf-8"), path.suffix == ".py")]
    except UnicodeDecodeError:
        return []


def _defines(text: str) -> set:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def leaks(folder: Path, course: Course) -> list[str]:
    """Every way the published folder gives an answer away (empty: it does not)."""
    secret_lines, graded_names = solution_secrets(course)
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts):
        rel = path.relative_to(folder)
        if FORBIDDEN_NAMES.search(rel.as_posix()):
            found.append(f"{rel}: an instructor-only file")
        for where, text, given_code in _texts(rel, path.read_bytes()):
            found += [f"{where}: contains {m!r}" for m in MARKERS if m in text]
            if re.search(r"^\s*(from|import)\s+autograde\b", text, re.M):
                found.append(f"{where}: imports the grader")
            leaked = sorted(_windows(_normal(text), range(1, WINDOW + 1)) & secret_lines)
            found += [f"{where}: lines of a reference solution: {' / '.join(w)!r}" for w in leaked[:3]]
            if given_code:
                given = _defines(text) & graded_names
                found += [f"{where}: defines {n!r}, the answer to a graded exercise" for n in sorted(given)]
            if rel.suffix == ".json" and '"questions"' in text:         # a self-check bank
                bank = json.loads(text)
                keyed = [q.get("id") for q in bank.get("questions", [])
                         if isinstance(q, dict) and ("answer" in q or "explanation" in q)]
                found += [f"{where}: the plain answer of question {q}" for q in keyed]
    return found


# ---------------------------------------------------------------- writing the repository
def _git(folder: Path, *args: str) -> subprocess.CompletedProcess:
    ident = ["-c", "user.name=Model Efficiency course", "-c", "user.email=course@invalid",
             "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]
    return subprocess.run(["git", *ident, "-C", str(folder), *args], capture_output=True, text=True,
                          check=True)


def _source_commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def publish(folder: Path, course: Course | None = None, assignments: list[str] | None = None,
            repository: str | None = None) -> tuple[bool, list[str]]:
    """Write the student course into `folder` and commit it there; (committed?, leaks found).

    `repository` (GitHub owner/name) defaults to nbgrader_config.py's StudentCourse.repository;
    with neither, or a placeholder, it raises student_course.RepositoryNotSet, naming the setting,
    and writes nothing. Nothing is written when the staged course leaks; nothing is committed
    when it is unchanged."""
    course = course or Course()
    names = assignments or course.assignments()
    unknown = sorted(set(names) - set(course.assignments()))
    if unknown:
        raise ValueError(f"no assignment {unknown}; there are {course.assignments()}")
    repo = (student_course.StudentCourse(repository, student_course.configured().branch)
            if repository else student_course.configured()).check()   # no placeholder links
    files = student_files(course, names, repo)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp)
        for rel, data in files.items():
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            (staged / rel).write_bytes(data)
        found = leaks(staged, course)
    if found:
        return False, found
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / ".git").exists():
        _git(folder, "init", "-q")
    for old in sorted(folder.rglob("*"), reverse=True):             # what is no longer published
        rel = old.relative_to(folder).as_posix()
        if ".git" in old.relative_to(folder).parts or rel in files:
            continue
        if old.is_file() or old.is_symlink():
            old.unlink()
        elif old.is_dir() and not any(old.iterdir()):
            old.rmdir()
    for rel, data in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
    _git(folder, "add", "-A")
    if not _git(folder, "status", "--porcelain").stdout.strip():
        return False, []
    message = (f"Publish {', '.join(names)}\n\nFrom the instructor's course at {_source_commit()}.")
    _git(folder, "commit", "-q", "-m", message)
    return True, []
