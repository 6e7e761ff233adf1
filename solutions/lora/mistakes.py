"""Named mistakes of the LoRA notebook (grader only): wrong variants of the reference objects.

The names follow the course's list of LoRA mistakes. Each LoRALinear variant subclasses the
reference LoRALinear (extracted from solutions/lora/lora.ipynb) and breaks one thing; each
add_lora variant is written out and breaks one thing.
"""

import torch
from torch import nn

from autograde.spec import Mistake


def _variant(objects, patch):
    ref = objects["LoRALinear"]
    return dict(objects, LoRALinear=type("WrongLoRALinear", (ref,), patch))


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


# The add_lora variants call LoRALinear by its name, like a student's add_lora: the add_lora case
# puts its stand-in under that name in the function's module (here, this one) while it runs.
LoRALinear = None


def _add_lora_variant(names=("W_q", "W_v"), freeze="before"):
    def add_lora(model, r, alpha, dropout=0.0):
        if freeze == "before":
            for p in model.parameters():
                p.requires_grad = False
        for block in model.blocks:
            for name in names:
                setattr(block.attn, name, LoRALinear(getattr(block.attn, name), r, alpha, dropout))
        if freeze == "after":                       # freezes the new LoRA parameters too
            for p in model.parameters():
                p.requires_grad = False
        return model
    return lambda objects: dict(objects, add_lora=add_lora)


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
        Mistake("all four projections", "the paper adapts W_q and W_v only",
                _add_lora_variant(names=("W_q", "W_k", "W_v", "W_o"))),
        Mistake("pre-trained weights not frozen", "the pre-trained parameters still train: "
                "freeze every parameter of the model", _add_lora_variant(freeze="never")),
        Mistake("frozen after wrapping", "nothing trains: freezing every parameter after "
                "wrapping freezes the LoRA matrices too; freeze first, then wrap",
                _add_lora_variant(freeze="after")),
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
}
