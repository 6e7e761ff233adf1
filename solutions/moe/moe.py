# %% [markdown]
# # Part 2: Mixture of Experts (MoE)
#
# **Lecture 11, Model Efficiency: efficient architecture.** You will write the gate of a mixture
# of experts, a sparse MoE feed-forward layer that sends each token to only $k$ of its $N$
# experts, and the load-balancing loss that keeps the experts busy. Then you turn the
# pre-trained encoder's feed-forward blocks into experts, train it on the 4-topic task, look at
# which topics each expert serves, and measure what sparsity buys in speed.
#
# | | |
# |---|---|
# | You will write | `softmax_gate`, `topk_gate`, `MoE.forward`, `switch_load_balancing_loss` |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 45 minutes of work; run top to bottom, the notebook takes about 25 s on a 2-core laptop CPU (measured; cells that take longer than a few seconds show a progress bar) |
#
# **How feedback works.** After each exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees ("your weights are not the gate values p_i"). When
# your notebook is graded, hidden tests run your code on random inputs and compare it with the
# reference. Do not rename the functions and classes you are asked to write.

# %% [setup]

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from course_lib import measure, plotting, widgets
from course_lib.checks.moe import (check_balance_loss, check_moe, check_softmax_gate,
                                   check_topk_gate)
from course_lib.datasets import TOPICS, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import set_seed
from course_lib.training import evaluate, make_batches, train_classifier

# %% [markdown]
# ## 1. Why mixture of experts?
#
# In a dense transformer every token goes through every parameter: the feed-forward block of each
# layer holds two thirds of the layer's weights, and all of them work on every token. The slide's
# idea:
#
# * transformers with multiple specialised **"expert"** sub-networks (the slide calls them
#   adapters);
# * a **gating network** selects experts per input;
# * only a **subset** of experts is activated per token.
#
# So the number of parameters (what the model can store) grows with the number of experts $N$,
# while the compute per token grows only with the number $k$ of experts each token uses.
# Mixtral 8x7B, for example, has 47B parameters but uses 13B of them per token
# (8 experts, $k = 2$).
#
# We start from the same pre-trained encoder as Part 1 (4 layers, $d = 64$, a dense FFN of
# hidden size 256 in each layer) and its full fine-tuning baseline on the topic task.

# %%
set_seed(0)
tok = load_tokenizer()
train, test = load_topic("train"), load_topic("test")
encoder = load_encoder()
ffn = encoder.blocks[0].ffn
print(f"{len(train)} training sentences, {len(test)} test sentences, topics: {TOPICS}")
print(f"pre-trained encoder: {measure.count_parameters(encoder):,} parameters; one FFN block "
      f"(W_1: {tuple(ffn.W_1.weight.shape)}, W_2: {tuple(ffn.W_2.weight.shape)}) has "
      f"{measure.count_parameters(ffn):,}")

# %% [skip-grading]
EPOCHS, LR = 1, 1e-3
dense = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
dense_run = train_classifier(dense, tok, train, epochs=EPOCHS, lr=LR, seed=0)
dense_acc = evaluate(dense, tok, test)
print(f"dense fine-tuning: test accuracy {dense_acc:.1%}, {dense_run['seconds']:.1f} s")

# %% [markdown]
# ## 2. Gate routing
#
# A router (a linear layer $W_r \in \mathbb{R}^{N \times d}$, no bias) gives each token $x$ one
# logit per expert, $h(x) = W_r x$. The gate turns the logits into a distribution over the $N$
# experts:
#
# $$p_i(x) = \frac{e^{h(x)_i}}{\sum_j^N e^{h(x)_j}} .$$
#
# ### Exercise 1 ({{points}} points): `softmax_gate`
#
# Write `softmax_gate(h_logits)`: `h_logits` has shape `(..., N)` (any number of leading token
# dimensions); return $p$ of the same shape, a softmax over the **last** dimension (the experts).
# Write it from the formula with `torch.exp` and a sum; subtract the row's maximum first so
# that large logits do not overflow ($e^{h_i - m} / \sum_j e^{h_j - m}$ is the same number).

# %% [solution] id=softmax_gate
def softmax_gate(h_logits: torch.Tensor) -> torch.Tensor:
    """p_i(x) = exp(h(x)_i) / sum_j exp(h(x)_j), over the last dimension (the N experts)."""
    ### BEGIN SOLUTION
    h = h_logits - h_logits.max(dim=-1, keepdim=True).values     # (..., N), max is 0
    e = torch.exp(h)                                             # (..., N)
    return e / e.sum(dim=-1, keepdim=True)                       # (..., N), rows sum to 1
    ### END SOLUTION


# %% [tests] points=1
check_softmax_gate(softmax_gate)

# %% [markdown]
# ### Exercise 2 ({{points}} points): `topk_gate`
#
# Each token uses only the experts in $\mathcal{T}$, the indices of its $k$ largest gate values,
# and mixes their outputs with weights. There are two conventions for the weights, and papers
# and libraries differ, so we name them:
#
# * **The lecture's (and Switch Transformer's):** the gate values themselves,
#   $w_i = p_i(x)$ for $i \in \mathcal{T}$. They sum to less than 1.
# * **Renormalised (Mixtral):** $w_i = p_i(x) / \sum_{j \in \mathcal{T}} p_j(x)$, which sum to 1.
#   This equals a softmax over the selected logits only, the form of Shazeer et al. (2017):
#   every logit outside $\mathcal{T}$ is set to $-\infty$ before the softmax. Their gate is
#   also **noisy**: during training it adds Gaussian noise to each logit before choosing the top
#   $k$, $h(x)_i + \varepsilon_i \cdot \text{softplus}\big((W_{noise} x)_i\big)$ with
#   $\varepsilon_i \sim \mathcal{N}(0, 1)$ and a trainable $W_{noise}$, so that the choice
#   among experts with close logits varies and every expert keeps getting tokens (it helps load
#   balancing). We write the gate without noise.
#
# Write `topk_gate(p, k, renormalize=False)`: for `p` of shape `(..., N)` return
# `(weights, indices)`, both of shape `(..., k)`, sorted by decreasing $p$ (as `torch.topk`
# returns them); `renormalize=False` is the lecture's convention, `True` is Mixtral's.

# %% [solution] id=topk_gate
def topk_gate(p: torch.Tensor, k: int, renormalize: bool = False):
    """The k largest gate values and their expert indices, each (..., k), largest first."""
    ### BEGIN SOLUTION
    weights, indices = torch.topk(p, k, dim=-1)                  # (..., k), (..., k)
    if renormalize:                                              # Mixtral: weights sum to 1
        weights = weights / weights.sum(dim=-1, keepdim=True)    # (..., k)
    return weights, indices
    ### END SOLUTION


# %% [tests] points=2
check_topk_gate(topk_gate)

# %% [markdown]
# **The three conventions on one token.** Renormalising equals the softmax over the selected
# logits and Shazeer's $-\infty$ masking; the lecture's weights are the same numbers scaled by
# $\sum_{j \in \mathcal{T}} p_j(x)$.

# %% [skip-grading]
h = torch.tensor([[1.5, -0.3, 0.9, 0.1]])                        # (1, N=4) router logits
p = softmax_gate(h)                                              # (1, 4)
w_lecture, T = topk_gate(p, k=2)                                 # (1, 2), (1, 2)
w_mixtral, _ = topk_gate(p, k=2, renormalize=True)               # (1, 2)
masked = torch.full_like(h, float("-inf")).scatter(-1, T, h.gather(-1, T))
w_shazeer = softmax_gate(masked).gather(-1, T)                   # (1, 2)
plotting.show_table(["convention", f"weight of expert {T[0, 0].item()}",
                     f"weight of expert {T[0, 1].item()}", "sum"],
                    [(name, f"{w[0, 0]:.3f}", f"{w[0, 1]:.3f}", f"{w.sum():.3f}")
                     for name, w in [("lecture: p_i", w_lecture), ("Mixtral: renormalised",
                                     w_mixtral), ("Shazeer: -inf outside T", w_shazeer)]])

# %% [markdown]
# **Why not renormalise with $k = 1$?** With one expert the renormalised weight is always
# $p_i / p_i = 1$: the output no longer depends on the router's value, so the router gets **no
# gradient** and never learns. This is why Switch Transformer ($k = 1$) multiplies by $p_i(x)$.

# %% [skip-grading]
router = nn.Linear(8, 4, bias=False)
x, E_out = torch.randn(16, 8), torch.randn(16, 4, 8)             # tokens, all experts' outputs
for renorm in (False, True):
    router.zero_grad()
    w, i = topk_gate(softmax_gate(router(x)), k=1, renormalize=renorm)   # (16, 1)
    y = (w[..., None] * E_out.gather(1, i[..., None].expand(-1, -1, 8))).sum(1)   # (16, 8)
    y.pow(2).sum().backward()
    print(f"k = 1, renormalize={renorm!s:<5}: |grad of W_r| = {router.weight.grad.norm():.4f}")

# %% [markdown]
# ## 3. A sparse MoE feed-forward layer
#
# The layer replaces one dense FFN by $N$ experts $E_1, \dots, E_N$ (each a small FFN, here the
# given `Expert` below `MoE`: $W_2\,\text{GELU}(W_1 x)$) and a router. For every token,
#
# $$y = \sum_{i \in \mathcal{T}} p_i(x)\, E_i(x) .$$
#
# Only $k$ experts run per token. A Python loop over tokens would be far too slow; instead,
# **dispatch in batches**: flatten the tokens to `(B*T, d)`, then for each expert $i$ (a loop
# over $N$ experts is fine) gather the rows of the tokens routed to it, run $E_i$ once on that
# batch, multiply by the weights, and add the results back into their rows with `index_add_`.
# `token, slot = torch.where(indices == i)` tells you which tokens chose expert $i$ and in
# which of their $k$ slots.
#
# ### Exercise 3 ({{points}} points): `MoE.forward`
#
# The constructor is given: `self.router` ($W_r$, `nn.Linear(d, N, bias=False)`) and
# `self.experts` (an `nn.ModuleList` of $N$ experts; `make_expert` lets you plug in other
# experts, e.g. adapters). Write `forward(x)` for `x` of shape `(B, T, d)`: return
# `(B, T, d)`; use your `softmax_gate` and `topk_gate` (with `self.k` and `self.renormalize`);
# run each expert **only on the tokens routed to it**, at most once per call; and store the
# gate values `self.router_probs` `(B*T, N)` and `self.expert_indices` `(B*T, k)` for the
# load-balancing loss of Exercise 4 (keep them attached to the graph: no `.detach()`).

# %% [solution] id=moe_layer
class MoE(nn.Module):
    """y = sum_{i in T} p_i(x) E_i(x): N experts, the top-k of each token run (Shazeer 2017)."""

    def __init__(self, d: int, d_ff: int, N: int, k: int = 2, renormalize: bool = False,
                 make_expert=None):
        super().__init__()
        if not 1 <= k <= N:
            raise ValueError(f"need 1 <= k <= N, got k={k}, N={N}")
        self.N, self.k, self.renormalize = N, k, renormalize
        self.router = nn.Linear(d, N, bias=False)                # h(x) = W_r x
        make_expert = make_expert or (lambda: Expert(d, d_ff))
        self.experts = nn.ModuleList(make_expert() for _ in range(N))
        self.router_probs = None                                 # (B*T, N) of the last call
        self.expert_indices = None                               # (B*T, k) of the last call

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        B, T, d = x.shape
        tokens = x.reshape(B * T, d)                             # (B*T, d)
        p = softmax_gate(self.router(tokens))                    # (B*T, N)
        weights, indices = topk_gate(p, self.k, self.renormalize)  # (B*T, k), (B*T, k)
        self.router_probs, self.expert_indices = p, indices
        y = torch.zeros_like(tokens)                             # (B*T, d)
        for i, expert in enumerate(self.experts):
            token, slot = torch.where(indices == i)              # (n_i,), (n_i,): routed to E_i
            if token.numel() == 0:
                continue
            out = expert(tokens[token])                          # (n_i, d): E_i(x)
            y.index_add_(0, token, weights[token, slot, None] * out)   # += p_i(x) E_i(x)
        return y.view(B, T, d)                                   # (B, T, d)
        ### END SOLUTION


class Expert(nn.Module):
    """E_i(x) = W_2 GELU(W_1 x): the encoder's feed-forward block, one copy per expert."""

    def __init__(self, d: int, d_ff: int):
        super().__init__()
        self.W_1 = nn.Linear(d, d_ff)
        self.W_2 = nn.Linear(d_ff, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.W_2(F.gelu(self.W_1(x)))                     # (n, d)


# %% [tests] points=5
check_moe(MoE)

# %% [markdown]
# ## 4. Keeping the experts busy: the load-balancing loss
#
# Nothing in the task loss stops the router from sending most tokens to a few experts: those
# experts get more training, become better, and attract even more tokens, while the others idle
# (and, with a capacity limit, tokens overflow and are dropped). Switch Transformer (Fedus et al.
# 2021) adds an auxiliary loss over a batch of $T$ tokens:
#
# $$\mathcal{L}_{\text{balance}} = N \sum_{i=1}^{N} f_i\, P_i, \qquad
# f_i = \frac{1}{T}\sum_{x} \mathbb{1}[\,i \in \mathcal{T}(x)\,], \qquad
# P_i = \frac{1}{T}\sum_{x} p_i(x) ,$$
#
# the fraction $f_i$ of tokens routed to expert $i$ times the mean gate value $P_i$. Under
# perfectly uniform routing ($f_i = P_i = 1/N$) it equals **1** for $k = 1$; with $k$ experts
# per token each token counts in $k$ of the $f_i$, and the balanced value is $k$ (Mixtral's
# version in `transformers`). $f_i$ comes from a top-k and has no gradient; $P_i$ carries it.
#
# ### Exercise 4 ({{points}} points): `switch_load_balancing_loss`
#
# Write `switch_load_balancing_loss(router_probs, expert_indices, N)`: `router_probs` has
# shape `(..., N)`, `expert_indices` the matching `(..., k)` (what your `MoE` stores); the
# leading dimensions index tokens. Return the scalar above as a 0-dimensional tensor that keeps
# the gradient of `router_probs`.

# %% [solution] id=balance_loss
def switch_load_balancing_loss(router_probs: torch.Tensor, expert_indices: torch.Tensor,
                               N: int) -> torch.Tensor:
    """N * sum_i f_i P_i (Switch Transformer); 1 when balanced with k = 1, k with top-k."""
    ### BEGIN SOLUTION
    p = router_probs.reshape(-1, N)                              # (tokens, N)
    chosen = F.one_hot(expert_indices.reshape(p.shape[0], -1), N)   # (tokens, k, N)
    f = chosen.sum(dim=1).float().mean(dim=0)                    # (N,): fraction routed to i
    P = p.mean(dim=0)                                            # (N,): mean gate value
    return N * (f * P).sum()                                     # ()
    ### END SOLUTION


# %% [tests] points=2
check_balance_loss(switch_load_balancing_loss)

# %% [markdown]
# ## 5. Why the balance loss: a router that collapses
#
# First a small task where the rich-get-richer loop can be watched. Tokens come in four kinds:
# a token of kind $c$ is $x = \mu_c + \varepsilon$ (four centres $\mu_c$, Gaussian noise), and the
# target is $y = W_c\, x$, a different linear map for each kind. An MoE with $N = 4$ small experts
# ($d_{ff} = 16$, too small for one expert to learn all four maps) and $k = 1$ can fit the task
# only if each expert takes one kind. We train it with the mean squared error, once alone and
# once with $0.3 \cdot \mathcal{L}_{\text{balance}}$, and count on fresh tokens how many go to each
# expert. The training loop is written out, so you can see where the balance loss enters.

# %% [skip-grading]
KINDS, D_TOY, STEPS_TOY, BALANCE_TOY = 4, 16, 300, 0.3


def toy_tokens(g, n, means, maps):
    """n tokens: kind c (n,), x = mu_c + noise (1, n, d), target y = W_c x (1, n, d)."""
    kind = torch.randint(0, KINDS, (n,), generator=g)                     # (n,)
    x = means[kind] + torch.randn(n, D_TOY, generator=g)                  # (n, d)
    y = torch.einsum("nij,nj->ni", maps[kind], x)                          # (n, d): W_c x
    return kind, x[None], y[None]                                          # a batch of one


def train_toy(balance_coef: float, seed: int = 0) -> dict:
    """Train MoE(d=16, d_ff=16, N=4, k=1) on the four kinds; shares, error and routing after."""
    g = torch.Generator().manual_seed(seed)
    means = 2 * torch.randn(KINDS, D_TOY, generator=g)                    # (4, d) mu_c
    maps = torch.randn(KINDS, D_TOY, D_TOY, generator=g) / D_TOY ** 0.5   # (4, d, d) W_c
    torch.manual_seed(seed)
    moe = MoE(D_TOY, 16, N=4, k=1)
    opt = torch.optim.Adam(moe.parameters(), lr=1e-2)
    for _ in range(STEPS_TOY):
        _, x, y = toy_tokens(g, 256, means, maps)
        loss = F.mse_loss(moe(x), y)                                       # the task loss
        if balance_coef:                                                   # + c N sum_i f_i P_i
            loss = loss + balance_coef * switch_load_balancing_loss(
                moe.router_probs, moe.expert_indices, moe.N)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():                                                  # fresh tokens
        kind, x, y = toy_tokens(g, 4096, means, maps)
        error = F.mse_loss(moe(x), y).item()
        chosen = F.one_hot(moe.expert_indices[:, 0], moe.N).float()        # (4096, N)
        balance = switch_load_balancing_loss(moe.router_probs, moe.expert_indices, moe.N)
    return {"shares": chosen.mean(0), "error": error, "balance": balance.item(),
            "by_kind": torch.stack([chosen[kind == c].mean(0) for c in range(KINDS)])}


toy = {name: train_toy(coef) for name, coef in tqdm([("task loss only", 0.0),
                                                      (f"+ {BALANCE_TOY} x balance loss",
                                                       BALANCE_TOY)], desc="toy routers")}
fig = plotting.expert_load_bars({name: r["shares"] for name, r in toy.items()},
                                title="Where 4,096 fresh tokens go (k = 1, N = 4)")
plotting.show_table(["training", "share of tokens per expert", "experts with < 1% of tokens",
                     "L_balance", "error (MSE)"],
                    [(name, " / ".join(f"{v:.0%}" for v in r["shares"]),
                      int((r["shares"] < 0.01).sum()), f"{r['balance']:.2f}", f"{r['error']:.3f}")
                     for name, r in toy.items()])

# %% [markdown]
# Without the balance loss the router leaves some experts (almost) idle: each gets under 1% of
# the tokens (the table's third column). <!-- claim: moe.toy_collapse -->
# This is the loop of Section 4. With $k = 1$ a token's loss reaches only the expert it was sent
# to, and that expert's router logit: the experts that happened to get tokens early learn their
# kind of token, become useful, and the router learns to send them more, possibly several kinds at
# once. An expert that gets no token never learns anything and is never worth choosing. With the
# balance loss every expert takes about a quarter of the tokens and the error is lower.
# <!-- claim: moe.toy_balance -->
# Its gradient flows through $P_i$: it lowers the gate values of the overloaded experts, so the
# router tries the idle ones until each serves its share. Which expert serves which kind:

# %% [skip-grading]
fig = plotting.heatmap_grid([r["by_kind"] * 100 for r in toy.values()], titles=list(toy),
                            xlabel="expert i", row_labels=[f"kind {c}" for c in range(KINDS)],
                            ncols=2, fmt="{:.0f}")

# %% [markdown]
# ## 6. Experts in the pre-trained encoder
#
# Now the real model. We replace the FFN of every layer by an MoE with $N = 4$ experts and $k = 1$
# (Switch-style, the lecture's weighting). Rather than training experts from scratch we
# **upcycle** the dense FFN (Komatsuzaki et al. 2022): every expert starts as a copy of the
# pre-trained FFN plus a little noise, so that they can drift apart, and the router starts random.
# (With the lecture's weights the upcycled layer starts at $p_i(x)\,\text{FFN}(x)$, not exactly at
# $\text{FFN}(x)$; renormalising would make the start exact, but with $k = 1$ it would also freeze
# the router.) Then we fine-tune everything on the topic task, once with the task loss alone and
# once adding $0.1 \cdot \mathcal{L}_{\text{balance}}$ (averaged over the layers) through
# `extra_loss`.

# %% [skip-grading]
N_EXPERTS, K, NOISE, BALANCE_COEF = 4, 1, 0.1, 0.1


def upcycle(ffn: nn.Module, N: int, k: int, noise: float) -> MoE:
    """An MoE whose N experts start as noisy copies of a dense FFN (W_1, W_2)."""
    moe = MoE(ffn.W_1.in_features, ffn.W_1.out_features, N, k)
    for expert in moe.experts:
        expert.load_state_dict({n: t for n, t in ffn.state_dict().items() if n[:2] == "W_"})
        with torch.no_grad():
            for w in expert.parameters():
                w.add_(noise * w.std() * torch.randn_like(w))    # break the symmetry
    return moe


def moe_classifier() -> CLSClassifier:
    set_seed(0)
    enc = load_encoder()
    for block in enc.blocks:
        block.ffn = upcycle(block.ffn, N_EXPERTS, K, NOISE)      # the MoE slot of each Block
    return CLSClassifier(enc, num_labels=len(TOPICS))


def moe_layers(model: nn.Module) -> list:
    return [m for m in model.modules() if isinstance(m, MoE)]


def balance_loss(model: nn.Module) -> torch.Tensor:
    layers = moe_layers(model)
    return BALANCE_COEF * sum(switch_load_balancing_loss(m.router_probs, m.expert_indices, m.N)
                              for m in layers) / len(layers)


moe_models, moe_acc = {}, {}
for name, extra in [("MoE", None), ("MoE + balance loss", balance_loss)]:
    model = moe_classifier()
    run = train_classifier(model, tok, train, epochs=EPOCHS, lr=LR, seed=0, extra_loss=extra)
    moe_models[name], moe_acc[name] = model, evaluate(model, tok, test)
    print(f"{name}: test accuracy {moe_acc[name]:.1%}, {run['seconds']:.1f} s")

# %% [markdown]
# **One batch through the trained top layer.** Each row is a token of two short test sentences, each
# column an expert: the filled cell is the expert the token is sent to, with its weight
# $p_i(x)$. The bottom line is what the batched dispatch of Exercise 3 does: each expert runs
# once, on all the tokens routed to it.

# %% [skip-grading]
short = sorted(test[:40], key=lambda ex: len(ex.text))[:2]                # two short sentences
trace = next(make_batches(tok, short, batch_size=2))
with torch.no_grad():
    moe_models["MoE"](input_ids=trace["input_ids"], attention_mask=trace["attention_mask"])
top = moe_layers(moe_models["MoE"])[-1]
real = trace["attention_mask"].reshape(-1).bool().cpu()                  # (B*T,) not padding
ids = trace["input_ids"].reshape(-1).cpu()[real]
weights = top.router_probs.cpu()[real].gather(-1, top.expert_indices.cpu()[real])   # (n, k)
fig = plotting.moe_dispatch([tok.vocab[i] for i in ids.tolist()],
                            top.expert_indices.cpu()[real].tolist(), weights.tolist(), top.N,
                            title=f"top layer, {int(real.sum())} tokens of two short test sentences")

# %% [markdown]
# **Do experts specialise, and does the router collapse?** For each layer we count, over the test
# set's real tokens (padding excluded), which expert each topic's tokens go to. A uniform router
# would put 25% everywhere.

# %% [skip-grading]
@torch.no_grad()
def utilisation(model: nn.Module) -> dict:
    """usage[l, c, i]: share of topic c's tokens routed to expert i in layer l; per layer the
    balance loss, the busiest and the idlest expert's share, and the mean gate values P_i."""
    layers = moe_layers(model)
    usage = torch.zeros(len(layers), len(TOPICS), N_EXPERTS)    # (L, topics, N)
    losses, P = torch.zeros(len(layers)), torch.zeros(len(layers), N_EXPERTS)
    batch = next(make_batches(tok, test, batch_size=len(test)))
    model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    real = batch["attention_mask"].reshape(-1).bool()            # (B*T,)
    topic = batch["labels"][:, None].expand_as(batch["attention_mask"]).reshape(-1)[real]
    for l, m in enumerate(layers):
        chosen = F.one_hot(m.expert_indices[real], m.N).sum(1).float()   # (n, N)
        usage[l].index_add_(0, topic.cpu(), chosen.cpu())
        losses[l] = switch_load_balancing_loss(m.router_probs[real], m.expert_indices[real], m.N)
        P[l] = m.router_probs[real].mean(0).cpu()                 # (N,) P_i
    shares = usage.sum(1) / usage.sum((1, 2))[:, None]           # (L, N) f_i
    return {"usage": usage / usage.sum(-1, keepdim=True), "loss": losses, "P": P,
            "busiest": shares.max(-1).values, "idlest": shares.min(-1).values}


usage = {name: utilisation(model) for name, model in tqdm(moe_models.items(), desc="routing")}
fig = plotting.heatmap_grid(
    [u["usage"][l] * 100 for u in usage.values() for l in range(len(u["usage"]))],
    titles=[f"{name}\nlayer {l}" for name, u in usage.items() for l in range(len(u["usage"]))],
    xlabel="expert i", row_labels=TOPICS, ncols=len(encoder.blocks), fmt="{:.0f}")
plotting.show_table(
    ["training", "busiest expert's share f_i", "idlest expert's share f_i",
     "mean gate values P_i (lowest-highest)", "L_balance"],
    [(name, ", ".join(f"{v:.0%}" for v in u["busiest"]), ", ".join(f"{v:.0%}" for v in u["idlest"]),
      ", ".join(f"{p.min():.2f}-{p.max():.2f}" for p in u["P"]),
      ", ".join(f"{v:.3f}" for v in u["loss"])) for name, u in usage.items()],
    title="Per layer (0, 1, 2, 3), on the test set's tokens")

# %% [markdown]
# The loop of Section 5 shows here too: without the balance loss, in one layer the router sends
# more than half of the tokens to a single expert. <!-- claim: moe.encoder_collapse -->
# With the balance loss the busiest expert's share is lower in every layer (the table above
# gives the shares). <!-- claim: moe.encoder_flatter -->
# The collapse is milder than on the toy task: the experts start as copies of one FFN, so which
# copy a token uses matters less to the loss. Read the loss values too: $N \sum_i f_i P_i$ rises
# well above 1 in the lopsided layer, but stays near 1 in the other layers, whose shares are
# uneven too. <!-- claim: moe.loss_value -->
# When the gate values $P_i$ are nearly uniform, $N \sum_i f_i P_i \approx \sum_i f_i = 1$ whatever
# the shares: judge balance by the shares $f_i$, not by the loss value (Exercise 2 below).
# Look also for a topic whose tokens lean towards one expert, in the top layers, where the
# representation is most about the topic. Move the slider to compare a layer's routing without
# and with the balance loss.

# %% [skip-grading]
def describe_layer(l, _):
    rows = []
    for name, u in usage.items():
        cells = "".join(f"<td>{v:.0%}</td>" for v in u["usage"][l].mean(0))
        rows.append(f"<tr><td>{name}</td>{cells}<td>{u['loss'][l]:.3f}</td></tr>")
    head = "".join(f"<th>E{i}</th>" for i in range(N_EXPERTS))
    return (f"<b>layer {l}</b>: share of tokens per expert<table><tr><th></th>{head}"
            f"<th>balance loss</th></tr>{''.join(rows)}</table>")


widgets.table_slider(list(range(len(encoder.blocks))), {l: l for l in range(4)}, "layer",
                     describe_layer)

# %% [markdown]
# ## 7. A mixture of adapter experts on the frozen encoder
#
# The slide's experts are "adapters": small modules added to a frozen pre-trained model. The
# same `MoE` class does it with `make_expert`: each expert is a bottleneck
# $W_2\,\text{GELU}(W_1 h)$ with $m = 16$ hidden units and $W_2 = 0$ (so training starts at the
# pre-trained function), added after the FFN of the top two layers with a skip connection,
# $h \leftarrow h + \sum_{i \in \mathcal{T}} p_i(h)\, E_i(h)$. Only the experts, the routers and
# the classifier head train.

# %% [skip-grading]
class Residual(nn.Module):
    def __init__(self, f: nn.Module):
        super().__init__()
        self.f = f

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.f(h)                                     # (B, T, d)


def adapter_expert(d: int = 64, m: int = 16) -> Expert:
    e = Expert(d, m)
    nn.init.zeros_(e.W_2.weight)                                 # W_2 = 0: starts as identity
    nn.init.zeros_(e.W_2.bias)
    return e


set_seed(0)
adapter_moe = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
for p_ in adapter_moe.encoder.parameters():
    p_.requires_grad = False
for block in adapter_moe.encoder.blocks[2:]:
    block.after_ffn = Residual(MoE(64, 16, N=N_EXPERTS, k=1, make_expert=adapter_expert))
adapter_run = train_classifier(adapter_moe, tok, train, epochs=EPOCHS, lr=5e-3, seed=0)
adapter_acc = evaluate(adapter_moe, tok, test)
adapter_trainable = measure.count_parameters(adapter_moe, trainable_only=True)
print(f"mixture of adapters: test accuracy {adapter_acc:.1%}, {adapter_trainable:,} trainable "
      f"parameters, {adapter_run['seconds']:.1f} s")

# %% [markdown]
# ## 8. What sparsity buys: parameters and throughput
#
# Per token an MoE layer uses the router and $k$ of its $N$ experts: its **active** parameters.
# The speed-up of sparse routing is the gap between the MoE and the dense layer with the same
# total parameters; its price is the gap to the dense layer with the same active parameters.
# We compare one MoE layer with two dense FFNs: one with the same active parameters (hidden size
# $k \cdot d_{ff}$) and one with the same total parameters (hidden size $N \cdot d_{ff}$). The
# timings interleave the three models and compare them as ratios within this one run.

# %% [skip-grading]
def ffn_params(d, hidden):
    return 2 * d * hidden + hidden + d


def throughput_table(d, d_ff, N, k, n_tokens, rounds=5):
    set_seed(0)
    x = torch.randn(1, n_tokens, d)                              # (1, tokens, d)
    models = {"MoE": MoE(d, d_ff, N, k), "dense, same active": Expert(d, k * d_ff),
              "dense, same total": Expert(d, N * d_ff)}
    seconds = {name: [] for name in models}
    with torch.no_grad():
        for _ in range(rounds):                                  # interleaved: fair under noise
            for name, m in models.items():
                seconds[name].append(measure.latency(lambda: m(x), repeats=3, warmup=1))  # noqa: B023
    median = {name: sorted(s)[len(s) // 2] for name, s in seconds.items()}
    total = {"MoE": measure.count_parameters(models["MoE"]),
             "dense, same active": ffn_params(d, k * d_ff),
             "dense, same total": ffn_params(d, N * d_ff)}
    active = dict(total, MoE=d * N + k * ffn_params(d, d_ff))
    return [(name, f"{total[name]:,}", f"{active[name]:,}", f"{n_tokens / median[name]:,.0f}",
             f"{median['dense, same active'] / median[name]:.2f}x",
             f"{median['dense, same total'] / median[name]:.2f}x") for name in models], median


header = ["layer", "total parameters", "active per token", "tokens / s",
          "speed vs dense same active", "speed vs dense same total"]
throughput = {}                                                  # (d, d_ff, N, k) -> seconds
for d, d_ff, N, k in tqdm([(64, 256, 4, 1), (256, 1024, 8, 2)], desc="timing layers"):
    rows, throughput[d, d_ff, N, k] = throughput_table(d, d_ff, N, k, n_tokens=1024, rounds=3)
    plotting.show_table(header, rows, title=f"d = {d}, d_ff = {d_ff}, N = {N}, k = {k}")

# %% [markdown]
# The MoE layer is faster than the dense layer with the same total parameters, and the more so
# the larger the layer. <!-- claim: moe.sparse_speedup -->
# It is slower than the dense layer with the same active parameters: routing, gathering and
# scattering cost time, and several small matrix products use the CPU less well than one large
# one. <!-- claim: moe.routing_overhead -->

# %% [markdown]
# ## 9. The whole picture

# %% [skip-grading]
def active_params(model):
    total = measure.count_parameters(model)
    skipped = sum(measure.count_parameters(e) for m in moe_layers(model)
                  for e in list(m.experts)[m.k:])                # N - k experts idle per token
    return total, total - skipped


moe_total, moe_active = active_params(moe_models["MoE"])
dense_total = measure.count_parameters(dense)
rows = [("Dense fine-tuning", f"{dense_total:,}", f"{dense_total:,}", f"{dense_total:,}",
         f"{dense_acc:.1%}"),
        ("MoE (N=4, k=1, upcycled)", f"{moe_total:,}", f"{moe_active:,}", f"{moe_total:,}",
         f"{moe_acc['MoE']:.1%}"),
        ("MoE + balance loss", f"{moe_total:,}", f"{moe_active:,}", f"{moe_total:,}",
         f"{moe_acc['MoE + balance loss']:.1%}"),
        ("Mixture of adapters (frozen)", f"{measure.count_parameters(adapter_moe):,}",
         "-", f"{adapter_trainable:,}", f"{adapter_acc:.1%}")]
plotting.show_table(["Model", "Total parameters", "Active per token", "Trainable",
                     "Test accuracy"], rows)
print(f"active fraction of the MoE encoder: {moe_active / moe_total:.0%}")

# %% [markdown]
# **Memory: all $N$ experts stay loaded.** Sparsity saves *compute*, not memory. A token uses
# $k$ experts, but which ones is decided by the router at run time, token by token, and the
# next token (or the next sentence of the batch) may pick any other. So every expert of every
# layer has to sit in memory, ready. Mixtral 8x7B (Jiang et al. 2024) computes with 13B
# parameters per token but must hold all 47B: 94 GB in 16-bit numbers (2 bytes each; 88 GiB
# in the table's binary units), against 26 GB for the part a token uses. For batched serving it is worse for the compute saving too: with many tokens
# in flight every expert is busy, so each step reads all $N$ experts' weights from memory. The
# same count for our encoders, in fp32:

# %% [skip-grading]
MIXTRAL_TOTAL, MIXTRAL_ACTIVE = 47e9, 13e9            # Jiang et al. 2024, Mixtral 8x7B
memory_rows = [("Dense encoder", dense_total, dense_total),
               ("MoE encoder (N = 4, k = 1)", moe_total, moe_active),
               ("Mixtral 8x7B (16-bit)", MIXTRAL_TOTAL, MIXTRAL_ACTIVE)]
plotting.show_table(
    ["Model", "Parameters in memory", "Bytes in memory", "Used per token", "Bytes used per token"],
    [(name, f"{total:,.0f}", measure.format_bytes(total * (2 if "16" in name else 4)),
      f"{active:,.0f}", measure.format_bytes(active * (2 if "16" in name else 4)))
     for name, total, active in memory_rows],
    title="What must be loaded vs what a token computes with")
print(f"our MoE encoder holds {moe_total / dense_total:.2f}x the dense encoder's parameters and "
      f"uses {moe_active / moe_total:.0%} of them per token")

# %% [markdown]
# The MoE encoder must hold more than twice the dense encoder's parameters, although a token
# computes with fewer than half of them. <!-- claim: moe.memory_all_experts -->

# %% [markdown]
# ## Summary
#
# * The gate $p(x) = \text{softmax}(h(x))$ scores all $N$ experts; only the top $k$ run, and
#   $y = \sum_{i \in \mathcal{T}} p_i(x) E_i(x)$ mixes them (the lecture's weights; Mixtral
#   renormalises them to sum to 1, which equals Shazeer's $-\infty$ masking; Shazeer's gate also
#   adds trainable noise to the logits while training).
# * Parameters grow with $N$, compute per token with $k$. Dispatch in batches (gather each
#   expert's tokens, `index_add_` back), never a loop over tokens.
# * Memory does not shrink with $k$: every one of the $N$ experts must be loaded, because the
#   next token may choose any of them (Mixtral: 47B parameters in memory for 13B used per
#   token).
# * The load-balancing loss $N \sum_i f_i P_i$ is 1 when routing is uniform ($k = 1$). On the toy
#   task a router trained without it leaves experts idle, and with it every expert serves its
#   share. <!-- claim: moe.toy_collapse --> <!-- claim: moe.toy_balance -->
#   In the upcycled encoder one layer's router sends most tokens to one expert without it, and
#   with it every layer's busiest expert takes a smaller share.
#   <!-- claim: moe.encoder_collapse --> <!-- claim: moe.encoder_flatter -->
# * Upcycling a dense FFN gives experts a good start. Routing is decided per token, not per
#   topic: the heat maps of Section 6 show how far each expert leans towards a topic.
#
# **Check yourself.** (1) With $N = 8$ experts of 2 M parameters each and $k = 2$, how many
# expert parameters does a token use? (2) Why does $k = 1$ with renormalised weights never train
# the router? (3) What is $\mathcal{L}_{\text{balance}}$ if every token goes to expert 0 with
# $p_0 = 1$? (4) Why can an MoE be slower than a dense layer with the same active parameters?
#
# <details><summary>Answers</summary>
#
# (1) 4 M of the 16 M expert parameters. (2) The renormalised weight is $p_i / p_i = 1$ whatever
# the router says, so the output, and the loss, do not depend on the router: its gradient is 0.
# (3) $N$: $f_0 = P_0 = 1$, so $N \cdot 1 \cdot 1$. (4) Routing, gathering and scattering cost
# time, and $N$ small matrix products use the hardware less well than one large one.
#
# </details>
#
# ## Exercises
#
# 1. **Top-2 on the toy task.** Train the toy MoE with $k = 2$ and without the balance loss. Do
#    experts still go idle? Before you run it, predict it from the loop of Section 5.
# 2. **Is 1 the minimum?** Take $N = 2$ and three tokens with gate values $(0.51, 0.49)$,
#    $(0.51, 0.49)$ and $(0, 1)$, each routed to its top expert. Compute
#    $\mathcal{L}_{\text{balance}}$. What does it say about reading the loss value as "how
#    balanced is the routing"?
# 3. **Capacity.** Switch Transformer gives each expert a capacity of
#    $c = \lceil \text{capacity factor} \cdot T / N \rceil$ tokens per batch and drops the rest
#    (their output is 0; the residual connection carries them). Add a `capacity_factor` to your
#    `MoE` (keep the first $c$ tokens of each expert, in token order). On the collapsed toy router
#    with factor 1.25, what fraction of the tokens would be dropped?
# 4. **Mixtral's arithmetic.** Mixtral 8x7B has 47B parameters, not $8 \times 7 = 56$B, and uses
#    13B per token, not 14B. Explain both numbers.
# 5. **Router z-loss.** ST-MoE adds $10^{-3} \cdot \frac{1}{T}\sum_x \big(\log \sum_j
#    e^{h(x)_j}\big)^2$. What does it penalise, and why would that help training in low
#    precision?
#
# <details><summary>Answers</summary>
#
# 1. With $k = 2$ every token trains two experts, and the second choice of many tokens is an
#    expert that would otherwise idle, so idle experts are less likely; whether they vanish
#    depends on the run: measure the shares as in Section 5.
# 2. $f = (2/3, 1/3)$, $P = (0.34, 0.66)$, so $2\,(2/3 \cdot 0.34 + 1/3 \cdot 0.66) \approx 0.89$:
#    below 1. The value 1 is what uniform routing gives, not a lower bound; the loss is a
#    differentiable surrogate whose gradient pushes towards balance, not a measure of it (look at
#    the shares $f_i$ themselves).
# 3. With the shares $f_i$ of the collapsed run, expert $i$ receives $f_i T$ tokens and keeps
#    $\min(f_i T, c)$, with $c = 1.25\, T / 4$: the dropped fraction is
#    $\sum_i \max(0, f_i - 1.25/4)$. For shares $(0, 0, 0.5, 0.5)$ that is $2 \times 0.1875 =
#    37.5\%$ of the tokens.
# 4. Only the feed-forward blocks are replicated: attention, embeddings and norms are shared by
#    all experts, so the total is 8 FFNs plus the shared part (47B), and a token uses 2 FFNs
#    plus the shared part (13B).
# 5. It penalises large router logits. Large logits make the softmax saturate and round badly in
#    bfloat16; keeping them small keeps the router's probabilities and gradients well behaved.
#
# </details>
