"""Quantization (solutions/quantization/quantization.ipynb): storage ratios and accuracy deltas of the fine-tuned
encoder with its linear weights at FP16 / INT8 / INT4, per-tensor and per-channel (weight-only).

The quantizer is the notebook's reference (autograde.verdict.reference_namespace); one fine-tuning
run, every ratio from this one process.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import torch
import torch.nn as nn

from autograde.verdict import reference_namespace
from course_lib import measure
from course_lib.datasets import TOPICS, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import set_seed
from course_lib.training import evaluate, train_classifier

SOURCE = Path(__file__).resolve().parent.parent / "solutions" / "quantization" / "quantization.ipynb"


def _linears(model):
    return [m for m in list(model.encoder.blocks.modules()) + [model.head]
            if isinstance(m, nn.Linear)]


def run() -> list[dict]:
    ref = reference_namespace(nbformat.read(SOURCE, as_version=4))
    fake_quantize = ref["fake_quantize"]
    set_seed(0)
    tok = load_tokenizer()
    train, test = load_topic("train"), load_topic("test")
    model = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
    train_classifier(model, tok, train, epochs=3, lr=1e-3, seed=0, progress=False)
    fp32_acc = evaluate(model, tok, test)
    n_lin = sum(m.weight.numel() for m in _linears(model))
    total = measure.model_size_bytes(model)
    rows = [{"figure": "quantization: fine-tuned encoder fp32 test accuracy",
             "value": f"{fp32_acc:.1%}", "lecture": "Llama-3.1-8B FP16 average 69.23"}]
    lecture = {16: "FP8 8/8: 16 GB -> 8 GB, avg +0.13 (8B)",
               8: "GPTQ 8/16: 8 GB, avg +0.19 (8B); SmoothQuant 8/8: +0.13",
               4: "GPTQ/AWQ 4/16: 16 GB -> 4 GB, avg -1.26 / -1.81 (8B), -0.25 / -0.06 (70B)"}
    for bits in (16, 8, 4):
        for per_channel in ((False,) if bits == 16 else (False, True)):
            q = copy.deepcopy(model)
            with torch.no_grad():
                for m in _linears(q):
                    m.weight.copy_(m.weight.half().float() if bits == 16
                                   else fake_quantize(m.weight, bits, per_channel))
            acc = evaluate(q, tok, test)
            n_scales = 0 if bits == 16 else sum(m.weight.shape[0] if per_channel else 1
                                                for m in _linears(model))
            size = total - 4 * n_lin + n_lin * bits / 8 + 4 * n_scales
            name = f"INT{bits} {'per-channel' if per_channel else 'per-tensor'}" if bits < 16 \
                else "FP16"
            rows.append({"figure": f"quantization: {name} linear weights, size ratio (linear "
                                   f"weights / whole model)",
                         "value": f"{bits / 32:.3f} / {size / total:.2f}",
                         "lecture": lecture[bits]})
            rows.append({"figure": f"quantization: {name} accuracy change vs fp32",
                         "value": f"{100 * (acc - fp32_acc):+.1f} points ({acc:.1%})",
                         "lecture": lecture[bits]})
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
