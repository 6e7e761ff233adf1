"""Mixture of experts: active fraction, throughput ratios, accuracy dense vs MoE, balance loss.

The reference MoE, gate and balance loss come from solutions/moe/moe.ipynb (reference_namespace); the
experiment mirrors the notebook: every FFN of the pre-trained encoder upcycled into N = 4 experts,
k = 1 (the lecture's weights p_i), 2 epochs on the topic task, with and without 0.1 * the Switch
balance loss. Throughput: one MoE layer against dense FFNs with the same active and the same total
parameters, timed interleaved in this one process.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import nbformat
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograde.verdict import reference_namespace
from course_lib import measure
from course_lib.datasets import TOPICS, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import set_seed
from course_lib.training import evaluate, make_batches, train_classifier

ROOT = Path(__file__).resolve().parent.parent
N, K, NOISE, COEF, EPOCHS, LR = 4, 1, 0.1, 0.1, 2, 1e-3


def _ref():
    return reference_namespace(nbformat.read(ROOT / "solutions" / "moe" / "moe.ipynb", as_version=4))


def _upcycled(ref) -> CLSClassifier:
    set_seed(0)
    enc = load_encoder()
    for block in enc.blocks:
        ffn, moe = block.ffn, ref["MoE"](64, block.ffn.W_1.out_features, N, K)
        for e in moe.experts:
            e.load_state_dict({n: t for n, t in ffn.state_dict().items() if n[:2] == "W_"})
            with torch.no_grad():
                for w in e.parameters():
                    w.add_(NOISE * w.std() * torch.randn_like(w))
        block.ffn = moe
    return CLSClassifier(enc, len(TOPICS))


def _layers(model, ref):
    return [m for m in model.modules() if isinstance(m, ref["MoE"])]


@torch.no_grad()
def _balance(model, ref, tok, test) -> list[float]:
    batch = next(make_batches(tok, test, batch_size=len(test)))
    model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    real = batch["attention_mask"].reshape(-1).bool()
    return [ref["switch_load_balancing_loss"](m.router_probs[real], m.expert_indices[real],
                                              m.N).item() for m in _layers(model, ref)]


def _throughput(ref, d, d_ff, n, k, tokens=1024, rounds=5):
    set_seed(0)
    x = torch.randn(1, tokens, d)
    models = {"moe": ref["MoE"](d, d_ff, n, k), "active": ref["Expert"](d, k * d_ff),
              "total": ref["Expert"](d, n * d_ff)}
    times = {name: [] for name in models}
    with torch.no_grad():
        for _ in range(rounds):
            for name, m in models.items():
                times[name].append(measure.latency(lambda: m(x), repeats=3, warmup=1))
    med = {name: statistics.median(t) for name, t in times.items()}
    return med["active"] / med["moe"], med["total"] / med["moe"]


def run() -> list[dict]:
    ref = _ref()
    tok, train, test = load_tokenizer(), load_topic("train"), load_topic("test")
    rows = []

    set_seed(0)
    dense = CLSClassifier(load_encoder(), len(TOPICS))
    train_classifier(dense, tok, train, epochs=EPOCHS, lr=LR, seed=0, progress=False)
    dense_acc = evaluate(dense, tok, test)

    results = {}
    for name, coef in [("MoE", 0.0), ("MoE + balance", COEF)]:
        model = _upcycled(ref)
        layers = _layers(model, ref)
        before = _balance(model, ref, tok, test)
        extra = None
        if coef:
            def extra(m, layers=layers):
                return coef * sum(ref["switch_load_balancing_loss"](l.router_probs,
                                  l.expert_indices, l.N) for l in layers) / len(layers)
        train_classifier(model, tok, train, epochs=EPOCHS, lr=LR, seed=0, extra_loss=extra,
                         progress=False)
        results[name] = (evaluate(model, tok, test), before, _balance(model, ref, tok, test),
                         model)

    model = results["MoE"][3]
    total = measure.count_parameters(model)
    idle = sum(measure.count_parameters(e) for m in _layers(model, ref)
               for e in list(m.experts)[m.k:])
    rows.append({"figure": "MoE encoder (N=4, k=1): active parameters per token / total",
                 "value": f"{(total - idle) / total:.0%} ({total - idle:,} of {total:,})",
                 "lecture": "only a subset of experts is activated per token (Mixtral: 13B of "
                            "47B)"})
    for d, d_ff, n, k in [(64, 256, 4, 1), (256, 1024, 8, 2)]:
        vs_active, vs_total = _throughput(ref, d, d_ff, n, k)
        rows.append({"figure": f"MoE layer d={d}, d_ff={d_ff}, N={n}, k={k}: throughput vs "
                               f"dense same active / same total",
                     "value": f"{vs_active:.2f}x / {vs_total:.2f}x",
                     "lecture": "compute grows with k, parameters with N"})
    rows.append({"figure": f"test accuracy, {EPOCHS} epochs: dense / MoE / MoE + balance",
                 "value": f"{dense_acc:.1%} / {results['MoE'][0]:.1%} / "
                          f"{results['MoE + balance'][0]:.1%}",
                 "lecture": "(no figure on the slides)"})
    for name, (_, before, after, _) in results.items():
        rows.append({"figure": f"{name}: balance loss per layer, at init -> after training "
                               f"(1 = balanced)",
                     "value": ", ".join(f"{b:.3f}->{a:.3f}" for b, a in zip(before, after)),
                     "lecture": "Switch: N sum_i f_i P_i = 1 when balanced"})
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['figure']}: {r['value']}   [{r['lecture']}]")
