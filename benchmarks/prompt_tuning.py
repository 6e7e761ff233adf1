"""Prompt tuning (solutions/prompt_tuning/prompt_tuning.ipynb): hard prompts, soft prompt,
P-tuning, prefix tuning, full fine-tuning, and prefix tuning for generation.

The figures are the notebook's own (benchmarks.notebooks.figures executes it and reads its
variables): the 7 hand-written prompts zero-shot (best and worst chosen on dev), the soft prompt
and P-tuning in front of the best pattern, the prefix in every layer, the [CLS] fine-tuning
baseline, the prefix with a linear head instead of the verbalizer (P-tuning v2), all one epoch
on the 2,400 training sentences; then the decoder with and without a
prefix on the one-field data-to-text task.
"""

from __future__ import annotations

import math

from benchmarks.notebooks import figures

READ = """{
 "hard": {p: list(a) for p, a in hard_results.items()}, "best": BEST, "worst": WORST,
 "soft": list(soft_acc), "ptune": list(ptune_acc), "prefix": list(prefix_acc),
 "full": list(full_acc), "linear": list(linear_acc),
 "n": [soft_trainable, prefix_trainable, full_trainable],
 "gen": {k: list(v) for k, v in gen_nll.items()}}"""
NEAR_FT, READS = 0.05, 1.05          # "within 5 points"; a record is read if it moves ppl 5%


def claim(short, text, slide, holds):
    return {"id": f"prompt_tuning.{short}", "notebook": "prompt_tuning", "text": text,
            "slide": slide, "holds": bool(holds)}


def run() -> list[dict]:
    f, _ = figures("prompt_tuning", READ)
    pct = lambda a: f"{100 * a:.1f}%"
    best = f["hard"][f["best"]][1]                              # test accuracy, chosen on dev
    soft, ptune, prefix, full, linear = (f[k][1] for k in ("soft", "ptune", "prefix", "full",
                                                           "linear"))
    n_soft, n_prefix, n_full = f["n"]
    (frozen_own, frozen_wrong), (prefix_own, prefix_wrong) = f["gen"].values()
    ppl = math.exp
    return [
        {"figure": f"hard prompt, best on dev ('{f['best']}'): zero-shot test accuracy",
         "value": pct(best), "lecture": "best hand-written prompt 70.15 dev (RTE-like table)"},
        {"figure": f"hard prompt, worst on dev ('{f['worst']}'): zero-shot test accuracy",
         "value": pct(f["hard"][f["worst"]][1]), "lecture": "worst hand-written prompt 51.38 dev"},
        {"figure": "soft prompt tuning / P-tuning (n=8, in front of the best pattern): test "
                   "accuracy", "value": f"{pct(soft)} / {pct(ptune)}",
         "lecture": "P-tuning 76.45 dev, above every hand-written prompt",
         "claim": claim("learned_beat_hard", "Soft prompt tuning and P-tuning, started from the "
                        "best hand-written pattern, both score above it on the test set.",
                        "P-tuning 76.45 vs best hand-written 70.15", min(soft, ptune) > best)},
        {"figure": "prefix tuning / P-tuning v2 (n=8, every layer) vs soft prompt: test accuracy",
         "value": f"{pct(prefix)} vs {pct(soft)} ({n_prefix:,} vs {n_soft:,} trainable)",
         "lecture": "PT-2 above PT (BERT-large BoolQ 75.8 vs 67.2, RTE 78.3 vs 53.5)",
         "claim": claim("prefix_beats_prompt", "With the same n and training, the prefix in "
                        "every layer scores above the input-only soft prompt.",
                        "PT-2 75.8 vs PT 67.2 (BoolQ)", prefix > soft)},
        {"figure": "prefix tuning vs full fine-tuning ([CLS]), 1 epoch: test accuracy",
         "value": f"{pct(prefix)} vs {pct(full)} ({n_prefix / n_full:.2%} of the parameters)",
         "lecture": "PT-2 close to FT (BoolQ 75.8 vs 77.7)",
         "claim": claim("prefix_near_ft", "Prefix tuning stays within 5 points of full "
                        "fine-tuning while training about 1% of its parameters.",
                        "PT-2 75.8 vs FT 77.7 (BoolQ)",
                        full - prefix <= NEAR_FT and n_prefix / n_full < 0.02)},
        {"figure": "P-tuning v2 output: prefix + linear head vs prefix + verbalizer, test accuracy",
         "value": f"{pct(linear)} vs {pct(prefix)}",
         "lecture": "P-tuning v2 replaces the verbalizer by a linear head (Liu et al. 2022)",
         "claim": claim("linear_head_behind", "After one epoch, the prefix with a new linear "
                        "head scores below the prefix with the verbalizer.",
                        "-", linear < prefix)},
        {"figure": "generation, 'topic : ...' -> sentence: test perplexity, frozen decoder / "
                   "prefix", "value": f"{ppl(frozen_own):.2f} / {ppl(prefix_own):.2f}",
         "lecture": "prefix tuning for generation (table-to-text, summarisation)",
         "claim": claim("gen_prefix_helps", "The prefix lowers the frozen decoder's perplexity "
                        "on the data-to-text test sentences.", "-", prefix_own < frozen_own)},
        {"figure": "generation with the prefix: perplexity under another topic's record / own",
         "value": f"{ppl(prefix_wrong):.2f} / {ppl(prefix_own):.2f} "
                  f"({ppl(prefix_wrong - prefix_own):.3f}x)",
         "lecture": "the text follows the table",
         "claim": claim("gen_reads_record", "The prefix-tuned decoder reads the record: test "
                        "sentences are at least 5% more perplexing under another topic's "
                        "record than under their own.", "-",
                        ppl(prefix_wrong - prefix_own) >= READS)},
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['figure']}: {row['value']}  (lecture: {row['lecture']})")
