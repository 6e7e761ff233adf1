"""The benchmark report and the claims register.

Every group has a run(); README's tables are the ones results.json gives; every outcome a
notebook states is tagged in its source and registered, with the same verdict, by the benchmark
row that measures it (benchmarks/_claims.py).
"""

import importlib
import json

import pytest

from benchmarks import __main__ as bench
from benchmarks import _claims

README = bench.ROOT / "README.md"
RESULTS = bench.HERE / "results.json"
SOURCES = _claims.sources()


def results():
    return json.loads(RESULTS.read_text())


def block(text, markers):
    start, end = markers
    return text.split(start, 1)[1].split(end, 1)[0].strip()


@pytest.mark.parametrize("name", bench.modules())
def test_every_group_defines_run(name):
    assert callable(importlib.import_module(f"benchmarks.{name}").run)


def test_every_group_has_committed_results_without_errors():
    groups = results()["groups"]
    assert sorted(groups) == bench.modules(), "run `make bench` (or `python -m benchmarks NAME`)"
    assert not [name for name, g in groups.items() if g["error"] or not g["rows"]]


def test_readme_tables_are_rendered_from_results():
    res, readme = results(), README.read_text()
    assert block(readme, bench.README_MARKERS) == bench.render_headlines(res).strip()
    assert block(readme, _claims.MARKERS) == _claims.render_table(res["claims"]).strip()
    for name, figures in bench.HEADLINES.items():       # every headline still names a real figure
        rows = [r["figure"] for r in res["groups"][name]["rows"]]
        for f in figures:
            assert any(r.startswith(f) for r in rows), (name, f)


def test_update_readme_replaces_only_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nold\n<!-- bench:end -->\nrest\n")
    assert bench.update_readme(readme, "| new |")
    assert readme.read_text() == "intro\n<!-- bench:start -->\n| new |\n<!-- bench:end -->\nrest\n"
    other = tmp_path / "other.md"
    other.write_text("no markers")
    assert not bench.update_readme(other, "x") and other.read_text() == "no markers"


# ------------------------------------------------------------------ the register
def test_register_is_collected_from_the_rows():
    res = results()
    assert res["claims"] == _claims.collect(res["groups"]), "run `python -m benchmarks GROUP`"


def test_old_flat_results_file_is_read_as_groups(tmp_path):
    flat = tmp_path / "results.json"
    flat.write_text(json.dumps({"g": {"rows": [{"figure": "f", "value": "1", "claim": {
        "id": "nb.x", "notebook": "nb", "text": "t", "slide": "-", "holds": True}}]}}))
    loaded = bench.load(flat)
    assert list(loaded["groups"]) == ["g"]
    assert loaded["claims"]["nb.x"]["measured"] == "1" and loaded["claims"]["nb.x"]["holds"]


def test_collect_rejects_malformed_and_duplicate_claims():
    claim = {"id": "nb.x", "notebook": "nb", "text": "t", "slide": "-", "holds": False}
    row = {"figure": "f", "value": "v", "claim": claim}
    assert _claims.collect({"g": {"rows": [row]}})["nb.x"]["holds"] is False
    with pytest.raises(ValueError, match="measured twice"):
        _claims.collect({"g": {"rows": [row]}, "h": {"rows": [row]}})
    with pytest.raises(ValueError, match="lacks"):
        _claims.collect({"g": {"rows": [{**row, "claim": {"id": "nb.x"}}]}})
    with pytest.raises(ValueError, match="must start with its notebook"):
        _claims.collect({"g": {"rows": [{**row, "claim": {**claim, "notebook": "other"}}]}})


def test_claims_table_counts_what_holds():
    reg = _claims.collect({"g": {"rows": [
        {"figure": "a", "value": "1", "claim": {"id": "nb.a", "notebook": "nb", "text": "A | B",
                                                "slide": "76.5", "holds": True}},
        {"figure": "b", "value": "2", "claim": {"id": "nb.b", "notebook": "nb", "text": "B",
                                                "slide": "-", "holds": False}}]}})
    table = _claims.render_table(reg)
    assert "Claims held: 1 of 2" in table
    assert "| nb | A \\| B | 76.5 | 1 | yes |" in table and "| 2 | **no** |" in table


# ------------------------------------------------------------------ tags against the register
def tagged():
    return {path.stem: _claims.tags(path) for path in SOURCES}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_tagged_claims_are_registered_with_the_same_verdict(path):
    register = results()["claims"]
    for claim_id, held in _claims.tags(path):
        assert claim_id.startswith(path.stem + "."), f"{claim_id}: tag it in its own notebook"
        assert claim_id in register, (f"{path.stem} tags {claim_id!r}, which no benchmark row "
                                      "measures: add the row's claim and run `python -m benchmarks`")
        assert register[claim_id]["holds"] == held, (
            f"{claim_id}: the notebook says it {'holds' if held else 'does not hold'}, the "
            f"benchmark measured {register[claim_id]['measured']!r} "
            f"(holds={register[claim_id]['holds']})")


def test_every_registered_claim_is_tagged_in_its_notebook():
    found = tagged()
    missing = [cid for cid, c in results()["claims"].items()
               if cid not in [i for i, _ in found.get(c["notebook"], [])]]
    assert not missing, f"registered but stated by no notebook: {missing}"


# ------------------------------------------------------------------ the lint
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_outcome_sentences_carry_a_claim_tag(path):
    found = [s for text in _claims.markdown_cells(path) for s in _claims.untagged_outcomes(text)]
    assert not found, (f"{path.stem} states outcomes without a claim tag (tag and measure them, "
                       f"or word them as a hypothesis): {found}")


def test_lint_finds_outcomes_and_sees_tags():
    text = ("LoRA beats full fine-tuning here. <!-- claim: lora.x --> Prefix tuning is faster "
            "than prompt tuning. Our soft prompt stays far behind.\n\n"
            "* the gap closes with more labels\n* nothing to see")
    assert _claims.untagged_outcomes(text) == ["Prefix tuning is faster than prompt tuning.",
                                               "Our soft prompt stays far behind.",
                                               "the gap closes with more labels"]
    assert _claims.sentences("A beats B. <!-- claim-not-held: nb.y -->")[0][1] == ["nb.y"]


def test_lint_allows_questions_hypotheses_and_slide_citations():
    for text in ["Does LoRA beat full fine-tuning?",
                 "We expect the prefix to beat the soft prompt.",
                 "A longer training might close the gap.",
                 "In the lecture's table LoRA beats full fine-tuning (87.2 vs 86.4).",
                 "Hu et al. report that LoRA matches fine-tuning.",
                 "```\nx beats y\n```", "$$a \\text{ matches } b$$", "| LoRA | beats |",
                 "Call `matches()` first."]:
        assert _claims.untagged_outcomes(text) == [], text
    # a citation compared with our own measurement is an outcome
    assert _claims.untagged_outcomes("As in the lecture, our LoRA beats full fine-tuning.")


def test_sentences_do_not_split_at_abbreviations():
    assert len(_claims.sentences("Michel et al. (2019) gate heads, e.g. Head 3. Next one.")) == 2


def test_the_notebook_bench_names_slow_cells_without_progress():
    """issue 23, item 5: a cell over 5 s must show progress (tqdm); the bench lists those that
    do not, from nbclient's timestamps."""
    import nbformat

    from benchmarks import notebooks

    def cell(seconds, outputs):
        c = nbformat.v4.new_code_cell("x")
        c.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00.000000Z",
                                   "shell.execute_reply": f"2026-01-01T00:00:{seconds:02d}.5Z"}
        c.outputs = [nbformat.from_dict(o) for o in outputs]
        return c
    widget = {"output_type": "display_data", "metadata": {},
              "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "a"}}}
    text_bar = {"output_type": "stream", "name": "stderr", "text": "training: 40%|4 | 2/5 [2.1it/s]"}
    printed = {"output_type": "stream", "name": "stdout", "text": "done\n"}
    nb = nbformat.v4.new_notebook(cells=[cell(9, [widget]), cell(9, [text_bar]), cell(9, [printed]),
                                         cell(3, [printed])])
    assert notebooks.silent_cells(nb) == [(2, 9.5)]
