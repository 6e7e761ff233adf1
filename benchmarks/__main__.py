"""python -m benchmarks [name ...]: run each benchmark module in its own process, write RESULTS.md."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUNNER = ("import json, sys, importlib; m = importlib.import_module('benchmarks.' + sys.argv[1]); "
          "rows = m.run(); print('@@JSON@@' + json.dumps(rows))")


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("names", nargs="*", help=f"default: all of {modules()}")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args(argv)
    names = args.names or modules()
    lines = ["# Benchmark results", "",
             f"Measured by `make bench` on {datetime.date.today()}: {machine()}.", "",
             "Each group ran in its own process; ratios compare numbers from the same run.", ""]
    failed = []
    for name in names:
        print(f"[bench] {name} ...", flush=True)
        rows, seconds, error = run_one(name)
        lines += [f"## {name} ({seconds:.0f} s)", ""]
        if error:
            failed.append(name)
            lines += ["```", error.strip(), "```", ""]
            print(error, file=sys.stderr)
            continue
        lines += ["| figure | measured | lecture / claim |", "|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['figure']} | {r['value']} | {r.get('lecture', '')} |")
            print(f"  {r['figure']}: {r['value']}   [{r.get('lecture', '')}]")
        lines.append("")
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
