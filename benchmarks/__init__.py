"""Benchmarks: every measured claim of the notebooks, one module per figure group.

Each module `benchmarks/<name>.py` defines `run() -> list[dict]`, one dict per measured figure:
    {"figure": "LoRA r=8 trainable fraction", "value": "1.3%", "lecture": "0.3M of 125M (0.24%)"}
and prints nothing else of note. `python -m benchmarks` (make bench) runs each module in its own
process, one after another, and writes benchmarks/RESULTS.md with the machine it ran on.
Ratios are measured within one run of one process: shared machines are noisy.
"""
