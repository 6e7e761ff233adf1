"""Pruning (solutions/pruning/pruning.ipynb): accuracy against sparsity, layer dropping, honest speed.

The reference implementation comes from the solutions notebook (autograde.verdict.reference_namespace);
everything else is course_lib. One fine-tuned [CLS] classifier is pruned without retraining; the
latency ratios (50% unstructured zeros vs 50% of FFN neurons removed) come from one run.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import torch

from autograde.verdict import reference_namespace
from course_lib import measure
from course_lib.datasets import TOPICS, load_topic
from course_lib.model import CLSClassifier, FeedForward, TransformerConfig
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import set_seed
from course_lib.training import evaluate, make_batches, train_classifier

ROOT = Path(__file__).resolve().parent.parent
SPARSITIES = [0.5, 0.7, 0.9]


def _linears(model):
    return [lin for b in model.encoder.blocks
            for lin in (b.attn.W_q, b.attn.W_k, b.attn.W_v, b.attn.W_o, b.ffn.W_1, b.ffn.W_2)]


def _ffn_speed(ref, d, d_ff, tokens, repeats):
    set_seed(0)
    dense = FeedForward(TransformerConfig(d_model=d, d_ff=d_ff, dropout=0.0)).eval()
    zeros = copy.deepcopy(dense)
    with torch.no_grad():
        for lin in (zeros.W_1, zeros.W_2):
            lin.weight.mul_(ref["magnitude_mask"](lin.weight, 0.5))
    removed = ref["remove_neurons"](copy.deepcopy(dense), 0.5)
    x = torch.randn(1, tokens, d)
    with torch.no_grad():
        t = {name: measure.latency(lambda m=m: m(x), repeats=repeats)
             for name, m in (("dense", dense), ("zeros", zeros), ("removed", removed))}
    return t["dense"] / t["zeros"], t["dense"] / t["removed"]


def run() -> list[dict]:
    ref = reference_namespace(nbformat.read(ROOT / "solutions" / "pruning" / "pruning.ipynb", as_version=4))
    set_seed(0)
    tok = load_tokenizer()
    train, dev, test = load_topic("train"), load_topic("dev"), load_topic("test")
    base = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
    train_classifier(base, tok, train, epochs=3, lr=1e-3, seed=0, progress=False)
    base_acc = evaluate(base, tok, test)
    rows = [{"figure": "fine-tuned [CLS] classifier, test accuracy", "value": f"{base_acc:.1%}",
             "lecture": "pruning keeps performance with fewer weights"}]

    for p in SPARSITIES:
        accs = {}
        for how in ("per layer", "global"):
            model = copy.deepcopy(base)
            lins = _linears(model)
            masks = ([ref["magnitude_mask"](lin.weight, p) for lin in lins] if how == "per layer"
                     else ref["global_magnitude_masks"]([lin.weight for lin in lins], p))
            with torch.no_grad():
                for lin, m in zip(lins, masks):
                    lin.weight.mul_(m)
            accs[how] = evaluate(model, tok, test)
        rows.append({"figure": f"{p:.0%} of linear weights pruned (per layer / global), no "
                               f"retraining", "value": f"{accs['per layer']:.1%} / "
                                                       f"{accs['global']:.1%}",
                     "lecture": "magnitude pruning keeps accuracy up to high sparsity"})
    for p in (0.5, 0.9):
        model = copy.deepcopy(base)
        for b in model.encoder.blocks:
            ref["remove_neurons"](b.ffn, p)
        rows.append({"figure": f"{p:.0%} of FFN neurons removed ({2 * p / 3:.0%} of linear "
                               f"weights), no retraining",
                     "value": f"{evaluate(model, tok, test):.1%}",
                     "lecture": "structured pruning costs more accuracy per removed weight"})

    importance = ref["head_importance"](base, list(make_batches(tok, dev, batch_size=100)))
    for n in (4, 8):
        model = copy.deepcopy(base)
        ref["prune_heads"](model.encoder, importance, n)
        rows.append({"figure": f"{n} of 16 heads gated off (least important first)",
                     "value": f"{evaluate(model, tok, test):.1%}",
                     "lecture": "Michel et al. 2019: many heads can be removed"})

    L = len(base.encoder.blocks)
    for n in range(1, L):
        model = copy.deepcopy(base)
        ref["drop_layers"](model.encoder, n)
        plain = evaluate(model, tok, test)
        train_classifier(model, tok, train, epochs=1, lr=1e-3, seed=0, progress=False)
        tuned = evaluate(model, tok, test)
        rows.append({"figure": f"drop top {n}/{L} layers: accuracy as is / after 1 epoch",
                     "value": f"{plain:.1%} / {tuned:.1%}",
                     "lecture": "BERT SST-2 92.43 -> 92.20 (2/12), 90.60 (4/12), 90.25 (6/12)"})

    for label, args in (("tiny FFN 64x256, 4096 tokens", (64, 256, 4096, 20)),
                        ("BERT-base FFN 768x3072, 256 tokens", (768, 3072, 256, 10))):
        zeros, removed = _ffn_speed(ref, *args)
        rows.append({"figure": f"{label}: speed-up of 50% zeros / 50% neurons removed",
                     "value": f"{zeros:.2f}x / {removed:.2f}x",
                     "lecture": "unstructured zeros do not speed up a dense matmul; structured "
                                "removal does"})
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['figure']}: {row['value']}   [{row['lecture']}]")
