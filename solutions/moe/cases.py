"""Hidden cases of the mixture-of-experts notebook (solutions/moe.py): seeded inputs, calls.

Continuous random inputs everywhere a top-k decides (no ties). Each case returns plain outputs;
the grader runs the same case on the reference and compares.
"""

import torch
from torch import nn

from autograde.hidden import Case


def _gen(seed: int, offset: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(1000 * offset + seed)


def _softmax_gate(objects, seed):
    shape, scale = [((5, 3), 1.0), ((2, 7, 4), 2.0), ((6, 8), 1.0), ((3, 2), 300.0)][seed]
    h = torch.randn(shape, generator=_gen(seed, 1)) * scale       # seed 3: large logits
    return {"p": objects["softmax_gate"](h)}


def _topk_gate(objects, seed):
    shape, k = [((5, 4), 2), ((2, 6, 8), 2), ((7, 5), 1), ((3, 6), 3)][seed]
    p = torch.softmax(torch.randn(shape, generator=_gen(seed, 2)) * 1.5, dim=-1)
    w, i = objects["topk_gate"](p, k)
    w_r, i_r = objects["topk_gate"](p, k, renormalize=True)
    return {"weights": w, "indices": i, "weights_renormalized": w_r,
            "indices_renormalized": i_r}


class _Counting(nn.Module):
    """Wraps an expert; records the number of rows of each call."""

    def __init__(self, expert: nn.Module):
        super().__init__()
        self.expert = expert
        self.calls = []

    def forward(self, x):
        self.calls.append(int(x.reshape(-1, x.shape[-1]).shape[0]))
        return self.expert(x)


MOE_CONFIGS = {0: (8, 16, 4, 1, False), 1: (8, 16, 4, 2, False), 2: (16, 8, 8, 2, True),
               3: (6, 12, 3, 3, False), 4: (8, 8, 6, 1, True)}


def _moe_layer(objects, seed):
    d, d_ff, N, k, renormalize = MOE_CONFIGS[seed]
    torch.manual_seed(seed)
    moe = objects["MoE"](d, d_ff, N, k=k, renormalize=renormalize)
    g = _gen(seed, 3)
    with torch.no_grad():                 # seeded weights, whatever the constructor's init did
        for prm in moe.parameters():
            prm.copy_(torch.randn(prm.shape, generator=g) * 0.5)
    moe.experts = nn.ModuleList(_Counting(e) for e in moe.experts)
    x = torch.randn(2, 5, d, generator=g)
    y = moe(x)
    chosen = torch.zeros(10, N, dtype=torch.bool)
    chosen[torch.arange(10)[:, None], moe.expert_indices.reshape(10, -1)] = True
    out = {"y": y.detach(), "router_probs": moe.router_probs.detach(), "chosen": chosen}
    y.pow(2).sum().backward()
    grad = moe.router.weight.grad
    out["router_grad"] = torch.zeros_like(moe.router.weight) if grad is None else grad
    out["expert_rows"] = [sum(e.calls) for e in moe.experts]
    out["each_expert_at_most_once"] = all(len(e.calls) <= 1 for e in moe.experts)
    return out


def _balance_loss(objects, seed):
    shape, k = [((16, 4), 1), ((2, 10, 4), 1), ((12, 8), 2), ((3, 7, 6), 3)][seed]
    N = shape[-1]
    logits = (torch.randn(shape, generator=_gen(seed, 4)) * 1.5).requires_grad_()
    probs = torch.softmax(logits, dim=-1)
    indices = probs.detach().topk(k, dim=-1).indices
    loss = objects["switch_load_balancing_loss"](probs, indices, N)
    out = {"loss": loss.detach().reshape(()), "is_scalar": loss.dim() == 0}
    loss.backward()
    out["grad"] = torch.zeros_like(logits) if logits.grad is None else logits.grad
    return out


CASES = {
    "softmax_gate": Case(_softmax_gate, seeds=(0, 1, 2, 3), requires={
        "p": "p_i = exp(h_i) / sum_j exp(h_j) over the LAST dimension (the experts); subtract "
             "the maximum first so that large logits do not overflow"}),
    "topk_gate": Case(_topk_gate, seeds=(0, 1, 2, 3), requires={
        "weights": "with renormalize=False the weights are the gate values p_i of the top-k "
                   "experts (the lecture's convention), largest first",
        "indices": "the indices of the k largest p_i, largest first (as torch.topk)",
        "weights_renormalized": "with renormalize=True divide the top-k p_i by their sum",
        "indices_renormalized": "renormalising must not change which experts are selected"}),
    "moe_layer": Case(_moe_layer, seeds=(0, 1, 2, 3, 4), requires={
        "y": "y = sum over the top-k experts of p_i(x) E_i(x), per token",
        "router_probs": "store self.router_probs = softmax of the router logits, (B*T, N)",
        "chosen": "store self.expert_indices, the top-k experts of each token, (B*T, k)",
        "router_grad": "the router's gradient differs: weight each expert's output by p_i(x) "
                       "(kept in the graph)",
        "expert_rows": "run each expert only on the tokens routed to it",
        "each_expert_at_most_once": "run each expert once on all its tokens (no loop over "
                                    "tokens)"}),
    "balance_loss": Case(_balance_loss, seeds=(0, 1, 2, 3), requires={
        "loss": "N * sum_i f_i P_i: f_i = share of tokens routed to expert i, P_i = mean p_i",
        "is_scalar": "return a 0-dimensional tensor",
        "grad": "the gradient reaches the router through P_i (the mean of router_probs)"}),
}
