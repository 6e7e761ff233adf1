"""The PEFT notebooks' measured claims: the comparison (solutions/peft_comparison), LoRA
(solutions/lora) and adapters (solutions/adapters).

Each notebook is executed top to bottom (benchmarks.notebooks.figures) and its own variables
are read, so a figure here is exactly what a student's run shows:
    peft_comparison: every method, 2 epochs on a balanced 640-sentence subset, test accuracy
        over seeds 0, 1, 2; trainable parameters; time per step and peak memory of one step,
        as ratios to full fine-tuning measured in the same run;
    lora: full fine-tuning vs LoRA r = 8, merged vs unmerged outputs and latency, the rank
        sweep (every rank with the same epochs and alpha = 2r);
    adapters: the topic and sentiment adapters on one frozen encoder, swapped, and the
        sentiment task with full fine-tuning.
"""

from __future__ import annotations

from benchmarks.notebooks import figures

COMPARISON = """{name: {k: r[k] for k in ("mean", "std", "trainable", "step_s", "peak", "bytes")}
                  for name, r in results.items()}"""
LORA = """{"full": full_acc, "full_n": full_trainable, "lora": lora_acc, "lora_n": lora_trainable,
 "merge_diff": merge_diff, "merge_ratio": list(merge_ratio),
 "ranks": {str(r): list(results[r]) for r in RANKS}}"""
ADAPTERS = """{"rows": [list(r) for r in rows], "full_sentiment": full_sent_acc,
 "unchanged": unchanged, "cos": cos}"""
CHANCE_SENTIMENT, ABOVE, ALIKE = 0.5, 0.10, 0.7


def claim(notebook, short, text, slide, holds):
    return {"id": f"{notebook}.{short}", "notebook": notebook, "text": text, "slide": slide,
            "holds": bool(holds)}


def comparison_rows() -> list[dict]:
    r, _ = figures("peft_comparison", COMPARISON)
    c = lambda *a: claim("peft_comparison", *a)
    full = r["Full fine-tuning"]
    find = lambda start: next(v for k, v in r.items() if k.startswith(start))
    bitfit, adapter, lora = find("BitFit"), find("Adapter"), find("LoRA")
    prompt, prefix = find("Prompt tuning"), find("Prefix tuning")
    gap = lambda m: full["mean"] - m["mean"]
    four = [full, bitfit, adapter, lora]
    spread = max(m["mean"] for m in four) - min(m["mean"] for m in four)
    cheaper = [m for k, m in r.items() if k != "Full fine-tuning" and not k.startswith("Prompt")]
    lecture = {"Full fine-tuning": "RoBERTa-base FT: 125.0M, avg 86.4",
               "BitFit": "BitFit: 0.1M, avg 85.2", "Adapter": "Adpt^D: 0.3M, avg 84.4",
               "LoRA": "LoRA: 0.3M, avg 87.2", "Prompt": "PT: BERT-large BoolQ 67.2 (FT 77.7)",
               "Prefix": "PT-2: BERT-large BoolQ 75.8 (FT 77.7)"}
    rows = []
    for name, m in r.items():
        rows.append({"figure": f"{name}: test accuracy (3 seeds), trainable parameters",
                     "value": f"{100 * m['mean']:.1f} ± {100 * m['std']:.1f}; "
                              f"{m['trainable']:,} ({m['trainable'] / full['trainable']:.2%} of "
                              f"full)",
                     "lecture": next(v for k, v in lecture.items() if name.startswith(k))})
        rows.append({"figure": f"{name}: time per step / peak memory of a step vs full "
                               f"fine-tuning", "value": f"{m['step_s'] / full['step_s']:.2f}x / "
                                                        f"{m['peak'] / full['peak']:.2f}x",
                     "lecture": "PEFT: lower GPU memory, faster training"})
    rows[2]["claim"] = c("bitfit_close", "BitFit comes within 2 points of full fine-tuning.",
                         "BitFit 85.2 vs FT 86.4 (avg)", abs(gap(bitfit)) <= 0.02)
    rows[4]["claim"] = c("adapter_lora_close", "Adapters and LoRA come within 2 points of full "
                         "fine-tuning.", "Adpt^D 84.4, LoRA 87.2 vs FT 86.4",
                         max(abs(gap(adapter)), abs(gap(lora))) <= 0.02)
    rows.append({"figure": "FT, BitFit, adapters, LoRA: spread of the means / largest seed std",
                 "value": f"{100 * spread:.1f} / {100 * max(m['std'] for m in four):.1f} points",
                 "lecture": "the table reports ± over seeds",
                 "claim": c("within_noise", "The differences between full fine-tuning, BitFit, "
                            "adapters and LoRA are at most twice the largest standard deviation "
                            "over seeds.", "± 0.0 to 2.9", spread <= 2 * max(m["std"] for m in four))})
    rows.append({"figure": "prefix tuning vs prompt tuning (same n, Part 1b's rates)",
                 "value": f"{100 * prefix['mean']:.1f} vs {100 * prompt['mean']:.1f}",
                 "lecture": "PT-2 75.8 vs PT 67.2 (BoolQ)",
                 "claim": c("prefix_beats_prompt", "With the same n and Part 1b's learning "
                            "rates, prefix tuning scores above prompt tuning by more than "
                            "twice the larger standard deviation over seeds.", "PT-2 75.8 vs "
                            "PT 67.2 (BoolQ)", prefix["mean"] - prompt["mean"]
                            > 2 * max(prefix["std"], prompt["std"]))})
    rows.append({"figure": "prompt tuning below full fine-tuning", "value":
                 f"{100 * gap(prompt):.1f} points", "lecture": "PT 67.2 vs FT 77.7 (BoolQ)",
                 "claim": c("prompt_behind", "Prompt tuning stays at least 5 points below full "
                            "fine-tuning.", "PT 67.2 vs FT 77.7 (BoolQ)", gap(prompt) >= 0.05)})
    rows.append({"figure": "every method but prompt tuning: largest peak memory of a step vs full",
                 "value": f"{max(m['peak'] for m in cheaper) / full['peak']:.2f}x",
                 "lecture": "PEFT: lower GPU memory usage",
                 "claim": c("step_memory_less", "Every PEFT method but prompt tuning needs less "
                            "peak memory for a training step than full fine-tuning.",
                            "lower GPU memory usage",
                            all(m["peak"] < full["peak"] for m in cheaper))})
    ratios = {k: m["step_s"] / full["step_s"] for k, m in r.items() if k != "Full fine-tuning"}
    rows.append({"figure": "PEFT steps: time vs full fine-tuning (interleaved medians), min / max",
                 "value": f"{min(ratios.values()):.2f}x / {max(ratios.values()):.2f}x",
                 "lecture": "PEFT: faster training",
                 "claim": c("step_time_similar", "At this size every PEFT step takes between 0.5 "
                            "and 1.5 times the time of a full fine-tuning step.",
                            "faster training", all(0.5 <= v <= 1.5 for v in ratios.values()))})
    rows.append({"figure": "prompt tuning: peak memory of a step vs full fine-tuning",
                 "value": f"{prompt['peak'] / full['peak']:.2f}x",
                 "lecture": "PEFT: lower GPU memory usage",
                 "claim": c("prompt_memory_more", "Prompt tuning's step needs more peak memory "
                            "than full fine-tuning's (its sequence is n tokens longer).", "-",
                            prompt["peak"] > full["peak"])})
    return rows


def lora_rows() -> list[dict]:
    f, _ = figures("lora", LORA)
    c = lambda *a: claim("lora", *a)
    accs = {int(r): a for r, (a, n) in f["ranks"].items()}
    ratio, low, high = f["merge_ratio"]
    return [
        {"figure": "LoRA r = 8 (alpha 16) vs full fine-tuning, 1 epoch: test accuracy",
         "value": f"{100 * f['lora']:.1f}% vs {100 * f['full']:.1f}% ({f['lora_n']:,} = "
                  f"{f['lora_n'] / f['full_n']:.1%} of {f['full_n']:,} trainable)",
         "lecture": "LoRA 0.3M avg 87.2 vs FT 125M avg 86.4",
         "claim": c("close_to_full", "LoRA at r = 8 comes within 2 points of full fine-tuning "
                    "while training under 3% of its parameters.", "LoRA 87.2 vs FT 86.4 (avg)",
                    f["full"] - f["lora"] <= 0.02 and f["lora_n"] / f["full_n"] < 0.03)},
        {"figure": "LoRA merged vs unmerged: max |logit difference|, latency ratio unmerged / "
                   "merged (median of 9 interleaved rounds; lowest, highest round)",
         "value": f"{f['merge_diff']:.1e}, {ratio:.2f} ({low:.2f}, {high:.2f})",
         "lecture": "no additional inference latency",
         "claim": c("merge_free", "The merged model gives the same logits as the unmerged one "
                    "(to float rounding) and is no slower: the median over interleaved rounds "
                    "of the latency ratio unmerged / merged is at least 0.95.",
                    "no additional inference latency",
                    f["merge_diff"] < 1e-4 and ratio >= 0.95)},
        {"figure": "LoRA rank sweep (alpha = 2r, 1 epoch each): test accuracy at r = "
                   + " / ".join(str(r) for r in accs),
         "value": " / ".join(f"{100 * a:.1f}%" for a in accs.values()),
         "lecture": "a very low rank suffices (Hu et al.)",
         "claim": c("rank_flat", "From r = 1 to r = 16 the test accuracies lie within 2.5 "
                    "points of each other.", "-",
                    max(accs.values()) - min(accs.values()) <= 0.025)},
    ]


def adapter_rows() -> list[dict]:
    f, _ = figures("adapters", ADAPTERS)
    c = lambda *a: claim("adapters", *a)
    (_, _, topic), (_, _, sentiment), (_, _, topic_swapped), (_, _, sentiment_swapped) = f["rows"]
    rose_fell = f["cos"]["rose / fell"]
    return [
        {"figure": "adapters on one frozen encoder: topic / sentiment test accuracy",
         "value": f"{100 * topic:.1f}% / {100 * sentiment:.1f}%",
         "lecture": "Task 1, Task 2, Task 3 share one frozen model",
         "claim": c("sentiment_learnable", "The sentiment adapters learn their task: at least 10 "
                    "points above chance (50%).", "-",
                    sentiment >= CHANCE_SENTIMENT + ABOVE)},
        {"figure": "topic head with the topic / the sentiment adapters",
         "value": f"{100 * topic:.1f}% / {100 * topic_swapped:.1f}%",
         "lecture": "each task owns its adapters",
         "claim": c("swap_matters", "Under the sentiment adapters the topic head loses at least "
                    "5 points.", "-", topic - topic_swapped >= 0.05)},
        {"figure": "sentiment head with the sentiment / the topic adapters",
         "value": f"{100 * sentiment:.1f}% / {100 * sentiment_swapped:.1f}%", "lecture": "-",
         "claim": c("sentiment_in_encoder", "Under the other task's adapters the sentiment head "
                    "loses fewer points than the topic head.", "-",
                    sentiment - sentiment_swapped < topic - topic_swapped)},
        {"figure": "pre-trained embeddings: cosine similarity rose / fell, random pairs",
         "value": f"{rose_fell:.2f}, {f['cos']['random word pairs (mean)']:.2f}",
         "lecture": "-",
         "claim": c("tone_words_alike", "The pre-trained embeddings of 'rose' and 'fell' have a "
                    "cosine similarity of at least 0.7.", "-", rose_fell >= ALIKE)},
        {"figure": "sentiment, same epochs: full fine-tuning / adapters (gap)", "value":
         f"{100 * f['full_sentiment']:.1f}% / {100 * sentiment:.1f}% "
         f"({100 * (f['full_sentiment'] - sentiment):.1f} points)", "lecture": "-",
         "claim": c("full_ft_sentiment", "Full fine-tuning learns sentiment in the same epochs "
                    "at least 2 points better than the adapters.", "-",
                    f["full_sentiment"] - sentiment >= 0.02)},
        {"figure": "pre-trained weights unchanged after training two adapter sets",
         "value": str(f["unchanged"]), "lecture": "keep most parameters frozen"},
    ]


def run() -> list[dict]:
    return comparison_rows() + lora_rows() + adapter_rows()


if __name__ == "__main__":
    for row in run():
        print(f"{row['figure']}: {row['value']}  (lecture: {row['lecture']})")
