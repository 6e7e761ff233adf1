"""Prompting (solutions/prompting/prompting.py): zero-shot [MASK] classification, prompt sensitivity,
few-shot.

The reference PromptClassifier is extracted from the solutions notebook (autograde.verdict.
reference_namespace); everything else comes from course_lib. All numbers come from this one run:
    zero-shot accuracy of the pre-trained MLM with the lecture's pattern and verbalizer;
    accuracy of 7 hand-written prompts, best, worst and spread (the lecture's P@1 table: 19.78 to
    51.08 for rewordings of one LAMA prompt);
    16 labelled examples per topic: [CLS] fine-tuning vs prompt fine-tuning (PET), mean of 3 draws.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import nbformat
import torch

from autograde.verdict import reference_namespace
from course_lib.datasets import TOPICS, few_shot, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import set_seed
from course_lib.training import evaluate, train_classifier

ROOT = Path(__file__).resolve().parent.parent
LECTURE_PROMPT = "[X] What is the topic? [MASK]"
PROMPTS = ["[X] is related to [MASK]", LECTURE_PROMPT,
           "Please read this sentence: [X] What is the topic? [MASK]", "[X] The topic is [MASK].",
           "[X] This is about [MASK].", "[MASK]: [X]", "[X] [MASK]"]
SHOTS, SEEDS, EPOCHS, LR_CLS, LR_PROMPT = 16, (0, 1, 2), 10, 1e-3, 1e-4   # as in the notebook


def pattern(prompt):
    return lambda x: prompt.replace("[X]", x.rstrip("."))


def run() -> list[dict]:
    ref = reference_namespace(nbformat.read(ROOT / "solutions" / "prompting" / "prompting.ipynb", as_version=4))
    PromptClassifier = ref["PromptClassifier"]
    tok = load_tokenizer()
    train, test = load_topic("train"), load_topic("test")
    label_ids = torch.tensor([tok.token_id(c.lower()) for c in TOPICS])

    zero = PromptClassifier(load_encoder(), tok.mask_id, label_ids)
    accs = {p: evaluate(zero, tok, test, template=pattern(p)) for p in PROMPTS}
    best, worst = max(accs, key=accs.get), min(accs, key=accs.get)

    cls_accs, pet_accs = [], []
    P = pattern(LECTURE_PROMPT)
    for seed in SEEDS:
        subset = few_shot(train, SHOTS, seed=seed)
        set_seed(seed)
        model = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
        train_classifier(model, tok, subset, epochs=EPOCHS, lr=LR_CLS, batch_size=16, seed=seed,
                         progress=False)
        cls_accs.append(evaluate(model, tok, test))
        pet = PromptClassifier(load_encoder(), tok.mask_id, label_ids)
        train_classifier(pet, tok, subset, epochs=EPOCHS, lr=LR_PROMPT, batch_size=16, template=P,
                         seed=seed, progress=False)
        pet_accs.append(evaluate(pet, tok, test, template=P))

    pct = lambda a: f"{100 * a:.1f}%"
    spread = lambda xs: f"{pct(statistics.mean(xs))} (min {pct(min(xs))}, max {pct(max(xs))})"
    return [
        {"figure": f"zero-shot accuracy, pattern '{LECTURE_PROMPT}'",
         "value": pct(accs[LECTURE_PROMPT]),
         "lecture": "zero-shot predictions are possible (chance: 25%)"},
        {"figure": "best of 7 hand-written prompts", "value": f"{pct(accs[best])} ('{best}')",
         "lecture": "[X] is located in which country? In [Y]. 51.08 P@1"},
        {"figure": "worst of 7 hand-written prompts", "value": f"{pct(accs[worst])} ('{worst}')",
         "lecture": "[X] is located in which country or state? [Y]. 19.78 P@1"},
        {"figure": "prompt sensitivity spread (max - min)",
         "value": f"{100 * (accs[best] - accs[worst]):.1f} points",
         "lecture": "31.3 points (19.78 to 51.08)"},
        {"figure": f"[CLS] fine-tuning, {SHOTS} examples per topic ({len(SEEDS)} draws)",
         "value": spread(cls_accs), "lecture": "needs more training examples"},
        {"figure": f"prompt fine-tuning (PET), {SHOTS} examples per topic ({len(SEEDS)} draws)",
         "value": spread(pet_accs), "lecture": "prompts require less training examples"},
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['figure']}: {row['value']}   [lecture: {row['lecture']}]")
