"""The claims register: every measured outcome a notebook states, with the benchmark row behind it.

In a percent source (solutions/<name>/<name>.py) a markdown sentence that states a measured
outcome carries an invisible tag right after it:

    LoRA comes within a point of full fine-tuning. <!-- claim: lora.close_to_full -->
    Here prefix tuning stays below ... because ... <!-- claim-not-held: peft_comparison.pt2 -->

`claim:` says the notebook states the outcome holds; `claim-not-held:` says the notebook states
plainly that it does not hold at this scale (and why). The benchmark module that measures it adds
to the row that measures it

    "claim": {"id": "lora.close_to_full", "notebook": "lora", "text": "<one sentence>",
              "slide": "<the lecture's figure, or ->", "holds": true}

`python -m benchmarks` collects these into results.json["claims"] (`collect`) and renders
README's "claims held: N of M" table (`render_table`). tests/test_benchmarks.py checks that tags
and register agree (`tags`) and lints the notebooks' markdown for outcome sentences without a tag
(`untagged_outcomes`); `python -m benchmarks --check` prints the same findings.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAG = re.compile(r"<!--\s*(claim|claim-not-held):\s*([a-z0-9_]+\.[a-z0-9_]+)\s*-->")
KEYS = ("id", "notebook", "text", "slide", "holds")
MARKERS = ("<!-- claims:start -->", "<!-- claims:end -->")


# ------------------------------------------------------------------ the register
def row_claims(row: dict) -> list[dict]:
    """The claim dicts of one benchmark row (a row may measure one claim, or a list of them)."""
    found = row.get("claim")
    return [] if found is None else (found if isinstance(found, list) else [found])


def collect(groups: dict) -> dict:
    """{claim id: claim + "measured" (the row's value), "figure", "group"}, sorted by id.

    Raises ValueError for a claim without the keys of the format or an id claimed twice."""
    register = {}
    for group, result in groups.items():
        for row in result.get("rows", []):
            for claim in row_claims(row):
                missing = [k for k in KEYS if k not in claim]
                if missing:
                    raise ValueError(f"{group}: claim {claim.get('id')!r} lacks {missing}")
                if not claim["id"].startswith(claim["notebook"] + "."):
                    raise ValueError(f"{group}: claim id {claim['id']!r} must start with its "
                                     f"notebook {claim['notebook']!r}")
                if claim["id"] in register:
                    raise ValueError(f"claim {claim['id']!r} measured twice "
                                     f"({register[claim['id']]['group']} and {group})")
                register[claim["id"]] = {**{k: claim[k] for k in KEYS},
                                         "holds": bool(claim["holds"]), "measured": row["value"],
                                         "figure": row["figure"], "group": group}
    return dict(sorted(register.items()))


def render_table(register: dict) -> str:
    """README's block: "claims held: N of M" and one row per claim."""
    held = sum(c["holds"] for c in register.values())
    lines = [f"**Claims held: {held} of {len(register)}.** Each is a sentence a notebook states, "
             "tagged in its source and measured by `make bench`; a claim that does not hold at "
             "this scale is said so in the notebook, with the reason.", "",
             "| notebook | claim | slide figure | measured | holds |", "|---|---|---|---|---|"]
    cell = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    for c in sorted(register.values(), key=lambda c: (c["notebook"], c["id"])):
        lines.append(f"| {c['notebook']} | {cell(c['text'])} | {cell(c['slide'])} | "
                     f"{cell(c['measured'])} | {'yes' if c['holds'] else '**no**'} |")
    return "\n".join(lines)


# ------------------------------------------------------------------ the notebooks' tags
def sources(solutions: Path = ROOT / "solutions") -> list[Path]:
    from autograde.build.authoring import sources as percent_sources
    return percent_sources(solutions)


def markdown_cells(path: Path) -> list[str]:
    """The markdown cells of a percent source, as the notebook shows them."""
    from autograde.build.authoring import parse
    nb = parse(path.read_text(), path.name, first_cell=False)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def tags(path: Path) -> list[tuple[str, bool]]:
    """[(claim id, held?)] for every tag in the markdown of a percent source."""
    return [(m.group(2), m.group(1) == "claim")
            for text in markdown_cells(path) for m in TAG.finditer(text)]


# ------------------------------------------------------------------ the lint
# Comparative wording that states an outcome; a sentence using it needs a tag.
OUTCOME = re.compile(
    r"\b(beats?|outperform\w*|(better|worse|higher|lower|faster|slower|more accurate|"
    r"less accurate) than|clos(e|er) to|match(es|ed)?|recover(s|ed)?|the gap closes|"
    r"clos(es|ing) the gap|catch(es)? up|(far|well|stays?|falls?|lags?) (behind|ahead)|"
    r"(far|well|clearly) (above|below)|within (a|one|two|about|[0-9][0-9.]*) (couple of )?"
    r"points? of)\b", re.I)

# Sentences that may use that wording without a tag. Keep this list short: each entry is a kind
# of sentence that states no measured outcome of the notebook.
ALLOW = [
    # a question, e.g. a "check yourself" item or an exercise ("Does LoRA beat ...?")
    re.compile(r"\?\s*$"),
    # a hypothesis, an expectation or a requirement, not a result
    re.compile(r"\b(may|might|could|would|should|must|expect\w*|hypothes\w*|predict\w*|"
               r"if you|try)\b", re.I),
    # a figure of the slides or a paper, cited as such and not compared with our measurement
    re.compile(r"^(?!.*\b(we|our|here|this notebook|above|below|measured)\b).*"
               r"\b(lecture|slides?|paper|et al\.|table of\b)", re.I),
]


def _prose(text: str) -> str:
    """Markdown without code blocks, display maths, table rows and HTML tags (tags kept)."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("|"))
    text = re.sub(r"`[^`]*`", "CODE", text)
    return re.sub(r"<(?!!--)[^>]+>", " ", text)


# a sentence ends at . ! ? : or ), but not at the dot of "e.g.", "i.e.", "et al.", "vs.", "cf."
SENTENCE_END = r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bal\.)(?<!\bvs\.)(?<!\bcf\.)(?<=[.!?:)])"


def sentences(text: str) -> list[tuple[str, list[str]]]:
    """[(sentence, the claim ids tagged right after it)] of one markdown cell: a tag belongs
    to the sentence it follows (the text is split after a tag, never before one)."""
    out = []
    for block in re.split(r"\n\s*\n|\n\s*[*-] |\n#+ ", _prose(text)):
        block = re.sub(r"^([*-]|\d+\.) ", "", " ".join(block.split()))          # a bullet
        block = re.sub(r"\s+(?=<!--\s*claim)", "", block)                       # tag sticks
        for part in re.split(f"(?:(?<=-->)|{SENTENCE_END})" + r"\s+(?=[A-Z*(\[])", block):
            found = TAG.findall(part)
            bare = TAG.sub("", part).strip()
            if bare:
                out.append((bare, [i for _, i in found]))
    return out


def untagged_outcomes(text: str) -> list[str]:
    """Sentences of one markdown cell that state an outcome without a tag after them."""
    return [s for s, ids in sentences(text)
            if OUTCOME.search(s) and not ids and not any(a.search(s) for a in ALLOW)]


def findings(register: dict, solutions: Path = ROOT / "solutions") -> list[str]:
    """Every disagreement between the notebooks' tags, the register and the lint, as lines."""
    out, tagged = [], {}
    for path in sources(solutions):
        name = path.stem
        for claim_id, held in tags(path):
            tagged.setdefault(claim_id, []).append(name)
            if not claim_id.startswith(name + "."):
                out.append(f"{name}: tag {claim_id!r} names another notebook")
            if claim_id not in register:
                out.append(f"{name}: tag {claim_id!r} is not in the register (add a benchmark "
                           "row with this claim and run `python -m benchmarks GROUP`)")
            elif register[claim_id]["holds"] != held:
                out.append(f"{name}: {claim_id!r} is tagged {'claim' if held else 'claim-not-held'}"
                           f" but measured holds={register[claim_id]['holds']}")
        for text in markdown_cells(path):
            out += [f"{name}: outcome without a claim tag: {s!r}" for s in untagged_outcomes(text)]
    for claim_id, claim in register.items():
        if claim["notebook"] not in tagged.get(claim_id, []):
            out.append(f"register: {claim_id!r} has no tag in solutions/{claim['notebook']}/")
    return out
