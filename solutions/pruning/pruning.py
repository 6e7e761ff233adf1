# %% [markdown]
# # Part 3a: Pruning
#
# **Lecture 11, Model Efficiency: model compression.** You will remove parts of a fine-tuned
# transformer at four granularities, as the lecture lists them: **weights**, **neurons**,
# **attention heads** and **layers**. For each you measure what it costs in accuracy and, honestly,
# what it buys in speed.
#
# | | |
# |---|---|
# | You will write | `n_to_prune`, `magnitude_mask`, `global_magnitude_masks`, `neuron_mask`, `remove_neurons`, `head_importance`, `prune_heads`, `drop_layers` |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 45 minutes of work; run top to bottom, the notebook takes about 35 s on a 2-core laptop CPU (measured; cells that take longer than a few seconds show a progress bar) |
#
# **How feedback works.** After each exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees ("you pruned the largest weights"). When your
# notebook is graded, hidden tests run your code on random inputs and compare it with the
# reference, which follows `torch.nn.utils.prune` exactly. Do not rename the functions you are
# asked to write, and do not use `torch.nn.utils.prune` in your answers: you are re-building it.

# %% [setup]
import copy
import numbers
import statistics

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from course_lib import measure, plotting, widgets
from course_lib.checks.pruning import (check_drop_layers, check_global_magnitude_masks,
                                       check_head_importance, check_magnitude_mask,
                                       check_n_to_prune, check_neuron_mask, check_prune_heads,
                                       check_remove_neurons)
from course_lib.datasets import TOPICS, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import set_seed
from course_lib.training import evaluate, make_batches, train_classifier

# %% [markdown]
# ## 1. Pruning: fewer weights, same performance
#
# Pruning **reduces model size and computation** and, done well, **keeps performance with fewer
# weights**. In a transformer we can prune
#
# * **weights**: single entries of $W_q, W_k, W_v, W_o, W_1, W_2$ (unstructured);
# * **neurons**: whole rows of the feed-forward layer's $W_1$ (structured);
# * **attention heads**: whole heads of a multi-head attention layer;
# * **layers**: whole transformer blocks.
#
# We start from a fine-tuned model, because pruning is applied after training: we fine-tune the
# pre-trained encoder's [CLS] classifier on the 4-topic task once, then prune it **without
# retraining**, and try a short recovery fine-tune at the end of some sections.

# %%
set_seed(0)
tok = load_tokenizer()
train, dev, test = load_topic("train"), load_topic("dev"), load_topic("test")
print(f"{len(train)} training, {len(dev)} dev, {len(test)} test sentences; topics: {TOPICS}")

# %% [skip-grading]
EPOCHS, LR = 2, 1e-3
base = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
base_run = train_classifier(base, tok, train, epochs=EPOCHS, lr=LR, seed=0)
base_acc = evaluate(base, tok, test)
print(f"fine-tuned [CLS] classifier: test accuracy {base_acc:.1%} "
      f"({base_run['seconds']:.1f} s of training)")


def encoder_linears(model: CLSClassifier) -> list[nn.Linear]:
    """The linear layers we prune: W_q, W_k, W_v, W_o, W_1, W_2 of every block."""
    return [lin for b in model.encoder.blocks
            for lin in (b.attn.W_q, b.attn.W_k, b.attn.W_v, b.attn.W_o, b.ffn.W_1, b.ffn.W_2)]


N_LINEAR = sum(lin.weight.numel() for lin in encoder_linears(base))
print(f"{N_LINEAR:,} weights in the encoder's linear layers "
      f"(of {measure.count_parameters(base):,} parameters; embeddings and head stay dense)")

# %% [markdown]
# ## 2. Pruning weights by magnitude
#
# **Magnitude pruning** (unstructured, L1) removes the weights with the smallest absolute value.
# To prune an amount $p$ of a weight tensor $W$ with $n$ entries, zero the
# $k = \operatorname{round}(p\,n)$ entries with the smallest $|W_{ij}|$ and keep the rest:
#
# $$M_{ij} = \begin{cases} 0 & \text{if } |W_{ij}| \text{ is among the } k \text{ smallest} \\
# 1 & \text{otherwise,}\end{cases} \qquad W' = W \odot M .$$
#
# We follow `torch.nn.utils.prune` exactly, so that your masks equal the library's:
#
# * a **float** `amount` in $[0, 1]$ is a fraction: $k$ = `round(amount * n)` with Python's
#   `round`, which rounds halves **to even**: `0.25 * 10 = 2.5` gives 2, `0.5 * 5 = 2.5` gives 2,
#   `0.15 * 10 = 1.5` gives 2;
# * an **int** `amount` is a count: `amount=3` prunes 3 entries (so `1` prunes one entry and
#   `1.0` prunes all of them);
# * anything else is an error: a float outside $[0, 1]$ or a negative int is a `ValueError`, an int
#   larger than $n$ too, and a non-number a `TypeError`.
#
# ### Exercise 1 ({{points}} points): how many entries?
#
# Write `n_to_prune(amount, n)`: the number $k$ of entries to prune out of $n$, with the rules
# above (raise the errors with a message that says what is allowed).

# %% [solution] id=n_to_prune
def n_to_prune(amount, n: int) -> int:
    """k = round(amount * n) for a fraction (half to even), amount itself for a count."""
    ### BEGIN SOLUTION
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"amount must be an int (a count) or a float (a fraction), "
                        f"got {type(amount).__name__}")
    if isinstance(amount, numbers.Integral):
        if not 0 <= amount <= n:
            raise ValueError(f"amount={amount} is a count: it must be between 0 and n={n}")
        return int(amount)
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount={amount} is a fraction: it must be in [0, 1]")
    return round(amount * n)                         # Python round: half to even
    ### END SOLUTION


# %% [tests] points=1
check_n_to_prune(n_to_prune)

# %% [markdown]
# ### Exercise 2 ({{points}} points): `magnitude_mask`
#
# Write `magnitude_mask(weight, amount, mask=None)`: a new mask $M$ (a tensor of `weight`'s
# shape and dtype, 1 = keep, 0 = pruned) that zeroes the $k$ entries with the smallest $|W_{ij}|$.
# Do not modify `weight`.
#
# **Pruning again.** `mask` is the mask of an earlier round (all ones if `None`). Entries it
# already pruned stay pruned, and the amount applies to **what remains**: with $n'$ entries still
# kept, prune $k$ = `n_to_prune(amount, n')` more of them, the smallest $|W_{ij}|$ among the kept
# ones. So pruning 50% twice leaves 25%. (The weight you pass in a second round is usually already
# pruned, so its pruned entries are 0: do not count them as the smallest again.)
#
# Hint: `torch.topk(scores, k, largest=False).indices` gives the positions of the $k$ smallest
# scores; give the already-pruned entries a score that is never among them.

# %% [solution] id=magnitude_mask
def magnitude_mask(weight: torch.Tensor, amount, mask: torch.Tensor | None = None) -> torch.Tensor:
    """L1 unstructured pruning: zero the k smallest |w| among the entries `mask` still keeps."""
    ### BEGIN SOLUTION
    if mask is None:
        mask = torch.ones_like(weight)
    mask = mask.detach().to(weight.dtype).clone(memory_format=torch.contiguous_format)
    flat = mask.view(-1)                                             # (n,) a view of the mask
    kept = flat == 1                                                 # (n,) not pruned yet
    k = n_to_prune(amount, int(kept.sum()))                          # the amount of what remains
    if k > 0:
        scores = weight.detach().abs().reshape(-1).masked_fill(~kept, float("inf"))  # (n,) |w|
        flat[torch.topk(scores, k, largest=False).indices] = 0       # the k smallest |w|
    return mask
    ### END SOLUTION


# %% [tests] points=3 case=magnitude,iterative
check_magnitude_mask(magnitude_mask)

# %% [markdown]
# ### Exercise 3 ({{points}} points): global pruning
#
# Pruning each tensor by the same amount ("per layer") assumes every layer is equally redundant.
# **Global** magnitude pruning ranks the weights of *all* tensors together and removes the
# $k = \operatorname{round}(p \sum_t n_t)$ smallest overall, so layers with many small weights
# lose more, like `torch.nn.utils.prune.global_unstructured` with `L1Unstructured`.
#
# Write `global_magnitude_masks(weights, amount)`: one mask per tensor of the list `weights`
# (each of its tensor's shape). Hint: rank one long vector of all $|W_{ij}|$ with the function
# you already have, then cut it back into pieces.

# %% [solution] id=global_magnitude_masks
def global_magnitude_masks(weights: list[torch.Tensor], amount) -> list[torch.Tensor]:
    """Magnitude pruning with one threshold for all tensors together."""
    ### BEGIN SOLUTION
    scores = torch.cat([w.detach().abs().reshape(-1) for w in weights])     # (sum n_t,) |w|
    flat = magnitude_mask(scores, amount)                                   # (sum n_t,)
    pieces = flat.split([w.numel() for w in weights])
    return [m.reshape(w.shape).to(w.dtype).clone() for m, w in zip(pieces, weights)]
    ### END SOLUTION


# %% [tests] points=2 case=global
check_global_magnitude_masks(global_magnitude_masks)

# %% [markdown]
# ### Sparsity against accuracy
#
# We prune the fine-tuned model's linear layers at growing sparsity, once per layer and once
# globally, and measure test accuracy **without retraining**. (The demo applies your masks by
# multiplying the weights; `torch.nn.utils.prune` would do the same with a forward hook.)

# %% [skip-grading]
SPARSITIES = [0.3, 0.5, 0.7, 0.8, 0.9]


def sparsity(model) -> float:
    """Fraction of the original linear-layer weights that are zero or gone."""
    return 1 - sum(int((lin.weight != 0).sum()) for lin in encoder_linears(model)) / N_LINEAR


@torch.no_grad()
def pruned_copy(how: str, amount) -> CLSClassifier:
    model = copy.deepcopy(base)
    linears = encoder_linears(model)
    if how == "per layer":
        masks = [magnitude_mask(lin.weight, amount) for lin in linears]
    else:
        masks = global_magnitude_masks([lin.weight for lin in linears], amount)
    for lin, m in zip(linears, masks):
        lin.weight.mul_(m)                                    # W' = W * M
    return model


curves = {"per layer": [(0.0, base_acc)], "global": [(0.0, base_acc)]}
for how in curves:
    for p in tqdm(SPARSITIES, desc=f"pruning {how}"):
        model = pruned_copy(how, p)
        curves[how].append((sparsity(model), evaluate(model, tok, test)))
plotting.show_table(["sparsity"] + list(curves),
                    [[f"{p:.0%}"] + [f"{curves[h][i][1]:.1%}" for h in curves]
                     for i, p in enumerate([0.0] + SPARSITIES)],
                    title="Test accuracy after magnitude pruning, no retraining")

# %% [markdown]
# Half of the linear weights go at a cost of about a point (at most a point and a half).
# <!-- claim: pruning.half_free -->
# Global ranking holds up better than the same fraction in every layer, at every sparsity of the
# table. <!-- claim: pruning.global_beats_per_layer -->
# It lets the redundant matrices lose more. Where does global pruning cut?

# %% [skip-grading]
global_70 = pruned_copy("global", 0.7)
names = ["W_q", "W_k", "W_v", "W_o", "W_1", "W_2"]
rows = []
for i, b in enumerate(global_70.encoder.blocks):
    lins = (b.attn.W_q, b.attn.W_k, b.attn.W_v, b.attn.W_o, b.ffn.W_1, b.ffn.W_2)
    rows.append([f"block {i}"] + [f"{(lin.weight == 0).float().mean().item():.0%}"
                                  for lin in lins])
plotting.show_table(["layer"] + names, rows, title="Pruned fraction per matrix, global 70%")

# %% [markdown]
# **Recovery.** A short fine-tune with the mask held fixed: the pruned weights stay 0, the others
# adapt. We prune 90% globally and train one epoch; the gradient of every pruned weight is masked
# so it stays at zero.

# %% [skip-grading]
RECOVER_AT = 0.9
recovered = pruned_copy("global", RECOVER_AT)
masks = [(lin.weight != 0).float() for lin in encoder_linears(recovered)]
for lin, m in zip(encoder_linears(recovered), masks):
    lin.weight.register_hook(lambda grad, m=m: grad * m)         # pruned weights get no update
train_classifier(recovered, tok, train, epochs=1, lr=LR, seed=0)
with torch.no_grad():                                            # AdamW's weight decay is 0 here,
    for lin, m in zip(encoder_linears(recovered), masks):        # but make sure they stay 0
        lin.weight.mul_(m)
recovered_acc = evaluate(recovered, tok, test)
print(f"global {RECOVER_AT:.0%}: {curves['global'][-1][1]:.1%} without retraining, "
      f"{recovered_acc:.1%} after one epoch of fine-tuning with the mask fixed "
      f"(sparsity {sparsity(recovered):.0%}; unpruned model {base_acc:.1%})")

# %% [markdown]
# The epoch of fine-tuning wins back more than half of what pruning 90% lost.
# <!-- claim: pruning.recovery -->

# %% [markdown]
# ## 3. Pruning neurons (structured)
#
# The feed-forward layer computes $\text{FFN}(x) = W_2\,\text{GELU}(W_1 x + b_1) + b_2$ with
# $W_1 \in \mathbb{R}^{d_{ff} \times d}$. **Neuron** $i$ is row $i$ of $W_1$ (with $b_{1,i}$) and
# column $i$ of $W_2$. Structured pruning removes whole neurons, those whose row has the smallest
# L2 norm $\lVert W_1[i, :] \rVert_2$, like
# `prune.ln_structured(W_1, "weight", amount, n=2, dim=0)`.
#
# ### Exercise 4 ({{points}} points): `neuron_mask`
#
# Write `neuron_mask(weight, amount)` for a weight of shape `(out_features, in_features)`: a mask
# of the weight's shape and dtype whose rows are all 0 for the
# $k$ = `n_to_prune(amount, out_features)` rows with the smallest L2 norm, and all 1 elsewhere.

# %% [solution] id=neuron_mask
def neuron_mask(weight: torch.Tensor, amount) -> torch.Tensor:
    """L2 structured pruning on dim 0: zero the k rows (output neurons) with the smallest norm."""
    ### BEGIN SOLUTION
    norms = weight.detach().norm(p=2, dim=1)                       # (out,) ||W[i, :]||_2
    k = n_to_prune(amount, weight.shape[0])
    mask = torch.ones_like(weight)                                 # (out, in)
    if k > 0:
        mask[torch.topk(norms, k, largest=False).indices] = 0      # whole rows
    return mask
    ### END SOLUTION


# %% [tests] points=2 case=neuron
check_neuron_mask(neuron_mask)

# %% [markdown]
# ### Exercise 5 ({{points}} points): remove the neurons for real
#
# A zeroed row still costs a multiply-add in a dense matmul. To make the layer *smaller*, build
# new, narrower layers: keep the rows of $W_1$ and entries of $b_1$ of the surviving neurons, and
# the same **columns** of $W_2$ ($b_2$ stays whole). The new layer computes exactly what the old
# one computes with those neurons' outputs set to zero.
#
# Write `remove_neurons(ffn, amount)`: choose the neurons with
# `neuron_mask(ffn.W_1.weight, amount)`, replace `ffn.W_1` by an `nn.Linear(d, d_kept)` and
# `ffn.W_2` by an `nn.Linear(d_kept, d)` holding the kept weights (on the same device), and
# return `ffn`.

# %% [solution] id=remove_neurons
def remove_neurons(ffn: nn.Module, amount) -> nn.Module:
    """Physically remove the FFN neurons with the smallest ||W_1[i, :]||_2."""
    ### BEGIN SOLUTION
    keep = neuron_mask(ffn.W_1.weight, amount).bool().any(dim=1)   # (d_ff,) surviving neurons
    W_1, W_2 = ffn.W_1, ffn.W_2
    d_kept = int(keep.sum())
    new_1 = nn.Linear(W_1.in_features, d_kept).to(W_1.weight.device)
    new_2 = nn.Linear(d_kept, W_2.out_features).to(W_2.weight.device)
    with torch.no_grad():
        new_1.weight.copy_(W_1.weight[keep])                       # (d_kept, d) rows of W_1
        new_1.bias.copy_(W_1.bias[keep])                           # (d_kept,)
        new_2.weight.copy_(W_2.weight[:, keep])                    # (d, d_kept) columns of W_2
        new_2.bias.copy_(W_2.bias)                                 # (d,)
    ffn.W_1, ffn.W_2 = new_1, new_2
    return ffn
    ### END SOLUTION


# %% [tests] points=2
check_remove_neurons(remove_neurons)

# %% [markdown]
# Only the FFN is pruned here (two thirds of the linear weights), so the sparsity axis counts the
# fraction of *all* linear-layer weights that are gone. Structured pruning cannot pick single small
# weights, so on large models it usually costs more accuracy than unstructured pruning at the
# same sparsity. Our tiny model's FFN, though, is very redundant for topic classification (the
# global table above already pruned its top FFN layers hardest): half of its neurons go at a cost
# of less than a point. <!-- claim: pruning.neurons_redundant -->

# %% [skip-grading]
NEURON_AMOUNTS = [0.3, 0.5, 0.7, 0.9]


def neuron_pruned_copy(amount) -> CLSClassifier:
    model = copy.deepcopy(base)
    for b in model.encoder.blocks:
        remove_neurons(b.ffn, amount)
    return model


curves["neurons (FFN)"] = [(0.0, base_acc)]
for p in tqdm(NEURON_AMOUNTS, desc="pruning neurons"):
    model = neuron_pruned_copy(p)
    curves["neurons (FFN)"].append((sparsity(model), evaluate(model, tok, test)))

fig, ax = plt.subplots(figsize=(6, 3.6))
for i, (how, pts) in enumerate(curves.items()):
    ax.plot([100 * s for s, _ in pts], [100 * a for _, a in pts], label=how, **plotting.style(i))
ax.axhline(100 * base_acc, ls="--", label="unpruned", **plotting.REFERENCE)
ax.axhline(100 / len(TOPICS), ls=":", label="chance", **plotting.REFERENCE)
ax.plot([100 * sparsity(recovered)], [100 * recovered_acc], "k*", ms=10,
        label="global + 1 epoch fine-tune")
ax.set(xlabel="sparsity: % of linear-layer weights removed", ylabel="test accuracy (%)",
       title="Pruning without retraining")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# Move the slider to read off one sparsity level (the points are precomputed: nothing retrains).

# %% [skip-grading]
def describe(p, row):
    cells = "; ".join(f"{how} {acc:.1%}" for how, acc in row.items())
    kept = measure.format_bytes(4 * N_LINEAR * (1 - p))
    return (f"<b>{p:.0%} of the weights pruned</b> ({kept} of "
            f"{measure.format_bytes(4 * N_LINEAR)} of linear weights left): {cells} "
            f"(unpruned {base_acc:.1%})")


slider_rows = {p: {h: curves[h][i + 1][1] for h in ("per layer", "global")}
               for i, p in enumerate(SPARSITIES)}
widgets.table_slider(SPARSITIES, slider_rows, "sparsity", describe)

# %% [markdown]
# ### Does sparsity make the model faster? Honest timing
#
# A dense matmul multiplies every entry, zero or not: **unstructured zeros save no time** (and
# sparse-matrix formats only pay off at very high sparsity, on hardware made for them).
# **Structured** removal makes the matrices smaller, so the matmul does less work. We time one FFN
# with 50% of its weights zeroed and with 50% of its neurons removed: the tiny model's FFN
# ($d = 64$, $d_{ff} = 256$) and one the size of BERT-base's ($d = 768$, $d_{ff} = 3072$).

# %% [skip-grading]
@torch.no_grad()
def ffn_timings(d, d_ff, tokens, repeats, rounds=5):
    """Per variant, the seconds of one forward pass in each of `rounds` interleaved rounds."""
    from course_lib.model import FeedForward, TransformerConfig
    set_seed(0)
    dense = FeedForward(TransformerConfig(d_model=d, d_ff=d_ff, dropout=0.0)).eval()
    zeros = copy.deepcopy(dense)
    zeros.W_1.weight.mul_(magnitude_mask(zeros.W_1.weight, 0.5))
    zeros.W_2.weight.mul_(magnitude_mask(zeros.W_2.weight, 0.5))
    removed = remove_neurons(copy.deepcopy(dense), 0.5)
    x = torch.randn(1, tokens, d)                                   # (1, T, d)
    variants = {"dense": dense, "50% weights zeroed": zeros, "50% neurons removed": removed}
    times = measure.interleaved({name: (lambda m=m: m(x)) for name, m in variants.items()},
                                rounds=rounds, repeats=repeats)
    nonzero = {name: sum(int((p != 0).sum()) for p in m.parameters())
               for name, m in variants.items()}
    return times, nonzero


speed_rows, speed = [], {}
for label, d, d_ff, tokens, repeats in tqdm([("tiny FFN (64 x 256)", 64, 256, 4096, 20),
                                             ("BERT-base FFN (768 x 3072)", 768, 3072, 256, 10)],
                                            desc="timing FFNs"):
    times, nonzero = ffn_timings(d, d_ff, tokens, repeats)
    speed[label] = {name: measure.ratio_spread(times["dense"], t) for name, t in times.items()}
    for name, t in times.items():
        median, low, high = speed[label][name]
        speed_rows.append([label, name, f"{nonzero[name]:,}",
                           f"{1e3 * statistics.median(t):.2f} ms",
                           f"{median:.2f}x ({low:.2f}x to {high:.2f}x)"])
plotting.show_table(["FFN", "variant", "non-zero parameters", "latency (median)",
                     "speed-up vs dense: median (range over rounds)"], speed_rows,
                    title="One FFN forward pass, CPU, 5 interleaved rounds")

# %% [markdown]
# The zeroed weights run at the dense layer's speed (median within 15%), and removing half of
# the neurons makes the layer clearly faster (median at least 1.5 times), for both sizes. The
# range shows how much one round differs from another on a busy machine: read the medians.
# <!-- claim: pruning.structured_speed -->

# %% [markdown]
# ## 4. Pruning attention heads
#
# Michel et al. (2019), "Are Sixteen Heads Really Better than One?", put a gate $\xi_h$ on each
# head's output,
# $\text{MHA}(x) = W_o \big[\xi_1 \text{head}_1(x); \dots; \xi_H \text{head}_H(x)\big]$,
# with all $\xi_h = 1$. A head matters if the loss is sensitive to its gate, so its
# **importance** is
#
# $$I_h = \mathbb{E}_{x} \left| \frac{\partial \mathcal{L}(x)}{\partial \xi_h} \right| ,$$
#
# the expectation taken over the examples $x$: the absolute value is taken **per example**,
# before averaging, so that gradients of opposite sign on two examples do not cancel. Michel et
# al. then **normalise the scores within each layer** (dividing by their $\ell_2$ norm over the
# layer's heads) before ranking all heads of the model together, so that no layer is emptied
# only because its gradients are larger. Pruning head $h$ sets $\xi_h = 0$. In `course_lib` the
# gates are `block.attn.head_gate`, a buffer of `n_heads` ones in every block.
#
# We compute a cheaper version: the absolute value of each **batch's** mean gradient, averaged
# over batches, with no normalisation per layer. One backward pass per batch instead of one per
# example; the price is that per-example gradients of opposite sign can cancel inside a batch.
# Exercise 5 at the end computes Michel et al.'s version and compares the rankings.
#
# ### Exercise 6 ({{points}} points): `head_importance`
#
# Write `head_importance(model, batches)` for a `CLSClassifier` `model` and a list of batches
# (dicts with `input_ids`, `attention_mask`, `labels`): for each batch compute the cross-entropy
# loss of `model(input_ids=..., attention_mask=...)` (the batch mean), its gradient with respect to
# every gate, and average $|\partial \mathcal{L} / \partial \xi_h|$ over the batches. Return a
# tensor of shape `(n_layers, n_heads)` on the CPU. Run the model in eval mode; make the gates
# require grad while you need it (`gate.requires_grad_(True)`), and leave the gates (all ones)
# and the model's weights as they were.

# %% [solution] id=head_importance
def head_importance(model: CLSClassifier, batches) -> torch.Tensor:
    """I_h = mean over batches of |dL/d xi_h|, shape (n_layers, n_heads)."""
    ### BEGIN SOLUTION
    was_training = model.training
    model.eval()
    gates = [block.attn.head_gate for block in model.encoder.blocks]    # L x (H,)
    for g in gates:
        g.requires_grad_(True)
    importance = torch.zeros(len(gates), gates[0].numel())             # (L, H)
    try:
        for batch in batches:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            loss = F.cross_entropy(logits, batch["labels"])             # batch mean
            grads = torch.autograd.grad(loss, gates)                    # L x (H,) dL/d xi_h
            importance += torch.stack(grads).abs().cpu()                # (L, H)
    finally:
        for g in gates:
            g.requires_grad_(False)
        model.train(was_training)
    return importance / len(batches)
    ### END SOLUTION


# %% [tests] points=2
check_head_importance(head_importance)

# %% [markdown]
# ### Exercise 7 ({{points}} points): `prune_heads`
#
# Write `prune_heads(encoder, importance, n)`: set to 0 the gates of the `n` heads with the
# smallest importance **over the whole model** (not $n$ per layer), and return the pruned heads as
# a sorted list of `(layer, head)` pairs. Raise a `ValueError` if `n` is not between 0 and the
# number of heads.

# %% [solution] id=prune_heads
def prune_heads(encoder: nn.Module, importance: torch.Tensor, n: int) -> list[tuple[int, int]]:
    """Gate off the n least important heads of the model: xi_h = 0."""
    ### BEGIN SOLUTION
    L, H = importance.shape
    if not 0 <= n <= L * H:
        raise ValueError(f"n={n} heads: choose between 0 and {L * H}")
    order = torch.argsort(importance.reshape(-1))[:n]                  # (n,) least important
    pruned = sorted((int(i) // H, int(i) % H) for i in order)
    with torch.no_grad():
        for layer, head in pruned:
            encoder.blocks[layer].attn.head_gate[head] = 0.0             # xi_h = 0
    return pruned
    ### END SOLUTION


# %% [tests] points=1
check_prune_heads(prune_heads)

# %% [markdown]
# We score the fine-tuned model's 16 heads on the dev set, then prune more and more of them,
# least important first, and, as a control, most important first.

# %% [skip-grading]
dev_batches = list(make_batches(tok, dev, batch_size=100))
importance = head_importance(base, dev_batches)                     # (L, H)
fig = plotting.heatmap_grid([importance], ["Head importance E|dL/d xi_h| (per batch)"],
                            xlabel="head", row_labels=[f"layer {l}" for l in range(len(importance))],
                            ncols=1, fmt="{:.3f}", vmin=0, vmax=importance.max().item())

# %% [skip-grading]
HEADS_PRUNED = [0, 4, 8, 12]
head_curves = {"least important first": [base_acc], "most important first": [base_acc]}
for n in tqdm(HEADS_PRUNED[1:], desc="pruning heads"):
    for how, scores in (("least important first", importance),
                        ("most important first", -importance)):
        model = copy.deepcopy(base)
        prune_heads(model.encoder, scores, n)
        head_curves[how].append(evaluate(model, tok, test))
plotting.show_table(["heads pruned (of 16)"] + list(head_curves),
                    [[n] + [f"{head_curves[h][i]:.1%}" for h in head_curves]
                     for i, n in enumerate(HEADS_PRUNED)],
                    title="Test accuracy after gating heads off, no retraining")
fig = plotting.line_plot(HEADS_PRUNED, {h: [100 * a for a in v] for h, v in head_curves.items()},
                         "heads pruned (of 16)", "test accuracy (%)", "Head pruning")

# %% [markdown]
# Half of the heads can be gated off, least important first, at a cost of less than two points,
# and pruning the most important first costs more at every count.
# <!-- claim: pruning.heads_by_importance -->

# %% [markdown]
# ## 5. Dropping layers
#
# The coarsest structure is a whole block. Sajjad et al. (2023), "On the effect of dropping layers
# of pre-trained transformer models", found that dropping the **top** layers works best: with up
# to 40% of BERT's or RoBERTa's 12 layers gone, fine-tuned models keep about 98% of their
# performance. The lecture's table (GLUE, after fine-tuning the reduced model) shows it: BERT on
# SST-2 goes from 92.43 with 0/12 layers dropped to 92.20 (2/12), 90.60 (4/12) and 90.25 (6/12);
# RoBERTa even gains at 2/12 on most tasks.
#
# ### Exercise 8 ({{points}} points): `drop_layers`
#
# Write `drop_layers(model, n)` for a model with a `blocks` `nn.ModuleList` (our `Encoder`): keep
# the bottom `len(model.blocks) - n` blocks (the same module objects, in order), drop the top `n`,
# and return the model. Raise a `ValueError` if `n` is not between 0 and the number of blocks.

# %% [solution] id=drop_layers
def drop_layers(model: nn.Module, n: int) -> nn.Module:
    """Drop the top n transformer blocks (Sajjad et al.: the top layers matter least)."""
    ### BEGIN SOLUTION
    L = len(model.blocks)
    if not 0 <= n <= L:
        raise ValueError(f"cannot drop n={n} of {L} layers")
    model.blocks = nn.ModuleList(list(model.blocks)[:L - n])          # keep blocks 0 .. L-n-1
    return model
    ### END SOLUTION


# %% [tests] points=2
check_drop_layers(drop_layers)

# %% [markdown]
# We drop 0 to 3 of the fine-tuned encoder's 4 layers and measure accuracy as is, and after one
# more epoch of fine-tuning of the reduced model (the lecture's setting), in a table shaped like
# the lecture's. As a control, we also drop the **bottom** layers.

# %% [skip-grading]
def delta(acc, ref, first):
    """The lecture's format: 92.20 (0.23↓)."""
    d = 100 * (acc - ref)
    arrow = "↓" if d < 0 else "↑"
    return f"{100 * acc:.2f}" if first else f"{100 * acc:.2f} ({abs(d):.2f}{arrow})"


layer_rows, layer_acc = [], {}
L = len(base.encoder.blocks)
for n in tqdm(range(L), desc="dropping layers"):
    model = copy.deepcopy(base)
    drop_layers(model.encoder, n)
    plain = tuned = evaluate(model, tok, test) if n > 0 else base_acc
    if n > 0:
        train_classifier(model, tok, train, epochs=1, lr=LR, seed=0, progress=False)
        tuned = evaluate(model, tok, test)
    layer_acc[n] = (plain, tuned)
    layer_rows.append([f"{n}/{L}", f"{measure.count_parameters(model):,}",
                       delta(plain, base_acc, n == 0), delta(tuned, base_acc, n == 0)])
plotting.show_table(["Drop.", "parameters", "Topic, no retraining", "Topic, + 1 epoch"],
                    layer_rows, title="Dropping the top layers of the fine-tuned encoder")

bottom = copy.deepcopy(base)
bottom.encoder.blocks = nn.ModuleList(list(bottom.encoder.blocks)[2:])
bottom_acc = evaluate(bottom, tok, test)
print(f"control: dropping the BOTTOM 2 layers instead: {bottom_acc:.1%} "
      f"(top 2: {layer_acc[2][0]:.1%}), without retraining")

# %% [markdown]
# After one epoch of fine-tuning, the encoder keeps at least 95% of its accuracy with up to three
# of its four layers dropped, close to the lecture's table. <!-- claim: pruning.top_layers_recover -->
# Without the extra epoch, dropping the top layer costs at most a point, and each further layer
# dropped costs more; the epoch wins most of it back. <!-- claim: pruning.top_layers_as_is -->
# Without retraining, dropping the bottom two layers costs more than dropping the top two.
# <!-- claim: pruning.bottom_worse -->
#
# ## Summary
#
# * **Weights.** Magnitude pruning zeroes the $k = \operatorname{round}(p\,n)$ smallest $|W_{ij}|$
#   (half to even, as `torch.nn.utils.prune`); pruning again applies $p$ to what remains. Global
#   ranking lets redundant layers lose more. Half of the linear weights go for about a point
#   here, and a short fine-tune with the mask fixed recovers much of what more pruning costs.
#   <!-- claim: pruning.half_free --> <!-- claim: pruning.recovery -->
# * **Honest speed.** Unstructured zeros shrink nothing in a dense matmul: same latency.
#   **Structured** pruning (neurons, heads, layers) makes the computation smaller and faster.
#   <!-- claim: pruning.structured_speed -->
#   It cannot choose single weights, so on large models it usually costs more accuracy at the
#   same sparsity (the papers' finding; our small FFN is unusually redundant).
# * **Heads.** $I_h = \mathbb{E}_x|\partial \mathcal{L}(x) / \partial \xi_h|$ ranks the heads
#   (per example and normalised per layer in Michel et al.; per batch here); half of them can
#   be gated off, least important first, at little cost.
#   <!-- claim: pruning.heads_by_importance -->
# * **Layers.** Dropping the top layers and fine-tuning briefly keeps most of the accuracy, as in
#   the lecture's BERT/RoBERTa table. <!-- claim: pruning.top_layers_recover -->
#
# **Check yourself.** (1) How many entries does `amount=0.35` prune from a tensor of 10? And
# `amount=3`? (2) After pruning 50% three times, what fraction is left? (3) Why does a 90% sparse
# weight matrix not make `x @ W.T` ten times faster on a CPU? (4) Removing 50% of the FFN neurons
# of a layer with $d = 768$, $d_{ff} = 3072$ removes how many weights (biases aside)?
#
# <details><summary>Answers</summary>
#
# (1) 4, since $3.5$ rounds to even, and 3. (2) $1/8$. (3) The dense kernel multiplies the zeros
# too; sparse formats need very high sparsity or special hardware to win. (4) $2 \cdot 1536 \cdot
# 768 = 2{,}359{,}296$ (the rows of $W_1$ and the columns of $W_2$).
#
# </details>
#
# ## Exercises
#
# 1. **2:4 sparsity.** NVIDIA's sparse tensor cores run a matrix twice as fast when every group of
#    4 consecutive weights of a row has at most 2 non-zeros. Write `mask_2_4(W)` (keep the 2
#    largest $|w|$ of each group of 4) and compare the accuracy of the fine-tuned encoder with
#    50% unstructured magnitude pruning.
# 2. **Iterative pruning.** Prune 90% globally in one shot, and in three rounds that each prune
#    the same fraction of what remains (what fraction per round?) with one epoch of fine-tuning
#    after each. Which ends higher, and what did it cost in training time?
# 3. **Head importance by ablation.** Michel et al.'s gradient score approximates the loss change
#    from removing a head. Compute the exact change instead (gate one head off at a time on the dev
#    set) and compare the rankings. How many forward passes does each method need?
# 4. **Which layers?** Drop layers 1 and 2 (the middle) instead of the top two, and compare with
#    the table above before and after one epoch of fine-tuning.
# 5. **Michel et al.'s importance.** Compute $|\partial \mathcal{L}(x) / \partial \xi_h|$ for
#    each dev example on its own, average over the examples, divide each layer's scores by their
#    $\ell_2$ norm, and prune by this ranking. Does it pick the same heads as the per-batch score?
#
# <details><summary>Answers</summary>
#
# 1. Each group keeps its 2 largest magnitudes: `W.abs().view(rows, -1, 4).topk(2, -1)` gives
#    the kept positions. 2:4 is a constrained 50%, so expect it to cost at least what 50%
#    unstructured costs; the gain is speed, on hardware that supports it.
# 2. Three rounds of $p$ each leave $(1 - p)^3 = 0.1$, so $p = 1 - 0.1^{1/3} \approx 0.54$.
#    Iterative pruning with fine-tuning in between is the classic recipe (Han et al. 2015);
#    measure whether it wins here, at three times the fine-tuning cost.
# 3. Ablation needs one forward pass over the dev set per head (16 here, $L \cdot H$ in general);
#    the gradient score needs one forward and one backward pass per batch for all heads at once.
#    Compare the two rankings with a rank correlation, and the accuracy after pruning by each.
# 4. A hypothesis to test: the middle layers feed the top ones, so removing them changes what the
#    kept top layers receive; fine-tuning can repair some of it.
# 5. Use batches of one example (`make_batches(tok, dev, batch_size=1)`) with your
#    `head_importance`: the absolute value is then taken per example. Then
#    `importance / importance.norm(dim=1, keepdim=True)` normalises each layer. Count the heads
#    the two rankings share among their 8 least important.
#
# </details>
