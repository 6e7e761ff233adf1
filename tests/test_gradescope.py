"""The Gradescope autograder zip, run as Gradescope runs it (its autograder specification): the zip
extracted into <autograder>/source, a submission in <autograder>/submission, `run_autograder`
executed, and <autograder>/results/results.json read back: a correct, a wrong, a blank, a crashing
and a notebook-less toy submission, a grader that fails, a container without a sandbox, a process
left behind to rewrite the result; the image's lockdown checked as a grading uid; every pin
setup.sh installs resolved against the registry for Python 3.10 and 3.11."""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
import toycourse  # noqa: E402
from packaging.markers import default_environment
from packaging.requirements import Requirement

from autograde.build import samples
from autograde.config import ROOT
from autograde.grade import sandbox
from autograde.results import gradescope

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gradescope")
    course = toycourse.make_course(tmp / "course")
    path = gradescope.build(course, "toy", tmp / "gradescope-toy.zip", visibility="after_published")
    demo = samples.demo_samples(nbformat.read(course.source("toy"), as_version=4), "toy", course)
    return path, demo


def run_autograder(zip_path: Path, root: Path, files: dict, env: dict | None = None,
                   breaks=None) -> dict:
    """What Gradescope does with the zip and one submission; returns results.json."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    if breaks:
        breaks(root / "source")
    (root / "submission").mkdir(parents=True)
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    (root / "submission_metadata.json").write_text(json.dumps(
        {"users": [{"id": 4321, "name": "A"}], "created_at": "2026-03-02T23:58:10.000000-08:00"}))
    script = root / "source" / "run_autograder"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    environ.update(AUTOGRADER_ROOT=str(root), AUTOGRADE_PYTHON=sys.executable, **(env or {}))
    done = subprocess.run(["bash", str(script)], env=environ, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (root / "stdout").write_text(done.stdout)
    return json.loads((root / "results" / "results.json").read_text())


def test_the_zip_holds_the_scripts_the_package_and_the_assignment(autograder_zip):
    path, _ = autograder_zip
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        setup = zf.read("setup.sh").decode()
        run = zf.read("run_autograder").decode()
        mode = zf.getinfo("run_autograder").external_attr >> 16
    assert {"setup.sh", "run_autograder", "pyproject.toml", "constraints.txt", "nbgrader_config.py",
            "autograde/grade/one_submission.py", "course_lib/__init__.py", "solutions/toy/toy.ipynb",
            "solutions/toy/cases.py", "notebooks/toy/toy.ipynb"} <= names
    assert not any("__pycache__" in n for n in names)
    assert mode & 0o111
    assert "Ubuntu 22.04" in setup and f'"uv=={gradescope.UV}"' in setup
    assert '"$uv" python install 3.11' in setup and "UV_PYTHON_INSTALL_DIR=/autograder/python" in setup
    assert '--no-deps --index-url "https://download.pytorch.org/whl/cpu" "torch==$torch"' in setup
    assert '-c constraints.txt -e .' in setup
    assert "-m autograde.results.gradescope lockdown --root /autograder -a toy" in setup
    assert "--visibility after_published" in run and "--allow-unsandboxed" not in run
    for script in (setup, run):
        assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0
    torch = subprocess.run(["bash", "-c", "sed -n 's/^torch==\\([^ ;]*\\).*/\\1/p' constraints.txt"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert torch and re.fullmatch(r"[\d.]+", torch)                    # what setup.sh reads there


def test_a_correct_submission_gets_every_point_its_score_hidden_until_published(autograder_zip, tmp_path):
    path, demo = autograder_zip
    locked = (lambda source: gradescope.lockdown(source.parent, "toy")) if os.geteuid() == 0 else None
    data = run_autograder(path, tmp_path, {"toy.ipynb": json.dumps(demo["correct"])}, breaks=locked)
    assert data["score"] == 5 and data["visibility"] == "after_published"      # setup.sh's lockdown on
    assert [(t["name"], t["score"], t["max_score"], t["status"], t["visibility"]) for t in data["tests"]] \
        == [("test_softmax", 2, 2, "passed", "after_published"),
            ("test_scaled_sum", 1, 1, "passed", "after_published"),
            ("test_scaled_linear", 2, 2, "passed", "after_published")]
    assert "Score:" not in data["output"]          # the score is not told before it is published
    assert data["extra_data"] == {"sandbox": sandbox.mode()}            # which isolation ran
    stamp = (tmp_path / "source" / "submitted" / "gs4321" / "toy" / "timestamp.txt").read_text()
    assert stamp.startswith("2026-03-03 07:58:10")     # Gradescope's submission time, in UTC


def test_a_wrong_submission_gets_its_partial_score_and_our_feedback(autograder_zip, tmp_path):
    path, demo = autograder_zip
    data = run_autograder(path, tmp_path, {"my homework.ipynb": json.dumps(demo["partly_wrong"])})
    assert data["score"] == pytest.approx(2 * 2 / 3 + 3, abs=1e-4)
    softmax = data["tests"][0]
    assert softmax["status"] == "failed" and softmax["score"] == pytest.approx(4 / 3, abs=1e-4)
    assert "2/3 checks passed" in softmax["output"] and "subtract the max first" in softmax["output"]
    text = json.dumps(data)
    assert "BEGIN HIDDEN TESTS" not in text and "hidden_check(" not in text
    assert "taken as toy" in data["output"] and "Canvas" not in data["output"]


def test_no_notebook_gives_a_result_that_says_what_to_upload(autograder_zip, tmp_path):
    path, _ = autograder_zip
    data = run_autograder(path, tmp_path, {"answers.txt": "no notebook"})
    assert data["score"] == 0 and data["tests"] == []
    assert "upload toy.ipynb" in data["output"] and "answers.txt" in data["output"]


def test_a_grader_error_still_gives_a_valid_result_zero_and_needs_a_look(autograder_zip, tmp_path):
    # Before: run() had no guard: Gradescope showed an autograder failure and no result at all.
    path, demo = autograder_zip

    def broken_reference(source: Path) -> None:
        cases = source / "solutions" / "toy" / "cases.py"
        cases.write_text("raise RuntimeError('the cases file is broken')\n" + cases.read_text())
    data = run_autograder(path, tmp_path, {"toy.ipynb": json.dumps(demo["correct"])}, breaks=broken_reference)
    assert data["score"] == 0 and data["tests"] == [] and data["visibility"] == "after_published"
    assert "an error of the grader, not of your work" in data["output"]
    [look] = data["extra_data"][gradescope.LOOK]
    assert look.startswith("the grader failed: RuntimeError")
    assert "Traceback" in (tmp_path / "stdout").read_text()            # for the instructor's eyes


def test_without_a_sandbox_nothing_runs_unless_the_zip_says_so(autograder_zip, tmp_path):
    # Before: with bubblewrap missing or refused, student code ran as root, said only in a log.
    path, demo = autograder_zip
    data = run_autograder(path, tmp_path / "refused", {"toy.ipynb": json.dumps(demo["correct"])},
                          env={"AUTOGRADE_NO_SANDBOX": "1"})
    assert data["score"] == 0 and data["tests"] == []
    [look] = data["extra_data"][gradescope.LOOK]
    assert look.startswith("not graded: no sandbox can run in this container") and "--allow-unsandboxed" in look
    assert not (tmp_path / "refused" / "work" / "runs").exists()      # no kernel was started

    def allow(source: Path) -> None:
        script = source / "run_autograder"
        script.write_text(script.read_text().replace("--visibility after_published",
                                                     "--visibility after_published --allow-unsandboxed"))
    data = run_autograder(path, tmp_path / "allowed", {"toy.ipynb": json.dumps(demo["correct"])},
                          env={"AUTOGRADE_NO_SANDBOX": "1"}, breaks=allow)     # the reference: benign
    assert data["score"] == 5
    assert "graded WITHOUT a sandbox (the autograder was built with --allow-unsandboxed)" in data["output"]
    assert any("WITHOUT a sandbox" in n for n in data["extra_data"][gradescope.LOOK])


BLANK_WITH_A_LEFTOVER = """
import os, subprocess, sys
target = {target!r}
code = ("import json, os, time\\n"
        "for _ in range(60):\\n"
        "    time.sleep(0.25)\\n"
        "    try:\\n"
        "        open(%r, 'w').write(json.dumps({{'score': 100, 'tests': [], 'output': 'full marks'}}))\\n"
        "    except OSError:\\n"
        "        pass\\n" % target)
subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""


def test_a_process_left_behind_cannot_rewrite_the_result(autograder_zip, tmp_path):
    # Before: a blank submission rewrote results.json with full marks after the grader wrote 0.
    path, demo = autograder_zip
    nb = nbformat.from_dict(demo["correct"])
    nb.cells = [c for c in nb.cells if "grade_id" not in str(c.metadata.get("nbgrader", {}))
                or c.metadata["nbgrader"].get("locked")]
    nb.cells.insert(0, nbformat.v4.new_code_cell(
        BLANK_WITH_A_LEFTOVER.format(target=str(tmp_path / "results" / "results.json"))))
    data = run_autograder(path, tmp_path, {"toy.ipynb": nbformat.writes(nb)})
    time.sleep(16)                                  # longer than the leftover would keep trying
    again = json.loads((tmp_path / "results" / "results.json").read_text())
    assert again == data and again["score"] < 5


def test_the_grader_kills_what_is_left_before_it_writes(tmp_path):
    """The mechanism without a sandbox in the way: a daemon started while grading (by the test's own
    code, double-forked into a session of its own) is killed before results.json is written. Run in
    a process of its own: run() makes its process the subreaper of everything below it."""
    target = tmp_path / "results" / "results.json"
    daemon = ("import json, os, time\n"
              "if os.fork(): os._exit(0)\n"
              "os.setsid()\n"
              f"open({str(tmp_path / 'pid')!r}, 'w').write(str(os.getpid()))\n"
              "time.sleep(2)\n"
              f"open({str(target)!r}, 'w').write(json.dumps({{'score': 100}}))\n")
    script = (f"import subprocess, sys, time\n"
              f"from autograde.results import gradescope\n"
              f"def grade(*args, **kwargs):\n"
              f"    subprocess.run([sys.executable, '-c', {daemon!r}], check=True)\n"
              f"    time.sleep(0.5)\n"
              f"    return gradescope.results(None, 'visible', 'graded: 0')\n"
              f"gradescope.grade = grade\n"
              f"gradescope.run(__import__('pathlib').Path({str(tmp_path)!r}), 'toy')\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    pid = int((tmp_path / "pid").read_text())
    time.sleep(3)
    assert json.loads(target.read_text())["score"] == 0
    assert not Path(f"/proc/{pid}").exists()
    assert "killed what the grading left running" in done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="the lockdown is made and tried as root (setup.sh's case)")
def test_the_grading_uid_reads_only_what_the_sandbox_shows_and_writes_no_result(autograder_zip, tmp_path):
    path, _ = autograder_zip
    base = tempfile.TemporaryDirectory(prefix="gradescope-")    # /tmp: others may traverse it, as /
    Path(base.name).chmod(0o755)
    root = Path(base.name) / "autograder"
    with zipfile.ZipFile(path) as zf:
        zf.extractall(root / "source")
    (root / "results").mkdir()
    (root / "venv").mkdir()
    gradescope.lockdown(root, "toy")
    uid = str(sandbox.BASE_UID + 999)                 # a grading uid, as the sandbox's own probe uses

    def as_kernel(*cmd) -> bool:
        return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd],
                              capture_output=True).returncode == 0
    source = root / "source"
    for readable in ("course_lib/__init__.py", "autograde/spec.py", "autograde/__init__.py",
                     "autograde/sandboxed/recorder.py"):
        assert as_kernel("cat", str(source / readable)), readable
    for secret in ("solutions/toy/toy.ipynb", "solutions/toy/toy.py", "solutions/toy/mistakes.py",
                   "solutions/toy/cases.py", "autograde/results/gradescope.py", "notebooks/toy/toy.ipynb",
                   "run_autograder"):
        if (source / secret).exists():
            assert not as_kernel("cat", str(source / secret)), secret
    assert not as_kernel("ls", str(source / "solutions"))
    assert (source / "solutions" / "toy" / "cases.py").stat().st_mode & 0o004   # for bubblewrap's bind
    assert not as_kernel("touch", str(root / "results" / "results.json"))
    assert not as_kernel("touch", str(source / "course_lib" / "planted.py"))
    assert as_kernel("ls", str(root / "venv"))
    base.cleanup()


# ---------------------------------------------------------------- the pins setup.sh installs
ENV = {"3.10": "3.10.12", "3.11": "3.11.14"}        # Ubuntu 22.04's Python; uv's 3.11


def _environment(version: str) -> dict:
    return {**default_environment(), "python_version": version, "python_full_version": ENV[version],
            "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
            "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def runtime_closure(version: str) -> set[str]:
    """The distributions `pip install -e .` brings (no extras), from the metadata installed here."""
    env, seen = _environment(version), set()
    todo = [Requirement(r) for r in metadata.requires("course-lib") or []]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
            continue
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            todo += [Requirement(r) for r in metadata.requires(name) or []]
        except metadata.PackageNotFoundError:
            pass                        # only on 3.10 (a backport): not pinned, resolved by uv
    return seen


def pins(version: str) -> dict[str, str]:
    """constraints.txt's pins that apply to one Python version: {name: version}."""
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(_environment(version)):
            out[re.sub(r"[-_.]+", "-", req.name).lower()] = str(req.specifier).removeprefix("==")
    return out


@pytest.mark.parametrize("version", ["3.10", "3.11"])
def test_every_pin_setup_sh_installs_resolves_for_the_python_it_may_run(version, tmp_path):
    """pip against the registry, for CPython `version` on manylinux x86_64, --no-deps, wheels only:
    every constraints.txt pin in the runtime closure (torch apart: its wheel is checked in the
    index's file list, not downloaded). Before: nbgrader 0.9.6 and SQLAlchemy 2.1.9 need 3.11, so
    setup.sh stopped on Gradescope's default image."""
    wanted = pins(version)
    closure = runtime_closure(version)
    direct = {re.sub(r"[-_.]+", "-", Requirement(r).name).lower() for r in metadata.requires("course-lib")
              if "extra ==" not in r}
    assert direct <= set(wanted), f"unpinned runtime dependencies: {sorted(direct - set(wanted))}"
    chosen = [f"{n}=={v}" for n, v in sorted(wanted.items()) if n in closure and n != "torch"]
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
           "--only-binary=:all:", "--python-version", ENV[version], "--implementation", "cp",
           "--abi", f"cp{version.replace('.', '')}", "--platform", "manylinux_2_28_x86_64",
           "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
           "--target", str(tmp_path / "target"), "--report", str(tmp_path / "report.json"), *chosen]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PIP_CONSTRAINT": ""})
    if done.returncode and re.search(r"NewConnectionError|Temporary failure in name resolution", done.stderr):
        pytest.skip(f"the package registry cannot be reached: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    got = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
           for i in json.loads((tmp_path / "report.json").read_text())["install"]}
    assert {re.sub(r"[-_.]+", "-", k): v for k, v in got.items()} == \
        {n: v for n, v in wanted.items() if n in closure and n != "torch"}
    print(f"Python {version}: {len(chosen)} pins resolve: {', '.join(chosen)}")
    tag = f"cp{version.replace('.', '')}"
    files = _index_files("https://pypi.org/simple/torch/")
    assert any(f.startswith(f"torch-{wanted['torch']}-{tag}-{tag}-manylinux") and "x86_64" in f for f in files)
    cpu = _index_files(f"{gradescope.TORCH_INDEX}/torch/")
    if cpu is None:
        print(f"PyTorch's CPU index ({gradescope.TORCH_INDEX}) is out of reach here: its torch "
              f"{wanted['torch']}+cpu for {tag} is not checked")
    else:
        assert any(f.startswith(f"torch-{wanted['torch']}+cpu-{tag}-{tag}-") for f in cpu)


def _index_files(url: str) -> list[str] | None:
    """The file names of a simple index page (PEP 691 JSON), or None where it cannot be reached."""
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read().decode()
    except OSError:
        return None
    try:
        return [f["filename"] for f in json.loads(body)["files"]]
    except (ValueError, KeyError):
        return re.findall(r">([^<]+\.whl)<", body)


def test_uv_is_a_wheel_the_registry_has(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                           "--no-deps", "--only-binary=:all:", "--python-version", ENV["3.10"],
                           "--platform", "manylinux_2_17_x86_64", "--target", str(tmp_path / "t"),
                           f"uv=={gradescope.UV}"], capture_output=True, text=True, timeout=300)
    if done.returncode and "NewConnectionError" in done.stderr:
        pytest.skip("the package registry cannot be reached")
    assert done.returncode == 0, done.stderr[-2000:]

