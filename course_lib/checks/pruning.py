"""Visible checks for the pruning notebook (notebooks/pruning/pruning.ipynb). Properties only, no answers.

The exercises follow torch.nn.utils.prune's conventions (a float amount prunes round(amount * n)
entries, half to even; an int is a count). The checks use hand-made tensors whose right answer is
written here by hand, and properties (the pruned |w| are the smallest, whole rows vanish, a removed
neuron changes nothing once its output is zero); none of them computes the reference.

Interfaces:
    n_to_prune(amount, n) -> int
    magnitude_mask(weight, amount, mask=None) -> mask (weight's shape; 1 keep, 0 pruned)
    global_magnitude_masks(weights, amount) -> [mask per weight]
    neuron_mask(weight (out, in), amount) -> mask with whole rows zeroed
    remove_neurons(ffn, amount) -> ffn with narrower W_1 / W_2
    head_importance(classifier, batches) -> (n_layers, n_heads)
    prune_heads(encoder, importance, n) -> sorted [(layer, head), ...]
    drop_layers(model, n) -> model with the top n blocks dropped
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import call, expect, expect_close, expect_shape, ok, tiny_model, visible_check


def _call(fn, *args, what: str, **kwargs):
    return call(what, fn, *args, **kwargs)


def _raises(fn, error, *args) -> bool:
    try:
        fn(*args)
    except NotImplementedError:
        raise
    except error:
        return True
    except Exception:
        return False
    return False


def _as_mask(mask, like: torch.Tensor, what: str) -> torch.Tensor:
    expect_shape(mask, like.shape, what)
    m = mask.detach().float()
    expect(bool(((m == 0) | (m == 1)).all()), f"{what} should hold only 0 (pruned) and 1 (kept)")
    return m


# ------------------------------------------------------------------------------------ n_to_prune
@visible_check
def check_n_to_prune(n_to_prune) -> None:
    k = lambda amount, n: _call(n_to_prune, amount, n, what=f"n_to_prune({amount!r}, {n})")
    expect(k(0.3, 10) == 3 and k(0.0, 7) == 0 and k(1.0, 7) == 7,
           "a float amount is a fraction of n: 0.3 of 10 is 3, 0.0 is none, 1.0 is all")
    got = k(0.15, 10)                                   # 1.5 -> 2 (half to even)
    expect(got != 1, "0.15 * 10 = 1.5 must give 2: int() truncates; use Python's round()")
    got = k(0.25, 10)                                   # 2.5 -> 2 (half to even)
    expect(got != 3, "0.25 * 10 = 2.5 must give 2: Python's round() rounds halves to even, "
                     "not up (did you use math.ceil or floor(x + 0.5)?)")
    expect(k(0.36, 10) == 4, "0.36 * 10 = 3.6 must give 4: round to the nearest integer "
                             "(int() or floor truncates)")
    expect(k(0.5, 5) == 2 and k(0.35, 10) == 4 and got == 2,
           "halves round to even, like Python's round(): 0.5 * 5 = 2.5 -> 2, 0.35 * 10 = 3.5 -> 4")
    ok("a float amount prunes round(amount * n) entries, halves to even")
    expect(k(3, 10) == 3 and k(1, 10) == 1 and k(0, 10) == 0,
           "an int amount is a count: amount=3 prunes 3 entries, amount=1 one entry")
    result = k(3, 10)
    expect(type(result) is int, f"return a Python int, got {type(result).__name__}")
    ok("an int amount is a count (1 prunes one entry, 1.0 prunes all)")
    for bad, error in ((1.5, ValueError), (-0.1, ValueError), (-1, ValueError), (11, ValueError),
                       ("half", TypeError)):
        expect(_raises(n_to_prune, error, bad, 10),
               f"n_to_prune({bad!r}, 10) should raise {error.__name__}: a float must be in "
               f"[0, 1], an int between 0 and n, and anything else is a TypeError")
    ok("invalid amounts raise ValueError / TypeError")


# -------------------------------------------------------------------------------- magnitude_mask
@visible_check
def check_magnitude_mask(magnitude_mask) -> None:
    w = torch.tensor([[0.5, -3.0, 0.1, 2.0, -0.2],
                      [1.0, -0.05, 4.0, -1.5, 0.3]])      # |w| sorted: .05 .1 .2 .3 .5 1 1.5 ...
    before = w.clone()
    m = _as_mask(_call(magnitude_mask, w, 0.3, what="magnitude_mask(w, 0.3)"), w,
                 "magnitude_mask(w, 0.3)")
    expect(torch.equal(w, before), "magnitude_mask must not modify the weight: return a new mask")
    expect(int((m == 0).sum()) == 3, f"0.3 of 10 entries is 3, but {int((m == 0).sum())} are 0")
    expect(m[0, 1] == 1 and m[1, 2] == 1,
           "you pruned the largest weights: prune the k *smallest* |w| (topk(..., largest=False))")
    expect(m[0, 4] == 0 and m[1, 1] == 0 and m[0, 2] == 0,
           "rank by |w|, not by w: -0.2 and -0.05 are small weights, -3.0 is a large one")
    ok("zeroes the k smallest |w| and leaves the weight untouched")
    m = _as_mask(_call(magnitude_mask, w, 0.25, what="magnitude_mask(w, 0.25)"), w, "mask")
    expect(int((m == 0).sum()) == 2, "0.25 * 10 = 2.5 must prune 2 entries (round half to even)")
    m = _as_mask(_call(magnitude_mask, w, 4, what="magnitude_mask(w, 4)"), w, "mask")
    expect(int((m == 0).sum()) == 4, "an int amount is a count: amount=4 prunes 4 entries")
    m = _as_mask(_call(magnitude_mask, w, 1.0, what="magnitude_mask(w, 1.0)"), w, "mask")
    expect(int(m.sum()) == 0, "amount=1.0 prunes everything")
    m = _as_mask(_call(magnitude_mask, w, 0, what="magnitude_mask(w, 0)"), w, "mask")
    expect(int(m.sum()) == 10, "amount=0 prunes nothing")
    expect(_raises(magnitude_mask, ValueError, w, 1.5)
           and _raises(magnitude_mask, ValueError, w, 11),
           "magnitude_mask(w, 1.5) and magnitude_mask(w, 11) (10 entries) should raise ValueError")
    ok("counts follow round(amount * n) / an int count; invalid amounts raise")

    torch.manual_seed(0)
    x = torch.randn(8, 8)                                # continuous values: no ties
    m1 = _as_mask(_call(magnitude_mask, x, 0.5, what="magnitude_mask(x, 0.5)"), x, "mask")
    kept, gone = x.abs()[m1 == 1], x.abs()[m1 == 0]
    expect(bool(kept.min() > gone.max()), "every kept |w| must be larger than every pruned |w|")
    m2 = _as_mask(_call(magnitude_mask, x * m1, 0.5, m1, what="magnitude_mask(x * m1, 0.5, m1)"),
                  x, "the second round's mask")
    left = int(m2.sum())
    expect(left != 32, "pruning 50% twice left 50%: the already-pruned zeros were counted as the "
                       "smallest weights again; rank only the entries the mask still keeps")
    expect(left != 0, "pruning 50% twice left nothing: the amount applies to what remains "
                      "(32 entries), not to all 64")
    expect(left == 16, f"pruning 50% of 64 entries twice should leave 16, got {left}")
    expect(bool((m2 <= m1).all()), "an entry pruned in the first round must stay pruned")
    expect(bool(x.abs()[m2 == 1].min() > x.abs()[(m1 == 1) & (m2 == 0)].max()),
           "the second round must prune the smallest |w| among the entries still kept")
    ok("pruning again applies the amount to what remains: 50% twice leaves 25%")
    print("All visible magnitude_mask checks passed.")


# ------------------------------------------------------------------------------ global pruning
@visible_check
def check_global_magnitude_masks(global_magnitude_masks) -> None:
    torch.manual_seed(1)
    small = torch.randn(6, 5) * 0.01                      # a layer of tiny weights
    large = torch.randn(4, 10)
    weights = [small, large]
    masks = _call(global_magnitude_masks, weights, 0.5, what="global_magnitude_masks(ws, 0.5)")
    expect(isinstance(masks, (list, tuple)) and len(masks) == 2,
           "return a list with one mask per weight tensor")
    masks = [_as_mask(m, w, f"mask {i}") for i, (m, w) in enumerate(zip(masks, weights))]
    pruned = [int((m == 0).sum()) for m in masks]
    expect(sum(pruned) == 35, f"0.5 of 70 weights in all is 35; you pruned {sum(pruned)}")
    expect(pruned != [15, 20], "you pruned each tensor by the same fraction (per-tensor): rank "
                               "all weights together, so the tiny layer loses more")
    expect(pruned == [30, 5], "with one global threshold the 30 tiny weights go first")
    ok("one threshold for all tensors: 35 of 70 pruned, 30 of them in the tiny layer")
    torch.manual_seed(2)
    ws = [torch.randn(3, 7), torch.randn(5), torch.randn(2, 2, 3) * 2]
    masks = [_as_mask(m, w, "mask") for m, w in
             zip(_call(global_magnitude_masks, ws, 0.3, what="global_magnitude_masks"), ws)]
    kept = torch.cat([w.abs()[m == 1] for w, m in zip(ws, masks)])
    gone = torch.cat([w.abs()[m == 0] for w, m in zip(ws, masks)])
    expect(len(gone) == round(0.3 * 38), "0.3 of 38 weights: round(11.4) = 11 pruned")
    expect(bool(kept.min() > gone.max()), "every kept |w| (in any tensor) must exceed every "
                                          "pruned |w|: you pruned the largest, or not globally")
    ok("every kept |w| exceeds every pruned |w|, across tensors of any shape")


# ------------------------------------------------------------------------------- neuron pruning
@visible_check
def check_neuron_mask(neuron_mask) -> None:
    w = torch.tensor([[3.0, 0.0, 0.0, 0.0],      # L2 3.0, L1 3.0
                      [1.0, -1.0, 1.0, -1.0],    # L2 2.0, L1 4.0
                      [0.0, 5.0, 0.0, 1.0],      # L2 5.1
                      [2.5, 0.0, -2.5, 0.0],     # L2 3.5, L1 5.0
                      [0.1, 0.1, 0.0, 0.0]])     # L2 0.14
    m = _as_mask(_call(neuron_mask, w, 0.4, what="neuron_mask(w, 0.4)"), w,
                 "neuron_mask(w, 0.4) (same shape as the weight)")
    expect(bool((m == m[:, :1]).all()),
           "the mask should zero whole rows (dim 0: output neurons); yours varies within a "
           "row: did you prune columns (dim 1) or single weights?")
    rows = m[:, 0]
    expect(int((rows == 0).sum()) == 2, f"0.4 of 5 rows is 2 rows, got {int((rows == 0).sum())}")
    expect(rows[2] == 1, "you pruned the rows with the largest norm: prune the smallest")
    expect(rows[0] == 1, "row 0 = [3, 0, 0, 0] has L2 norm 3 > row 1's 2 (L1 would say 3 < 4): "
                         "rank the rows by their L2 norm")
    expect(rows[1] == 0 and rows[4] == 0, "rows 1 and 4 have the smallest L2 norms")
    ok("zeroes the whole rows with the smallest L2 norm")
    m = _as_mask(_call(neuron_mask, w, 3, what="neuron_mask(w, 3)"), w, "mask")
    expect(int((m[:, 0] == 0).sum()) == 3, "an int amount is a number of rows: 3 rows")
    torch.manual_seed(0)
    x = torch.randn(10, 6)
    m = _as_mask(_call(neuron_mask, x, 0.25, what="neuron_mask(x, 0.25)"), x, "mask")
    expect(int((m[:, 0] == 0).sum()) == 2, "0.25 * 10 rows = 2.5 rounds (half to even) to 2")
    ok("counts rows like n_to_prune (0.25 of 10 rows -> 2)")


def _tiny_ffn(d=6, d_ff=10, seed=0):
    from ..model import FeedForward, TransformerConfig
    torch.manual_seed(seed)
    ffn = FeedForward(TransformerConfig(d_model=d, d_ff=d_ff, dropout=0.0)).eval()
    with torch.no_grad():
        ffn.W_1.bias.normal_()
        ffn.W_2.bias.normal_()
    return ffn


@visible_check
def check_remove_neurons(remove_neurons) -> None:
    ffn = _tiny_ffn()
    original = copy.deepcopy(ffn)
    out = _call(remove_neurons, ffn, 0.3, what="remove_neurons(ffn, 0.3)")
    expect(out is ffn, "remove_neurons should change the FFN in place and return it")
    for name in ("W_1", "W_2"):
        expect(isinstance(getattr(ffn, name), nn.Linear), f"ffn.{name} should be an nn.Linear")
    expect_shape(ffn.W_1.weight, (7, 6), "the new W_1.weight (d_kept = 10 - round(0.3 * 10), d)")
    expect_shape(ffn.W_1.bias, (7,), "the new W_1.bias (keep b_1 of the kept neurons)")
    expect_shape(ffn.W_2.weight, (6, 7), "the new W_2.weight (d, d_kept): remove *columns* of W_2")
    expect_shape(ffn.W_2.bias, (6,), "the new W_2.bias (b_2 stays whole)")
    ok("W_1 lost 3 rows, b_1 3 entries, W_2 3 columns")
    # the narrow FFN equals the original with the removed neurons' outputs set to zero
    norms = original.W_1.weight.detach().norm(dim=1)             # (d_ff,) ||W_1[i, :]||_2
    gone = norms <= norms.sort().values[2]                       # the 3 smallest (no ties)
    silenced = copy.deepcopy(original)
    with torch.no_grad():
        silenced.W_2.weight[:, gone] = 0
    x = torch.randn(2, 5, 6)
    with torch.no_grad():
        expect_close(ffn(x), silenced(x), "the narrow FFN's output",
                     hint="it should equal the original FFN with the removed neurons' outputs "
                          "zeroed: keep rows of W_1 and b_1, columns of W_2, and all of b_2, for "
                          "the 7 neurons with the largest ||W_1[i, :]||_2")
    ok("the narrow FFN computes the original with the removed neurons silenced")


# ------------------------------------------------------------------------------ heads and layers
def _tiny_classifier(seed=0, n_layers=2, n_heads=2):
    from ..model import CLSClassifier
    return CLSClassifier(tiny_model(seed, n_heads=n_heads, n_layers=n_layers), num_labels=3).eval()


def _batches(seed, n=2, B=4, T=7):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        mask = torch.ones(B, T, dtype=torch.long)
        mask[0, T - 2:] = 0
        out.append({"input_ids": torch.randint(5, 40, (B, T), generator=g), "attention_mask": mask,
                    "labels": torch.randint(0, 3, (B,), generator=g)})
    return out


def _loss(model, batch):
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return F.cross_entropy(logits, batch["labels"]).double().item()


@visible_check
def check_head_importance(head_importance) -> None:
    model = _tiny_classifier(n_layers=2, n_heads=2)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4)                                  # larger weights: clearer gradients
    state = copy.deepcopy(model.state_dict())
    batches = _batches(0, n=1)
    imp = _call(head_importance, model, batches, what="head_importance(model, batches)")
    expect_shape(imp, (2, 2), "head_importance(...) (n_layers, n_heads)")
    expect(bool((imp >= 0).all()), "importance is E|dL/d xi_h|: take the absolute value of "
                                   "each gradient")
    for block in model.encoder.blocks:
        gate = block.attn.head_gate
        expect(bool((gate == 1).all()) and not gate.requires_grad,
               "leave the gates as you found them: all ones, requires_grad False")
    expect(all(torch.equal(v, state[k]) for k, v in model.state_dict().items()),
           "head_importance must not change the model's weights")
    ok("shape (layers, heads), non-negative, the model left unchanged")
    # an independent derivative: central finite differences of the loss in each gate
    eps = 1e-3
    for layer, block in enumerate(model.encoder.blocks):
        for h in range(2):
            gate = block.attn.head_gate
            with torch.no_grad():
                gate[h] = 1 + eps
                up = _loss(model, batches[0])
                gate[h] = 1 - eps
                down = _loss(model, batches[0])
                gate[h] = 1.0
            fd = abs(up - down) / (2 * eps)
            expect(abs(imp[layer, h].item() - fd) <= 2e-3 + 2e-2 * fd,
                   f"importance of layer {layer} head {h} is {imp[layer, h].item():.4g}, but "
                   f"|dL/d xi| by finite differences is {fd:.4g}: differentiate the batch's mean "
                   f"cross-entropy with respect to the gate (head_gate) of that head")
    ok("|dL/d xi_h| matches finite differences of the loss on one batch")
    # a head whose output W_o ignores cannot matter
    dead = _tiny_classifier(seed=1)
    with torch.no_grad():
        dead.encoder.blocks[1].attn.W_o.weight[:, :8] = 0     # head 0 of layer 1 (d_head = 8)
    imp = _call(head_importance, dead, _batches(1, n=2), what="head_importance")
    expect(imp[1, 0].abs().item() < 1e-7, "a head whose output W_o ignores must get importance 0")
    expect(bool((imp[0] > 0).all()),
           "the heads of the first layer should have non-zero importance")
    batches = _batches(2, n=3)
    one = [_call(head_importance, model, [b], what="head_importance") for b in batches]
    three = _call(head_importance, model, batches, what="head_importance")
    expect_close(three, sum(one) / 3, "importance over 3 batches",
                 hint="average |dL/d xi_h| over the batches (the mean of per-batch absolute "
                      "values, not the sum, and not the absolute value of the mean)")
    ok("averages |dL/d xi_h| over batches; a head W_o ignores scores 0")


@visible_check
def check_prune_heads(prune_heads) -> None:
    enc = tiny_model(n_heads=4, n_layers=3)
    importance = torch.tensor([[0.9, 0.05, 0.7, 0.3],
                               [0.01, 0.8, 0.6, 0.02],
                               [0.5, 0.4, 0.95, 0.85]])
    pruned = _call(prune_heads, enc, importance, 3, what="prune_heads(enc, importance, 3)")
    gates = torch.stack([b.attn.head_gate for b in enc.blocks])        # (L, H)
    expect(int((gates == 0).sum()) == 3, f"3 gates should be 0, got {int((gates == 0).sum())}")
    expect(gates[2, 2] == 1, "you pruned the most important heads: gate off the smallest I_h")
    expect(gates[0, 1] == 0 and gates[1, 0] == 0 and gates[1, 3] == 0,
           "rank the heads of all layers together: the 3 smallest importances are at (0, 1), "
           "(1, 0) and (1, 3) (not n per layer)")
    expect(bool(((gates == 0) | (gates == 1)).all()), "the other gates must stay 1")
    expect([tuple(int(v) for v in p) for p in pruned] == [(0, 1), (1, 0), (1, 3)],
           f"return the pruned heads as a sorted list of (layer, head), got {pruned!r}")
    ok("gates off the 3 least important heads of the whole model and returns them sorted")
    expect(_raises(prune_heads, ValueError, copy.deepcopy(enc), importance, 13),
           "n=13 of 12 heads should raise ValueError")
    ok("too many heads raise ValueError")


@visible_check
def check_drop_layers(drop_layers) -> None:
    enc = tiny_model(n_layers=4)
    blocks = list(enc.blocks)
    out = _call(drop_layers, enc, 1, what="drop_layers(enc, 1)")
    expect(out is enc, "drop_layers should change the model in place and return it")
    expect(isinstance(enc.blocks, nn.ModuleList), "model.blocks should stay an nn.ModuleList")
    expect(len(enc.blocks) == 3, f"4 blocks minus 1 should leave 3, got {len(enc.blocks)}")
    expect(enc.blocks[0] is blocks[0] and enc.blocks[2] is blocks[2],
           "you dropped the bottom layers: keep blocks 0..L-n-1 (the bottom) and drop the top n")
    ids = torch.randint(5, 40, (2, 6))
    with torch.no_grad():
        expect(enc(input_ids=ids)["hidden"].shape == (2, 6, 16), "the model should still run")
    ok("drops the top layer and keeps the same bottom block objects")
    drop_layers(enc, 0)
    expect(len(enc.blocks) == 3, "n=0 drops nothing")
    expect(_raises(drop_layers, ValueError, enc, 4) and _raises(drop_layers, ValueError, enc, -1),
           "dropping 4 of 3 layers, or -1 layers, should raise ValueError")
    ok("n=0 changes nothing; an impossible n raises ValueError")
