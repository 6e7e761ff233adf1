"""Hidden cases of the pruning notebook (solutions/pruning/pruning.py): seeded inputs and calls.

Weights are continuous random values (no ties in |w| or in row norms), so the pruned set is unique.
The amounts include the half-to-even rounding cases of torch.nn.utils.prune (0.25 * 10 -> 2,
0.5 * 5 -> 2, 0.35 * 10 -> 4, 0.15 * 10 -> 2) and int counts. solutions/pruning/test_pruning.py
runs these same cases on the torch.nn.utils.prune objects below and checks the reference agrees.

An exercise that calls an earlier one is graded with torch.nn.utils.prune standing in for it
(magnitude_mask and neuron_mask call n_to_prune, global_magnitude_masks calls magnitude_mask,
remove_neurons calls neuron_mask), so its points depend on it alone.
"""

import torch
import torch.nn as nn
from torch.nn.utils import prune

from autograde.spec import Case
from course_lib.checks import stand_ins
from course_lib.model import CLSClassifier, Encoder, FeedForward, TransformerConfig


# ------------------------------------------------------------ torch.nn.utils.prune as stand-ins
def torch_n_to_prune(amount, n):
    prune._validate_pruning_amount_init(amount)
    k = prune._compute_nparams_toprune(amount, n)
    prune._validate_pruning_amount(k, n)
    return k


def _holder(weight):
    holder = nn.Module()
    holder.weight = nn.Parameter(weight.detach().clone())
    return holder


def torch_magnitude_mask(weight, amount, mask=None):
    """l1_unstructured on a module holding a copy of the weight (and the earlier mask)."""
    holder = _holder(weight)
    if mask is not None:
        prune.custom_from_mask(holder, "weight", mask.detach().clone())
    prune.l1_unstructured(holder, "weight", amount=amount)
    return holder.weight_mask.clone()


def torch_global_masks(weights, amount):
    holders = [_holder(w) for w in weights]
    prune.global_unstructured([(h, "weight") for h in holders], prune.L1Unstructured,
                              amount=amount)
    return [h.weight_mask.clone() for h in holders]


def torch_neuron_mask(weight, amount):
    holder = _holder(weight)
    prune.ln_structured(holder, "weight", amount=amount, n=2, dim=0)
    return holder.weight_mask.clone()


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
    ks = [f(a, n) for a, n in N_TO_PRUNE[seed]]
    out = {"k": [int(k) for k in ks],
           "is_int": all(isinstance(k, int) and not isinstance(k, bool) for k in ks)}
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
    with stand_ins(f, n_to_prune=torch_n_to_prune):
        masks = [f(w, a) for a in amounts]
        out = {"masks": [_mask(m) for m in masks], "dtype": str(masks[0].dtype),
               "weight_unchanged": bool(torch.equal(w, before)),
               "errors": [_error(f, w, a) for a in (1.5, -0.1, -1, w.numel() + 1)]}
    return out


ITERATIVE = {0: ((8, 8), [0.5, 0.5]), 1: ((6, 7), [0.3, 5, 0.5]),
             2: ((10,), [0.25, 0.25, 0.5]), 3: ((4, 5), [0.35, 0.15, 2, 0.5])}


def _iterative(objects, seed):
    """Prune, then prune the already pruned weight again with the previous mask."""
    shape, amounts = ITERATIVE[seed]
    w = _weight(seed, shape, salt=1)
    f = objects["magnitude_mask"]
    mask, masks = None, []
    with stand_ins(f, n_to_prune=torch_n_to_prune):
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
    with stand_ins(f, magnitude_mask=torch_magnitude_mask, n_to_prune=torch_n_to_prune):
        return {"masks": [[_mask(m) for m in f(ws, a)] for a in amounts]}


# ---------------------------------------------------------------------------------- neurons
NEURON = {0: ((10, 4), [0.25, 0.5, 3]), 1: ((5, 8), [0.5, 0.3, 1.0]),
          2: ((12, 6), [0.125, 0.75, 0]), 3: ((7, 3), [0.35, 2, 0.9])}


def _neuron(objects, seed):
    shape, amounts = NEURON[seed]
    w = _weight(seed, shape, salt=20)
    before = w.clone()
    f = objects["neuron_mask"]
    with stand_ins(f, n_to_prune=torch_n_to_prune):
        masks = [f(w, a) for a in amounts]
    return {"masks": [_mask(m) for m in masks], "dtype": str(masks[0].dtype),
            "weight_unchanged": bool(torch.equal(w, before))}


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
        f = objects["remove_neurons"]
        with stand_ins(f, neuron_mask=torch_neuron_mask, n_to_prune=torch_n_to_prune):
            out = f(ffn, amount)
        return {"returns_ffn": out is ffn,
                "linear": [isinstance(ffn.W_1, nn.Linear), isinstance(ffn.W_2, nn.Linear)],
                "W_1_shape": list(ffn.W_1.weight.shape), "W_2_shape": list(ffn.W_2.weight.shape),
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
        "k": "a float amount prunes round(amount * n) (Python's round, half to even); an int "
             "amount is the count itself",
        "is_int": "the count is returned as a Python int",
        "errors": "a float outside [0, 1] or an int outside [0, n] raises ValueError; a "
                  "non-number raises TypeError"}),
    "magnitude": Case(_magnitude, seeds=(0, 1, 2, 3), requires={
        "masks": "0 at the k = n_to_prune(amount, n) entries with the smallest |w|, 1 elsewhere "
                 "(this case supplies a correct n_to_prune)",
        "dtype": "the mask has the weight's dtype",
        "weight_unchanged": "the weight is left unchanged",
        "errors": "invalid amounts (1.5, -0.1, -1, more than n) raise ValueError"}),
    "iterative": Case(_iterative, seeds=(0, 1, 2, 3), requires={
        "masks": "pruning again keeps every entry the earlier mask pruned at 0 and prunes the "
                 "amount of the entries still kept, those with the smallest |w|",
        "kept": "the number of entries left after each round: the amount applies to what "
                "remains (50% twice leaves 25%)"}),
    "global": Case(_global, seeds=(0, 1, 2), requires={
        "masks": "one mask per tensor: the round(amount * total) smallest |w| of all tensors "
                 "together are 0 (this case supplies a correct magnitude_mask)"}),
    "neuron": Case(_neuron, seeds=(0, 1, 2, 3), requires={
        "masks": "whole rows (dim 0) are 0: the n_to_prune(amount, rows) rows with the smallest "
                 "L2 norm (this case supplies a correct n_to_prune)",
        "dtype": "the mask has the weight's dtype",
        "weight_unchanged": "the weight is left unchanged"}),
    "remove_neurons": Case(_remove_neurons, seeds=(0, 1, 2, 3), requires={
        "returns_ffn": "the FFN itself is returned, changed in place",
        "linear": "ffn.W_1 and ffn.W_2 are replaced by nn.Linear layers",
        "W_1_shape": "W_1 holds the rows of the kept neurons: (d_kept, d)",
        "b_1_shape": "b_1 holds the entries of the kept neurons",
        "W_2_shape": "W_2 holds the columns of the kept neurons: (d, d_kept)",
        "y": "the narrow FFN computes the original with the neurons neuron_mask removes "
             "silenced (this case supplies a correct neuron_mask)"}),
    "head_importance": Case(_head_importance, seeds=(0, 1, 2), requires={
        "importance": "I_h = the mean over the batches of |dL/d xi_h|, L the batch's mean "
                      "cross-entropy, shape (n_layers, n_heads), on the CPU",
        "gates_restored": "the gates are all ones again afterwards",
        "weights_unchanged": "the model's weights are unchanged"}),
    "prune_heads": Case(_prune_heads, seeds=(0, 1, 2, 3), requires={
        "pruned": "the sorted (layer, head) pairs of the n least important heads of the model",
        "gates": "xi_h = 0 for exactly the n heads with the smallest importance over all layers, "
                 "1 for the others",
        "logits": "the logits of the model with those heads gated off",
        "too_many": "n larger than the number of heads raises ValueError"}),
    "drop_layers": Case(_drop_layers, seeds=(0, 1, 2, 3), requires={
        "n_blocks": "dropping n of L layers leaves L - n blocks",
        "kept": "the bottom blocks 0 .. L-n-1 are kept, the same objects, in order",
        "hidden": "the hidden states of the reduced model",
        "too_many": "n larger than the number of blocks raises ValueError"}),
}
