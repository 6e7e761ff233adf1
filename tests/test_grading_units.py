"""Fast grader unit tests on the toy assignment: release, leak, restore, sanitising, verdicts."""

import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

import adversarial  # noqa: E402
import nbformat
import pytest
import torch
import toycourse  # noqa: E402

from autograde import cells, spec
from autograde.build import reference, release, samples
from autograde.config import Course
from autograde.grade import execute, folders, records, restore, sandbox, verdict
from autograde.results import intake
from autograde.sandboxed import kernel, recorder


@pytest.fixture(scope="module")
def toy(tmp_path_factory, monkeypatch_module):
    course = toycourse.make_course(tmp_path_factory.mktemp("toy"))
    monkeypatch_module.setenv("COURSE_SOLUTIONS_DIR", str(course.solutions))
    monkeypatch_module.setenv("COURSE_GRADING_DIR", str(course.work))
    monkeypatch_module.delenv("COURSE_GRADING_RECORD_DIR", raising=False)
    return course


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def source(course):
    return nbformat.read(course.source("toy"), as_version=4)


def test_release_is_deterministic_and_names_each_exercise(toy):
    first = release.release_text(toy, "toy")
    assert first == release.release_text(toy, "toy") == toy.release("toy").read_text()
    assert release.stale(toy) == []
    code = "\n".join(c.source for c in nbformat.reads(first, as_version=4).cells)
    assert 'raise NotImplementedError("Exercise softmax: write softmax")' in code
    assert 'raise NotImplementedError("Exercise scaled_linear: write ScaledLinear")' in code
    assert "YOUR CODE HERE" not in code


def test_stale_release_is_detected(toy, tmp_path):
    course = Course(solutions=toy.solutions, notebooks=tmp_path, work=tmp_path / "w")
    assert release.stale(course) == ["toy"]
    release.release(course)
    assert release.stale(course) == []


def _lines(text: str) -> set:
    """Code lines without indentation and trailing comments, long enough to be distinctive."""
    lines = {re.sub(r"\s+#.*$", "", line).strip() for line in text.splitlines()}
    return {line for line in lines if len(line) >= 12 and not line.startswith("#")}


def _solution_lines(source_nb) -> set:
    """Lines inside solution regions that appear nowhere else in the source."""
    inside, outside = set(), set()
    for cell in source_nb.cells:
        for region in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S):
            inside |= _lines(region)
        outside |= _lines(re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION", "", cell.source,
                                 flags=re.S))
    return inside - outside


def assert_no_leak(source_nb, release_text: str) -> None:
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert marker not in release_text, f"the release contains {marker!r}"
    code = "\n".join(c.source for c in nbformat.reads(release_text, as_version=4).cells
                     if c.cell_type == "code")
    for marker in ("hidden_check(", "autograde.mistakes", "autograde.grade.verdict", "autograde.cases",
                   "solutions/", "import solutions", "from solutions"):
        assert marker not in code, f"the release's code imports or calls {marker!r}"
    leaked = sorted(_solution_lines(source_nb) & _lines(code))
    assert not leaked, f"solution lines in the release: {leaked}"


def test_toy_release_does_not_leak(toy):
    assert_no_leak(source(toy), release.release_text(toy, "toy"))


def test_repo_notebooks_are_fresh_and_do_not_leak():
    course = Course()
    if not course.assignments():
        pytest.skip("no solutions/*.ipynb yet")
    assert release.stale(course) == [], "notebooks/ is stale: run `python -m autograde release`"
    for name in course.assignments():
        assert_no_leak(nbformat.read(course.source(name), as_version=4),
                       course.release(name).read_text())
    for path in course.notebooks.glob("*.ipynb"):
        text = path.read_text()
        assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text


def test_sanitize_keeps_plain_data_and_names_other_types():
    p = torch.nn.Parameter(torch.ones(2))
    out = recorder.sanitize({"a": [p, 1, 2.5, True, "s", None], "b": (torch.zeros(1),)})
    assert type(out["a"][0]) is torch.Tensor and not out["a"][0].requires_grad
    assert out["a"][1:] == [1, 2.5, True, "s", None] and type(out["b"]) is tuple

    class Rigged(torch.Tensor):
        def __eq__(self, other):
            return True

    with pytest.raises(recorder.OutputTypeError, match="Rigged"):
        recorder.sanitize({"y": torch.zeros(2).as_subclass(Rigged)})
    import numpy as np
    with pytest.raises(recorder.OutputTypeError, match="numpy.ndarray"):
        recorder.sanitize(np.zeros(2))


def test_student_exceptions_are_recorded_per_seed():
    case = spec.Case(lambda objects, seed: {"y": objects["f"](seed)}, seeds=(0, 1))

    def f(seed):
        if seed:
            raise ValueError("boom")
        return torch.ones(1)

    results = recorder.run_case(case, {"f": f})
    assert "outputs" in results[0]
    assert results[1]["error"] == {"type": "ValueError", "message": "boom"}


def test_differences_name_shape_dtype_and_tolerance():
    d = verdict.differences
    assert d(torch.zeros(2, 3), torch.zeros(3, 2), 1e-5, 1e-4) == ["output: shape (2, 3), expected (3, 2)"]
    assert "dtype torch.float64, expected torch.float32" in d(torch.zeros(2).double(), torch.zeros(2), 1e-5, 1e-4)[0]
    msg = d(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.1]), 1e-5, 1e-4)[0]
    assert "1 of 2 entries off" in msg and "atol=1e-05" in msg
    assert d(torch.tensor([1.0]), torch.tensor([1.0 + 1e-6]), 1e-5, 1e-4) == []
    assert d({"n": 3}, {"n": 3.0}, 1e-5, 1e-4) == ["output['n']: got a int, expected a float"]
    assert d([1, 2], [1, 2, 3], 0, 0) == ["output: length 2, expected 3"]


def test_instructor_mode_compares_in_process(toy):
    ns = reference.reference_namespace(source(toy))
    verdict.hidden_check("toy.softmax", softmax=ns["softmax"])           # passes silently
    with pytest.raises(AssertionError, match="subtract the max first"):
        verdict.hidden_check("toy.softmax", softmax=lambda x: x.exp() / x.exp().sum(-1, keepdim=True))
    with pytest.raises(AssertionError, match="alpha / r"):
        verdict.hidden_check("toy.scaled_sum", scaled_sum=lambda x, a, r: a * x.sum(-1))


def test_the_hidden_step_records_and_the_grader_judges(toy, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_RECORD_DIR", str(tmp_path))
    wrong = lambda x: torch.zeros_like(x)                                       # noqa: E731
    exec(records.step_code([("toy.softmax", {"softmax": "wrong"}),
                            ("toy.scaled_sum", {"scaled_sum": "not_defined"})]), {"wrong": wrong})
    read = records.read_records(tmp_path, ["toy.softmax", "toy.scaled_sum"], os.getuid())
    results = records.outputs_by_seed(read["toy.softmax"])
    assert sorted(results) == [0, 1, 2]
    v = verdict.judge("toy.softmax", results, reference.reference_outputs(toy, "toy")["toy.softmax"])
    assert (v.passed, v.total) == (0, 3)
    missing = records.outputs_by_seed(read["toy.scaled_sum"])
    assert "NameError" in missing and "not_defined" in missing
    v = verdict.judge("toy.scaled_sum", missing, reference.reference_outputs(toy, "toy")["toy.scaled_sum"])
    assert (v.passed, v.total) == (0, 3) and "not_defined" in "\n".join(v.lines())


def test_forged_records_are_refused(tmp_path):
    import pickle
    import zipfile
    uid = os.getuid()
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "a.pt").write_bytes(pickle.dumps(object()))
    torch.save({"results": {0: {"outputs": torch.nn.Linear(1, 1)}}}, folder / "b.pt")
    (folder / "c.pt").symlink_to("/etc/passwd")
    os.mkfifo(folder / "d.pt")
    big = torch.zeros(1).expand(2**24)               # a small file, a huge tensor view
    torch.save({"results": {0: {"outputs": {"y": big}}}}, folder / "e.pt")
    with zipfile.ZipFile(folder / "f.pt", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("f/data.pkl", b"\0" * 2**20)
    torch.save({"results": {}}, folder / "x.pt")
    os.link(folder / "x.pt", folder / "g.pt")
    got = records.read_records(folder, list("abcdefgh"), uid)
    assert "not a torch.save archive" in got["a"]["refused"]
    assert got["b"]["refused"] == "the record holds something other than plain outputs" or \
        "could not be read" in got["b"]["refused"]
    assert got["c"]["refused"] == got["d"]["refused"] == "the record is not a plain file"
    assert got["e"]["refused"] in ("the record's tensors are too large", "the record is too large")
    assert "compressed" in got["f"]["refused"]
    assert got["g"]["refused"] == "the record is not a plain file"           # a hard link
    assert "no record was written" in got["h"]["refused"]
    assert records.read_records(folder, ["a"], uid + 1)["a"]["refused"] == \
        "the record folder was replaced"                                     # not the sandbox's
    (tmp_path / "link").symlink_to(folder)
    assert "replaced" in records.read_records(tmp_path / "link", ["a"], uid)["a"]["refused"]


def test_hidden_calls_are_parsed_from_test_cells(toy):
    calls = reference.case_calls(source(toy))
    assert calls["toy.scaled_linear_forward"] == ("test_scaled_linear", {"ScaledLinear": "ScaledLinear"})
    assert len(calls) == 4


def test_restore_reports_all_tampering(toy):
    src = source(toy)
    rel = release.release_notebook(src)
    adv = adversarial.adversarial(src, {"records": "/nowhere", "solutions": [], "write": []})
    nb, findings = restore.restore(src, adv["deleted_tests"], rel)
    assert sum("was deleted; restored" in f for f in findings) == 3
    assert [cells.grade_id(c) for c in nb.cells] == [cells.grade_id(c) for c in src.cells]
    assert all("HIDDEN TESTS" in c.source for c in cells.test_cells(nb))
    _, findings = restore.restore(src, adv["edited_tests"], rel)
    assert sum("was edited" in f for f in findings) == 3
    nb, findings = restore.restore(src, adv["changed_points"], rel)
    assert sum("points of" in f for f in findings) == 3
    assert [cells.points(c) for c in cells.test_cells(nb)] == [2.0, 1.0, 2.0]
    nb, findings = restore.restore(src, adv["duplicated_cells"], rel)
    assert "cell 'softmax' appears 2 times" in findings and "cell 'test_softmax' appears 2 times" in findings
    softmax = next(c for c in nb.cells if cells.grade_id(c) == "softmax")
    assert "x.max(dim=-1" in softmax.source          # the answer, not the stale stub copy
    json.dumps(nb)


def test_lms_zip_and_folder_layouts_are_found(tmp_path):
    import zipfile

    from autograde.grade import batch
    zpath = tmp_path / "download.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("doejohn_123_456_toy.ipynb", "{}")              # Canvas: flat, student first
        zf.writestr("roe_LATE_9_8_toy-1.ipynb", "{}")
        zf.writestr("alice/toy.ipynb", "{}")                       # folder per student
        zf.writestr("../evil/toy.ipynb", "{}")                     # never extracted outside
    folder = intake.unpack(zpath, tmp_path / "work")        # keyed by LMS user id (tests/test_lms.py)
    found = {s.student: s.path.name for s in intake.find(folder, ["toy"])}
    assert found == {"123": "toy.ipynb", "9": "toy.ipynb", "alice": "toy.ipynb"}
    assert not (tmp_path / "work" / "evil").exists()
    subs = intake.find(folder, ["toy"])
    assert sorted(s.student for i in range(2) for s in batch.shard(subs, f"{i}/2")) == sorted(found)


def test_cells_that_lost_their_metadata_are_matched_like_the_original(toy):
    src = source(toy)
    rel = release.release_notebook(src)
    good = samples.correct(src, rel)
    for keep_ids, how in ((True, "cell id"), (False, "position and content")):
        nb, findings = restore.restore(src, adversarial.stripped(good, keep_ids), rel)
        assert [cells.grade_id(c) for c in nb.cells] == [cells.grade_id(c) for c in src.cells]
        answers = {cells.grade_id(c): c.source for c in nb.cells if cells.is_solution(c)}
        assert answers == {cells.grade_id(c): c.source for c in good.cells if cells.is_solution(c)}
        assert any(how in f for f in findings), findings
        assert not any("deleted" in f for f in findings), findings


# ---------------------------------------------------------------- the sandbox's contract
def test_the_mode_comes_from_a_probe_not_from_bwrap_being_on_path(tmp_path, monkeypatch):
    """Where bubblewrap is installed but its namespaces are refused (Docker's default seccomp
    profile), a root grader must not believe it has the full sandbox."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    monkeypatch.delenv("AUTOGRADE_SANDBOX", raising=False)
    monkeypatch.delenv("AUTOGRADE_NO_SANDBOX", raising=False)
    sandbox._bwrap_works.cache_clear()
    try:
        assert sandbox.bwrap_path() == str(fake / "bwrap")
        # a separate grading uid where one can start a kernel here, else refused: never "root"
        assert sandbox.mode() == ("user" if sandbox._user_works() else "none")
        monkeypatch.setenv("AUTOGRADE_SANDBOX", "root")          # asked for, does not work here
        assert sandbox.mode() == "none"
        with pytest.raises(sandbox.SandboxRefused, match="allow-unsandboxed"):
            sandbox.require()
    finally:
        sandbox._bwrap_works.cache_clear()


def test_without_a_sandbox_grading_is_refused_unless_asked_for(monkeypatch):
    monkeypatch.setattr(sandbox, "_available", lambda: "none")
    monkeypatch.delenv("AUTOGRADE_SANDBOX", raising=False)
    monkeypatch.delenv(sandbox.ALLOW_ENV, raising=False)
    assert sandbox.mode() == "none"
    with pytest.raises(sandbox.SandboxRefused, match="refusing to grade"):
        sandbox.require()
    with pytest.raises(sandbox.SandboxRefused):
        sandbox.wrapper(Path("/tmp/x"), 0, sandbox.Limits())     # no kernel can be started either
    sandbox.allow_unsandboxed()
    try:
        assert sandbox.mode() == "unsandboxed" and sandbox.require() == "unsandboxed"
        iso = sandbox.describe("unsandboxed", None, False, 0, sandbox.Limits())
        assert "NO SANDBOX" in iso["means"] and not iso["pid_namespace"]
        assert "WITHOUT isolation" in sandbox.isolation_warning()
    finally:
        sandbox.allow_unsandboxed(False)
    assert set(sandbox.MODES) == {"root", "userns", "user", "unsandboxed", "none"}


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_the_unprivileged_user_mode_is_refused_where_the_uid_could_read_the_sources(toy, monkeypatch):
    """The course's check of "user" mode: as a grading uid, try to read the solutions and the work
    folder and to write the results. (Whether a uid can start a kernel at all is the mode's own
    probe; tests/test_rootless.py grades in this mode where it can.)"""
    parents = [p for p in toy.solutions.parents if p != Path("/")]
    modes = {p: p.stat().st_mode for p in [*parents, toy.solutions]}
    try:
        for p in parents:                       # as a careless instructor's checkout: all readable
            p.chmod(modes[p] | 0o755)
        toy.solutions.chmod(0o755)
        problems = sandbox._user_mode_problems(toy, [])
        assert f"can read {toy.solutions}" in problems
        assert any(line.startswith("fix: chmod 700") and str(toy.solutions) in line for line in problems)
        monkeypatch.setattr(sandbox, "mode", lambda: "user")
        with pytest.raises(sandbox.SandboxRefused, match="unprivileged-user mode"):
            sandbox.require(toy)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


# ---------------------------------------------------------------- root and the student's folder
def _swapper(folder: Path, names, victim: Path, stop: threading.Event) -> None:
    """What a student process does while root works in its folder: swap each name for a link."""
    while not stop.is_set():
        for name in names:
            path = folder / name
            try:
                if not path.is_symlink():
                    os.rename(path, folder / f".old-{time.monotonic_ns()}")
                path.symlink_to(victim)
            except OSError:
                pass


def test_every_root_step_in_the_student_folder_withstands_a_symlink_swap(tmp_path):
    """Item 2: each step root takes in a student's folder (making the record folder again, handing
    over the grader's files, removing the folder) raced against a thread that swaps each name for a
    link to a folder root owns: the folder behind the link never changes owner, mode or content."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret").write_text("root's")
    before = {p.name: (p.lstat().st_uid, p.lstat().st_mode) for p in [victim, *victim.iterdir()]}
    uid = sandbox.BASE_UID + 999 if os.geteuid() == 0 else None
    found = []
    for round_ in range(30):
        folder = tmp_path / f"w{round_}"
        folder.mkdir()
        with folders.opened(folder) as fd:
            folders.write_file(fd, "kernel.json", b"{}")
        stop = threading.Event()
        thread = threading.Thread(target=_swapper, args=(folder, ["records", "kernel.json"], victim, stop))
        thread.start()
        try:
            for _ in range(20):
                try:
                    found += folders.fresh_subfolder(folder, "records", uid, uid)
                except OSError:                 # the swapper won a name: refused, not followed
                    pass
                if uid is not None:
                    with folders.opened(folder) as fd:
                        why = folders.give(fd, "kernel.json", uid, uid)
                        found += [why] if why else []
        finally:
            stop.set()
            thread.join()
        folders.remove(folder)
        assert not folder.exists()
    assert {p.name: (p.lstat().st_uid, p.lstat().st_mode) for p in [victim, *victim.iterdir()]} == before
    assert (victim / "secret").read_text() == "root's"
    assert any("replaced" in line or "link" in line for line in found)


def test_a_swapped_record_folder_is_removed_and_reported(tmp_path):
    folder, victim = tmp_path / "w", tmp_path / "victim"
    folder.mkdir()
    victim.mkdir()
    (folder / "records").symlink_to(victim)
    found = folders.fresh_subfolder(folder, "records", None, None)
    assert found == ["the records folder had been replaced by a symbolic link: removed, not followed"]
    assert (folder / "records").is_dir() and not (folder / "records").is_symlink() and victim.is_dir()


def test_removing_a_student_folder_survives_deep_trees_locked_folders_and_links(tmp_path):
    folder = tmp_path / "w"
    deep = folder
    for _ in range(300):                        # deeper than any recursion or fd budget allows
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "f").write_text("x")
    locked = folder / "locked"
    (locked / "inner").mkdir(parents=True)
    (locked / "inner" / "f").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    (folder / "link").symlink_to(outside)
    (locked / "inner").chmod(0)
    locked.chmod(0o500)
    folders.remove(folder)
    assert not folder.exists() and (outside / "keep").exists()


def test_kernel_messages_are_cut_to_a_size_with_their_length():
    content = {"ename": "ValueError", "evalue": "x" * 60_000_000,
               "traceback": ["y" * 3_000_000, "short"], "data": {"text/plain": "z" * 10}}
    cut = kernel.cap(content)
    assert len(cut["evalue"]) < kernel.MAX_STRING + 100 and "60,000,000 characters" in cut["evalue"]
    assert sum(len(s) for s in [cut["evalue"], *cut["traceback"]]) < kernel.MAX_MESSAGE + 300
    assert cut["data"] == {"text/plain": "z" * 10} and cut["ename"] == "ValueError"
    assert execute._cut(cut["evalue"], 100).endswith("(output cut: 60,000,000 characters)\n")
