"""The class integrity report at the scale of a large class: 600 synthetic MoE submissions.

    python -m benchmarks similarity             # the bench group (rows in benchmarks/results.json)
    python benchmarks/similarity.py [--students 600] [--seed 0] [--keep DIR]

The class is generated from a fixed seed: each student answers each of the four MoE exercises in one
of the independent styles of the calibration corpus (tests/fixtures/similarity/moe: ada, ben, cai,
dee, fay's own), with names changed, with each place where an equivalent form exists (view or
reshape, zeros_like or new_zeros, a positional or keyword dim, operands swapped, an intermediate
variable) rewritten or not at random, and with two to five habits of the student's own (an
epsilon in a division, a guard against non-finite values, with a constant of their choosing), so
that most answers share a style and few share every detail. COPIERS students copy another student's whole
notebook and disguise it (names, a reordering, dead code). The command's own work is timed, from
reading the 600 notebooks to writing the JSON and the page; the pairs the index let through to
scoring are counted against all pairs.
"""

from __future__ import annotations

import argparse
import ast
import random
import re
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "similarity"))

import corpus  # noqa: E402
import nbformat  # noqa: E402

from autograde.build.release import release_notebook  # noqa: E402
from autograde.config import Course  # noqa: E402
from autograde.results import similarity, similarity_page  # noqa: E402

STYLES = {"softmax_gate": ["ada", "ben", "cai", "dee", "fay"], "topk_gate": ["ada", "ben", "cai", "dee", "fay"],
          "moe_layer": ["ada", "ben", "cai", "dee"], "balance_loss": ["ada", "ben", "cai", "dee", "fay"]}
REWRITES = [                                   # (pattern, replacement): equivalent code, another form
    (r"\.reshape\(", ".view("), (r"\(dim=-1", "(-1"), (r"keepdim=True", "keepdim=bool(1)"),
    (r"torch\.zeros_like\((\w+)\)", r"\1.new_zeros(\1.shape)"), (r"\.sum\(dim=", ".sum(axis="),
    (r"\.mean\(dim=0\)", ".mean(0)"), (r"(\w+) \* (\w+)", r"\2 * \1"), (r"\.float\(\)", ".to(torch.float32)"),
    (r"torch\.exp\((\w+)\)", r"\1.exp()"), (r"range\(self\.N\)", "range(len(self.experts))"),
    (r"\.unsqueeze\(-1\)", "[..., None]"), (r"\.shape\[0\]", ".size(0)"), (r"(\w+) / (\w+)", r"\1 * (1 / \2)"),
    (r"\.sum\(\)", ".sum(0)"), (r"self\.k", "int(self.k)"), (r", dim=1\)", ", 1)"),
    (r"(?m)^( +)return (.+)$", r"\1out_ = \2\n\1return out_"),
]
NAMES = ["h", "z", "out", "res", "acc", "tmp", "vals", "w", "g", "scores", "t", "m", "top", "sel", "ids",
         "mask", "flat", "xs", "gate", "y", "a", "b", "c", "u", "v", "q", "r", "e2", "cnt", "frac"]
COPIERS = 10


def _rename(body: str, rng: random.Random) -> str:
    """Every name the body assigns (left of ' = ' at the start of a line) given another name."""
    targets = re.findall(r"^\s*([\w, ]+?) = ", body, re.M)
    names = {n.strip() for t in targets for n in t.split(",")} - {"self", ""}
    for name in sorted(names):
        body = re.sub(rf"(?<![.\w]){name}\b(?!=)", f"{rng.choice(NAMES)}_{rng.randrange(100)}", body)
    return body


def _touch(body: str, rng: random.Random) -> str:
    """One student's own safety habit at a random place: an epsilon in a division or a guard
    against non-finite values, with a constant of their choosing (what makes answers differ)."""
    divisions = [m.start() for m in re.finditer(r" / (\w+)", body)]
    if divisions and rng.random() < 0.5:
        at = rng.choice(divisions)
        return body[:at] + re.sub(r"^ / (\w+)", lambda m: f" / ({m[1]} + {rng.randint(1, 9)}e-{rng.randint(3, 15)})",
                                  body[at:], count=1)
    lines = body.split("\n")
    at = [i for i, line in enumerate(lines) if re.match(r"\s+\w+ = ", line)]
    if at:
        i = rng.choice(at)
        indent, name = re.match(r"(\s+)(\w+) = ", lines[i]).groups()
        lines.insert(i + 1, f"{indent}{name} = torch.nan_to_num({name}, posinf={rng.randint(10, 10**6)}.0)")
    return "\n".join(lines)


def _variant(body: str, rng: random.Random) -> str:
    """The body with some rewrites (each place taken or not), two to five habits, new names."""
    original = body
    for pattern, replacement in REWRITES:
        body = re.sub(pattern, lambda m, r=replacement: m.expand(r) if rng.random() < 0.4 else m[0], body)
    for _ in range(rng.randint(2, 5)):
        body = _touch(body, rng)
    body = _rename(body, rng)
    try:
        ast.parse(textwrap.dedent(body))
        return body
    except SyntaxError:
        return _rename(original, rng)


def _disguised(answers: dict[str, str], rng: random.Random) -> dict[str, str]:
    out = {}
    for ex, body in answers.items():
        lines = body.split("\n")
        indent = re.match(r"\s*", lines[0]).group()
        lines.insert(1, f"{indent}unused_{rng.randrange(1000)} = 0  # dead code")
        out[ex] = _rename("\n".join(lines), rng)
    return out


def make_class(n: int, seed: int, folder: Path) -> tuple[list[tuple[str, str]], float]:
    """FOLDER/<student>/moe.ipynb for n students; returns the planted copies and the seconds."""
    start = time.perf_counter()
    rng = random.Random(seed)
    source_nb = nbformat.read(Course().source("moe"), as_version=4)
    release_nb = release_notebook(source_nb)
    styles = {s: corpus.sections(ROOT / "tests/fixtures/similarity/moe" / f"{s}.py")
              for s in {s for pool in STYLES.values() for s in pool}}
    answers = {}
    for i in range(n):
        answers[f"s{i:03d}"] = {ex: _variant(styles[rng.choice(pool)][ex], rng) for ex, pool in STYLES.items()}
    students = sorted(answers)
    planted = []
    for copier, original in zip(rng.sample(students, COPIERS), rng.sample(students, COPIERS)):
        if copier != original and copier not in {o for _, o in planted}:
            answers[copier] = _disguised(answers[original], rng)
            planted.append(tuple(sorted((copier, original))))
    corpus.write(folder, {s: corpus.fill(release_nb, a) for s, a in answers.items()}, "moe")
    return planted, time.perf_counter() - start


def measure(n: int = 600, seed: int = 0, keep: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        base = keep or Path(tmp)
        planted, gen_s = make_class(n, seed, base / "class")
        course = Course(work=base / "work")
        start = time.perf_counter()
        result = similarity.run(course, "moe", base / "class")
        similarity_page.write(course, result)
        seconds = time.perf_counter() - start
    found = {(p["a"], p["b"]) for p in result.flagged()}
    return {"n": len(result.students), "pairs": result.n_pairs, "considered": result.considered,
            "seconds": seconds, "generate_s": gen_s, "flagged": len(found), "planted": len(planted),
            "planted_found": len(found & set(planted)), "above_floor": len(result.pairs)}


def run() -> list[dict]:
    """For `python -m benchmarks similarity`."""
    m = measure()
    return [{"figure": f"class integrity report, {m['n']} synthetic MoE submissions (seed 0), one "
                       "process: seconds from reading the notebooks to the JSON and page; pairs scored "
                       "of all pairs; planted copies flagged; other pairs flagged",
             "value": f"{m['seconds']:.1f} s; {m['considered']:,} of {m['pairs']:,} pairs scored "
                      f"({m['considered'] / m['pairs']:.1%}); {m['planted_found']} of {m['planted']} "
                      f"planted copies flagged; {m['flagged'] - m['planted_found']} other pairs flagged",
             "lecture": "a 600-student class in under a minute on 2 cores"}]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", help="write the class and the report here (kept)")
    args = ap.parse_args()
    m = measure(args.students, args.seed, Path(args.keep) if args.keep else None)
    print(f"{m['n']} submissions, {m['pairs']:,} pairs: {m['seconds']:.1f} s (generating the class: "
          f"{m['generate_s']:.1f} s, not counted); pairs scored (sharing a rare fingerprint): "
          f"{m['considered']:,} ({m['considered'] / m['pairs']:.1%}); above the floor: {m['above_floor']}; "
          f"flagged: {m['flagged']}; planted copies flagged: {m['planted_found']} of {m['planted']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
