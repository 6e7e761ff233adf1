"""Hidden cases of the pruning notebook (solutions/pruning.py): seeded inputs and calls, no answers.

Weights are continuous random values (no ties in |w| or in row norms), so the pruned set is unique.
The amounts include the half-to-even rounding cases of torch.nn.utils.prune (0.25 * 10 -> 2,
0.5 * 5 -> 2, 0.35 * 10 -> 4, 0.15 * 10 -> 2) and int counts. tests/test_pruning_reference.py runs
these same cases on objects built from torch.nn.utils.prune and checks that the reference agrees.
"""

import torch

from autograde.hidden import Case
from course_lib.model import CLSClassifier, Encoder, FeedForward, TransformerConfig


def _weight(seed, shape, salt=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(100 * seed + salt))


def _error(fn, *args):
    """The name of the exception fn raises (None if it returns)."""
    try:
        fn(*args)
    except Exception as err:
        return type(err).__name__
    return None


def _mask(m):
    return torch.as_tensor(m).detach().float()


# --------------------------------------------------------------------------------- n_to_prune
N_TO_PRUNE = {0: [(0.25, 10), (0.5, 5), (0.15, 10), (0.35, 10), (0.3, 12), (0.0, 9), (1.0, 9)],
              1: [(0.45, 10), (0.125, 12), (0.05, 10), (0.7, 3), (0.999, 1000), (0.6, 7)],
              2: [(3, 10), (0, 4), (1, 8), (8, 8), (0.5, 1), (0.5, 3), (0.1, 25)]}


def _n_to_prune(objects, seed):
    f = objects["n_to_prune"]
    out = {"k": [int(f(a, n)) for a, n in N_TO_PRUNE[seed]]}
    out["errors"] = [_error(f, a, n) for a, n in [(1.5, 10), (-0.2, 10), (-1, 10), (11, 10),
                                                  ("half", 10)]]
    return out


# ------------------------------------------------------------------------------ magnitude_mask
MAGNITUDE = {0: ((2, 5), [0.25, 0.5, 3, 0.0, 1.0]),
             1: ((5,), [0.5, 0.15 * 2, 0.9, 1, 5]),
             2: ((4, 6), [0.3, 0.35, 0.75, 7, 0.125]),
             3: ((3, 2, 5), [0.15, 0.45, 0.6, 0.05, 29])}


def _magnitude(objects, seed):
    shape, amounts = MAGNITUDE[seed]
    w = _weight(seed, shape)
    before = w.clone()
    f = objects["magnitude_mask"]
    out = {"masks": [_mask(f(w, a)) for a in amounts]}
    out["weight_unchanged"] = bool(torch.equal(w, before))
    out["errors"] = [_error(f, w, a) for a in (1.5, -0.1, -1, w.numel() + 1)]
    return out


ITERATIVE = {0: ((8, 8), [0.5, 0.5]), 1: ((6, 7), [0.3, 5, 0.5]),
             2: ((10,), [0.25, 0.25, 0.5]), 3: ((4, 5), [0.35, 0.15, 2, 0.5])}


def _iterative(objects, seed):
    """Prune, then prune the already pruned weight again with the previous mask."""
    shape, amounts = ITERATIVE[seed]
    w = _weight(seed, shape, salt=1)
    f = objects["magnitude_mask"]
    mask, masks = None, []
    for a in amounts:
        mask = _mask(f(w if mask is None else w * mask, a, mask))
        masks.append(mask)
    return {"masks": masks, "kept": [int(m.sum()) for m in masks]}


# ---------------------------------------------------------------------------------- global
GLOBAL = {0: ([(3, 4), (5,), (2, 3)], [1.0, 0.1, 3.0], [0.5, 0.25]),
          1: ([(4, 4), (4, 4)], [0.05, 1.0], [0.35, 7]),
          2: ([(6, 2), (3,), (2, 2, 2)], [2.0, 0.5, 0.02], [0.7, 0.0, 1.0])}


def _global(objects, seed):
    shapes, scales, amounts = GLOBAL[seed]
    ws = [_weight(seed, s, salt=10 + i) * c for i, (s, c) in enumerate(zip(shapes, scales))]
    f = objects["global_magnitude_masks"]
    return {"masks": [[_mask(m) for m in f(ws, a)] for a in amounts]}


# ---------------------------------------------------------------------------------- neurons
NEURON = {0: ((10, 4), [0.25, 0.5, 3]), 1: ((5, 8), [0.5, 0.3, 1.0]),
          2: ((12, 6), [0.125, 0.75, 0]), 3: ((7, 3), [0.35, 2, 0.9])}


def _neuron(objects, seed):
    shape, amounts = NEURON[seed]
    w = _weight(seed, shape, salt=20)
    before = w.clone()
    f = objects["neuron_mask"]
    out = {"masks": [_mask(f(w, a)) for a in amounts]}
    out["weight_unchanged"] = bool(torch.equal(w, before))
    return out


REMOVE = {0: (8, 16, 0.25), 1: (6, 10, 0.5), 2: (12, 20, 7), 3: (4, 12, 0.35)}


def _remove_neurons(objects, seed):
    d, d_ff, amount = REMOVE[seed]
    torch.manual_seed(seed)
    ffn = FeedForward(TransformerConfig(d_model=d, d_ff=d_ff, dropout=0.0)).eval()
    g = torch.Generator().manual_seed(30 + seed)
    with torch.no_grad():
        for p in ffn.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
        x = torch.randn(2, 5, d, generator=g)
        ffn = objects["remove_neurons"](ffn, amount)
        return {"W_1_shape": list(ffn.W_1.weight.shape), "W_2_shape": list(ffn.W_2.weight.shape),
                "b_1_shape": list(ffn.W_1.bias.shape), "y": ffn(x)}


# ---------------------------------------------------------------------------------- heads
def _classifier(seed, n_layers, n_heads):
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=50, d_model=16, n_heads=n_heads, n_layers=n_layers,
                            d_ff=32, max_len=16, dropout=0.0)
    model = CLSClassifier(Encoder(cfg), num_labels=3).eval()
    g = torch.Generator().manual_seed(40 + seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))       # away from the tiny init
    return model, g


def _head_importance(objects, seed):
    n_layers, n_heads, n_batches = [(2, 2, 1), (3, 4, 3), (2, 8, 2)][seed]
    model, g = _classifier(seed, n_layers, n_heads)
    batches = []
    for b in range(n_batches):
        mask = torch.ones(4, 9, dtype=torch.long)
        mask[b % 4, 5:] = 0
        batches.append({"input_ids": torch.randint(5, 50, (4, 9), generator=g),
                        "attention_mask": mask, "labels": torch.randint(0, 3, (4,), generator=g)})
    state = {k: v.clone() for k, v in model.state_dict().items()}
    imp = objects["head_importance"](model, batches)
    gates = torch.stack([b.attn.head_gate.detach() for b in model.encoder.blocks])
    return {"importance": torch.as_tensor(imp).detach().float().cpu(),
            "gates_restored": bool((gates == 1).all()),
            "weights_unchanged": all(torch.equal(v, state[k])
                                     for k, v in model.state_dict().items())}


def _prune_heads(objects, seed):
    n_layers, n_heads, n = [(2, 4, 3), (3, 2, 1), (4, 4, 10), (2, 2, 0)][seed]
    model, g = _classifier(seed, n_layers, n_heads)
    importance = torch.rand(n_layers, n_heads, generator=g)
    ids = torch.randint(5, 50, (2, 8), generator=g)
    pruned = objects["prune_heads"](model.encoder, importance.clone(), n)
    with torch.no_grad():
        logits = model(input_ids=ids)
    return {"pruned": [[int(v) for v in p] for p in pruned],
            "gates": torch.stack([b.attn.head_gate.detach().float()
                                  for b in model.encoder.blocks]),
            "logits": logits,
            "too_many": _error(objects["prune_heads"], model.encoder, importance,
                               n_layers * n_heads + 1)}


# ---------------------------------------------------------------------------------- layers
def _drop_layers(objects, seed):
    n_layers, n = [(4, 1), (4, 3), (3, 0), (5, 2)][seed]
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=50, d_model=16, n_heads=2, n_layers=n_layers, d_ff=32,
                            max_len=16, dropout=0.0)
    enc = Encoder(cfg).eval()
    originals = list(enc.blocks)
    ids = torch.randint(5, 50, (2, 8), generator=torch.Generator().manual_seed(50 + seed))
    enc = objects["drop_layers"](enc, n)
    with torch.no_grad():
        hidden = enc(input_ids=ids, return_logits=False)["hidden"]
    return {"n_blocks": len(enc.blocks),
            "kept": [next((i for i, o in enumerate(originals) if o is b), -1) for b in enc.blocks],
            "hidden": hidden,
            "too_many": _error(objects["drop_layers"], enc, len(enc.blocks) + 1)}


CASES = {
    "n_to_prune": Case(_n_to_prune, seeds=(0, 1, 2), requires={
        "k": "a float amount prunes round(amount * n) (Python round, half to even); an int is a "
             "count",
        "errors": "a float outside [0, 1] or an int outside [0, n] is a ValueError, a non-number "
                  "a TypeError"}),
    "magnitude": Case(_magnitude, seeds=(0, 1, 2, 3), requires={
        "masks": "zero the round(amount * n) entries with the smallest |w| (an int: that many)",
        "weight_unchanged": "return a new mask; do not modify the weight",
        "errors": "invalid amounts (1.5, -0.1, -1, more than n) should raise ValueError"}),
    "iterative": Case(_iterative, seeds=(0, 1, 2, 3), requires={
        "masks": "pruning again: keep what the mask pruned, and prune the amount of what remains "
                 "(the smallest |w| among the kept entries)",
        "kept": "pruning again applies the amount to the entries still kept: 50% twice leaves "
                "25%"}),
    "global": Case(_global, seeds=(0, 1, 2), requires={
        "masks": "rank the |w| of all tensors together: round(amount * total) smallest overall"}),
    "neuron": Case(_neuron, seeds=(0, 1, 2, 3), requires={
        "masks": "zero whole rows (dim 0), the round(amount * rows) with the smallest L2 norm",
        "weight_unchanged": "return a new mask; do not modify the weight"}),
    "remove_neurons": Case(_remove_neurons, seeds=(0, 1, 2, 3), requires={
        "W_1_shape": "W_1 keeps the rows of the surviving neurons: (d_kept, d)",
        "b_1_shape": "b_1 keeps the entries of the surviving neurons",
        "W_2_shape": "W_2 keeps the columns of the surviving neurons: (d, d_kept)",
        "y": "the narrow FFN should compute the original one with the neurons of the smallest "
             "||W_1[i, :]||_2 removed"}),
    "head_importance": Case(_head_importance, seeds=(0, 1, 2), requires={
        "importance": "I_h = mean over batches of |dL/d xi_h|, L the batch's mean cross-entropy",
        "gates_restored": "leave the gates at 1 after computing the importance",
        "weights_unchanged": "do not change the model's weights"}),
    "prune_heads": Case(_prune_heads, seeds=(0, 1, 2, 3), requires={
        "pruned": "return the sorted (layer, head) pairs of the n least important heads overall",
        "gates": "set xi_h = 0 for the n heads with the smallest importance over all layers",
        "logits": "the model with the heads gated off differs from the reference",
        "too_many": "asking for more heads than the model has should raise ValueError"}),
    "drop_layers": Case(_drop_layers, seeds=(0, 1, 2, 3), requires={
        "n_blocks": "n of L layers dropped leaves L - n blocks",
        "kept": "keep the bottom blocks 0 .. L-n-1 (the same objects) and drop the top n",
        "hidden": "the reduced model's output differs from the reference",
        "too_many": "dropping more layers than there are should raise ValueError"}),
}
