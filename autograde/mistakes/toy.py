"""Named mistakes of the toy assignment (grader only)."""

import torch

from autograde.mistakes import Mistake


def _softmax_dim0(objects: dict) -> dict:
    return {"softmax": lambda x: torch.softmax(x, dim=0)}


def _softmax_unstable(objects: dict) -> dict:
    return {"softmax": lambda x: x.exp() / x.exp().sum(dim=-1, keepdim=True)}


def _alpha_not_over_r(objects: dict) -> dict:
    return {"scaled_sum": lambda x, alpha, r: alpha * x.sum(dim=-1)}


MISTAKES = {
    "softmax": [
        Mistake("softmax over dim 0", "you normalised over the first dimension, not the last", _softmax_dim0),
        Mistake("no max-subtraction", "exp overflows for large logits: subtract the max first",
                _softmax_unstable),
    ],
    "scaled_sum": [
        Mistake("alpha instead of alpha/r", "your sum is scaled by alpha, not by alpha / r",
                _alpha_not_over_r),
    ],
}

WRONG_SUBMISSION = ("softmax", "z = x - x.max(dim=-1, keepdim=True).values", "z = x")
