"""The class integrity report (autograde/results/similarity.py) on its calibration corpus
(tests/fixtures/similarity/corpus.py says who is what): every planted copy flagged, no independent
solution flagged, blank and stub-only submissions never paired; the JSON's schema, the page's
escaping, the archive, the report's hook. The corpus's independent solutions are checked against
the reference (they are our own code, run in-process like the reference tests)."""

from __future__ import annotations

import json
import re
from itertools import combinations

import corpus
import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograde import cli
from autograde.config import Course
from autograde.results import class_report, fingerprint, similarity, similarity_page


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("similarity")
    course = Course(work=tmp / "work")
    out = {}
    for name in corpus.ROLES:
        source_nb = nbformat.read(course.source(name), as_version=4)
        folder = corpus.write(tmp / name, corpus.notebooks(name, source_nb), name)
        out[name] = (course, folder, similarity.run(course, name, folder))
    return out


@pytest.mark.parametrize("name", sorted(corpus.ROLES))
def test_every_planted_copy_is_flagged_and_nothing_else(runs, name):
    result = runs[name][2]
    flagged = {(p["a"], p["b"]) for p in result.flagged()}
    assert flagged == corpus.COPIES[name], {(p["a"], p["b"]): p["score"] for p in result.pairs}
    independent = [s for s in corpus.ROLES[name] if s.startswith(("ada", "ben", "cai", "dee"))]
    assert set(result.students) == set(corpus.ROLES[name])
    for a, b in combinations(independent, 2):
        pair = next((p for p in result.pairs if {p["a"], p["b"]} == {a, b}), None)
        assert pair is None or pair["score"] < min(similarity.THRESHOLD.values()), pair


def test_one_copied_exercise_of_four_is_enough_and_is_the_one_named(runs):
    pair = next(p for p in runs["moe"][2].pairs if (p["a"], p["b"]) == ("ben", "fay"))
    assert [r["exercise"] for r in pair["exercises"] if r["flagged"]] == ["moe_layer"]
    assert pair["score"] >= similarity.THRESHOLD["code"]


@pytest.mark.parametrize("name", sorted(corpus.ROLES))
def test_blank_and_stub_only_submissions_never_pair(runs, name):
    empty = corpus.BLANK | corpus.STUB
    assert not [p for p in runs[name][2].pairs if p["a"] in empty or p["b"] in empty]


def test_json_has_the_issue_schema_and_regions_point_into_the_answers(runs):
    course, _, result = runs["moe"]
    path, page = similarity_page.write(course, result)
    data = json.loads(path.read_text())
    assert set(data) == {"assignment", "pairs"} and data["assignment"] == "moe"
    for p in data["pairs"]:
        assert set(p) == {"a", "b", "score", "flagged", "exercises"}
        assert 0 <= p["score"] <= 1 and p["score"] >= similarity.FLOOR
        for r in p["exercises"]:
            lines = result.answers[p["a"]][r["exercise"]].splitlines()
            assert all(1 <= first <= last <= len(lines) for first, last in r["a_regions"])
    eve = next(p for p in data["pairs"] if (p["a"], p["b"]) == ("ada", "eve"))
    row = next(r for r in eve["exercises"] if r["exercise"] == "moe_layer")
    marked = {n for first, last in row["b_regions"] for n in range(first, last + 1)}
    eve_lines = result.answers["eve"]["moe_layer"].splitlines()
    assert any("index_add_" in eve_lines[n - 1] for n in marked)        # the copied loop is marked
    assert not any("nn.Linear(d, d_ff)" in eve_lines[n - 1] for n in marked)   # the given Expert is not
    assert "reason to look, never a verdict" in page.read_text()


def test_scores_are_the_same_in_every_run(runs):
    course, folder, result = runs["practice_quiz"]
    again = similarity.run(course, "practice_quiz", folder)
    assert again.pairs == result.pairs


def test_normalisation_removes_what_a_copier_changes_cheaply():
    original = "def f(x, n):\n    y = x * 2\n    z = n + 1\n    return y.sum(dim=-1) / z\n"
    disguised = ('def g(a, b):\n    """docstring"""\n    unused = a.mean()  # dead\n    w = b + 1\n'
                 '    if False:\n        w = 0\n    v = (a *\n         2)\n    print(v)\n'
                 '    return v.sum(dim=-1) / w\n    v = 3\n')
    assert fingerprint.normalise(original)[0] == fingerprint.normalise(disguised)[0]
    other_call = "def f(x, n):\n    y = x * 2\n    z = n + 1\n    return y.mean(dim=-1) / z\n"
    assert fingerprint.normalise(original)[0] != fingerprint.normalise(other_call)[0]


def test_dependent_statements_keep_their_order():
    a = "def f(x):\n    y = x + 1\n    y = y * 2\n    return y\n"
    b = "def f(x):\n    y = x * 2\n    y = y + 1\n    return y\n"
    assert fingerprint.normalise(a)[0] != fingerprint.normalise(b)[0]


def test_page_escapes_every_byte_a_student_wrote(tmp_path):
    course = Course(work=tmp_path / "work")
    source_nb = nbformat.read(course.source("practice_quiz"), as_version=4)
    text = corpus.sections(corpus.HERE / "practice_quiz" / "cai.md")["kv_cache_policies"]
    hostile = text + " <script>alert(1)</script> <img src=x onerror=alert(2)>"
    release = corpus.notebooks("practice_quiz", source_nb)["ivy"]
    nbs = {s: corpus.fill(release, {"kv_cache_policies": hostile}) for s in ("mal", "mia")}
    folder = corpus.write(tmp_path / "class", nbs, "practice_quiz")
    result = similarity.run(course, "practice_quiz", folder)
    assert [(p["a"], p["b"]) for p in result.flagged()] == [("mal", "mia")]
    page = similarity_page.write(course, result)[1].read_text()
    assert "<script>alert" not in page and "<img src=x" not in page
    shown = page.replace("<mark>", "").replace("</mark>", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt;" in shown


def test_against_an_archive_labels_its_matches(runs, tmp_path):
    course, folder, _ = runs["moe"]
    archive = tmp_path / "archive"
    (archive / "2024" / "ada").mkdir(parents=True)
    (archive / "2024" / "ada" / "moe.ipynb").write_text((folder / "ada" / "moe.ipynb").read_text())
    ben = corpus.sections(corpus.HERE / "moe" / "ben.py")["moe_layer"]
    (archive / "other-course").mkdir()
    (archive / "other-course" / "moe_solution.py").write_text(
        "import torch\n\nclass MixtureOfExperts:\n    def forward(self, x):\n" + ben + "\n")
    class_only = tmp_path / "class"
    for student in ("eve", "fay", "cai"):
        (class_only / student).mkdir(parents=True)
        (class_only / student / "moe.ipynb").write_text((folder / student / "moe.ipynb").read_text())
    result = similarity.run(course, "moe", class_only, archive)
    flagged = {(p["a"], p["b"]) for p in result.flagged()}
    assert flagged == {("eve", "archive:2024/ada/moe.ipynb"), ("fay", "archive:other-course/moe_solution.py")}
    assert result.n_pairs == 3 and result.considered <= 3          # archive pairs are not class pairs


def test_cli_writes_the_report_and_the_needs_a_look_lines(runs, capsys):
    course, folder, _ = runs["moe"]
    assert cli.main(["--work", str(course.work), "similarity", "-a", "moe", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Needs a look (4 pairs" in out and "moe: ada and eve" in out
    look = similarity.needs_look(course, "moe")
    assert set(look) == {s for pair in corpus.COPIES["moe"] for s in pair}
    assert "not a verdict" in look["fay"][0] and "moe_layer" in look["fay"][0]


def test_the_corpus_independent_solutions_are_correct():
    """Each independent MoE answer of the corpus against the reference, on random inputs."""
    source_nb = nbformat.read(Course().source("moe"), as_version=4)
    reference = _exec({c.metadata.nbgrader["grade_id"]: c.source for c in source_nb.cells
                       if c.get("metadata", {}).get("nbgrader", {}).get("solution")})
    release = corpus.notebooks("moe", source_nb)["ivy"]
    for student in ("ada", "ben", "cai", "dee", "fay"):
        nb = corpus.fill(release, corpus.sections(corpus.HERE / "moe" / f"{student}.py"))
        mine = _exec({c.metadata.nbgrader["grade_id"]: c.source for c in nb.cells
                      if c.get("metadata", {}).get("nbgrader", {}).get("solution")})
        g = torch.Generator().manual_seed(0)
        logits = torch.randn(3, 5, 6, generator=g)
        p = reference["softmax_gate"](logits)
        torch.testing.assert_close(mine["softmax_gate"](logits), p, msg=student)
        for renormalize in (False, True):
            for got, want in zip(mine["topk_gate"](p, 2, renormalize), reference["topk_gate"](p, 2, renormalize)):
                torch.testing.assert_close(got, want, msg=student)
        torch.manual_seed(1)
        theirs = mine["MoE"](8, 16, 4, k=2)
        torch.manual_seed(1)
        ours = reference["MoE"](8, 16, 4, k=2)
        x = torch.randn(2, 7, 8, generator=g)
        torch.testing.assert_close(theirs(x), ours(x), msg=student)
        args = (ours.router_probs, ours.expert_indices, 4)
        torch.testing.assert_close(mine["switch_load_balancing_loss"](*args),
                                   reference["switch_load_balancing_loss"](*args), msg=student)


def _exec(sources: dict[str, str]) -> dict:
    namespace = {"torch": torch, "nn": nn, "F": F}
    for source in sources.values():
        exec(compile(source, "<answer>", "exec"), namespace)
    return namespace


def test_flagged_pairs_are_in_the_class_report_under_needs_a_look(runs, tmp_path):
    course, _, result = runs["practice_quiz"]
    similarity_page.write(course, result)
    (course.work / "results" / "practice_quiz").mkdir(parents=True, exist_ok=True)
    tampered = "records/x.pt: a symbolic link, refused"
    for student in ("cai", "eve"):
        (course.work / "results" / "practice_quiz" / f"{student}.json").write_text(json.dumps(
            {"assignment": "practice_quiz", "student": student, "score": 1.0, "max_score": 2.0,
             "tests": [], "needs_look": [], "tampering": [tampered] if student == "cai" else []}))
    page = class_report.write(course, tmp_path / "report.html").read_text()
    tampering = re.search(r"<h3>Tampering refused by the grader \(1\)</h3><ul>(.*?)</ul>", page)[1]
    look = re.search(r"<h3>Needs a look \(2\)</h3><ul>(.*?)</ul>", page)[1]     # one entry a student
    assert f"<b>cai</b>: {tampered}" in tampering and "similar" not in tampering
    cai, eve = re.findall(r"<li><b>(?:cai|eve)</b>: (.*?)</li>", look)
    assert cai.startswith(f"{tampered}; similar to eve in kv_cache_policies (score 0.35; a reason to look, not a "
                          "verdict")
    assert eve.startswith("similar to cai in kv_cache_policies") and "not a verdict" in eve
