"""Hidden cases of the mixture-of-experts notebook (solutions/moe/moe.py): seeded inputs, calls.

Continuous random inputs everywhere a top-k decides (no ties). Each case returns plain outputs;
the grader runs the same case on the reference and compares. The case of MoE.forward runs it with
torch's softmax and top-k standing in for the student's softmax_gate and topk_gate, so that the
layer's points depend on the layer alone.
"""

import torch
from torch import nn

from autograde.spec import Case
from course_lib.checks import stand_ins


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


def _torch_topk(p, k, renormalize=False):
    """torch.topk, and its weights divided by their sum when renormalising (not the student's)."""
    w, i = torch.topk(p, k, dim=-1)
    return (w / w.sum(dim=-1, keepdim=True) if renormalize else w), i


def _moe_layer(objects, seed):
    d, d_ff, N, k, renormalize = MOE_CONFIGS[seed]
    torch.manual_seed(seed)
    MoE = objects["MoE"]
    moe = MoE(d, d_ff, N, k=k, renormalize=renormalize)
    g = _gen(seed, 3)
    with torch.no_grad():                 # seeded weights, whatever the constructor's init did
        for prm in moe.parameters():
            prm.copy_(torch.randn(prm.shape, generator=g) * 0.5)
    moe.experts = nn.ModuleList(_Counting(e) for e in moe.experts)
    x = torch.randn(2, 5, d, generator=g)
    with stand_ins(MoE, softmax_gate=lambda h: torch.softmax(h, dim=-1), topk_gate=_torch_topk):
        y = moe(x)
    probs, indices = moe.router_probs, moe.expert_indices
    chosen = torch.zeros(10, N, dtype=torch.bool)
    chosen[torch.arange(10)[:, None], indices.reshape(10, -1)] = True
    out = {"y": y.detach(), "router_probs": probs.detach(), "chosen": chosen,
           "indices_shape": list(indices.shape)}
    c = torch.randn(probs.shape, generator=g)
    term = (probs * c).sum()                              # reaches W_r only through router_probs
    grad = (torch.autograd.grad(term, moe.router.weight, retain_graph=True, allow_unused=True)[0]
            if term.requires_grad else None)
    out["router_probs_grad"] = torch.zeros_like(moe.router.weight) if grad is None else grad
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
        "p": "p_i = exp(h_i) / sum_j exp(h_j) over the last dimension (the N experts), finite "
             "for large logits (seed 3 has logits of size 300), same shape as h"}),
    "topk_gate": Case(_topk_gate, seeds=(0, 1, 2, 3), requires={
        "weights": "renormalize=False: the weights are the gate values p_i of the k largest, "
                   "largest first, shape (..., k)",
        "indices": "the indices of the k largest p_i, largest first, shape (..., k)",
        "weights_renormalized": "renormalize=True: the top-k p_i divided by their sum",
        "indices_renormalized": "renormalize=True selects the same experts as renormalize=False"}),
    "moe_layer": Case(_moe_layer, seeds=(0, 1, 2, 3, 4), requires={
        "y": "y = sum over the top-k experts of w_i E_i(x) for every token, (B, T, d), with the "
             "weights of self.renormalize (this case supplies a correct softmax_gate and "
             "topk_gate)",
        "router_probs": "self.router_probs is the softmax of the router logits, (B*T, N)",
        "chosen": "self.expert_indices holds each token's top-k experts",
        "indices_shape": "self.expert_indices has shape (B*T, k)",
        "router_probs_grad": "self.router_probs stays attached to the graph (no .detach()), so "
                             "the balance loss can train the router",
        "router_grad": "y depends on the router through the weights p_i(x), so the router gets "
                       "the gradient of the task loss",
        "expert_rows": "each expert runs on exactly the tokens routed to it",
        "each_expert_at_most_once": "each expert runs at most once per forward call"}),
    "balance_loss": Case(_balance_loss, seeds=(0, 1, 2, 3), requires={
        "loss": "N * sum_i f_i P_i, f_i the share of tokens routed to expert i (a token counts "
                "for each of its k experts), P_i the mean gate value p_i",
        "is_scalar": "the loss is a 0-dimensional tensor",
        "grad": "the gradient reaches the router logits through P_i"}),
}
