"""Visible checks for the mixture-of-experts notebook (notebooks/moe/moe.ipynb): properties only.

Interfaces the notebook asks for:
    softmax_gate(h_logits (..., N)) -> p (..., N)
    topk_gate(p (..., N), k, renormalize=False) -> (weights, indices), each (..., k),
        largest first
    MoE(d, d_ff, N, k=2, renormalize=False, make_expert=None): .router (Linear d->N, no bias),
        .experts (ModuleList), forward (B, T, d) -> (B, T, d), stores .router_probs (B*T, N) and
        .expert_indices (B*T, k)
    switch_load_balancing_loss(router_probs (..., N), expert_indices (..., k), N) -> scalar tensor
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from . import CheckFailed, call, expect, expect_close, expect_shape, ok, visible_check


def _call(fn, *args, what: str, **kwargs):
    return call(what, fn, *args, **kwargs)


@visible_check
def check_softmax_gate(softmax_gate) -> None:
    # hand-computed: logits (0, ln 3) -> (1/4, 3/4)
    p = _call(softmax_gate, torch.tensor([[0.0, math.log(3.0)]]), what="softmax_gate")
    expect_close(p, torch.tensor([[0.25, 0.75]]), "p for h = (0, ln 3)",
                 hint="p_i = e^{h_i} / sum_j e^{h_j}: here 1/4 and 3/4")
    ok("p for h = (0, ln 3) is (1/4, 3/4)")

    torch.manual_seed(0)
    h = torch.randn(5, 3)                                          # 5 tokens, N = 3 experts
    p = _call(softmax_gate, h, what="softmax_gate on a (5, 3) input")
    expect_shape(p, (5, 3), "p for h of shape (5 tokens, N=3)")
    expect(bool((p > 0).all()), "every gate value p_i must be positive")
    if not torch.allclose(p.sum(-1), torch.ones(5), atol=1e-5):
        dim0 = torch.allclose(p.sum(0), torch.ones(3), atol=1e-5)
        raise CheckFailed("softmax over the wrong dim: the gate values of each token (the last "
                          "dimension, the experts) must sum to 1"
                          + (" -- yours sum to 1 over the tokens (dim 0)" if dim0 else ""))
    ok("each token's gate values are positive and sum to 1 over the N experts")

    h3 = torch.randn(2, 4, 6)
    p3 = _call(softmax_gate, h3, what="softmax_gate on a (2, 4, 6) input")
    expect_shape(p3, (2, 4, 6), "p for h of shape (B=2, T=4, N=6)")
    expect_close(p3.sum(-1), torch.ones(2, 4), "sums over the last dimension of a 3-d input",
                 hint="use dim=-1 so any number of leading token dimensions works")
    expect_close(_call(softmax_gate, h3 + 5.0, what="softmax_gate"), p3,
                 "p after adding 5 to every logit", hint="softmax is unchanged by a shift")
    ok("works for any leading dimensions and is unchanged when every logit shifts")

    big = _call(softmax_gate, torch.tensor([[1000.0, 999.0]]), what="softmax_gate")
    expect(bool(torch.isfinite(big).all()),
           "h = (1000, 999) gives inf/NaN: subtract the row's maximum before exp")
    expect_close(big, torch.tensor([[1 / (1 + math.e ** -1), 1 / (1 + math.e)]]),
                 "p for h = (1000, 999)")
    ok("large logits do not overflow")
    print("All visible softmax_gate checks passed.")


@visible_check
def check_topk_gate(topk_gate) -> None:
    p = torch.tensor([[0.10, 0.40, 0.15, 0.35],
                      [0.05, 0.05, 0.60, 0.30]])
    out = _call(topk_gate, p, 2, what="topk_gate(p, 2)")
    expect(isinstance(out, tuple) and len(out) == 2, "return a tuple (weights, indices)")
    w, i = out
    expect_shape(w, (2, 2), "weights for k = 2")
    expect_shape(i, (2, 2), "indices for k = 2")
    expect(i.dtype == torch.long, f"indices should be integers (torch.long), got {i.dtype}")
    expect(i.tolist() == [[1, 3], [2, 3]],
           f"indices {i.tolist()}: expected the two largest gate values, largest first "
           f"([[1, 3], [2, 3]])")
    ok("indices are the k largest gate values, largest first")
    if torch.allclose(w, torch.ones_like(w)):
        raise CheckFailed("k-hot mask without weights: the weights must be the gate values "
                          "p_i, not 1")
    if torch.allclose(w.sum(-1), torch.ones(2)):
        raise CheckFailed("renormalize=False is the lecture's convention: the weights are the "
                          "gate values p_i themselves, not renormalised to sum to 1")
    expect_close(w, p.gather(-1, i), "weights with renormalize=False",
                 hint="the weights are the gate values p_i of the selected experts")
    ok("lecture's convention: the weights are p_i of the selected experts")

    w_r, i_r = _call(topk_gate, p, 2, renormalize=True, what="topk_gate(p, 2, renormalize=True)")
    expect(torch.equal(i_r, i), "renormalize=True must select the same experts")
    expect_close(w_r.sum(-1), torch.ones(2), "renormalised weights' sum",
                 hint="Mixtral divides the selected p_i by their sum")
    torch.manual_seed(0)
    h = torch.randn(6, 5)
    probs = torch.softmax(h, -1)
    w_r, i_r = _call(topk_gate, probs, 3, renormalize=True, what="topk_gate")
    expect_close(w_r, torch.softmax(h.gather(-1, i_r), -1),
                 "renormalised weights vs a softmax over the selected logits",
                 hint="renormalised top-k weights equal a softmax over the selected logits")
    ok("renormalize=True (Mixtral) sums to 1 and equals a softmax over the selected logits")

    w1, _ = _call(topk_gate, probs, 1, renormalize=True, what="topk_gate(p, 1, True)")
    expect_close(w1, torch.ones(6, 1), "renormalised weight with k = 1")
    w1, _ = _call(topk_gate, probs, 1, what="topk_gate(p, 1)")
    expect(bool((w1 < 1).all()), "with k = 1 and renormalize=False the weight is p_i < 1: do "
                                 "not renormalise by default (the router would get no gradient)")
    ok("k = 1: renormalised weight is 1 (no router gradient); the lecture's weight is p_i")
    w3, i3 = _call(topk_gate, torch.softmax(torch.randn(2, 3, 8), -1), 2, what="topk_gate")
    expect_shape(w3, (2, 3, 2), "weights for p of shape (2, 3, N=8), k = 2")
    expect_shape(i3, (2, 3, 2), "indices for p of shape (2, 3, N=8), k = 2")
    ok("works for any leading dimensions")
    print("All visible topk_gate checks passed.")


class _Counting(nn.Module):
    """Wraps an expert and records the batch sizes it is called with."""

    def __init__(self, expert: nn.Module):
        super().__init__()
        self.expert = expert
        self.calls: list[int] = []

    def forward(self, x):
        self.calls.append(x.reshape(-1, x.shape[-1]).shape[0])
        return self.expert(x)


def _moe(MoE, d=8, d_ff=16, N=4, k=2, renormalize=False, seed=0):
    torch.manual_seed(seed)
    return _call(MoE, d, d_ff, N, k=k, renormalize=renormalize,
                 what=f"MoE({d}, {d_ff}, {N}, k={k}, renormalize={renormalize})")


@visible_check
def check_moe(MoE) -> None:
    d, N, k = 8, 4, 2
    moe = _moe(MoE, d=d, N=N, k=k)
    x = torch.randn(3, 5, d)
    y = _call(moe, x, what="MoE forward on (B=3, T=5, d=8)")
    expect_shape(y, (3, 5, d), "the MoE output")
    expect(getattr(moe, "router_probs", None) is not None and
           getattr(moe, "expert_indices", None) is not None,
           "store self.router_probs and self.expert_indices in forward")
    expect_shape(moe.router_probs, (15, N), "self.router_probs (B*T, N)")
    expect_shape(moe.expert_indices, (15, k), "self.expert_indices (B*T, k)")
    expect_close(moe.router_probs.sum(-1), torch.ones(15), "router_probs summed over experts",
                 hint="softmax over the wrong dim? each token's N gate values must sum to 1")
    expect(moe.router_probs.requires_grad,
           "keep self.router_probs attached to the graph (no .detach()): the balance loss "
           "trains the router through it")
    ok("(B, T, d) -> (B, T, d); router_probs (B*T, N) sum to 1; expert_indices (B*T, k)")

    # tokens are routed independently: each token alone gives its row of the batch output
    with torch.no_grad():
        alone = torch.cat([moe(x[b:b + 1, t:t + 1]).reshape(1, d)
                           for b in range(3) for t in range(5)])
    expect_close(alone, y.detach().reshape(15, d), "each token run alone vs in the batch",
                 hint="tokens must not influence each other: route and combine per token")
    ok("each token is routed and combined on its own")

    # sparse, batched dispatch: each expert runs once, on exactly the tokens routed to it
    moe.experts = nn.ModuleList(_Counting(e) for e in moe.experts)
    x = torch.randn(4, 6, d)
    with torch.no_grad():
        moe(x)
    routed = torch.bincount(moe.expert_indices.reshape(-1), minlength=N).tolist()
    calls = [m.calls for m in moe.experts]
    expect(all(len(c) <= 1 for c in calls),
           f"expert calls per forward: {[len(c) for c in calls]}. Run each expert once on all "
           f"its tokens (gather them), not once per token: no Python loop over tokens")
    seen = [sum(c) for c in calls]
    expect(seen == routed, f"the experts saw {seen} tokens but {routed} were routed to them: "
                           f"run E_i only on the tokens whose top-k contains i")
    ok(f"batched dispatch: each expert runs once, on its own tokens ({seen} of {4 * 6 * k})")

    # identical experts (upcycling): y = (sum of the top-k weights) * E(x)
    for renormalize in (False, True):
        moe = _moe(MoE, d=d, N=N, k=k, renormalize=renormalize, seed=1)
        for e in moe.experts[1:]:
            e.load_state_dict(moe.experts[0].state_dict())
        x = torch.randn(2, 5, d)
        with torch.no_grad():
            y = moe(x).reshape(10, d)
            e_x = moe.experts[0](x.reshape(10, d))                 # (10, d)
            top = torch.topk(moe.router_probs, k, -1).values.sum(-1, keepdim=True)
        if renormalize:
            expect_close(y, e_x, "N identical experts with renormalize=True vs one expert",
                         hint="renormalised weights sum to 1, so identical experts must give "
                              "exactly E(x)")
        else:
            if torch.allclose(y, k * e_x, atol=1e-5):
                raise CheckFailed("k-hot mask without weights: multiply each expert's output "
                                  "by its gate value p_i(x)")
            expect_close(y, top * e_x, "N identical experts vs (sum of the top-k p_i) E(x)",
                         hint="y = sum_{i in T} p_i(x) E_i(x) with the un-renormalised p_i")
    ok("identical experts: y = (sum of the top-k p_i) E(x); renormalised, exactly E(x)")

    # k = 1 with the lecture's weights: the router must get a gradient
    moe = _moe(MoE, d=d, N=N, k=1, seed=2)
    _call(moe, torch.randn(2, 5, d), what="MoE forward with k=1").pow(2).sum().backward()
    grad = moe.router.weight.grad
    expect(grad is not None and grad.abs().sum() > 0,
           "with k = 1 the router got no gradient: weight each expert's output by p_i(x) "
           "(renormalising top-1 makes the weight 1, and the router never learns)")
    ok("k = 1: the router gets a gradient through the weights p_i(x)")
    print("All visible MoE checks passed.")


@visible_check
def check_balance_loss(switch_load_balancing_loss) -> None:
    f = switch_load_balancing_loss
    N = 4
    # balanced: uniform probabilities, tokens round-robin over the experts
    probs = torch.full((8, N), 1 / N)
    idx = (torch.arange(8) % N)[:, None]
    loss = _call(f, probs, idx, N, what="switch_load_balancing_loss")
    expect(isinstance(loss, torch.Tensor) and loss.dim() == 0,
           "return a 0-dimensional tensor (a scalar the optimizer can backpropagate)")
    if abs(loss.item() - 1 / N) < 1e-5:
        raise CheckFailed("forgetting the factor N: balanced routing must give N * sum_i f_i P_i "
                          f"= 1, yours gives 1/N = {1 / N}")
    expect(abs(loss.item() - 1.0) < 1e-5,
           f"balanced routing (f_i = P_i = 1/N) gives {loss.item():.4f}, expected 1")
    ok("balanced top-1 routing gives 1")

    # collapsed: every token to expert 0 with p_0 = 1
    probs = torch.zeros(6, N)
    probs[:, 0] = 1.0
    loss = _call(f, probs, torch.zeros(6, 1, dtype=torch.long), N, what="the loss")
    expect(abs(loss.item() - N) < 1e-5,
           f"every token to expert 0 with p_0 = 1 gives {loss.item():.4f}, expected N = {N}")
    ok(f"collapsed routing gives N = {N}")

    # hand example: f = (3/4, 1/4, 0, 0), P = (0.5, 0.3, 0.1, 0.1) -> 4 (0.375 + 0.075) = 1.8
    probs = torch.tensor([[0.7, 0.1, 0.1, 0.1], [0.6, 0.2, 0.1, 0.1],
                          [0.5, 0.3, 0.1, 0.1], [0.2, 0.6, 0.1, 0.1]])
    idx = torch.tensor([[0], [0], [0], [1]])
    loss = _call(f, probs, idx, N, what="the loss")
    expect(abs(loss.item() - 1.8) < 1e-5,
           f"f = (3/4, 1/4, 0, 0), P = (0.5, 0.3, 0.1, 0.1) gives {loss.item():.4f}; expected "
           f"N * sum_i f_i P_i = 4 * (0.375 + 0.075) = 1.8 (f_i: share of tokens, P_i: mean p_i)")
    ok("f = (3/4, 1/4, 0, 0), P = (0.5, 0.3, 0.1, 0.1): 1.8")

    # top-2, balanced: each token counts in two f_i -> k
    probs = torch.full((4, N), 1 / N)
    idx = torch.tensor([[0, 1], [2, 3], [1, 2], [3, 0]])
    loss = _call(f, probs, idx, N, what="the loss with k = 2")
    expect(abs(loss.item() - 2.0) < 1e-5,
           f"balanced top-2 routing gives {loss.item():.4f}, expected k = 2 (a token routed to "
           f"two experts counts in both f_i)")
    ok("balanced top-2 routing gives k = 2")

    # leading dimensions and the gradient through P_i
    logits = torch.randn(2, 3, N, requires_grad=True)
    probs = torch.softmax(logits, -1)
    idx = probs.topk(1, -1).indices
    loss = _call(f, probs, idx, N, what="the loss on (B=2, T=3, N) inputs")
    expect(loss.dim() == 0, "the loss must be a scalar for (B, T, N) inputs too")
    loss.backward()
    expect(logits.grad is not None and logits.grad.abs().sum() > 0,
           "no gradient reached the router: P_i (the mean of router_probs) must stay in the "
           "graph")
    ok("works for (B, T, N) inputs and passes a gradient to the router through P_i")
    print("All visible balance-loss checks passed.")
