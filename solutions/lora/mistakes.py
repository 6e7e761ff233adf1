"""Named mistakes of the LoRA notebook (grader only): wrong variants of the reference objects.

The names follow shared/REFERENCE.md's list for LoRA. Each variant subclasses the reference
LoRALinear (extracted from solutions/lora.ipynb) and breaks one thing.
"""

import torch
from torch import nn

from autograde.verdict import Mistake


def _variant(objects, patch):
    ref = objects["LoRALinear"]
    wrong = type("WrongLoRALinear", (ref,), patch)
    out = dict(objects, LoRALinear=wrong)
    if "add_lora" in objects:            # keep add_lora building the wrong layer
        add = objects["add_lora"]
        def add_lora(model, r, alpha, dropout=0.0):
            g = add.__globals__
            saved, g["LoRALinear"] = g.get("LoRALinear"), wrong
            try:
                return add(model, r, alpha, dropout)
            finally:
                g["LoRALinear"] = saved
        out["add_lora"] = add_lora
    return out


def _alpha_not_over_r(objects):
    def __init__(self, base, r, alpha, dropout=0.0):
        objects["LoRALinear"].__init__(self, base, r, alpha, dropout)
        self.scaling = alpha
    return _variant(objects, {"__init__": __init__})


def _no_scaling(objects):
    def __init__(self, base, r, alpha, dropout=0.0):
        objects["LoRALinear"].__init__(self, base, r, alpha, dropout)
        self.scaling = 1.0
    return _variant(objects, {"__init__": __init__})


def _b_random_a_zero(objects):
    def __init__(self, base, r, alpha, dropout=0.0):
        objects["LoRALinear"].__init__(self, base, r, alpha, dropout)
        with torch.no_grad():
            self.A.zero_()
            nn.init.kaiming_uniform_(self.B)
    return _variant(objects, {"__init__": __init__})


def _base_trainable(objects):
    def __init__(self, base, r, alpha, dropout=0.0):
        objects["LoRALinear"].__init__(self, base, r, alpha, dropout)
        for p in self.base.parameters():
            p.requires_grad = True
    return _variant(objects, {"__init__": __init__})


def _dropout_on_base(objects):
    def forward(self, x):
        return objects["LoRALinear"].forward(self, self.dropout(x))
    return _variant(objects, {"forward": forward})


def _merge_twice(objects):
    @torch.no_grad()
    def merge(self):
        self.base.weight += self.get_delta_weight()
        self.merged = True
    return _variant(objects, {"merge": merge})


def _merged_forward_adds_branch(objects):
    def forward(self, x):
        return self.base(x) + (self.dropout(x) @ self.A.T @ self.B.T) * self.scaling
    return _variant(objects, {"forward": forward})


def _all_linear(objects):
    ref = objects["LoRALinear"]
    def add_lora(model, r, alpha, dropout=0.0):
        for p in model.parameters():
            p.requires_grad = False
        for block in model.blocks:
            for name in ("W_q", "W_k", "W_v", "W_o"):
                setattr(block.attn, name, ref(getattr(block.attn, name), r, alpha, dropout))
        return model
    return dict(objects, add_lora=add_lora)


def _not_frozen(objects):
    ref = objects["LoRALinear"]
    def add_lora(model, r, alpha, dropout=0.0):
        for block in model.blocks:
            block.attn.W_q = ref(block.attn.W_q, r, alpha, dropout)
            block.attn.W_v = ref(block.attn.W_v, r, alpha, dropout)
        return model
    return dict(objects, add_lora=add_lora)


def _count_a_only(objects):
    return dict(objects, lora_parameter_count=lambda d, k, r, m, n: n * m * r * k)


def _count_full(objects):
    return dict(objects, lora_parameter_count=lambda d, k, r, m, n: n * m * d * k)


SCALE = Mistake("alpha instead of alpha/r", "your update is scaled by alpha, not alpha / r",
                _alpha_not_over_r)
NO_SCALE = Mistake("no scaling", "your update is not scaled by alpha / r", _no_scaling)
MISTAKES = {
    "forward": [
        SCALE, NO_SCALE,
        Mistake("B random and A zero", "initialise B to zero and A randomly, not the reverse",
                _b_random_a_zero),
        Mistake("base weight left trainable", "freeze the base layer: only A and B train",
                _base_trainable),
        Mistake("dropout on the base path", "apply dropout to the LoRA branch's input only, "
                "never to W_0 x", _dropout_on_base),
    ],
    "merge": [
        SCALE, NO_SCALE,
        Mistake("merging twice", "merge() must be idempotent: keep a `merged` flag",
                _merge_twice),
        Mistake("branch added after merge", "once merged, forward must be just base(x)",
                _merged_forward_adds_branch),
    ],
    "add_lora": [
        Mistake("all four projections", "the paper adapts W_q and W_v only", _all_linear),
        Mistake("pre-trained weights not frozen", "freeze every parameter of the model before "
                "injecting LoRA", _not_frozen),
    ],
    "count": [
        Mistake("A only", "count both A (r x k) and B (d x r)", _count_a_only),
        Mistake("full matrix", "LoRA trains r (d + k) numbers per matrix, not d k", _count_full),
    ],
}

# The demo's "partly wrong" student: alpha instead of alpha / r.
WRONG_SUBMISSION = ("lora_linear", "self.scaling = alpha / r", "self.scaling = alpha")

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
EXPECTED_WRONG = {
    "test_lora_linear": (0.75, "scaled by alpha, not alpha/r"),
    "test_lora_merge": (0, "looks like a known mistake: your update is scaled by alpha"),
    "test_add_lora": (0, "differs from the reference"),
}
