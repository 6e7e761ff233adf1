"""Prompting (solutions/prompting/prompting.ipynb): zero-shot [MASK] classification, prompt
sensitivity, calibration, few-shot.

The figures are the notebook's own: it is executed top to bottom (benchmarks.notebooks.figures)
and its variables are read, so every claim below is measured by exactly what a student runs:
    zero-shot accuracy of the pre-trained MLM with the lecture's pattern and verbalizer;
    7 hand-written prompts: best, worst and spread (the lecture's P@1 table: 19.78 to 51.08);
    calibration of each prompt by a content-free input and by the dev-set mean;
    k labelled examples per topic: [CLS] fine-tuning vs prompt fine-tuning (PET), seed 0.
"""

from __future__ import annotations

from benchmarks.notebooks import figures

READ = """{
 "zero": zero_acc, "probe": probe_acc, "full": full_acc, "lecture": LECTURE_PROMPT,
 "prompts": {p: r["acc"] for p, r in prompt_results.items()},
 "calibrated": {p: list(c) for p, c in calibrated.items()},
 "few": {n: {str(k): a for k, a in acc.items()} for n, acc in few.items()}}"""
CHANCE = 0.25
WELL_ABOVE, TENS, FAR, CLOSE = 0.10, 0.10, 0.05, 0.02     # what the notebook's words mean


def claim(short, text, slide, holds):
    return {"id": f"prompting.{short}", "notebook": "prompting", "text": text, "slide": slide,
            "holds": bool(holds)}


def run() -> list[dict]:
    f, _ = figures("prompting", READ)
    pct = lambda a: f"{100 * a:.1f}%"
    prompts = f["prompts"]
    best, worst = max(prompts, key=prompts.get), min(prompts, key=prompts.get)
    spread = prompts[best] - prompts[worst]
    cal = f["calibrated"]
    raised = sum(c[2] > c[0] for c in cal.values())
    mean = lambda i: sum(c[i] for c in cal.values()) / len(cal)
    cls, pet = f["few"]["[CLS] fine-tuning"], f["few"]["prompt fine-tuning (PET)"]
    ahead = {k: pet[k] - cls[k] for k in cls}
    return [
        {"figure": f"zero-shot accuracy, pattern '{f['lecture']}'", "value": pct(f["zero"]),
         "lecture": "zero-shot predictions are possible (chance: 25%)",
         "claim": claim("zero_shot", "With zero labels the [MASK] classifier is well above "
                        "chance (at least 10 points above 25%).", "zero-shot predictions",
                        f["zero"] >= CHANCE + WELL_ABOVE)},
        {"figure": "[CLS] linear probe / full fine-tuning, 2,400 labels", "value":
         f"{pct(f['probe'])} / {pct(f['full'])}", "lecture": "[CLS] needs labelled examples"},
        {"figure": "best of 7 hand-written prompts", "value": f"{pct(prompts[best])} ('{best}')",
         "lecture": "[X] is located in which country? In [Y]. 51.08 P@1"},
        {"figure": "worst of 7 hand-written prompts", "value": f"{pct(prompts[worst])} ('{worst}')",
         "lecture": "[X] is located in which country or state? [Y]. 19.78 P@1"},
        {"figure": "prompt sensitivity spread (max - min)", "value": f"{100 * spread:.1f} points",
         "lecture": "31.3 points (19.78 to 51.08)",
         "claim": claim("sensitivity", "Wording alone moves the zero-shot accuracy by tens of "
                        "points (best minus worst of 7 prompts at least 10 points).",
                        "P@1 19.78 to 51.08", spread >= TENS)},
        {"figure": "calibration of 7 prompts: mean accuracy before / 'N/A' prior / dev-mean prior",
         "value": f"{pct(mean(0))} / {pct(mean(1))} / {pct(mean(2))}; the dev mean raises "
                  f"{raised} of {len(cal)}", "lecture": "(not on the slides: Zhao et al. 2021)",
         "claim": claim("calibration", "Dividing by the mean prediction over unlabelled dev "
                        "sentences raises the accuracy of every one of the seven prompts.", "-",
                        raised == len(cal))},
        {"figure": "few-shot, 4 / 16 / 64 / 600 per topic: [CLS] fine-tuning",
         "value": " / ".join(pct(cls[k]) for k in cls), "lecture": "needs more examples"},
        {"figure": "few-shot, 4 / 16 / 64 / 600 per topic: prompt fine-tuning (PET)",
         "value": " / ".join(pct(pet[k]) for k in pet),
         "lecture": "prompts require less training examples",
         "claim": claim("few_shot", "With 4 and 16 examples per topic prompt fine-tuning is far "
                        "ahead of [CLS] fine-tuning (at least 5 points).", "require less "
                        "training examples", min(ahead["4"], ahead["16"]) >= FAR)},
        {"figure": "few-shot, 64 per topic: PET minus [CLS]",
         "value": f"{100 * ahead['64']:+.1f} points", "lecture": "-",
         "claim": claim("gap_closes", "By 64 examples per topic the gap has closed: the two "
                        "are within 2 points.", "-", abs(ahead["64"]) <= CLOSE)},
        {"figure": "all 600 per topic: PET (1 epoch) minus [CLS] (2 epochs)",
         "value": f"{100 * ahead['600']:+.1f} points", "lecture": "-",
         "claim": claim("cls_at_600", "With all 600 examples per topic the [CLS] classifier, "
                        "trained two epochs to PET's one, ends ahead.", "-",
                        ahead["600"] < 0)},
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['figure']}: {row['value']}   [lecture: {row['lecture']}]")
