"""python -m benchmarks [name ...]: run each benchmark module in its own process, write the report.

benchmarks/results.json holds {"groups": {group: its rows, with the machine and date it ran on},
"claims": the claims register}. The register is collected from the rows' "claim" dicts
(benchmarks/_claims.py says the format); benchmarks/RESULTS.md, the table between the `bench`
markers of README.md and the claims table between its `claims` markers are rendered from the file.
Naming groups reruns only those and keeps the others' last results.

    python -m benchmarks prompting peft     # rerun two groups
    python -m benchmarks --check            # tags vs register vs lint, without running anything
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import _claims

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUNNER = ("import json, sys, importlib; m = importlib.import_module('benchmarks.' + sys.argv[1]); "
          "rows = m.run(); print('@@JSON@@' + json.dumps(rows))")
README_MARKERS = ("<!-- bench:start -->", "<!-- bench:end -->")

# The README's short table: per group, the figures (by the start of their name) it shows.
HEADLINES = {
    "peft": ["Full fine-tuning: test", "BitFit: test", "Adapter (m = 4): test",
             "LoRA r = 8 (W_q, W_v): test",
             "LoRA r = 8 (W_q, W_v): time", "Prompt tuning (n = 8): test",
             "Prefix tuning (n = 8): test"],
    "prompting": ["zero-shot accuracy", "prompt sensitivity spread", "calibration of 7 prompts",
                  "few-shot, 4 / 16 / 64 / 600 per topic"],
    "prompt_tuning": ["soft prompt tuning", "prefix tuning / P-tuning v2"],
    "moe": ["MoE encoder", "MoE layer d=256"],
    "pruning": ["50% of linear weights", "drop top 2/4", "BERT-base FFN"],
    "quantization": ["quantization: INT8 per-channel accuracy", "quantization: INT4 per-tensor accuracy",
                     "quantization: INT4 per-channel accuracy"],
    "distillation": ["distillation: student speed-up", "distillation: accuracy retained, distilled"],
    "kv_cache": ["decoding at length 255", "H2O, budget 32", "sliding window, budget 32"],
    "grading_throughput": ["grading"],
    "similarity": ["class integrity report"],
}


def modules() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_"))


def run_one(name: str) -> tuple[list[dict], float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RUNNER, name], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.perf_counter() - start
    for line in proc.stdout.splitlines():
        if line.startswith("@@JSON@@"):
            return json.loads(line[len("@@JSON@@"):]), seconds, ""
    return [], seconds, (proc.stderr or proc.stdout)[-2000:]


def machine() -> str:
    import torch
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.platform()}, {platform.processor() or platform.machine()}, {cores} cores, "
            f"{gpu}; Python {platform.python_version()}, torch {torch.__version__}")


def load(path: Path) -> dict:
    """results.json as {"groups": ..., "claims": ...} (a file of the older flat layout, one key
    per group, is read as its groups)."""
    data = json.loads(path.read_text()) if path.exists() else {}
    groups = data.get("groups", {} if "claims" in data else data)
    return {"groups": groups, "claims": _claims.collect(groups)}


def render_results(results: dict) -> str:
    lines = ["# Benchmark results", "",
             "Written by `make bench` (`python -m benchmarks`) from `benchmarks/results.json`. Each "
             "group ran in its own process; ratios compare numbers from the same run.", "",
             "## Claims register", "", _claims.render_table(results["claims"]), ""]
    for name, group in results["groups"].items():
        lines += [f"## {name} ({group['seconds']:.0f} s)", "",
                  f"Measured on {group['date']}: {group['machine']}.", ""]
        if group["error"]:
            lines += ["```", group["error"].strip(), "```", ""]
            continue
        lines += ["| figure | measured | lecture / claim |", "|---|---|---|"]
        lines += [f"| {r['figure']} | {r['value']} | {r.get('lecture', '')} |" for r in group["rows"]]
        lines.append("")
    return "\n".join(lines)


def render_headlines(results: dict) -> str:
    lines = ["| group | figure | measured | lecture / claim |", "|---|---|---|---|"]
    for name, group in results["groups"].items():
        if name == "notebooks" and group["rows"]:
            secs = [int(re.match(r"(\d+)", r["value"]).group(1)) for r in group["rows"]]
            over = [r["figure"].split(":")[0] for r, s in zip(group["rows"], secs) if s > 60]
            within = "over: " + ", ".join(over) if over else "all within 60 s"
            lines.append(f"| notebooks | headless execution, {len(secs)} notebooks | "
                         f"{min(secs)}-{max(secs)} s each ({within}) | at most 60 s on 2 CPU cores |")
            continue
        for r in group["rows"]:
            if any(r["figure"].startswith(h) for h in HEADLINES.get(name, [])):
                lines.append(f"| {name} | {r['figure']} | {r['value']} | {r.get('lecture', '')} |")
    machines = sorted({g["machine"] for g in results["groups"].values()})
    lines += ["", f"Measured by `make bench` on {', '.join(machines)}; every figure, with the "
              "machine and date of each group: [benchmarks/RESULTS.md](benchmarks/RESULTS.md)."]
    return "\n".join(lines)


def update_readme(readme: Path, table: str, markers=README_MARKERS) -> bool:
    text = readme.read_text()
    start, end = markers
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    readme.write_text(f"{head}{start}\n{table}\n{end}{rest.split(end, 1)[1]}")
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("names", nargs="*", help=f"default: all of {modules()}")
    ap.add_argument("--json", type=Path, default=HERE / "results.json")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--check", action="store_true",
                    help="run nothing; list tags missing from the register, registered claims "
                         "without a tag, and outcome sentences without a tag (exit 1 if any)")
    args = ap.parse_args(argv)
    if args.check:
        found = _claims.findings(load(args.json)["claims"])
        print("\n".join(found) or "claims: tags, register and prose agree")
        return 1 if found else 0
    unknown = sorted(set(args.names) - set(modules()))
    if unknown:
        ap.error(f"no benchmark named {unknown}; there are {modules()}")
    names = args.names or modules()
    groups = load(args.json)["groups"]
    where, today, failed = machine(), str(datetime.date.today()), []
    for name in names:
        print(f"[bench] {name} ...", flush=True)
        rows, seconds, error = run_one(name)
        groups[name] = {"rows": rows, "seconds": round(seconds, 1), "error": error,
                        "machine": where, "date": today}
        if error:
            failed.append(name)
            print(error, file=sys.stderr)
        for r in rows:
            print(f"  {r['figure']}: {r['value']}   [{r.get('lecture', '')}]")
            for c in _claims.row_claims(r):
                print(f"    claim {c['id']}: {'holds' if c['holds'] else 'does NOT hold'}")
        groups = dict(sorted(groups.items()))
        results = {"groups": groups, "claims": _claims.collect(groups)}
        args.json.write_text(json.dumps(results, indent=1) + "\n")     # after each group: resumable
    results = {"groups": groups, "claims": _claims.collect(groups)}
    args.out.write_text(render_results(results))
    print(f"wrote {args.out}")
    if update_readme(args.readme, render_headlines(results)):
        print(f"updated the table in {args.readme}")
    if update_readme(args.readme, _claims.render_table(results["claims"]), _claims.MARKERS):
        print(f"updated the claims table in {args.readme}")
    if failed:
        print(f"FAILED: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
