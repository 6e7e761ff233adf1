"""Named mistakes of the pruning notebook (grader only): wrong variants of the reference objects.

The common mistakes of magnitude pruning (int() or ceil instead of round;
pruning the largest weights; wrong dim; per-tensor instead of global) plus a few the notebook's
exercises invite (already-pruned zeros counted again, signed gradients, bottom layers dropped).
Each variant is a small independent wrong implementation of the one function a case calls.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from autograde.spec import Mistake

# the partly wrong sample submission: (solution grade id, text in the reference, wrong text)
WRONG_SUBMISSION = ("n_to_prune", "return round(amount * n)", "return int(amount * n)")


def _count(rule):
    """n_to_prune with the fractional count rounded by `rule` (validation kept)."""
    def n_to_prune(amount, n):
        if isinstance(amount, int):
            if not 0 <= amount <= n:
                raise ValueError("count out of range")
            return amount
        if not isinstance(amount, float):
            raise TypeError("amount must be an int or a float")
        if not 0.0 <= amount <= 1.0:
            raise ValueError("fraction out of range")
        return int(rule(amount * n))
    return n_to_prune


ROUND = _count(round)
TRUNC = _count(int)
CEIL = _count(math.ceil)
HALF_UP = _count(lambda x: math.floor(x + 0.5))


def _no_validation(amount, n):
    return amount if isinstance(amount, int) else round(amount * n)


def _magnitude(count=ROUND, largest=False, signed=False, ignore_mask=False, of_all=False):
    """A magnitude_mask variant: a count rule, and optional wrong choices."""
    def magnitude_mask(weight, amount, mask=None):
        mask = torch.ones_like(weight) if mask is None or ignore_mask else mask.clone().float()
        flat = mask.reshape(-1)
        kept = flat == 1
        k = count(amount, flat.numel() if of_all else int(kept.sum()))
        k = min(k, int(kept.sum()))
        if k > 0:
            scores = weight.detach().reshape(-1).clone()
            scores = scores if signed else scores.abs()
            scores = -scores if largest else scores
            scores = scores.masked_fill(~kept, float("inf"))
            flat[torch.topk(scores, k, largest=False).indices] = 0
        return flat.reshape(weight.shape)
    return magnitude_mask


def _with(name, fn):
    return lambda objects: dict(objects, **{name: fn})


def _per_tensor(objects):
    return dict(objects, global_magnitude_masks=lambda ws, a: [_magnitude()(w, a) for w in ws])


def _global(count=ROUND, largest=False):
    def global_magnitude_masks(weights, amount):
        scores = torch.cat([w.detach().abs().reshape(-1) for w in weights])
        flat = _magnitude(count, largest)(scores, amount)
        pieces = flat.split([w.numel() for w in weights])
        return [m.reshape(w.shape) for m, w in zip(pieces, weights)]
    return global_magnitude_masks


def _neuron(count=ROUND, largest=False, dim=0, p=2):
    def neuron_mask(weight, amount):
        norms = weight.detach().norm(p=p, dim=1 - dim)               # one norm per slice of `dim`
        k = count(amount, weight.shape[dim])
        mask = torch.ones_like(weight)
        if k > 0:
            idx = torch.topk(norms, k, largest=largest).indices
            if dim == 0:
                mask[idx] = 0
            else:
                mask[:, idx] = 0
        return mask
    return neuron_mask


def _remove(select=None, keep_bias_whole=False):
    """remove_neurons choosing neurons with `select(W_1) -> keep (d_ff,) bool`."""
    def remove_neurons(ffn, amount):
        keep = select(ffn, amount)
        W_1, W_2 = ffn.W_1, ffn.W_2
        d_kept = int(keep.sum())
        new_1, new_2 = nn.Linear(W_1.in_features, d_kept), nn.Linear(d_kept, W_2.out_features)
        with torch.no_grad():
            new_1.weight.copy_(W_1.weight[keep])
            new_1.bias.copy_(W_1.bias[keep])
            new_2.weight.copy_(W_2.weight[:, keep])
            new_2.bias.copy_(W_2.bias)
        ffn.W_1, ffn.W_2 = new_1, new_2
        return ffn
    return remove_neurons


def _keep_by(neuron_mask_fn):
    return lambda ffn, amount: neuron_mask_fn(ffn.W_1.weight, amount).bool().any(dim=1)


def _keep_by_w2_columns(ffn, amount):
    norms = ffn.W_2.weight.detach().norm(dim=0)                         # (d_ff,)
    k = ROUND(amount, norms.numel())
    keep = torch.ones_like(norms, dtype=torch.bool)
    keep[torch.topk(norms, k, largest=False).indices] = False
    return keep


def _importance(reduce):
    """head_importance with the per-batch gradients combined by `reduce(list of (L, H))`."""
    def head_importance(model, batches):
        model.eval()
        gates = [b.attn.head_gate for b in model.encoder.blocks]
        for g in gates:
            g.requires_grad_(True)
        grads = []
        for batch in batches:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            loss = F.cross_entropy(logits, batch["labels"])
            grads.append(torch.stack(torch.autograd.grad(loss, gates)).detach())
        for g in gates:
            g.requires_grad_(False)
        return reduce(grads)
    return head_importance


def _prune_heads(largest=False, per_layer=False):
    def prune_heads(encoder, importance, n):
        L, H = importance.shape
        if not 0 <= n <= L * H:
            raise ValueError("n out of range")
        scores = -importance if largest else importance
        if per_layer:                                    # n heads in every layer
            pruned = [(l, int(h)) for l in range(L) for h in torch.argsort(scores[l])[:min(n, H)]]
        else:
            pruned = [(int(i) // H, int(i) % H) for i in torch.argsort(scores.reshape(-1))[:n]]
        with torch.no_grad():
            for l, h in pruned:
                encoder.blocks[l].attn.head_gate[h] = 0.0
        return sorted(pruned)
    return prune_heads


def _drop_bottom(model, n):
    if not 0 <= n <= len(model.blocks):
        raise ValueError("n out of range")
    model.blocks = nn.ModuleList(list(model.blocks)[n:])
    return model


def _drop_one_too_many(model, n):
    if not 0 <= n <= len(model.blocks):
        raise ValueError("n out of range")
    model.blocks = nn.ModuleList(list(model.blocks)[:max(len(model.blocks) - n - 1, 0)])
    return model


INT = ("int() instead of round", "0.15 * 10 = 1.5 must give 2: use Python's round(), not int()")
CEILING = ("ceil instead of round", "round to the nearest count (half to even), not up with ceil")
HALFUP = ("half rounded up", "Python's round() rounds halves to even: 0.25 * 10 = 2.5 -> 2")
LARGEST = ("pruning the largest weights", "prune the k *smallest* |w|, not the largest")

MISTAKES = {
    "n_to_prune": [
        Mistake(INT[0], INT[1], _with("n_to_prune", TRUNC)),
        Mistake(CEILING[0], CEILING[1], _with("n_to_prune", CEIL)),
        Mistake(HALFUP[0], HALFUP[1], _with("n_to_prune", HALF_UP)),
        Mistake("no validation", "raise ValueError / TypeError for an invalid amount",
                _with("n_to_prune", _no_validation)),
    ],
    "magnitude": [
        Mistake(INT[0], INT[1], _with("magnitude_mask", _magnitude(TRUNC))),
        Mistake(CEILING[0], CEILING[1], _with("magnitude_mask", _magnitude(CEIL))),
        Mistake(HALFUP[0], HALFUP[1], _with("magnitude_mask", _magnitude(HALF_UP))),
        Mistake(LARGEST[0], LARGEST[1], _with("magnitude_mask", _magnitude(largest=True))),
        Mistake("signed weights", "rank by |w|: a large negative weight is not a small one",
                _with("magnitude_mask", _magnitude(signed=True))),
    ],
    "iterative": [
        Mistake("pruned zeros counted again", "rank only the entries the mask still keeps: the "
                "zeros of an earlier round are not new candidates",
                _with("magnitude_mask", _magnitude(ignore_mask=True))),
        Mistake("amount of the original size", "the amount applies to what remains, not to all "
                "entries: 50% twice leaves 25%", _with("magnitude_mask", _magnitude(of_all=True))),
        Mistake(INT[0], INT[1], _with("magnitude_mask", _magnitude(TRUNC))),
    ],
    "global": [
        Mistake("per-tensor instead of global", "rank the weights of all tensors together, not "
                "each tensor by the same fraction", _per_tensor),
        Mistake(INT[0], INT[1], _with("global_magnitude_masks", _global(TRUNC))),
        Mistake(LARGEST[0], LARGEST[1], _with("global_magnitude_masks", _global(largest=True))),
    ],
    "neuron": [
        Mistake("wrong dim", "prune rows (dim 0, output neurons), not columns",
                _with("neuron_mask", _neuron(dim=1))),
        Mistake(LARGEST[0], "prune the rows with the *smallest* L2 norm",
                _with("neuron_mask", _neuron(largest=True))),
        Mistake("L1 norm", "rank rows by their L2 norm (n=2), not L1",
                _with("neuron_mask", _neuron(p=1))),
        Mistake(INT[0], INT[1], _with("neuron_mask", _neuron(TRUNC))),
    ],
    "remove_neurons": [
        Mistake("neurons chosen by W_2", "choose the neurons by the L2 norm of their row of "
                "W_1 (neuron_mask(ffn.W_1.weight, amount)), not of their column of W_2",
                _with("remove_neurons", _remove(_keep_by_w2_columns))),
        Mistake(LARGEST[0], "remove the neurons with the *smallest* ||W_1[i, :]||_2",
                _with("remove_neurons", _remove(_keep_by(_neuron(largest=True))))),
    ],
    "head_importance": [
        Mistake("no absolute value", "importance is E|dL/d xi_h|: take |.| of each gradient",
                _with("head_importance", _importance(lambda gs: sum(gs) / len(gs)))),
        Mistake("absolute value after averaging", "average the absolute gradients, not the "
                "absolute value of the average",
                _with("head_importance", _importance(lambda gs: (sum(gs) / len(gs)).abs()))),
        Mistake("sum over batches", "average over the batches, do not sum",
                _with("head_importance", _importance(lambda gs: sum(g.abs() for g in gs)))),
    ],
    "prune_heads": [
        Mistake(LARGEST[0], "gate off the heads with the *smallest* importance",
                _with("prune_heads", _prune_heads(largest=True))),
        Mistake("n heads per layer", "rank the heads of all layers together: n in total, not n "
                "per layer", _with("prune_heads", _prune_heads(per_layer=True))),
    ],
    "drop_layers": [
        Mistake("bottom layers dropped", "drop the top n blocks and keep the bottom ones",
                _with("drop_layers", _drop_bottom)),
        Mistake("off by one", "keep exactly L - n blocks",
                _with("drop_layers", _drop_one_too_many)),
    ],
}

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
# The exercises that call n_to_prune are graded with torch's count standing in for it, so the
# wrong rounding costs only n_to_prune's own cell.
EXPECTED_WRONG = {
    "test_n_to_prune": (0, "int() truncates"),
}
