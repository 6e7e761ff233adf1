"""Named mistakes of the adapters notebook (grader only): wrong variants of the reference objects.

The names follow the course's list of adapter mistakes. Each variant subclasses the reference
Adapter (extracted from solutions/adapters/adapters.ipynb) or rewrites add_adapters, and breaks
one thing.
"""

import types

import torch
from torch import nn

from autograde.spec import Mistake

# the grader's 'partly wrong' sample: the adapter forgets its internal skip connection
WRONG_SUBMISSION = ("adapter", "return h + self.W_up(z)", "return self.W_up(z)")


def _variant(objects, patch):
    ref = objects["Adapter"]
    return dict(objects, Adapter=type("WrongAdapter", (ref,), patch))


# The add_adapters variants call Adapter by its name, like a student's add_adapters: the
# add_adapters case puts its stand-in under that name in the function's module while it runs.
Adapter = None


def _no_skip(objects):
    def forward(self, h):
        return self.W_up(self.f(self.W_down(h)))
    return _variant(objects, {"forward": forward})


def _no_nonlinearity(objects):
    def forward(self, h):
        return h + self.W_up(self.W_down(h))
    return _variant(objects, {"forward": forward})


def _default_init(objects):
    def __init__(self, d, reduction=16):
        objects["Adapter"].__init__(self, d, reduction)
        self.W_down.reset_parameters()
        self.W_up.reset_parameters()
    return _variant(objects, {"__init__": __init__})


def _zero_init(objects):
    def __init__(self, d, reduction=16):
        objects["Adapter"].__init__(self, d, reduction)
        with torch.no_grad():
            self.W_down.weight.zero_()
            self.W_up.weight.zero_()
    return _variant(objects, {"__init__": __init__})


def _insert(model, reduction):
    """Two adapters in every block, where the reference puts them."""
    d = model.config.d_model
    for block in model.blocks:
        block.after_attn = Adapter(d, reduction)
        block.after_ffn = Adapter(d, reduction)


def _frozen(when):
    def add_adapters(model, reduction=16):
        if when == "before":
            for p in model.parameters():
                p.requires_grad = False
        _insert(model, reduction)
        if when == "after":                           # freezes the new adapters too
            for p in model.parameters():
                p.requires_grad = False
        return model
    return lambda objects: dict(objects, add_adapters=add_adapters)


def _after_residual(objects):
    """The adapters see the residual stream x + sublayer(x) instead of the sub-layer's output."""

    def forward(self, x, attn_mask=None):
        x = self.after_attn(x + self.attn(self.ln_1(x), attn_mask))
        return self.after_ffn(x + self.ffn(self.ln_2(x)))

    def add_adapters(model, reduction=16):
        for p in model.parameters():
            p.requires_grad = False
        _insert(model, reduction)
        for block in model.blocks:
            block.forward = types.MethodType(forward, block)
        return model
    return dict(objects, add_adapters=add_adapters)


def _after_layernorm(objects):
    """The adapters sit after the LayerNorm, on the sub-layer's input."""

    def add_adapters(model, reduction=16):
        for p in model.parameters():
            p.requires_grad = False
        d = model.config.d_model
        for block in model.blocks:
            block.ln_1 = nn.Sequential(block.ln_1, Adapter(d, reduction))
            block.ln_2 = nn.Sequential(block.ln_2, Adapter(d, reduction))
        return model
    return dict(objects, add_adapters=add_adapters)


def _count_no_bias(objects):
    return dict(objects, adapter_parameter_count=lambda d, m, n, per_layer=2: n * per_layer * 2 * d * m)


def _count_one_per_layer(objects):
    return dict(objects, adapter_parameter_count=lambda d, m, n, per_layer=2: n * (2 * d * m + d + m))


def _state_everything(objects):
    return dict(objects, task_state=lambda model: {n: p.detach().clone()
                                                   for n, p in model.named_parameters()})


def _state_not_copied(objects):
    return dict(objects, task_state=lambda model: {n: p for n, p in model.named_parameters()
                                                   if p.requires_grad})


def _load_non_strict(objects):
    def load_task_state(model, state):
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in state.items():
                if name in params:
                    params[name].copy_(value)
    return dict(objects, load_task_state=load_task_state)


NO_SKIP = Mistake("missing internal skip", "your adapter has no internal skip connection: return "
                  "h + W_up f(W_down h + b_down) + b_up", _no_skip)
MISTAKES = {
    "init": [
        Mistake("default nn.Linear init", "use Houlsby's near-identity init (truncated normal, "
                "std 1e-2; zero biases), not nn.Linear's default", _default_init),
        Mistake("all-zero weights", "draw small random weights (std 1e-2); with W_down and W_up "
                "both zero no gradient reaches either", _zero_init),
        NO_SKIP,
    ],
    "forward": [
        NO_SKIP,
        Mistake("no nonlinearity", "apply f = ReLU between W_down and W_up", _no_nonlinearity),
    ],
    "add_adapters": [
        Mistake("base not frozen", "the pre-trained parameters still train: freeze every "
                "parameter of the model", _frozen("never")),
        Mistake("frozen after inserting", "nothing trains: freezing every parameter after "
                "inserting the adapters freezes them too; freeze first, then insert",
                _frozen("after")),
        Mistake("after the residual add", "insert the adapter on the sub-layer's output, before "
                "the residual add (block.after_attn / block.after_ffn)", _after_residual),
        Mistake("after LayerNorm", "the adapter goes on the sub-layer's output, not after the "
                "LayerNorm on its input", _after_layernorm),
    ],
    "task_state": [
        Mistake("frozen parameters stored", "store only the trainable parameters",
                _state_everything),
        Mistake("state not copied", "store copies (.detach().clone()) of the parameters",
                _state_not_copied),
        Mistake("unknown names ignored", "raise a KeyError for a name the model does not have",
                _load_non_strict),
    ],
    "count": [
        Mistake("biases not counted", "count b_down (m) and b_up (d) too: 2dm + d + m",
                _count_no_bias),
        Mistake("one adapter per layer", "Houlsby puts two adapters in each layer (per_layer)",
                _count_one_per_layer),
    ],
}

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
EXPECTED_WRONG = {
    "test_adapter_init": (0, "close to the identity"),
    "test_adapter_forward": (0, "internal skip connection is missing"),
}
