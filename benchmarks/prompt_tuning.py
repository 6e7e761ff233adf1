"""Prompt tuning (solutions/prompt_tuning/prompt_tuning.py): hard prompts, soft prompt, prefix, fine-tuning.

    python benchmarks/prompt_tuning.py

Trainable parameters and test accuracy on the topic task, one process, one seed: the best and
the worst hand-written prompt (zero-shot, chosen on dev), soft prompt tuning (input only, n = 8),
P-tuning (MLP prompt), prefix tuning (every layer, n = 8) and full fine-tuning of the [CLS]
classifier. The reference implementations come from the solutions notebook.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from autograde.verdict import reference_namespace  # noqa: E402
from course_lib import measure  # noqa: E402
from course_lib.datasets import TOPICS, load_topic  # noqa: E402
from course_lib.model import CLSClassifier  # noqa: E402
from course_lib.pretrained import load_encoder, load_tokenizer  # noqa: E402
from course_lib.runtime import set_seed  # noqa: E402
from course_lib.training import evaluate, train_classifier  # noqa: E402

HARD_PROMPTS = ["please read this sentence : {x} what is the topic ? [MASK]",
                "{x} what is the topic ? [MASK] .", "{x} is related to [MASK]", "{x} [MASK]",
                "{x} this is about [MASK] .", "{x} the topic is [MASK] .", "[MASK] : {x}"]
PATTERN, N, EPOCHS = "{x} [MASK]", 8, 2
LR_PROMPT, LR_PREFIX = 3e-2, 3e-2
INIT_TEXT = "please read this sentence : what is the topic ?"


def _template(pattern):
    return lambda x: pattern.replace("{x}", x)


def run() -> list[dict]:
    ref = reference_namespace(nbformat.read(ROOT / "solutions" / "prompt_tuning" / "prompt_tuning.ipynb",
                                            as_version=4))
    tok = load_tokenizer()
    train, dev, test = load_topic("train"), load_topic("dev"), load_topic("test")
    label_ids = [tok.token_id(w) for w in ref["LABEL_WORDS"]]
    tpl = _template(PATTERN)
    hard = ref["HardPromptMLM"](load_encoder(), label_ids)
    zero_shot = {p: (evaluate(hard, tok, dev, template=_template(p)),
                     evaluate(hard, tok, test, template=_template(p))) for p in HARD_PROMPTS}
    best = max(zero_shot, key=lambda p: zero_shot[p][0])
    worst = min(zero_shot, key=lambda p: zero_shot[p][0])

    def trained(model, lr, template=tpl, epochs=EPOCHS):
        train_classifier(model, tok, train, epochs=epochs, lr=lr, template=template, seed=0,
                         progress=False)
        return (measure.count_parameters(model, trainable_only=True),
                evaluate(model, tok, test, template=template))

    init_ids = tok.encode(INIT_TEXT, add_cls=False)
    set_seed(0)
    enc = load_encoder()
    soft = trained(ref["SoftPromptMLM"](enc, ref["SoftPrompt"](enc.embed.tok, N, "text", init_ids),
                                        label_ids), LR_PROMPT)
    set_seed(0)
    enc = load_encoder()
    ptune = trained(ref["SoftPromptMLM"](enc, ref["PTuningPrompt"](enc.embed.tok, N, 64, "text",
                                                                  init_ids), label_ids),
                    LR_PROMPT / 10)
    set_seed(0)
    enc = load_encoder()
    c = enc.config
    prefix = trained(ref["PrefixTuningMLM"](enc, ref["PrefixEncoder"](N, c.n_layers, c.d_model,
                                                                    c.n_heads), label_ids),
                     LR_PREFIX)
    set_seed(0)
    full = trained(CLSClassifier(load_encoder(), num_labels=len(TOPICS)), 1e-3, template=None,
                   epochs=3)

    def fig(name, result, lecture):
        n, acc = result
        return {"figure": f"{name}: test accuracy, trainable parameters",
                "value": f"{acc:.1%}, {n:,}", "lecture": lecture}

    return [
        {"figure": f"hard prompt, best on dev ({best!r}): zero-shot test accuracy",
         "value": f"{zero_shot[best][1]:.1%}",
         "lecture": "best hand-written prompt 70.15 dev (RTE-like table)"},
        {"figure": f"hard prompt, worst on dev ({worst!r}): zero-shot test accuracy",
         "value": f"{zero_shot[worst][1]:.1%}",
         "lecture": "worst hand-written prompt 51.38 dev"},
        fig(f"soft prompt tuning (n={N}, input only)", soft, "P-tuning 76.45 dev, above every "
            "hand-written prompt"),
        fig(f"P-tuning (n={N}, MLP prompt)", ptune, "P-tuning 76.45 dev"),
        fig(f"prefix tuning / P-tuning v2 (n={N}, every layer)", prefix,
            "PT-2 close to FT (BERT-large RTE 78.3 vs FT 70.4, PT 53.5)"),
        fig("full fine-tuning ([CLS])", full, "FT: all 335M parameters of BERT-large"),
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['figure']}: {row['value']}  (lecture: {row['lecture']})")
