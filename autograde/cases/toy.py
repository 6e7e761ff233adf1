"""Hidden cases of the toy assignment (tests/fixtures/toy): seeded inputs, calls, no answers."""

import torch
from torch import nn

from course_lib.grading import Case


def _randn(seed: int, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def _softmax(objects: dict, seed: int) -> dict:
    scale = [1.0, 10.0, 100.0][seed % 3]          # seed 2: large logits need max-subtraction
    return {"y": objects["softmax"](_randn(seed, 4, 7, scale=scale))}


def _scaled_sum(objects: dict, seed: int) -> dict:
    alpha, r = [(16, 8), (8, 4), (1, 2)][seed % 3]
    return {"y": objects["scaled_sum"](_randn(seed, 5, 3), alpha, r)}


def _scaled_linear(objects: dict, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return objects["ScaledLinear"](nn.Linear(6, 4))


def _scaled_linear_forward(objects: dict, seed: int) -> dict:
    layer = _scaled_linear(objects, seed)
    with torch.no_grad():
        for p in layer.parameters():
            if p.ndim == 0:
                p.fill_(0.5 + seed)                 # the scale s, wherever the student keeps it
    return {"y": layer(_randn(seed + 100, 3, 6))}


def _scaled_linear_trainable(objects: dict, seed: int) -> dict:
    layer = _scaled_linear(objects, seed)
    return {"trainable": sum(p.numel() for p in layer.parameters() if p.requires_grad)}


CASES = {
    "softmax": Case(_softmax, seeds=(0, 1, 2),
                    hints={"y": "softmax over the last dimension, stable for large logits"}),
    "scaled_sum": Case(_scaled_sum, seeds=(0, 1, 2),
                       hints={"y": "scale the sum by alpha / r"}),
    "scaled_linear_forward": Case(_scaled_linear_forward, seeds=(0, 1, 2),
                                  hints={"y": "y = s * (W x + b)"}),
    "scaled_linear_trainable": Case(_scaled_linear_trainable, seeds=(0,),
                                    hints={"trainable": "only the scale s trains: freeze W and b"}),
}
