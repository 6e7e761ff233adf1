# %% [markdown]
# # Part 1d: Low-Rank Adaptation (LoRA)
#
# **Lecture 11, Model Efficiency: parameter-efficient fine-tuning.** You will wrap the attention
# projections of a small pre-trained transformer with LoRA, fine-tune it on a 4-topic news task,
# and fold the update back into the weights so inference costs nothing extra.
#
# | | |
# |---|---|
# | You will write | `LoRALinear` (forward, `get_delta_weight`, `merge`, `unmerge`), `add_lora`, `lora_parameter_count` |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 45 minutes of work; run top to bottom, the notebook takes about 25 s on a 2-core laptop CPU (measured; cells that take longer than a few seconds show a progress bar) |
#
# **How feedback works.** After each exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees ("your update is not scaled by alpha/r"). When
# your notebook is graded, hidden tests run your code on random inputs and compare it with the
# reference. Do not rename the functions and classes you are asked to write.

# %% [setup]
import copy
import math
import statistics

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from course_lib import measure, plotting, widgets
from course_lib.checks.lora import check_add_lora, check_lora_linear, check_lora_merge
from course_lib.datasets import TOPICS, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import get_device, set_seed
from course_lib.training import evaluate, train_classifier

# %% [markdown]
# ## 1. Why parameter-efficient fine-tuning?
#
# Pre-training gives a good initialisation; fine-tuning adapts *all* of it to one task. With one
# fine-tuned copy per task (a math mode, a search mode, a safety classifier, ...) the storage
# grows with the number of tasks. PEFT keeps the pre-trained weights **frozen** and trains a
# **small subset** of parameters: less GPU memory, faster training, and one small file per task.
#
# Our pre-trained encoder is tiny (4 layers, $d = 64$, 4 heads), so every experiment runs on a
# CPU in seconds, but the arithmetic is the same as for RoBERTa.

# %%
set_seed(0)
tok = load_tokenizer()
train, dev, test = load_topic("train"), load_topic("dev"), load_topic("test")
encoder = load_encoder()
print(f"{len(train)} training sentences, {len(test)} test sentences, topics: {TOPICS}")
print(f"pre-trained encoder: {measure.count_parameters(encoder):,} parameters, "
      f"{measure.format_bytes(measure.model_size_bytes(encoder))} in fp32")
for ex in test[:4]:
    print(f"  {TOPICS[ex.topic]:<11} {ex.text}")

# %% [markdown]
# **Baseline: full fine-tuning** of the [CLS] classifier, $\text{logits} = W h_{\texttt{[CLS]}} + b$,
# updates every parameter. We keep its accuracy and parameter count for the table in Section 5.

# %% [skip-grading]
EPOCHS, LR_FULL = 1, 1e-3
full = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
full_run = train_classifier(full, tok, train, epochs=EPOCHS, lr=LR_FULL, seed=0)
full_acc = evaluate(full, tok, test)
full_trainable = measure.count_parameters(full, trainable_only=True)
print(f"full fine-tuning: test accuracy {full_acc:.1%}, {full_trainable:,} trainable parameters, "
      f"{full_run['seconds']:.1f} s")

# %% [markdown]
# ## 2. LoRA: a low-rank update
#
# Fine-tuning changes a weight matrix $W_{old}$ into $W_{new} = W_{old} + W_\Delta$, so
#
# $$h = W_{new}\,x = W_{old}\,x + W_\Delta\,x .$$
#
# LoRA's bet (Hu et al., 2021) is that the update has **low rank**: $W_\Delta = B A$ with
# $B \in \mathbb{R}^{d \times r}$, $A \in \mathbb{R}^{r \times k}$ and $r \ll \min(d, k)$. Only
# $A$ and $B$ train: $r(d + k)$ numbers instead of $d k$. Two details from the paper (and the
# `peft` library) matter:
#
# * **Initialisation.** $A$ is random and $B = 0$, so $W_\Delta = 0$ at the start: training
#   begins *exactly* at the pre-trained model. The paper draws $A$ from a Gaussian; `peft`
#   (and this notebook) uses `nn.init.kaiming_uniform_(A, a=math.sqrt(5))`, the default of
#   `nn.Linear`. Either way $A$ must not be zero, or no gradient would reach $B$.
# * **Scaling.** The update is multiplied by $\alpha / r$:
#   $h = W_0 x + \frac{\alpha}{r} B A x$. Hu et al. set $\alpha$ once (to the first $r$ they
#   try) and keep it, so that trying another $r$ needs no new learning rate. The scaling does
#   not make the update's size independent of $r$: a rank-$r$ product $BA$ of trained matrices
#   grows with $r$, which is why rsLoRA (Kalajdzievski 2023) divides by $\sqrt{r}$ instead.
#
# The picture puts full fine-tuning, which trains every entry of $W$, beside LoRA.

# %%
fig = plotting.lora_vs_full(d=6, k=6, r=2)

# %% [markdown]
#
# Dropout (if any) applies to the input of the LoRA branch only, never to $W_0 x$.
#
# ### Exercise 1 ({{points}} points): `LoRALinear`
#
# Wrap an existing `nn.Linear` (`base`, holding $W_0$ and its bias). Keep it as `self.base` and
# freeze it; create `self.A` of shape `(r, in_features)` and `self.B` of shape
# `(out_features, r)` as `nn.Parameter`s; store `self.scaling = alpha / r`. Then write
#
# * `forward(x)`: $W_0 x + b + \frac{\alpha}{r} B A\,\text{dropout}(x)$ for `x` of shape
#   `(..., in_features)`; once merged, just `self.base(x)`;
# * `get_delta_weight()`: $W_\Delta = \frac{\alpha}{r} B A$, shape `(out_features, in_features)`;
# * `merge()`: add $W_\Delta$ into `self.base.weight` (only once: keep the flag `self.merged`);
# * `unmerge()`: subtract it again.

# %% [solution] id=lora_linear
class LoRALinear(nn.Module):
    """h = W_0 x + b + (alpha / r) B A dropout(x), with W_0 and b frozen."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        if r <= 0:
            raise ValueError(f"rank r must be positive, got {r}")
        self.base = base
        self.r, self.alpha = r, alpha
        self.dropout = nn.Dropout(dropout)
        self.merged = False
        ### BEGIN SOLUTION
        for p in self.base.parameters():
            p.requires_grad = False                                      # W_0 stays frozen
        self.A = nn.Parameter(torch.empty(r, base.in_features))          # (r, k)
        self.B = nn.Parameter(torch.zeros(base.out_features, r))         # (d, r): B = 0
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.scaling = alpha / r
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        h = self.base(x)                                                 # W_0 x + b
        if self.merged:
            return h
        return h + (self.dropout(x) @ self.A.T @ self.B.T) * self.scaling  # + (alpha/r) B A x
        ### END SOLUTION

    def get_delta_weight(self) -> torch.Tensor:
        ### BEGIN SOLUTION
        return (self.B @ self.A) * self.scaling                         # (d, k)
        ### END SOLUTION

    @torch.no_grad()
    def merge(self) -> None:
        ### BEGIN SOLUTION
        if not self.merged:
            self.base.weight += self.get_delta_weight()
            self.merged = True
        ### END SOLUTION

    @torch.no_grad()
    def unmerge(self) -> None:
        ### BEGIN SOLUTION
        if self.merged:
            self.base.weight -= self.get_delta_weight()
            self.merged = False
        ### END SOLUTION


# %% [tests] points=3 case=forward
check_lora_linear(LoRALinear)

# %% [tests] id=test_lora_merge points=2 case=merge
check_lora_merge(LoRALinear)

# %% [markdown]
# ### Exercise 2 ({{points}} points): inject LoRA into the encoder
#
# The paper adapts only the query and value projections. Write `add_lora(model, r, alpha)`:
# freeze **every** pre-trained parameter of `model`, and replace `block.attn.W_q` and
# `block.attn.W_v` of every block in `model.blocks` by a `LoRALinear(layer, r, alpha,
# dropout)` wrapping the original layer; afterwards only the LoRA matrices train. Return the
# model. (The checks of this exercise run your `add_lora` with a stand-in in place of your
# `LoRALinear`, so that its points depend on `add_lora` alone: call the class by its name.)

# %% [solution] id=add_lora
def add_lora(model: nn.Module, r: int, alpha: float, dropout: float = 0.0) -> nn.Module:
    ### BEGIN SOLUTION
    for p in model.parameters():
        p.requires_grad = False
    for block in model.blocks:
        block.attn.W_q = LoRALinear(block.attn.W_q, r, alpha, dropout)
        block.attn.W_v = LoRALinear(block.attn.W_v, r, alpha, dropout)
    return model
    ### END SOLUTION


# %% [tests] points=2
check_add_lora(add_lora)

# %% [markdown]
# ### Exercise 3 ({{points}} points): how many parameters does LoRA train?
#
# Write `lora_parameter_count(d, k, r, n_matrices, n_layers)`: the number of trainable LoRA
# parameters when `n_matrices` weight matrices of shape $d \times k$ per layer, in `n_layers`
# layers, get rank-$r$ updates. Check it against the lecture: RoBERTa-base ($d = k = 768$,
# 12 layers, $W_q$ and $W_v$, $r = 8$) trains about 0.3M parameters.

# %% [solution] id=lora_count
def lora_parameter_count(d: int, k: int, r: int, n_matrices: int, n_layers: int) -> int:
    ### BEGIN SOLUTION
    return n_layers * n_matrices * r * (d + k)
    ### END SOLUTION


# %% [tests] id=test_lora_count points=1
n = lora_parameter_count(768, 768, 8, 2, 12)
assert isinstance(n, int), f"return an int, got {type(n).__name__}"
assert 0.25e6 < n < 0.35e6, f"{n:,} is not about 0.3M: did you count both A (r x k) and B (d x r)?"
print(f"\u2713 RoBERTa-base, W_q and W_v, r = 8: {n:,} trainable parameters "
      f"({n / 125e6:.2%} of 125M)")
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("lora.count", lora_parameter_count=lora_parameter_count)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Fine-tune with LoRA
#
# The classifier head on top of [CLS] is new, so it trains too (in `peft` this is
# `modules_to_save`). Everything else is frozen. LoRA trains with a learning rate five times
# that of full fine-tuning (both chosen on the dev set), as parameter-efficient methods usually
# do. That is an empirical choice: the start from an update of zero ($B = 0$) only makes
# training begin at the pre-trained function; it does not say how large a step is safe.

# %% [skip-grading]
ALPHA_PER_RANK = 2                                 # alpha = 2 r: the scaling alpha / r is 2


def lora_classifier(r: int) -> CLSClassifier:
    set_seed(0)
    model = CLSClassifier(add_lora(load_encoder(), r=r, alpha=ALPHA_PER_RANK * r),
                          num_labels=len(TOPICS))
    return model                                   # the new head is trainable by default

LR_LORA = 5e-3
lora_model = lora_classifier(r=8)                  # alpha = 16
lora_run = train_classifier(lora_model, tok, train, epochs=EPOCHS, lr=LR_LORA, seed=0)
lora_acc = evaluate(lora_model, tok, test)
lora_trainable = measure.count_parameters(lora_model, trainable_only=True)
print(f"LoRA r=8: test accuracy {lora_acc:.1%}, {lora_trainable:,} trainable parameters "
      f"({lora_trainable / full_trainable:.1%} of full fine-tuning), {lora_run['seconds']:.1f} s")

# %% [markdown]
# ## 4. Merge for inference: no extra latency
#
# After training, $W_0 + \frac{\alpha}{r} BA$ is just another $d \times k$ matrix. Merging it
# into the base weight removes the extra branch: the merged model computes the same function at
# the cost of the original one. Keeping $A, B$ separate instead lets one server hold one frozen
# model and swap small per-task updates.

# %% [skip-grading]
batch = tok.batch([ex.text for ex in test[:128]])
batch = {k: v.to(get_device()) for k, v in batch.items()}
lora_layers = [m for m in lora_model.modules() if isinstance(m, LoRALinear)]
merged_model = copy.deepcopy(lora_model)
for m in merged_model.modules():
    if isinstance(m, LoRALinear):
        m.merge()                                  # W_0 + (alpha/r) B A, no branch left
with torch.no_grad():
    merge_diff = (merged_model(**batch) - lora_model(**batch)).abs().max().item()
    latency = measure.interleaved({"unmerged": lambda: lora_model(**batch),
                                   "merged": lambda: merged_model(**batch)},
                                  rounds=9, repeats=3, progress="timing rounds")
merge_ratio = measure.ratio_spread(latency["unmerged"], latency["merged"])
print(f"max |logits merged - unmerged| = {merge_diff:.2e}")
print(f"latency on 128 sentences, median of 9 interleaved rounds: unmerged "
      f"{1e3 * statistics.median(latency['unmerged']):.1f} ms, merged "
      f"{1e3 * statistics.median(latency['merged']):.1f} ms; unmerged / merged: median "
      f"{merge_ratio[0]:.2f}, rounds from {merge_ratio[1]:.2f} to {merge_ratio[2]:.2f}")
lora_adapter_bytes = sum(measure.model_size_bytes([m.A, m.B]) for m in lora_layers)
print(f"per-task storage: LoRA A and B {measure.format_bytes(lora_adapter_bytes)} + head, "
      f"a full copy {measure.format_bytes(measure.model_size_bytes(full))}")

# %% [markdown]
# The merged model gives the same logits as the unmerged one, up to float rounding, and is no
# slower: the median ratio of the rounds is at least 0.95, and the printed range shows how much
# one round can differ from another on a busy machine. <!-- claim: lora.merge_free --> (The
# unmerged branch costs $r(d + k)$ multiply-adds per token and adapted matrix, against $d k$ for
# $W_0$, a few percent here: too little to show reliably on a shared CPU. The more matrices and
# the larger $r$, the more merging saves.)

# %% [markdown]
# ## 5. How small can the rank be?
#
# We train LoRA at several ranks and compare with full fine-tuning in a table shaped like the
# lecture's (RoBERTa-base on GLUE: full fine-tuning 125M trainable parameters, average 86.4;
# LoRA 0.3M, average 87.2). Only $r$ changes: every rank trains the same single epoch with the
# same learning rate, and gets $\alpha = 2r$, so the scaling $\alpha / r = 2$ is the same for
# all. (With Hu et al.'s fixed $\alpha = 16$, the rank-1 update would be scaled by 16 and the
# rank-16 update by 1, and the sweep would vary two things at once.)

# %% [skip-grading]
RANKS = [1, 4, 8, 16]
results = {8: (lora_acc, lora_trainable)}          # r = 8 was trained above, same budget
for r in tqdm(RANKS, desc="ranks"):
    if r not in results:
        model = lora_classifier(r)
        train_classifier(model, tok, train, epochs=EPOCHS, lr=LR_LORA, seed=0, progress=False)
        results[r] = (evaluate(model, tok, test), measure.count_parameters(model, trainable_only=True))

rows = [("Full fine-tuning", full_trainable, full_acc)]
rows += [(f"LoRA r={r}, alpha={ALPHA_PER_RANK * r} (W_q, W_v)", results[r][1], results[r][0])
         for r in RANKS]
plotting.show_table(["Method", "# Trainable parameters", "Test accuracy"],
                    [(m, f"{n:,}", f"{a:.1%}") for m, n, a in rows],
                    title=f"{EPOCHS} epoch{'s' * (EPOCHS > 1)} each, one seed")

# %% [skip-grading]
fig = plotting.rank_sweep(RANKS, [results[r][0] for r in RANKS], [results[r][1] for r in RANKS],
                          full_acc=full_acc, full_params=full_trainable)
widgets.rank_slider(RANKS, {r: results[r] for r in RANKS}, full_acc, full_trainable)

# %% [markdown]
# Trainable parameters grow linearly with $r$ (right panel, by the formula of Exercise 3).
# LoRA at $r = 8$ comes within 2 points of full fine-tuning while training under 3% of its
# parameters. <!-- claim: lora.close_to_full --> From $r = 1$ to $r = 16$ the test accuracies
# lie within 2.5 points of each other, with no trend in $r$: a low rank already captures most of
# this task's update, as Hu et al. found on GLUE. <!-- claim: lora.rank_flat --> One seed per rank:
# differences of a point are of the size another seed can make (Part 1e measures the spread
# over seeds).
#
# ## Summary
#
# * LoRA freezes $W_0$ and learns $W_\Delta = \frac{\alpha}{r} B A$ of rank $r$: $r(d+k)$
#   trainable numbers per matrix instead of $dk$.
# * $B = 0$ at the start, so training begins at the pre-trained function; $A$ is random (a
#   Gaussian in the paper, Kaiming-uniform in `peft`). Scaling by $\alpha/r$ lets you change
#   $r$ without retuning the learning rate; it does not make the update's size independent of
#   $r$.
# * After training, merging $W_\Delta$ into $W_0$ gives back a plain model: the same outputs,
#   at the cost of the original layers.
# * Per task you store only $A$, $B$ (and the head): a few KiB here, a few MB for RoBERTa.
#
# ## Exercises
#
# 1. Put LoRA on all four projections ($W_q, W_k, W_v, W_o$) at $r = 4$, so that the trainable
#    count equals $r = 8$ on $W_q, W_v$. Which does better on this task?
# 2. Repeat the rank sweep with Hu et al.'s convention, $\alpha = 16$ for every rank. How do
#    the accuracies at $r = 1$ and $r = 16$ move, and why?
# 3. Replace the scaling by rsLoRA's $\alpha / \sqrt{r}$ (with $\alpha = 2\sqrt{8}$, so that
#    $r = 8$ is unchanged). Does the sweep change?
# 4. Measure the rank of the trained $W_\Delta$ of one layer: `torch.linalg.svdvals` of
#    `get_delta_weight()`. How many singular values are far from zero?
#
# <details><summary>Answers</summary>
#
# 1. Write a variant of `add_lora` that loops over the four names, train it as in Section 3
#    and compare with `lora_acc`; the two have the same number of trainable parameters, so
#    the comparison asks *where* the budget is better spent.
# 2. With a fixed $\alpha$ the scaling $\alpha / r$ is 16 at $r = 1$ and 1 at $r = 16$: the
#    same learning rate then makes large steps at low rank and small ones at high rank, so
#    expect the low ranks to move more (or become unstable) and the high ranks to learn less
#    in one epoch. Run it to see which.
# 3. Set `self.scaling = alpha / math.sqrt(r)` in a subclass; the sweep then changes the
#    scaling again, by $\sqrt{r}$ instead of $r$.
# 4. At most $r$ singular values can be non-zero (the rank of $BA$ is at most $r$); count
#    those above, say, 1% of the largest.
#
# </details>
#
# **Check yourself.** (1) Why would initialising both $A$ and $B$ to zero fail? (2) What is
# the rank of $W_\Delta$ at most? (3) Why can LoRA be merged but an adapter (Part 1c) cannot?
# (4) LoRA with $r = 8$ on $W_q, W_v$ of RoBERTa-large (24 layers, $d = 1024$): how many
# parameters?
#
# <details><summary>Answers</summary>
#
# (1) Both gradients would be zero ($\partial L / \partial A$ is proportional to $B$ and
# $\partial L / \partial B$ to $A$). (2) $r$. (3) The adapter has a nonlinearity between its
# two matrices. (4) $24 \cdot 2 \cdot 8 \cdot 2048 = 786{,}432$, the 0.8M of the table.
#
# </details>
