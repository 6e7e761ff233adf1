"""PEFT comparison (solutions/peft_comparison/peft_comparison.ipynb): accuracy, trainable parameters, step time.

Full fine-tuning, BitFit, adapters and LoRA (and prompt/prefix tuning when the prompt_tuning
notebook is there) on the topic task, trained as in the notebook (2 epochs on a
balanced 640-sentence subset, test accuracy over seeds 0, 1, 2). The implementations are the
reference solutions, extracted from the solutions notebooks with autograde.verdict.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import nbformat

from autograde.verdict import reference_namespace
from course_lib import measure
from course_lib.datasets import TOPICS, few_shot, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import set_seed
from course_lib.training import evaluate, train_classifier

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"
SEEDS, EPOCHS = (0, 1, 2), 2


def _reference(name: str) -> dict | None:
    path = SOLUTIONS / name / f"{name}.ipynb"
    return reference_namespace(nbformat.read(path, as_version=4)) if path.exists() else None


def methods() -> dict:
    ada, lora = _reference("adapters"), _reference("lora")
    bitfit = _reference("peft_comparison")["apply_bitfit"]
    cls = lambda enc: CLSClassifier(enc, num_labels=len(TOPICS))
    out = {"Full fine-tuning": (lambda: cls(load_encoder()), None, 1e-3),
           "BitFit": (lambda: bitfit(cls(load_encoder())), None, 1e-2),
           "Adapter (m = 4)": (lambda: cls(ada["add_adapters"](load_encoder(), 16)), None, 5e-3),
           "LoRA r = 8": (lambda: cls(lora["add_lora"](load_encoder(), r=8, alpha=16)), None, 5e-3)}
    pt = _reference("prompt_tuning")              # [MASK] + verbalizer, as in Part 1b
    if pt is not None:
        tok = load_tokenizer()
        label_ids = [tok.token_id(w) for w in pt["LABEL_WORDS"]]
        init_ids = tok.encode("please read this sentence : what is the topic ?", add_cls=False)

        def soft(n=8):
            enc = load_encoder()
            return pt["SoftPromptMLM"](enc, pt["SoftPrompt"](enc.embed.tok, n, "text", init_ids),
                                       label_ids)

        def prefix(n=8):
            enc = load_encoder()
            c = enc.config
            return pt["PrefixTuningMLM"](enc, pt["PrefixEncoder"](n, c.n_layers, c.d_model,
                                                                  c.n_heads), label_ids)
        pattern = lambda x: f"{x} [MASK]"
        out["Prompt tuning (n = 8)"] = (soft, pattern, 3e-2)
        out["Prefix tuning (n = 8)"] = (prefix, pattern, 1e-2)
    return out


def run() -> list[dict]:
    tok = load_tokenizer()
    subset, test = few_shot(load_topic("train"), per_class=160, seed=0), load_topic("test")
    results = {}
    for name, (build, template, lr) in methods().items():
        accs, steps = [], []
        for seed in SEEDS:
            set_seed(seed)
            model = build()
            r = train_classifier(model, tok, subset, epochs=EPOCHS, lr=lr, seed=seed,
                                 template=template, progress=False)
            steps.append(r["seconds"] / len(r["losses"]))
            accs.append(evaluate(model, tok, test, template=template))
        results[name] = (statistics.mean(accs), statistics.stdev(accs),
                         measure.count_parameters(model, trainable_only=True),
                         statistics.median(steps))
    full_acc, _, full_n, full_step = results["Full fine-tuning"]
    lecture = {"Full fine-tuning": "RoBERTa-base FT: 125.0M, avg 86.4",
               "BitFit": "BitFit: 0.1M, avg 85.2", "Adapter (m = 4)": "Adpt^D: 0.3M, avg 84.4",
               "LoRA r = 8": "LoRA: 0.3M, avg 87.2",
               "Prompt tuning (n = 8)": "PT far below FT at small scale (BoolQ 67.2 vs 77.7)",
               "Prefix tuning (n = 8)": "PT-2 close to FT (BoolQ 75.8 vs 77.7)"}
    rows = []
    for name, (mean, std, n, step) in results.items():
        rows.append({"figure": f"{name}: test accuracy (3 seeds), trainable parameters",
                     "value": f"{100 * mean:.1f} ± {100 * std:.1f}; {n:,} ({n / full_n:.2%} of "
                              f"full)", "lecture": lecture.get(name, "PT vs PT-2 table")})
        rows.append({"figure": f"{name}: time per training step vs full fine-tuning",
                     "value": f"{step / full_step:.2f}x", "lecture": "PEFT: faster training"})
    return rows
